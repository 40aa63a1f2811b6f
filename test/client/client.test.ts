/**
 * The client against the real local stack (the API handler over HTTP, DynamoDB Local, the SQS
 * emulator, the worker): every method, the typed results, how each API error arrives, paging
 * through many executions and events, and `result()` waiting for a workflow that sleeps, fails,
 * is canceled or does not end in time.
 */
import { inject } from "vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthError,
  ConflictError,
  createClient,
  type DurableClient,
  DurableClientError,
  type Execution,
  ExecutionCanceledError,
  ExecutionFailedError,
  InvalidArgumentError,
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
  ResultTimeoutError,
} from "../../lambdas/client/index.js";
import { DurableError, NonRetryableError } from "../../lambdas/core/errors.js";
import { defineWorkflow } from "../../lambdas/core/workflow.js";
import { type LocalStack, startLocalStack } from "../../local/stack.js";
import { uniqueName } from "../support/services.js";

const double = defineWorkflow("client-double", async (ctx, input: { n: number; pauseMs?: number }) => {
  const doubled = await ctx.step("double", () => input.n * 2);
  if (input.pauseMs !== undefined) await ctx.sleep("pause", input.pauseMs);
  return { doubled };
});

const decision = defineWorkflow("client-decision", async (ctx, input: { request: string }) => {
  const answer = await ctx.waitForSignal<{ approved: boolean }>("decision");
  return { request: input.request, approved: answer.approved };
});

const failing = defineWorkflow("client-failing", async (ctx, input: { reason: string }) => {
  await ctx.step("prepare", () => "ready");
  throw new NonRetryableError(input.reason, { code: "ORDER_REJECTED", details: { orderId: "o-1" } });
});

const chatty = defineWorkflow("client-chatty", async (ctx, input: { steps: number }) => {
  for (let i = 0; i < input.steps; i += 1) await ctx.step(`step-${i}`, () => i);
  return input.steps;
});

const callbackTokens: string[] = [];
const ocr = defineWorkflow("client-ocr", async (ctx, input: { doc: string }) => {
  try {
    const text = await ctx.waitForCallback<string>("ocr", (token) => void callbackTokens.push(token), { timeout: "1h", heartbeatTimeout: "10 minutes" });
    return { doc: input.doc, text };
  } catch (err) {
    return { doc: input.doc, failed: err instanceof DurableError ? err.message : String(err) };
  }
});

const many = defineWorkflow("client-many", async (_ctx, input: { i: number }) => input.i);

const versionedV1 = defineWorkflow("client-versioned", { version: 1 }, async () => "v1");
const versionedV2 = defineWorkflow("client-versioned", { version: 2 }, async () => "v2");

let stack: LocalStack;
let client: DurableClient;

beforeAll(async () => {
  stack = await startLocalStack({
    workflows: [double, decision, failing, chatty, ocr, many, versionedV1, versionedV2],
    endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    tableName: uniqueName("client"),
    queueName: uniqueName("client"),
    visibilityTimeoutSeconds: 2,
  });
  client = createClient({ url: stack.apiUrl, auth: { type: "bearer", token: stack.bearerToken }, retry: { initialDelayMs: 50 } });
});

afterAll(async () => {
  await stack?.stop();
});

/** Polls get() until the execution reaches one of `statuses`. */
async function waitForStatus(id: string, statuses: readonly string[]): Promise<Execution> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const execution = await client.get(id);
    if (statuses.includes(execution.status)) return execution;
    if (Date.now() > deadline) throw new Error(`execution ${id} is still ${execution.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The error a call rejects with (the test fails if it resolves). */
async function failure(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (err: unknown) => err,
  );
}

describe("start, get, result", () => {
  it("workflows() lists what the stack registered, with versions", async () => {
    const workflows = await client.workflows();
    expect(workflows.map((w) => w.name)).toEqual(["client-chatty", "client-decision", "client-double", "client-failing", "client-many", "client-ocr", "client-versioned"]);
    expect(workflows.find((w) => w.name === "client-versioned")).toEqual({ name: "client-versioned", versions: [1, 2], latest: 2 });
  });

  it("start() returns a handle and the new execution; result() returns the workflow's output; get() shows it completed", async () => {
    const run = await client.start(double, { n: 21 });
    expect(run).toMatchObject({ workflow: "client-double", version: 1, created: true });
    expect(run.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.execution).toMatchObject({ id: run.id, status: "running", input: { n: 21 }, run: 1 });

    const output = await client.result(run, { timeoutMs: 15_000 });
    expect(output).toEqual({ doubled: 42 });
    expect(output.doubled + 0).toBe(42); // typed: `doubled` is a number without a cast

    const execution = await client.get(run);
    expect(execution).toMatchObject({ id: run.id, workflow: "client-double", status: "completed", input: { n: 21 }, output: { doubled: 42 } });
    expect(Date.parse(execution.expiresAt ?? "")).toBeGreaterThan(Date.now());
    expect(await client.get(run.id)).toEqual(execution);
  });

  it("a start with an id is idempotent: the same request again is created: false; another input is ConflictError EXECUTION_EXISTS", async () => {
    const first = await client.start(double, { n: 1 }, { id: "client-idempotent" });
    const again = await client.start(double, { n: 1 }, { id: "client-idempotent" });
    expect([first.created, again.created]).toEqual([true, false]);
    expect(again.id).toBe("client-idempotent");
    const err = await failure(client.start(double, { n: 2 }, { id: "client-idempotent" }));
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({ status: 409, code: "EXECUTION_EXISTS", origin: "api" });
    expect((err as Error).message).toContain("client-idempotent");
  });

  it("a definition starts its own version; a name starts the latest, or the version asked for", async () => {
    const byDefinition = await client.start(versionedV1, undefined);
    const byName = await client.start("client-versioned");
    const byNameV1 = await client.start("client-versioned", undefined, { version: 1 });
    expect([byDefinition.version, byName.version, byNameV1.version]).toEqual([1, 2, 1]);
    expect(await client.result(byDefinition)).toBe("v1");
    expect(await client.result<string>(byName.id)).toBe("v2");
  });

  it("result() waits for a workflow that sleeps durably, and returns once it has woken and completed", async () => {
    const startedMs = Date.now();
    const run = await client.start(double, { n: 5, pauseMs: 800 });
    await waitForStatus(run.id, ["sleeping"]);
    expect(await client.result(run, { timeoutMs: 15_000, pollIntervalMs: 100 })).toEqual({ doubled: 10 });
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(800);
  });

  it("result() of a failed execution throws ExecutionFailedError carrying the execution's error", async () => {
    const run = await client.start(failing, { reason: "card declined" });
    const err = await failure(client.result(run, { timeoutMs: 15_000 }));
    expect(err).toBeInstanceOf(ExecutionFailedError);
    expect(err).toBeInstanceOf(DurableClientError);
    const failed = err as ExecutionFailedError;
    expect(failed.code).toBe("EXECUTION_FAILED");
    expect(failed.executionId).toBe(run.id);
    expect(failed.failure).toMatchObject({ name: "NonRetryableError", message: "card declined", code: "ORDER_REJECTED", details: { orderId: "o-1" } });
    expect(failed.failure).not.toHaveProperty("stack");
    expect(failed.message).toBe(`execution "${run.id}" failed: ORDER_REJECTED: card declined`);
    expect(failed.execution.status).toBe("failed");
  });

  it("result() of a canceled execution throws ExecutionCanceledError; a second cancel and a late signal are ConflictError EXECUTION_ENDED", async () => {
    const run = await client.start(decision, { request: "laptop" });
    await waitForStatus(run.id, ["sleeping"]);
    await client.cancel(run, "no longer needed");
    const err = await failure(client.result(run, { timeoutMs: 15_000, pollIntervalMs: 100 }));
    expect(err).toBeInstanceOf(ExecutionCanceledError);
    expect(err).toMatchObject({ code: "EXECUTION_CANCELED", executionId: run.id });
    for (const late of [() => client.cancel(run), () => client.signal(run, "decision", { approved: true })]) {
      const ended = await failure(late());
      expect(ended).toBeInstanceOf(ConflictError);
      expect(ended).toMatchObject({ status: 409, code: "EXECUTION_ENDED" });
    }
    const history = await client.history(run);
    expect(history.events.at(-1)).toMatchObject({ type: "ExecutionCanceled", reason: "no longer needed" });
  });

  it("signal() delivers its payload to the waiting workflow", async () => {
    const run = await client.start(decision, { request: "monitor" });
    const receipt = await client.signal(run, "decision", { approved: true });
    expect(receipt.signalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await client.result(run, { timeoutMs: 15_000 })).toEqual({ request: "monitor", approved: true });
    const events = [];
    for await (const event of client.iterateHistory(run)) events.push(event);
    expect(events.find((e) => e.type === "SignalReceived")).toMatchObject({ name: "decision", signalId: receipt.signalId, payload: { approved: true } });
  });

  it("result() gives up after timeoutMs with ResultTimeoutError; the execution goes on", async () => {
    const run = await client.start(decision, { request: "chair" });
    await waitForStatus(run.id, ["sleeping"]);
    const startedMs = Date.now();
    const err = await failure(client.result(run, { timeoutMs: 300, pollIntervalMs: 50 }));
    expect(Date.now() - startedMs).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(ResultTimeoutError);
    expect(err).toMatchObject({ code: "RESULT_TIMEOUT", executionId: run.id, timeoutMs: 300, lastStatus: "sleeping" });
    expect((await client.get(run)).status).toBe("sleeping");
    await client.cancel(run);
  });

  it("result() stops waiting when its signal aborts, with the signal's reason", async () => {
    const run = await client.start(decision, { request: "desk" });
    const controller = new AbortController();
    const reason = new Error("shutting down");
    setTimeout(() => controller.abort(reason), 200);
    await expect(client.result(run, { signal: controller.signal })).rejects.toBe(reason);
    const aborted = AbortSignal.abort(reason);
    await expect(client.result(run, { signal: aborted })).rejects.toBe(reason);
    await client.cancel(run);
  });
});

describe("API errors arrive as typed errors with the body's status, code and message", () => {
  it("each error carries exactly the status, code and message the API answered", async () => {
    const raw = await fetch(`${stack.apiUrl}/executions/client-no-such-execution`, { headers: { authorization: `Bearer ${stack.bearerToken}` } });
    const body = (await raw.json()) as { error: { code: string; message: string } };
    const err = await failure(client.get("client-no-such-execution"));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toBeInstanceOf(DurableClientError);
    expect(err).toBeInstanceOf(DurableError);
    expect(err).toMatchObject({ status: raw.status, code: body.error.code, message: body.error.message, origin: "api", name: "NotFoundError" });
  });

  it("404 EXECUTION_NOT_FOUND from get, history, signal and cancel of an unknown id", async () => {
    const id = "client-unknown";
    for (const call of [() => client.get(id), () => client.history(id), () => client.signal(id, "go"), () => client.cancel(id), () => client.result(id)]) {
      const err = await failure(call());
      expect(err).toBeInstanceOf(NotFoundError);
      expect(err).toMatchObject({ status: 404, code: "EXECUTION_NOT_FOUND" });
    }
  });

  it("400: an unregistered workflow, a malformed id, a forged cursor, a limit out of range", async () => {
    const cases: [() => Promise<unknown>, string][] = [
      [() => client.start("client-no-such-workflow", {}), "WORKFLOW_NOT_FOUND"],
      [() => client.start(double, { n: 1 }, { id: "has spaces" }), "INVALID_INPUT"],
      [() => client.get("has spaces"), "INVALID_INPUT"],
      [() => client.list({ cursor: "forged.cursor" }), "INVALID_CURSOR"],
      [() => client.list({ limit: 0 }), "INVALID_INPUT"],
      [() => client.history("client-unknown", { limit: 1001 }), "INVALID_INPUT"],
    ];
    for (const [call, code] of cases) {
      const err = await failure(call());
      expect(err, code).toBeInstanceOf(InvalidRequestError);
      expect(err).toMatchObject({ status: 400, code });
    }
  });

  it("an id cannot reach another route: a slash is sent encoded and refused by the API; an empty or all-dots id is refused before sending", async () => {
    const run = await client.start(double, { n: 3 });
    await client.result(run, { timeoutMs: 15_000 });
    const err = await failure(client.get(`${run.id}/history`));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err).toMatchObject({ status: 400, code: "INVALID_INPUT" });
    for (const id of ["", ".", ".."]) expect(await failure(client.get(id)), id).toBeInstanceOf(InvalidArgumentError);
    expect(await failure(client.signal(run, ""))).toBeInstanceOf(InvalidArgumentError);
    expect(await failure(client.signal(run, ".."))).toBeInstanceOf(InvalidArgumentError);
  });

  it("413: an input over 6 000 000 bytes is PayloadTooLargeError, and nothing is started", async () => {
    const err = await failure(client.start(decision, { request: "x".repeat(6_000_000) }, { id: "client-too-large" }));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ status: 413, code: "PAYLOAD_TOO_LARGE" });
    expect((err as Error).message).toContain("6000000");
    expect(await failure(client.get("client-too-large"))).toBeInstanceOf(NotFoundError);
  });

  it("401: a wrong bearer token is AuthError UNAUTHORIZED, sent once", async () => {
    let requests = 0;
    const wrong = createClient({
      url: stack.apiUrl,
      auth: { type: "bearer", token: "not-the-token" },
      fetch: (input, init) => {
        requests += 1;
        return fetch(input, init);
      },
    });
    const err = await failure(wrong.workflows());
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ status: 401, code: "UNAUTHORIZED", origin: "api" });
    expect(requests).toBe(1);
  });
});

describe("paging", () => {
  it("list() pages through many executions; iterateExecutions() yields each once, newest first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 23; i += 1) {
      const run = await client.start(many, { i }, { id: `client-many-${String(i).padStart(2, "0")}` });
      ids.push(run.id);
    }
    const firstPage = await client.list({ workflow: many, limit: 5 });
    expect(firstPage.executions).toHaveLength(5);
    expect(firstPage.cursor).toEqual(expect.any(String));
    expect(firstPage.executions[0]).not.toHaveProperty("input");

    const seen: string[] = [];
    for await (const execution of client.iterateExecutions({ workflow: "client-many", limit: 4 })) seen.push(execution.id);
    expect(seen).toEqual([...ids].reverse());

    // By hand with the cursor, the same walk.
    const byHand: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.list({ workflow: many, limit: 7, ...(cursor === undefined ? {} : { cursor }) });
      byHand.push(...page.executions.map((e) => e.id));
      cursor = page.cursor;
    } while (cursor !== undefined);
    expect(byHand).toEqual(seen);

    for (const id of ids) await waitForStatus(id, ["completed"]);
    const completed = [];
    for await (const execution of client.iterateExecutions({ workflow: many, status: "completed", limit: 10 })) completed.push(execution);
    expect(completed.map((e) => e.id).sort()).toEqual([...ids].sort());
    expect(new Set(completed.map((e) => e.status))).toEqual(new Set(["completed"]));
  });

  it("start() with tags and startAt; list() and iterateExecutions() by tags; bad tags and times are refused", async () => {
    const startAt = new Date(Date.now() + 3_600_000);
    const later = await client.start(double, { n: 7 }, { id: "client-tagged-later", tags: { customer: "c-9", tier: "gold" }, startAt });
    expect(later.execution).toMatchObject({ status: "sleeping", tags: { customer: "c-9", tier: "gold" }, startAt: startAt.toISOString() });
    const now = await client.start(double, { n: 8 }, { id: "client-tagged-now", tags: { customer: "c-9" } });
    expect(await client.result(now, { timeoutMs: 15_000 })).toEqual({ doubled: 16 });

    expect((await client.list({ tags: { customer: "c-9" } })).executions.map((e) => e.id)).toEqual(["client-tagged-now", "client-tagged-later"]);
    const gold: string[] = [];
    for await (const e of client.iterateExecutions({ tags: { customer: "c-9", tier: "gold" }, limit: 1 })) gold.push(e.id);
    expect(gold).toEqual(["client-tagged-later"]);
    expect((await client.list({ tags: { customer: "c-9" }, status: "completed" })).executions.map((e) => e.id)).toEqual(["client-tagged-now"]);

    for (const [call, code] of [
      [() => client.start(double, { n: 1 }, { tags: { "a b": "x" } }), "INVALID_TAGS"],
      [() => client.list({ tags: { k: "" } }), "INVALID_TAGS"],
      [() => client.start(double, { n: 1 }, { startAt: new Date(Date.now() + 400 * 86_400_000) }), "INVALID_START_AT"],
    ] as const) {
      expect(await failure(call())).toMatchObject({ status: 400, code });
    }
    await expect(client.start(double, { n: 1 }, { startAt: new Date(Number.NaN) })).rejects.toThrow(/invalid Date/);
  });

  it("history() pages; iterateHistory() yields every event once, seq 1..N, the same as one big page", async () => {
    const run = await client.start(chatty, { steps: 30 });
    expect(await client.result(run, { timeoutMs: 15_000 })).toBe(30);

    const all = await client.history(run, { limit: 1000 });
    expect(all.cursor).toBeUndefined();
    expect(all.events).toHaveLength(32); // started, 30 steps, completed
    expect(all.events.map((e) => e.seq)).toEqual(all.events.map((_e, i) => i + 1));
    expect(all.events.filter((e) => e.type === "StepCompleted")).toHaveLength(30);
    expect(all.events[0]).toMatchObject({ type: "ExecutionStarted", workflow: "client-chatty", input: { steps: 30 } });
    expect(all.events.at(-1)).toMatchObject({ type: "ExecutionCompleted", output: 30 });

    const firstPage = await client.history(run, { limit: 7 });
    expect(firstPage.events).toHaveLength(7);
    expect(firstPage.cursor).toEqual(expect.any(String));

    const walked = [];
    for await (const event of client.iterateHistory(run, { limit: 7 })) walked.push(event);
    expect(walked).toEqual(all.events);

    const rest = [];
    for await (const event of client.iterateHistory(run, { limit: 7, cursor: firstPage.cursor })) rest.push(event);
    expect(rest).toEqual(all.events.slice(7));

    const steps = walked.flatMap((e) => (e.type === "StepCompleted" ? [e.name] : []));
    expect(steps.slice(0, 3)).toEqual(["step-0", "step-1", "step-2"]);
  });
});

describe("callbacks through the client", () => {
  async function tokenOf(count: number): Promise<string> {
    const deadline = Date.now() + 15_000;
    while (callbackTokens.length < count) {
      if (Date.now() > deadline) throw new Error("the workflow never handed out its token");
      await new Promise((r) => setTimeout(r, 50));
    }
    return callbackTokens[count - 1] as string;
  }

  it("heartbeats and completes a callback; a second answer is a ConflictError, a forged token a NotFoundError", async () => {
    const run = await client.start(ocr, { doc: "d-1" });
    const token = await tokenOf(1);
    const { heartbeatDeadline } = await client.heartbeatCallback(token);
    expect(Date.parse(heartbeatDeadline ?? "")).toBeGreaterThan(Date.now());
    await client.completeCallback(token, "hello");
    expect(await client.result(run, { timeoutMs: 20_000 })).toEqual({ doc: "d-1", text: "hello" });
    await expect(client.completeCallback(token, "again")).rejects.toBeInstanceOf(ConflictError);
    await expect(client.completeCallback(`${token.slice(0, -4)}AAAA`, "x")).rejects.toSatisfy((e) => e instanceof NotFoundError || e instanceof InvalidRequestError);
  });

  it("fails a callback: the workflow sees the message", async () => {
    const run = await client.start(ocr, { doc: "d-2" });
    await client.failCallback(await tokenOf(2), { message: "unreadable", code: "UNREADABLE" });
    expect(await client.result(run, { timeoutMs: 20_000 })).toEqual({ doc: "d-2", failed: 'callback "ocr" failed: unreadable' });
  });
});
