/**
 * Tags given at start and delayed starts (`startAt`), on the in-memory kit and on DynamoDB Local
 * with the SQS emulator: tags show on the execution and filter lists (through the sharded tag
 * index, paged newest first, combined with workflow, status and more tags); a delayed start runs
 * nothing before its time, keeps the signals sent meanwhile and can be canceled before it
 * begins; bad tags and start times are refused and store nothing.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { codeOf } from "../support/codes.js";
import { type AnyWorkflow, defineWorkflow } from "../../lambdas/index.js";
import type { ExecutionSummary } from "../../lambdas/engine/executions.js";
import { createTestEnvironment, type TestKit } from "../../lambdas/testing/index.js";
import { createDynamoDBTestEnvironment } from "../../local/testing.js";

const T0 = Date.UTC(2026, 5, 1, 8, 0, 0);
/** What the workflows' steps did, by execution: a step that ran early shows here. */
const ran: string[] = [];

const order = defineWorkflow("tagged-order", async (ctx, input: { n: number }) => {
  await ctx.step("charge", () => {
    ran.push(`charge:${ctx.executionId}`);
    return input.n;
  });
  return input.n;
});

const waiting = defineWorkflow("tagged-waiting", async (ctx) => {
  const approved = await ctx.waitForSignal<{ ok: boolean }>("approve");
  return approved.ok;
});

const delayed = defineWorkflow("delayed-report", async (ctx, input: { day: string }) => {
  const startedAt = ctx.now();
  await ctx.step("build", () => {
    ran.push(`build:${ctx.executionId}`);
    return input.day;
  });
  const note = await ctx.waitForSignal<string>("note", { timeout: "1 second" }).catch(() => "none");
  return { startedAt, note };
});

type Kit = TestKit & { advanceTime(duration: string): Promise<void>; now(): number; close(): Promise<void> };

const MODES: { name: string; create(workflows: AnyWorkflow[]): Promise<Kit> }[] = [
  { name: "in memory", create: (workflows) => createTestEnvironment({ workflows, startTimeMs: T0 }) },
  {
    name: "DynamoDB Local",
    create: (workflows) =>
      createDynamoDBTestEnvironment({ workflows, startTimeMs: T0, endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") } }),
  },
  {
    name: "DynamoDB Local, warm runs",
    create: (workflows) =>
      createDynamoDBTestEnvironment({ workflows, warmRuns: true, startTimeMs: T0, endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") } }),
  },
];

async function listAll(env: Kit, filter: Parameters<Kit["list"]>[0]): Promise<ExecutionSummary[]> {
  const all: ExecutionSummary[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page += 1) {
    const answer = await env.list({ ...filter, ...(cursor === undefined ? {} : { cursor }) });
    all.push(...answer.executions);
    cursor = answer.cursor;
    if (cursor === undefined) return all;
  }
  throw new Error("paging did not end");
}

describe.each(MODES)("tags and delayed starts, $name", (mode) => {
  let env: Kit;
  const prefix = `${mode.name === "in memory" ? "m" : mode.name.includes("warm") ? "w" : "d"}${Date.now().toString(36)}`;
  beforeAll(async () => {
    env = await mode.create([order, waiting, delayed]);
  });
  afterAll(async () => {
    await env?.close();
  });

  it("shows tags on the execution and lists by tag, newest first, over every shard", async () => {
    const customer = `${prefix}-c42`;
    const ids: string[] = [];
    for (let i = 0; i < 23; i += 1) {
      const id = `${prefix}-order-${String(i).padStart(2, "0")}`;
      await env.start(order, { n: i }, { id, tags: { customer, region: i % 2 === 0 ? "eu" : "us" } });
      ids.push(id);
      await env.advanceTime("1 second"); // distinct creation times: "newest first" has one answer
    }
    await env.start(order, { n: 99 }, { id: `${prefix}-other`, tags: { customer: `${prefix}-c7` } });
    await env.start(waiting, null, { id: `${prefix}-waiting`, tags: { customer } });

    expect(await env.execution(ids[3] as string)).toMatchObject({ status: "completed", tags: { customer, region: "us" } });

    const byCustomer = await listAll(env, { tags: { customer }, limit: 4 });
    expect(byCustomer.map((e) => e.id)).toEqual([`${prefix}-waiting`, ...[...ids].reverse()]);
    expect(byCustomer[0]?.tags).toEqual({ customer });

    // Workflow as the index's filter; status and a second tag checked on the executions.
    expect((await listAll(env, { tags: { customer }, workflow: "tagged-waiting" })).map((e) => e.id)).toEqual([`${prefix}-waiting`]);
    expect((await listAll(env, { tags: { customer }, status: "sleeping", limit: 3 })).map((e) => e.id)).toEqual([`${prefix}-waiting`]);
    const eu = ids.filter((_, i) => i % 2 === 0).reverse();
    expect((await listAll(env, { tags: { customer, region: "eu" }, limit: 5 })).map((e) => e.id)).toEqual(eu);
    expect((await listAll(env, { tags: { region: "eu", customer }, workflow: "tagged-order" })).map((e) => e.id)).toEqual(eu);
    expect(await listAll(env, { tags: { customer: `${prefix}-nobody` } })).toEqual([]);
  });

  it("refuses bad tags with INVALID_TAGS and stores nothing", async () => {
    const tooMany = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"]));
    const cases: Record<string, string>[] = [tooMany, { "bad key": "v" }, { k: "" }, { k: "x".repeat(257) }, { ["k".repeat(65)]: "v" }, { k: "a\nb" }];
    for (const [i, tags] of cases.entries()) {
      const id = `${prefix}-badtag-${i}`;
      expect(await codeOf(env.start(order, { n: 1 }, { id, tags }))).toBe("INVALID_TAGS");
      expect(await codeOf(env.execution(id))).toBe("EXECUTION_NOT_FOUND");
    }
    expect(await codeOf(env.list({ tags: { "bad key": "v" } }))).toBe("INVALID_TAGS");
    // Ten tags at the limits are fine.
    const atLimit = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`${i}`.padEnd(64, "k"), "v".repeat(256)]));
    const id = await env.start(order, { n: 2 }, { id: `${prefix}-tags-at-limit`, tags: atLimit });
    expect((await env.execution(id)).tags).toEqual(atLimit);
    expect((await env.list({ tags: { [Object.keys(atLimit)[9] as string]: "v".repeat(256) } })).executions.map((e) => e.id)).toContain(id);
  });

  it("a repeated start with other tags is EXECUTION_EXISTS; the same tags return the execution", async () => {
    const id = `${prefix}-idem`;
    await env.start(order, { n: 5 }, { id, tags: { a: "1" } });
    expect(await codeOf(env.start(order, { n: 5 }, { id, tags: { a: "2" } }))).toBe("EXECUTION_EXISTS");
    expect(await codeOf(env.start(order, { n: 5 }, { id }))).toBe("EXECUTION_EXISTS");
    expect(await env.start(order, { n: 5 }, { id, tags: { a: "1" } })).toBe(id);
  });

  it("a delayed start runs nothing before its time, then begins on time with the signals sent meanwhile", async () => {
    const id = `${prefix}-delayed`;
    const startAt = new Date(env.now() + 3 * 86_400_000);
    await env.start(delayed, { day: "monday" }, { id, startAt });
    const before = await env.execution(id);
    expect(before).toMatchObject({ status: "sleeping", startAt: startAt.toISOString(), nextWakeAt: startAt.toISOString() });
    await env.signal(id, "note", "sent early");
    await env.advanceTime("71 hours");
    expect(ran).not.toContain(`build:${id}`);
    expect((await env.execution(id)).status).toBe("sleeping");
    await env.advanceTime("2 hours");
    expect(ran).toContain(`build:${id}`);
    expect(await env.result(id)).toEqual({ startedAt: startAt.getTime(), note: "sent early" });
    const history = await env.history(id);
    // The wait for the start time is a timer of its own, recorded before the signal or after it.
    expect(history.slice(0, 3).map((e) => e.type).sort()).toEqual(["ExecutionStarted", "SignalReceived", "TimerStarted"]);
    expect(history.find((e) => e.type === "TimerStarted")).toMatchObject({ name: "startAt", position: 0, fireAtMs: startAt.getTime() });
    expect(history[0]).toMatchObject({ startAtMs: startAt.getTime() });
  });

  it("a delayed start canceled before its time ends canceled without running", async () => {
    const id = `${prefix}-delayed-cancel`;
    await env.start(delayed, { day: "tuesday" }, { id, startAt: env.now() + 3_600_000 });
    await env.cancel(id, "not needed");
    expect((await env.execution(id)).status).toBe("canceled");
    await env.advanceTime("2 hours");
    expect(ran).not.toContain(`build:${id}`);
  });

  it("refuses a start over 366 days ahead; a past start time starts now; a repeat with another time is EXECUTION_EXISTS", async () => {
    expect(await codeOf(env.start(delayed, { day: "x" }, { id: `${prefix}-far`, startAt: env.now() + 367 * 86_400_000 }))).toBe("INVALID_START_AT");
    expect(await codeOf(env.execution(`${prefix}-far`))).toBe("EXECUTION_NOT_FOUND");
    expect(await codeOf(env.start(delayed, { day: "x" }, { id: `${prefix}-nan`, startAt: "next tuesday" }))).toBe("INVALID_START_AT");

    const past = await env.start(delayed, { day: "past" }, { id: `${prefix}-past`, startAt: env.now() - 60_000 });
    expect(ran).toContain(`build:${past}`);
    expect((await env.execution(past)).startAt).toBeUndefined();

    const id = `${prefix}-later`;
    const startAt = env.now() + 600_000;
    await env.start(delayed, { day: "w" }, { id, startAt });
    expect(await env.start(delayed, { day: "w" }, { id, startAt })).toBe(id);
    expect(await codeOf(env.start(delayed, { day: "w" }, { id, startAt: startAt + 1_000 }))).toBe("EXECUTION_EXISTS");
  });
});
