/**
 * Redrive and terminate, on the in-memory kit and on DynamoDB Local with the SQS emulator (cold
 * and warm): a failed execution resumes where it failed once the bug is fixed, without running
 * its earlier steps again; terminate ends an execution at once, without its cleanup, with its
 * children, records nothing a running step returns later, and tells its parent.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { codeOf } from "../support/codes.js";
import { type AnyWorkflow, CancelledError, ChildFailedError, defineWorkflow } from "../../lambdas/index.js";
import { terminateExecution } from "../../lambdas/engine/executions.js";
import { createTestEnvironment, type TestKit } from "../../lambdas/testing/index.js";
import { createDynamoDBTestEnvironment } from "../../local/testing.js";

/** Bugs the tests "fix" by flipping a flag, as a deploy of fixed code would. */
const bugs = { stepBroken: new Set<string>(), codeBroken: new Set<string>() };
const ran = new Map<string, number>();
const count = (key: string) => ran.set(key, (ran.get(key) ?? 0) + 1);

const pipeline = defineWorkflow("redrive-pipeline", async (ctx, input: { key: string }) => {
  const a = await ctx.step("extract", () => (count(`${input.key}:extract`), "rows"));
  const b = await ctx.step(
    "transform",
    ({ attempt }) => {
      count(`${input.key}:transform`);
      if (bugs.stepBroken.has(input.key)) throw new Error(`bad row (attempt ${attempt})`);
      return `${a}+t`;
    },
    { retry: { maxAttempts: 2, initialInterval: 10 } },
  );
  if (bugs.codeBroken.has(input.key)) throw new TypeError("cannot read properties of undefined");
  const c = await ctx.step("load", () => (count(`${input.key}:load`), `${b}+l`));
  return c;
});

const cleanupRan = new Set<string>();
const sleeper = defineWorkflow("terminate-sleeper", async (ctx, input: { key: string; children?: number }) => {
  try {
    const kids = Array.from({ length: input.children ?? 0 }, (_, i) => ctx.child(sleeper, { key: `${input.key}-kid${i}` }));
    await Promise.all([ctx.sleep("nap", "7 days"), ...kids]);
    return "woke";
  } catch (err) {
    if (err instanceof CancelledError) await ctx.nonCancellable((c) => c.step("cleanup", () => cleanupRan.add(input.key)));
    throw err;
  }
});

const parentOfOne = defineWorkflow("terminate-parent", async (ctx, input: { key: string }) => {
  try {
    return await ctx.child(sleeper, { key: `${input.key}-only` }, { id: `${input.key}-only` });
  } catch (err) {
    return err instanceof ChildFailedError ? `child ${err.status}` : "other";
  }
});

let release: (() => void) | undefined;
let bodyStarted: (() => void) | undefined;
const slow = defineWorkflow("terminate-slow", async (ctx) => {
  const value = await ctx.step("slow", async () => {
    bodyStarted?.();
    await new Promise<void>((resolve) => (release = resolve));
    return "late";
  });
  return value;
});

const parentOfFailing = defineWorkflow("redrive-parent", async (ctx, input: { key: string }) => ctx.child(pipeline, input, { id: `${input.key}-kid` }));

type Kit = TestKit & { advanceTime(duration: string): Promise<void>; close(): Promise<void> };

const T0 = Date.UTC(2026, 2, 1);
const endpoints = () => ({ dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") });
const MODES: { name: string; create(workflows: AnyWorkflow[]): Promise<Kit> }[] = [
  { name: "in memory", create: (workflows) => createTestEnvironment({ workflows, startTimeMs: T0 }) },
  { name: "DynamoDB Local", create: (workflows) => createDynamoDBTestEnvironment({ workflows, startTimeMs: T0, endpoints: endpoints() }) },
  { name: "DynamoDB Local, warm runs", create: (workflows) => createDynamoDBTestEnvironment({ workflows, startTimeMs: T0, warmRuns: true, endpoints: endpoints() }) },
];

describe.each(MODES)("redrive and terminate, $name", (mode) => {
  let env: Kit;
  const p = `${mode.name.length}`;
  beforeAll(async () => {
    env = await mode.create([pipeline, sleeper, parentOfOne, slow, parentOfFailing]);
  });
  afterAll(async () => {
    await env?.close();
  });

  it("redrives a step that failed for good: the step runs again from its first attempt, the steps before it do not", async () => {
    const key = `${p}-step`;
    bugs.stepBroken.add(key);
    const id = await env.start(pipeline, { key }, { id: key });
    await env.advanceTime("1 minute");
    expect(await env.execution(id)).toMatchObject({ status: "failed", error: { code: "STEP_FAILED" } });
    expect(ran.get(`${key}:transform`)).toBe(2);

    bugs.stepBroken.delete(key); // the fix is deployed
    expect(await env.redrive(id, { reason: "fixed the parser" })).toEqual({ id, run: 1, redrive: 1 });
    await env.advanceTime("1 minute");
    const done = await env.execution(id);
    expect(done).toMatchObject({ status: "completed", output: "rows+t+l" });
    expect(done.error).toBeUndefined();
    expect(done.expiresAt).toBeDefined();
    expect([ran.get(`${key}:extract`), ran.get(`${key}:transform`), ran.get(`${key}:load`)]).toEqual([1, 3, 1]);

    const history = await env.history(id);
    const redriven = history.find((e) => e.type === "ExecutionRedriven");
    const failedSeqs = history.filter((e) => e.type === "ExecutionFailed" || ((e.type === "StepAttemptFailed" || e.type === "StepFailed") && e.name === "transform")).map((e) => e.seq);
    expect(redriven).toMatchObject({ redrive: 1, reason: "fixed the parser", dropped: failedSeqs });
    // The step ran again from attempt 1, recorded after the redrive.
    expect(history.filter((e) => e.seq > (redriven?.seq ?? 0) && e.type === "StepCompleted").map((e) => [e.type === "StepCompleted" && e.name, e.type === "StepCompleted" && e.attempt])).toEqual([
      ["transform", 1],
      ["load", 1],
    ]);
  });

  it("redrives a bug in workflow code, and again when the first redrive fails too", async () => {
    const key = `${p}-code`;
    bugs.codeBroken.add(key);
    const id = await env.start(pipeline, { key }, { id: key });
    expect(await env.execution(id)).toMatchObject({ status: "failed", error: { name: "TypeError" } });
    await env.redrive(id);
    expect(await env.execution(id)).toMatchObject({ status: "failed", error: { name: "TypeError" } });
    bugs.codeBroken.delete(key);
    expect((await env.redrive(id)).redrive).toBe(2);
    expect(await env.result(id)).toBe("rows+t+l");
    expect([ran.get(`${key}:extract`), ran.get(`${key}:transform`), ran.get(`${key}:load`)]).toEqual([1, 1, 1]);
  });

  it("refuses to redrive what is not failed (409 EXECUTION_NOT_FAILED), a child, and an unknown id", async () => {
    const done = await env.start(pipeline, { key: `${p}-fine` }, { id: `${p}-fine` });
    expect(await codeOf(env.redrive(done))).toBe("EXECUTION_NOT_FAILED");
    const asleep = await env.start(sleeper, { key: `${p}-asleep` }, { id: `${p}-asleep` });
    expect(await codeOf(env.redrive(asleep))).toBe("EXECUTION_NOT_FAILED");
    expect(await codeOf(env.redrive(`${p}-nobody`))).toBe("EXECUTION_NOT_FOUND");

    const key = `${p}-fam`;
    bugs.stepBroken.add(key);
    const parent = await env.start(parentOfFailing, { key }, { id: key });
    await env.advanceTime("1 minute");
    expect((await env.execution(`${key}-kid`)).status).toBe("failed");
    expect((await env.execution(parent)).status).toBe("failed");
    expect(await codeOf(env.redrive(`${key}-kid`))).toBe("EXECUTION_NOT_FAILED");
    await env.terminate(asleep);
  });

  it("terminates a sleeping execution at once: no cleanup runs, result() says terminated, nothing more is accepted", async () => {
    const key = `${p}-term`;
    const id = await env.start(sleeper, { key }, { id: key });
    await env.terminate(id, "stuck");
    const view = await env.execution(id);
    expect(view).toMatchObject({ status: "terminated", error: { code: "TERMINATED", message: "terminated: stuck" } });
    expect(cleanupRan.has(key)).toBe(false);
    await env.advanceTime("8 days");
    expect((await env.history(id)).map((e) => e.type).slice(-1)).toEqual(["ExecutionTerminated"]);
    expect(await codeOf(env.terminate(id))).toBe("EXECUTION_ENDED");
    expect(await codeOf(env.signal(id, "x", 1))).toBe("EXECUTION_ENDED");
    expect(await codeOf(env.redrive(id))).toBe("EXECUTION_NOT_FAILED");
  });

  it("terminates a parent with its children; a terminated child is a ChildFailedError its parent can catch", async () => {
    const key = `${p}-tree`;
    const id = await env.start(sleeper, { key, children: 2 }, { id: key });
    const kids = (await env.history(id)).filter((e) => e.type === "ChildStarted").map((e) => (e.type === "ChildStarted" ? e.childId : ""));
    expect(kids).toHaveLength(2);
    await env.terminate(id);
    for (const kid of kids) expect((await env.execution(kid)).status).toBe("terminated");
    expect(cleanupRan.has(key)).toBe(false);

    const parent = await env.start(parentOfOne, { key: `${p}-p1` }, { id: `${p}-p1` });
    await env.terminate(`${p}-p1-only`);
    expect(await env.result(parent)).toBe("child terminated");
  });

  it("records nothing a step returns after its execution was terminated", async () => {
    if (!mode.name.startsWith("in memory")) return; // needs the worker in this process, driven step by step
    const started = new Promise<void>((resolve) => (bodyStarted = resolve));
    const id = await env.start(slow, null, { id: `${p}-slow`, run: false });
    const running = env.runUntilIdle();
    await started;
    await terminateExecution(env.deps, id, { reason: "taking too long" });
    release?.();
    await running;
    expect((await env.execution(id)).status).toBe("terminated");
    expect((await env.history(id)).some((e) => e.type === "StepCompleted")).toBe(false);
  });
});



