/**
 * Retention: everything of an execution goes together once its retention ends (history, inbox,
 * the execution item), it is gone for every reader from that moment even before the sweeper has
 * removed it, its id can be used again, and a child that outlives its parent never brings the
 * parent back. Retention is 1 s here. Real worker, real API over HTTP, DynamoDB Local and the
 * SQS emulator.
 */
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { drainIntoWorker } from "../worker/harness.js";
import { type GuaranteeWorld, guaranteeWorld, partitionSize, sleep } from "./support.js";

const kid = defineWorkflow("ret-kid", async (ctx) => ctx.step("k", () => "kid"));
const full = defineWorkflow("ret-full", async (ctx, input: { tag: string }) => {
  const a = await ctx.step("a", () => `a-${input.tag}`);
  const signal = await ctx.waitForSignal<string>("go");
  const child = await ctx.child(kid, null, { id: `${ctx.executionId}-kid` });
  return { a, signal, child, tag: input.tag };
});
const lingering = defineWorkflow("ret-lingering", async (ctx) => ctx.waitForSignal<string>("finish"));
const leaver = defineWorkflow("ret-leaver", async (ctx) => {
  // Starts a child and ends without waiting for it: the child outlives the parent's retention.
  void ctx.child(lingering, null, { id: `${ctx.executionId}-lingering` });
  return ctx.step("done", () => "left");
});

const RETENTION_S = 1;

describe("retention", () => {
  let g: GuaranteeWorld;
  const drain = () => drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
  beforeAll(async () => {
    g = await guaranteeWorld("retention", [kid, full, lingering, leaver], { retentionSeconds: RETENTION_S });
  });
  afterAll(async () => g.close());

  async function runToEnd(id: string, tag: string): Promise<void> {
    expect((await g.api("POST", "/executions", { workflow: "ret-full", id, input: { tag } })).status).toBe(201);
    await drain();
    expect((await g.api("POST", `/executions/${id}/signals/go`, "sig")).status).toBe(202);
    await drain();
    const seen = await g.api("GET", `/executions/${id}`);
    if (seen.body.status !== "completed") console.log(JSON.stringify((await g.api("GET", `/executions/${id}/history`)).body, null, 1), JSON.stringify(seen.body));
    expect(seen.body).toMatchObject({ status: "completed", output: { tag } });
  }

  it("removes every item of an execution together, and it is gone for readers as soon as its retention ends", async () => {
    await runToEnd("gone", "one");
    expect(await partitionSize(g.world, "gone")).toBeGreaterThan(5);
    const view = await g.api("GET", "/executions/gone");
    expect(Date.parse(view.body.expiresAt)).toBeGreaterThan(Date.now() - 2_000);
    await sleep(RETENTION_S * 1000 + 200);
    // Not removed yet: already gone for every reader.
    expect(await partitionSize(g.world, "gone")).toBeGreaterThan(5);
    for (const path of ["/executions/gone", "/executions/gone/history"]) {
      const answer = await g.api("GET", path);
      expect([path, answer.status, answer.body.error?.code]).toEqual([path, 404, "EXECUTION_NOT_FOUND"]);
    }
    const signal = await g.api("POST", "/executions/gone/signals/go", "x");
    expect([signal.status, signal.body.error?.code]).toEqual([404, "EXECUTION_NOT_FOUND"]);
    const listed = await g.api("GET", "/executions?workflow=ret-full");
    expect(listed.body.executions.map((e: { id: string }) => e.id)).not.toContain("gone");
    // The sweeper removes it, history and inbox and all; the child goes once its own retention ends.
    await g.sweep();
    expect(await partitionSize(g.world, "gone")).toBe(0);
    expect(await partitionSize(g.world, "gone-kid")).toBe(0);
  });

  it("lets an id be used again once its retention ended, before or after the sweeper removed it", async () => {
    await runToEnd("again", "first");
    await sleep(RETENTION_S * 1000 + 200);
    // Not swept yet: the start removes the old execution first.
    await runToEnd("again", "second");
    const history = await g.api("GET", "/executions/again/history");
    expect(history.status).toBe(200);
    expect(history.body.events[0]).toMatchObject({ seq: 1, type: "ExecutionStarted", input: { tag: "second" } });
    expect(JSON.stringify(history.body.events)).not.toContain("a-first");
    // A sweep now must not touch the new execution (it has not ended its retention).
    await g.sweep();
    expect((await g.api("GET", "/executions/again")).body).toMatchObject({ status: "completed", output: { tag: "second" } });
  });

  it("starts under an id whose history outlived its execution item, instead of answering 500", async () => {
    // What an earlier version's TTL left behind: history without an execution item.
    await g.world.clients.doc.send(
      new PutCommand({ TableName: g.world.tableName, Item: { PK: "EXEC#orphan", SK: "H#0000000001", type: "ExecutionStarted", data: JSON.stringify({ seq: 1, atMs: 1, type: "ExecutionStarted", workflow: "ret-full", version: 1, input: { tag: "old" }, run: 1 }) } }),
    );
    await runToEnd("orphan", "new");
  });

  it("does not bring a parent back when a child outlives the parent's retention", async () => {
    expect((await g.api("POST", "/executions", { workflow: "ret-leaver", id: "leaver" })).status).toBe(201);
    await drain();
    expect((await g.api("GET", "/executions/leaver")).body).toMatchObject({ status: "completed" });
    await sleep(RETENTION_S * 1000 + 200);
    await g.sweep();
    expect(await partitionSize(g.world, "leaver")).toBe(0);
    expect((await g.api("POST", "/executions/leaver-lingering/signals/finish", "late")).status).toBe(202);
    await drain();
    expect((await g.api("GET", "/executions/leaver-lingering")).body).toMatchObject({ status: "completed", output: "late" });
    expect(await partitionSize(g.world, "leaver")).toBe(0);
    const parent = await g.api("GET", "/executions/leaver");
    expect([parent.status, parent.body.error?.code]).toEqual([404, "EXECUTION_NOT_FOUND"]);
  });
});
