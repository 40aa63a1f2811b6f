/**
 * replayHistory: histories saved from real runs (the in-memory kit, the API's history pages)
 * replayed against the same code, against changed code that no longer fits them, and against
 * changes that do fit. No step body may run during a replay.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { type AnyWorkflow, defineWorkflow, type WorkflowContext } from "../../lambdas/index.js";
import type { HistoryEvent } from "../../lambdas/core/events.js";
import { createApiHandler } from "../../lambdas/handlers/api.js";
import { createTestEnvironment, replayHistory, type TestEnvironment } from "../../lambdas/testing/index.js";
import { createLambdaContext } from "../../local/http-api.js";
import { encodeCallbackToken } from "../../lambdas/core/callbacks.js";

const START = Date.UTC(2026, 0, 1);
let bodiesRun = 0;
const body = <T>(value: T): T => {
  bodiesRun += 1;
  return value;
};

type Shipped = { tracking: string };

/** The order workflow as deployed, and the edits a later deploy might make to it. */
const order = orderWorkflow({});
function orderWorkflow(edit: {
  renameCharge?: string;
  stepBeforeCoolOff?: string;
  withoutCoolOff?: boolean;
  returnAfterCharge?: boolean;
  stepAfterSignal?: string;
  stepBeforeReturn?: string;
}) {
  return defineWorkflow("order", async (ctx: WorkflowContext, input: { sku: string }) => {
    const reservation = await ctx.step("reserve", () => body(`r-${input.sku}`));
    if (edit.stepBeforeCoolOff) await ctx.step(edit.stepBeforeCoolOff, () => body(true));
    if (!edit.withoutCoolOff) await ctx.sleep("cool-off", "1h");
    const charge = await ctx.step(edit.renameCharge ?? "charge", () => body(42));
    if (edit.returnAfterCharge) return { reservation, charge };
    const shipped = await ctx.waitForSignal<Shipped>("shipped");
    if (edit.stepAfterSignal) await ctx.step(edit.stepAfterSignal, () => body(true));
    await ctx.step("notify", () => body(shipped.tracking));
    if (edit.stepBeforeReturn) await ctx.step(edit.stepBeforeReturn, () => body(true));
    return { reservation, charge, tracking: shipped.tracking };
  });
}

/** Waits for one signal a run, adds it up, and continues as new until its third run. */
function batcherWorkflow(stepName = "add") {
  return defineWorkflow("batcher", async (ctx, input: { round: number; total: number }) => {
    const item = await ctx.waitForSignal<number>("item");
    const total = await ctx.step(stepName, () => body(input.total + item));
    if (input.round < 3) return ctx.continueAsNew({ round: input.round + 1, total });
    return total;
  });
}

let env: TestEnvironment;
/** Saved as a user would keep it: JSON text, waiting for the "shipped" signal. */
let waitingJson: string;
let waitingId: string;
let completed: HistoryEvent[];
let completedId: string;

beforeAll(async () => {
  env = await createTestEnvironment({ workflows: [order, batcherWorkflow()], startTimeMs: START });
  waitingId = await env.start(order, { sku: "laptop" });
  await env.advanceTime("1h");
  expect((await env.execution(waitingId)).status).toBe("sleeping");
  waitingJson = JSON.stringify(await env.history(waitingId));

  completedId = await env.start(order, { sku: "desk" });
  await env.advanceTime("1h");
  await env.signal(completedId, "shipped", { tracking: "T-1" });
  expect(await env.result(completedId)).toEqual({ reservation: "r-desk", charge: 42, tracking: "T-1" });
  completed = await env.history(completedId);
});

describe("replayHistory, on a history saved from a run of the in-memory kit", () => {
  it("replays it against the same code without running a step body, and reports where the execution stands", async () => {
    const before = bodiesRun;
    const report = await replayHistory(order, waitingJson, { executionId: waitingId });
    expect(bodiesRun).toBe(before);
    expect(report).toEqual({
      workflow: "order",
      version: 1,
      runs: 1,
      runsReplayed: 1,
      eventsReplayed: JSON.parse(waitingJson).length,
      ended: false,
      status: "waiting",
      waitingOn: ['signal "shipped"'],
    });
  });

  it("replays a completed execution's history too, which ended", async () => {
    const report = await replayHistory(order, completed, { executionId: completedId });
    expect(report).toMatchObject({ ended: true, status: "completed", waitingOn: [], eventsReplayed: completed.length });
  });

  it("fails naming the position when a step was renamed", async () => {
    const error = await replayHistory(orderWorkflow({ renameCharge: "bill" }), waitingJson, { executionId: waitingId }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: "NonDeterminismError",
      code: "NON_DETERMINISM",
      details: { position: 2, expected: 'step "charge"', found: 'step "bill"', run: 1 },
    });
    expect((error as Error).message).toContain("non-determinism at position 2");
  });

  it("fails naming the position when a step was added in the middle", async () => {
    await expect(replayHistory(orderWorkflow({ stepBeforeCoolOff: "fraud-check" }), waitingJson, { executionId: waitingId })).rejects.toMatchObject({
      code: "NON_DETERMINISM",
      details: { position: 1, expected: 'timer "cool-off"', found: 'step "fraud-check"' },
    });
  });

  it("fails naming the position when a durable call was removed", async () => {
    await expect(replayHistory(orderWorkflow({ withoutCoolOff: true }), waitingJson, { executionId: waitingId })).rejects.toMatchObject({
      code: "NON_DETERMINISM",
      details: { position: 1, expected: 'timer "cool-off"', found: 'step "charge"' },
    });
  });

  it("fails when the code now ends before a call the history recorded, which a worker would leave behind unnoticed", async () => {
    await expect(replayHistory(orderWorkflow({ returnAfterCharge: true }), waitingJson, { executionId: waitingId })).rejects.toMatchObject({
      code: "NON_DETERMINISM",
      details: { position: 3, expected: 'signal "shipped"', found: "nothing at this position (it returned)" },
    });
  });

  it("passes a compatible change: a new step after the point the execution reached", async () => {
    const report = await replayHistory(orderWorkflow({ stepAfterSignal: "fraud-check" }), waitingJson, { executionId: waitingId });
    expect(report).toMatchObject({ status: "waiting", waitingOn: ['signal "shipped"'] });
  });

  it("holds a history that ended to its end: a step added after the last one does not fit a completed run", async () => {
    await expect(replayHistory(orderWorkflow({ stepBeforeReturn: "receipt" }), completed, { executionId: completedId })).rejects.toMatchObject({
      code: "NON_DETERMINISM",
      details: { position: 5, expected: "the end of the run (ExecutionCompleted)", found: 'step "receipt"' },
    });
    // The same change fits the execution still waiting: it has not reached that point.
    await expect(replayHistory(orderWorkflow({ stepBeforeReturn: "receipt" }), waitingJson, { executionId: waitingId })).resolves.toMatchObject({ status: "waiting" });
  });
});

describe("replayHistory, on the pages of GET /executions/{id}/history", () => {
  let pages: unknown[][];

  beforeAll(async () => {
    // The API handler on the in-memory kit's store: the same answers the deployed API gives.
    const handler = createApiHandler(env.deps, { cursorSecret: "a test secret of at least 16 bytes" });
    const context = createLambdaContext({ functionName: "api", region: "us-east-1", timeoutMs: 10_000 });
    pages = [];
    let cursor: string | undefined;
    do {
      const query = new URLSearchParams({ limit: "2", ...(cursor ? { cursor } : {}) });
      const path = `/executions/${waitingId}/history`;
      const event = {
        version: "2.0",
        routeKey: "$default",
        rawPath: path,
        rawQueryString: query.toString(),
        queryStringParameters: Object.fromEntries(query),
        headers: {},
        isBase64Encoded: false,
        requestContext: { http: { method: "GET", path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" } },
      } as unknown as APIGatewayProxyEventV2;
      const response = (await handler(event, context)) as APIGatewayProxyStructuredResultV2;
      expect(response.statusCode).toBe(200);
      const page = JSON.parse(response.body as string) as { events: unknown[]; cursor?: string };
      pages.push(page.events);
      cursor = page.cursor;
    } while (cursor);
  });

  it("replays the pages concatenated (events with `at`, no `atMs`), and their JSON text", async () => {
    const events = pages.flat() as Record<string, unknown>[];
    expect(pages.length).toBeGreaterThan(1);
    expect(events[0]).toHaveProperty("at");
    expect(events[0]).not.toHaveProperty("atMs");
    const report = await replayHistory(order, JSON.stringify(events), { executionId: waitingId });
    expect(report).toMatchObject({ status: "waiting", eventsReplayed: events.length, waitingOn: ['signal "shipped"'] });
  });

  it("fails on the API's history as on the engine's when the code changed", async () => {
    await expect(replayHistory(orderWorkflow({ renameCharge: "bill" }), JSON.stringify(pages.flat()), { executionId: waitingId })).rejects.toMatchObject({
      code: "NON_DETERMINISM",
      details: { position: 2 },
    });
  });

  it("refuses pages with one missing in the middle, rather than replay a history with a hole", async () => {
    expect(pages.length).toBeGreaterThanOrEqual(3);
    await expect(replayHistory(order, [...(pages[0] ?? []), ...pages.slice(2).flat()] as never, { executionId: waitingId })).rejects.toMatchObject({
      code: "INVALID_HISTORY",
      message: expect.stringContaining("a page is missing"),
    });
  });
});

describe("replayHistory, on a history that continued as new", () => {
  let history: HistoryEvent[];
  let id: string;

  beforeAll(async () => {
    // Three signals before the first turn: run 1 takes one and carries two, run 2 carries one.
    id = await env.start(batcherWorkflow(), { round: 1, total: 0 }, { run: false });
    for (const item of [1, 2, 3]) await env.signal(id, "item", item, { run: false });
    await env.runUntilIdle();
    expect(await env.result(id)).toBe(6);
    history = await env.history(id);
    expect(history.filter((e) => e.type === "ExecutionStarted").map((e) => (e as { carried?: number[] }).carried?.length ?? 0)).toEqual([0, 2, 1]);
  });

  it("replays every run, each with the signals the one before carried into it", async () => {
    const report = await replayHistory(batcherWorkflow(), history, { executionId: id });
    expect(report).toMatchObject({ runs: 3, runsReplayed: 3, eventsReplayed: history.length, status: "completed" });
  });

  it("replays only the last run when asked, still taking its carried signal from an earlier run's part", async () => {
    const lastStart = history.findLast((e) => e.type === "ExecutionStarted") as HistoryEvent;
    const report = await replayHistory(batcherWorkflow(), history, { executionId: id, runs: "last" });
    expect(report).toMatchObject({ runs: 3, runsReplayed: 1, eventsReplayed: history.filter((e) => e.seq >= lastStart.seq).length, status: "completed" });
  });

  it("names the run of the position that does not fit", async () => {
    await expect(replayHistory(batcherWorkflow("sum"), history, { executionId: id })).rejects.toMatchObject({
      code: "NON_DETERMINISM",
      details: { position: 1, expected: 'step "add"', found: 'step "sum"', run: 1 },
    });
    await expect(replayHistory(batcherWorkflow("sum"), history, { executionId: id, runs: "last" })).rejects.toMatchObject({ details: { run: 3 } });
  });

  it("says what is missing when given a run without the earlier runs its signals came from", async () => {
    const lastStart = history.findLast((e) => e.type === "ExecutionStarted") as HistoryEvent;
    await expect(replayHistory(batcherWorkflow(), history.filter((e) => e.seq >= lastStart.seq), { executionId: id })).rejects.toMatchObject({
      code: "INVALID_HISTORY",
      message: expect.stringContaining("include the earlier runs"),
    });
  });
});

describe("replayHistory, on histories with children and cancellation", () => {
  const child = defineWorkflow("replay-child", async (ctx, n: number) => ctx.step("double", () => body(n * 2)));
  const other = defineWorkflow("replay-other-child", async (_ctx, n: number) => n);
  const parentOf = (kid: typeof child | typeof other) =>
    defineWorkflow("replay-parent", async (ctx) => {
      const doubled = await ctx.child(kid, 21);
      await ctx.sleep("after-child", "1 minute");
      return doubled;
    });
  const cleanup = (extra: boolean) =>
    defineWorkflow("replay-cancellable", async (ctx) => {
      try {
        await ctx.waitForSignal("never");
      } catch (error) {
        await ctx.nonCancellable(async (c) => {
          await c.step("cleanup", () => body("cleaned"));
          if (extra) await c.step("audit", () => body("audited"));
        });
        throw error;
      }
    });

  it("replays a parent's history, and fails naming the position when it now starts another child workflow", async () => {
    const kit = await createTestEnvironment({ workflows: [parentOf(child), child], startTimeMs: START });
    const id = await kit.start(parentOf(child), null);
    expect((await kit.execution(id)).status).toBe("sleeping");
    const history = await kit.history(id);
    await expect(replayHistory(parentOf(child), history, { executionId: id })).resolves.toMatchObject({ status: "waiting", waitingOn: ['timer "after-child"'] });
    await expect(replayHistory(parentOf(other), history, { executionId: id })).rejects.toMatchObject({
      code: "NON_DETERMINISM",
      details: { position: 0, expected: 'child "replay-child"', found: 'child "replay-other-child"' },
    });
  });

  it("replays a canceled execution, whose code must still end by the cancellation", async () => {
    const kit = await createTestEnvironment({ workflows: [cleanup(false)], startTimeMs: START });
    const id = await kit.start(cleanup(false), null);
    await kit.cancel(id, "no longer needed");
    const history = await kit.history(id);
    await expect(replayHistory(cleanup(false), history, { executionId: id })).resolves.toMatchObject({ ended: true, status: "canceled" });
    await expect(replayHistory(cleanup(true), history, { executionId: id })).rejects.toMatchObject({
      code: "NON_DETERMINISM",
      details: { position: 2, expected: "the end of the run (ExecutionCanceled)", found: 'step "audit"' },
    });
  });
});

describe("replayHistory's input checks", () => {
  it("refuses a history of another workflow, or a version none of the definitions given has", async () => {
    await expect(replayHistory(batcherWorkflow(), waitingJson, { executionId: waitingId })).rejects.toMatchObject({ code: "WORKFLOW_MISMATCH" });
    const v2 = defineWorkflow("order", { version: 2 }, async () => "v2") as AnyWorkflow;
    await expect(replayHistory([v2], waitingJson, { executionId: waitingId })).rejects.toMatchObject({
      code: "WORKFLOW_MISMATCH",
      message: expect.stringContaining("versions 2 of it"),
    });
    // Given with the version it ran, each run gets its own definition.
    await expect(replayHistory([v2, order], waitingJson, { executionId: waitingId })).resolves.toMatchObject({ status: "waiting" });
  });

  it("asks for the execution id when the code reads what it decides, instead of replaying with a wrong one", async () => {
    const lucky = defineWorkflow("lucky", async (ctx) => {
      const pick = ctx.random() < 0.5 ? "heads" : "tails";
      await ctx.step(pick, () => pick);
      return pick;
    });
    const kit = await createTestEnvironment({ workflows: [lucky], startTimeMs: START });
    const id = await kit.start(lucky, null);
    const history = await kit.history(id);
    await expect(replayHistory(lucky, history)).rejects.toMatchObject({ code: "EXECUTION_ID_REQUIRED", message: expect.stringContaining("ctx.random()") });
    await expect(replayHistory(lucky, history, { executionId: id })).resolves.toMatchObject({ status: "completed" });
    // A workflow that reads none of them replays without it.
    await expect(replayHistory(order, waitingJson)).resolves.toMatchObject({ status: "waiting" });
  });

  it("refuses what is not a history, saying which event and why", async () => {
    await expect(replayHistory(order, "{not json")).rejects.toMatchObject({ code: "INVALID_HISTORY", message: expect.stringContaining("not JSON") });
    await expect(replayHistory(order, [])).rejects.toMatchObject({ code: "INVALID_HISTORY", message: "the history has no events" });
    const events = JSON.parse(waitingJson) as Record<string, unknown>[];
    await expect(replayHistory(order, events.slice(1) as never)).rejects.toMatchObject({ message: expect.stringContaining("must start with a run's ExecutionStarted") });
    const broken = events.map((e, i) => (i === 1 ? { ...e, position: "zero" } : e));
    await expect(replayHistory(order, broken as never)).rejects.toMatchObject({ code: "INVALID_HISTORY", message: expect.stringContaining("event 1 (seq 2)") });
    const timeless = events.map(({ atMs: _atMs, ...e }) => e);
    await expect(replayHistory(order, timeless as never)).rejects.toMatchObject({ message: expect.stringContaining("has no time") });
  });

  it("replays histories with callbacks, published state and a redrive", async () => {
    let broken = true;
    const mixed = defineWorkflow("mixed", async (ctx) => {
      ctx.setState({ stage: "waiting" });
      const callback = ctx.createCallback<string>("approval", { timeout: "1 day" });
      await ctx.step("hand-out", () => body(callback.token.length > 0));
      const answer = await callback.result;
      await ctx.step("check", () => {
        if (broken) throw new Error("bug");
        return body(answer);
      }, { retry: { maxAttempts: 1 } });
      return answer;
    });
    const kit = await createTestEnvironment({ workflows: [mixed], startTimeMs: START });
    const id = await kit.start(mixed, null);
    const started = (await kit.history(id)).find((e) => e.type === "CallbackStarted");
    if (started?.type !== "CallbackStarted") throw new Error("no callback");
    await kit.completeCallback(encodeCallbackToken({ executionId: id, run: started.run, position: started.position, callbackId: started.callbackId }), "yes");
    expect((await kit.execution(id)).status).toBe("failed");
    broken = false;
    await kit.redrive(id);
    expect(await kit.result(id)).toBe("yes");
    const history = await kit.history(id);
    expect(history.map((e) => e.type)).toEqual(expect.arrayContaining(["StateSet", "CallbackStarted", "CallbackCompleted", "ExecutionFailed", "ExecutionRedriven"]));
    const before = bodiesRun;
    await expect(replayHistory(mixed, history, { executionId: id })).resolves.toMatchObject({ status: "completed" });
    expect(bodiesRun).toBe(before);
  });
});
