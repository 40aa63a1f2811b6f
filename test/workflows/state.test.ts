/**
 * `ctx.setState`: the latest published state shows on the execution (what GET
 * /executions/{id} and the client return) while it runs, on the in-memory kit and on DynamoDB
 * Local; it is recorded once (replays do not record it again), survives the end, and a state
 * over its limit fails the call with STATE_TOO_LARGE.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type AnyWorkflow, defineWorkflow, DurableError } from "../../lambdas/index.js";
import { createTestEnvironment } from "../../lambdas/testing/index.js";
import { createDynamoDBTestEnvironment } from "../../local/testing.js";

const progress = defineWorkflow("progress", async (ctx, input: { files: number }) => {
  for (let done = 0; done < input.files; done += 1) {
    ctx.setState({ stage: "copying", done, of: input.files });
    await ctx.step("copy", () => done);
    await ctx.sleep("throttle", "1 minute");
  }
  ctx.setState({ stage: "finished", done: input.files, of: input.files });
  return input.files;
});

const oversized = defineWorkflow("oversized-state", async (ctx) => {
  try {
    ctx.setState({ blob: "x".repeat(20_000) });
    return "set";
  } catch (err) {
    return err instanceof DurableError ? err.code : "other";
  }
});

interface Kit {
  start(workflow: AnyWorkflow, input: unknown): Promise<string>;
  advanceTime(duration: string): Promise<void>;
  execution(id: string): Promise<{ status: string; state?: unknown; stateUpdatedAt?: string; output?: unknown }>;
  history(id: string): Promise<{ type: string }[]>;
  result(id: string): Promise<unknown>;
  close(): Promise<void>;
}

const MODES: { name: string; create(workflows: AnyWorkflow[]): Promise<Kit> }[] = [
  { name: "in memory", create: (workflows) => createTestEnvironment({ workflows, startTimeMs: Date.UTC(2026, 0, 1) }) },
  {
    name: "DynamoDB Local",
    create: (workflows) =>
      createDynamoDBTestEnvironment({ workflows, startTimeMs: Date.UTC(2026, 0, 1), endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") } }),
  },
];

describe.each(MODES)("ctx.setState, $name", (mode) => {
  let env: Kit;
  beforeAll(async () => {
    env = await mode.create([progress, oversized]);
  });
  afterAll(async () => {
    await env?.close();
  });

  it("shows the latest published state while the execution sleeps, and after it ends", async () => {
    const id = await env.start(progress, { files: 3 });
    expect(await env.execution(id)).toMatchObject({ status: "sleeping", state: { stage: "copying", done: 0, of: 3 } });
    await env.advanceTime("1 minute");
    const second = await env.execution(id);
    expect(second.state).toEqual({ stage: "copying", done: 1, of: 3 });
    expect(Date.parse(second.stateUpdatedAt ?? "")).toBe(Date.UTC(2026, 0, 1) + 60_000);
    await env.advanceTime("5 minutes");
    expect(await env.execution(id)).toMatchObject({ status: "completed", output: 3, state: { stage: "finished", done: 3, of: 3 } });
    // Recorded once per call, although every turn replayed the ones before.
    expect((await env.history(id)).filter((e) => e.type === "StateSet")).toHaveLength(4);
  });

  it("refuses a state over 16 KB with STATE_TOO_LARGE, recording nothing", async () => {
    const id = await env.start(oversized, null);
    expect(await env.result(id)).toBe("STATE_TOO_LARGE");
    expect((await env.execution(id)).state).toBeUndefined();
    expect((await env.history(id)).some((e) => e.type === "StateSet")).toBe(false);
  });
});
