/**
 * Callbacks through the real worker and the API's own functions, on the in-memory kit and on
 * DynamoDB Local with the SQS emulator: a token completes or fails its callback once; timeouts
 * and missed heartbeats fail the wait with a typed error the workflow catches; heartbeats keep
 * it alive; a forged, reused, expired or ended-execution token is refused with its code and
 * changes nothing; a 3-day timeout passes in well under a second of test time.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type AnyWorkflow, CallbackFailedError, CallbackTimeoutError, defineWorkflow } from "../../lambdas/index.js";
import { decodeCallbackToken, encodeCallbackToken } from "../../lambdas/core/callbacks.js";
import { createTestEnvironment } from "../../lambdas/testing/index.js";
import { createDynamoDBTestEnvironment } from "../../local/testing.js";

const submitted = new Map<string, string>();
let submits = 0;

/** Hands its token out in a step (as a real workflow would mail it), then waits. */
const approval = defineWorkflow("callback-approval", async (ctx, input: { key: string; timeout?: string; heartbeatTimeout?: string }) => {
  try {
    const answer = await ctx.waitForCallback<{ approved: boolean }>(
      "approve",
      (token) => {
        submits += 1;
        submitted.set(input.key, token);
      },
      { ...(input.timeout ? { timeout: input.timeout } : {}), ...(input.heartbeatTimeout ? { heartbeatTimeout: input.heartbeatTimeout } : {}) },
    );
    return { outcome: "answered", approved: answer.approved };
  } catch (err) {
    if (err instanceof CallbackTimeoutError) return { outcome: "timed-out", reason: err.reason, code: err.code };
    if (err instanceof CallbackFailedError) return { outcome: "failed", message: err.failure.message, code: err.failure.code };
    throw err;
  }
});

/** Two callbacks created together, answered in either order. */
const pair = defineWorkflow("callback-pair", async (ctx, input: { key: string }) => {
  const a = ctx.createCallback<string>("a", { timeout: "1h" });
  const b = ctx.createCallback<string>("b", { timeout: "1h" });
  await ctx.step("hand-out", () => {
    submitted.set(`${input.key}.a`, a.token);
    submitted.set(`${input.key}.b`, b.token);
  });
  return Promise.all([a.result, b.result]);
});

interface Kit {
  start(workflow: AnyWorkflow, input: unknown): Promise<string>;
  advanceTime(duration: string): Promise<void>;
  execution(id: string): Promise<{ status: string; output?: unknown; error?: { code?: string } }>;
  history(id: string): Promise<{ type: string }[]>;
  completeCallback(token: string, result?: unknown): Promise<void>;
  failCallback(token: string, error?: { message?: string; code?: string }): Promise<void>;
  heartbeatCallback(token: string): Promise<void>;
  cancel(id: string, reason?: string): Promise<void>;
  sweep(): Promise<unknown>;
  inbox(id: string): Promise<unknown[]>;
  close(): Promise<void>;
}

const MODES: { name: string; create(workflows: AnyWorkflow[]): Promise<Kit> }[] = [
  {
    name: "in memory",
    create: async (workflows) => {
      const env = await createTestEnvironment({ workflows, startTimeMs: Date.UTC(2026, 0, 1) });
      return Object.assign(env, { inbox: (id: string) => env.store.readInbox(id) }) as unknown as Kit;
    },
  },
  {
    name: "DynamoDB Local",
    create: async (workflows) => {
      const env = await createDynamoDBTestEnvironment({ workflows, startTimeMs: Date.UTC(2026, 0, 1), endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") } });
      return Object.assign(env, { inbox: (id: string) => env.deps.store.readInbox(id) }) as unknown as Kit;
    },
  },
];

describe.each(MODES)("callbacks, $name", (mode) => {
  let env: Kit;
  let n = 0;
  const key = () => `k${(n += 1)}`;

  beforeAll(async () => {
    env = await mode.create([approval, pair]);
  });
  afterAll(async () => {
    await env?.close();
  });

  it("completes a callback through its token: the workflow gets the JSON result, the token was handed out once", async () => {
    const k = key();
    const before = submits;
    const id = await env.start(approval, { key: k, timeout: "3 days" });
    expect((await env.execution(id)).status).toBe("sleeping");
    const token = submitted.get(k) as string;
    expect(decodeCallbackToken(token)).toMatchObject({ executionId: id, run: 1 });
    await env.advanceTime("2 days");
    await env.completeCallback(token, { approved: true });
    expect(await env.execution(id)).toMatchObject({ status: "completed", output: { outcome: "answered", approved: true } });
    expect(submits - before).toBe(1);
    const types = (await env.history(id)).map((e) => e.type);
    expect(types).toContain("CallbackStarted");
    expect(types).toContain("CallbackCompleted");
  });

  it("fails the wait with CallbackFailedError when the system reports a failure", async () => {
    const k = key();
    const id = await env.start(approval, { key: k, timeout: "1 day" });
    await env.failCallback(submitted.get(k) as string, { message: "scanner jammed", code: "JAMMED" });
    expect((await env.execution(id)).output).toEqual({ outcome: "failed", message: "scanner jammed", code: "JAMMED" });
  });

  it("times a 3-day callback out with CallbackTimeoutError in well under a second, and refuses a late answer with CALLBACK_EXPIRED", async () => {
    const k = key();
    const startedAt = performance.now();
    const id = await env.start(approval, { key: k, timeout: "3 days" });
    await env.advanceTime("3 days");
    expect((await env.execution(id)).output).toEqual({ outcome: "timed-out", reason: "timeout", code: "CALLBACK_TIMED_OUT" });
    if (mode.name === "in memory") expect(performance.now() - startedAt).toBeLessThan(1_000);
    await expect(env.completeCallback(submitted.get(k) as string, { approved: true })).rejects.toMatchObject({ code: "CALLBACK_EXPIRED" });
  });

  it("keeps a callback alive while heartbeats come, and times it out when they stop", async () => {
    const k = key();
    const id = await env.start(approval, { key: k, timeout: "1 day", heartbeatTimeout: "10 minutes" });
    const token = submitted.get(k) as string;
    for (let i = 0; i < 5; i += 1) {
      await env.advanceTime("8 minutes");
      await env.heartbeatCallback(token);
    }
    expect((await env.execution(id)).status).toBe("sleeping"); // 40 minutes in, alive
    await env.advanceTime("11 minutes");
    expect((await env.execution(id)).output).toEqual({ outcome: "timed-out", reason: "heartbeat", code: "CALLBACK_TIMED_OUT" });
  });

  it("takes one answer per token: a second gets CALLBACK_ALREADY_COMPLETED and changes nothing", async () => {
    const k = key();
    const id = await env.start(pair, { key: k });
    const a = submitted.get(`${k}.a`) as string;
    await env.completeCallback(a, "first");
    await expect(env.completeCallback(a, "again")).rejects.toMatchObject({ code: "CALLBACK_ALREADY_COMPLETED" });
    await expect(env.failCallback(a)).rejects.toMatchObject({ code: "CALLBACK_ALREADY_COMPLETED" });
    expect(await env.inbox(id)).toEqual([]);
    await env.completeCallback(submitted.get(`${k}.b`) as string, "second");
    expect((await env.execution(id)).output).toEqual(["first", "second"]);
  });

  it("refuses a forged token (CALLBACK_NOT_FOUND) and garbage (INVALID_CALLBACK_TOKEN), writing nothing", async () => {
    const k = key();
    const id = await env.start(pair, { key: k });
    const real = decodeCallbackToken(submitted.get(`${k}.a`) as string)!;
    const forged = [
      encodeCallbackToken({ ...real, callbackId: "A".repeat(22) }),
      encodeCallbackToken({ ...real, position: real.position + 1 }),
      encodeCallbackToken({ ...real, run: 2 }),
      encodeCallbackToken({ ...real, executionId: `${id}-other` }),
    ];
    for (const token of forged) await expect(env.completeCallback(token, "x")).rejects.toMatchObject({ code: "CALLBACK_NOT_FOUND" });
    for (const token of ["", "dcb1.", "dcb1.!!!", "nope", `dcb1.${Buffer.from("[1,2]").toString("base64url")}`]) {
      await expect(env.completeCallback(token, "x")).rejects.toMatchObject({ code: "INVALID_CALLBACK_TOKEN" });
    }
    await expect(env.heartbeatCallback(forged[0] as string)).rejects.toMatchObject({ code: "CALLBACK_NOT_FOUND" });
    expect(await env.inbox(id)).toEqual([]);
    expect((await env.execution(id)).status).toBe("sleeping");
  });

  it("refuses an answer for an ended execution with EXECUTION_ENDED, and a heartbeat too", async () => {
    const k = key();
    const id = await env.start(pair, { key: k });
    await env.cancel(id, "withdrawn");
    expect((await env.execution(id)).status).toBe("canceled");
    const token = submitted.get(`${k}.b`) as string;
    await expect(env.completeCallback(token, "late")).rejects.toMatchObject({ code: "EXECUTION_ENDED" });
    await expect(env.heartbeatCallback(token)).rejects.toMatchObject({ code: "EXECUTION_ENDED" });
  });

  it("removes the callback item with the execution when its retention ends: the token then matches nothing", async () => {
    const k = key();
    const id = await env.start(pair, { key: k });
    await env.cancel(id);
    await env.advanceTime("31 days");
    await env.sweep();
    await expect(env.completeCallback(submitted.get(`${k}.a`) as string, "x")).rejects.toMatchObject({ code: "CALLBACK_NOT_FOUND" });
  });
});
