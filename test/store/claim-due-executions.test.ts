/**
 * `claimDueExecutions(lockTimeMs, limit)`: the sweeper's claim on due executions, against
 * DynamoDB Local.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import { beforeEach, describe, expect, it } from "vitest";
import { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { executionPk, META_SK } from "../../lambdas/store/keys.js";
import { RequestMeter } from "../../lambdas/store/request-meter.js";
import { createTable } from "../../lambdas/store/table.js";
import { testClients, uniqueName } from "../support/services.js";

const clients = testClients();
const T0 = 1_800_000_000_000;
let tableName: string;
let store: DynamoExecutionStore;

beforeEach(async () => {
  tableName = uniqueName("claims");
  await createTable(clients.dynamo, tableName);
  store = new DynamoExecutionStore({ client: clients.doc, tableName });
});

/** Executions due at T0 (a new execution is due at once). */
async function dueExecutions(n: number, prefix = "due"): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await Promise.all(ids.map((id) => store.createExecution({ id, workflow: "wf", version: 1, input: null, nowMs: T0 })));
  return ids;
}

async function wakeAt(id: string): Promise<number | undefined> {
  const out = await clients.doc.send(new GetCommand({ TableName: tableName, Key: { PK: executionPk(id), SK: META_SK }, ConsistentRead: true }));
  return out.Item?.nextWakeAtMs as number | undefined;
}

describe("claimDueExecutions", () => {
  it("claims due executions by moving their wake time to the end of the claim", async () => {
    const ids = await dueExecutions(3);
    const claimed = await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 1_000 });
    expect(claimed.map((c) => c.executionId).sort()).toEqual(ids);
    for (const id of ids) expect(await wakeAt(id)).toBe(T0 + 31_000);
    // Claimed: not due again until the claim runs out.
    expect(await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 2_000 })).toEqual([]);
    expect((await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 31_000 })).map((c) => c.executionId).sort()).toEqual(ids);
  });

  it("gives two sweepers running at once disjoint sets that cover every due execution", async () => {
    const ids = await dueExecutions(40);
    const other = new DynamoExecutionStore({ client: testClients().doc, tableName });
    const [a, b] = await Promise.all([
      store.claimDueExecutions(30_000, 100, { nowMs: T0 + 1_000 }),
      other.claimDueExecutions(30_000, 100, { nowMs: T0 + 1_000 }),
    ]);
    const mine = a.map((c) => c.executionId);
    const theirs = b.map((c) => c.executionId);
    expect(mine.filter((id) => theirs.includes(id))).toEqual([]);
    expect([...mine, ...theirs].sort()).toEqual([...ids].sort());
  });

  it("skips executions held by a live lease, not yet due, or ended", async () => {
    const [leased, later, ended, free] = await dueExecutions(4);
    await store.acquireLease(leased as string, { owner: "w", nowMs: T0, leaseMs: 10_000 });
    await store.acquireLease(ended as string, { owner: "w", nowMs: T0, leaseMs: 10_000 }).then(async (r) => {
      if (!r.acquired) throw new Error("no lease");
      await store.commit(r.lease, { events: [{ seq: 2, atMs: T0, type: "ExecutionCompleted" }], lastSeq: 2, consumed: [], childStarts: [], childCancels: [], execution: { status: "completed", nextWakeAtMs: null, releaseLease: true } }, T0);
    });
    await clients.doc.send(
      new UpdateCommand({ TableName: tableName, Key: { PK: executionPk(later as string), SK: META_SK }, UpdateExpression: "SET nextWakeAtMs = :t", ExpressionAttributeValues: { ":t": T0 + 60_000 } }),
    );
    const claimed = await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 1_000, dueBeforeMs: T0 + 5_000 });
    expect(claimed.map((c) => c.executionId)).toEqual([free]);
  });

  it("gives a claim back with unlock: the execution is due again at its old time", async () => {
    const [id] = await dueExecutions(1);
    const [claim] = await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 1_000 });
    await claim?.unlock();
    expect(await wakeAt(id as string)).toBe(T0);
    expect((await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 1_000 })).map((c) => c.executionId)).toEqual([id]);
  });

  it("takes an ended execution that a late notification made due out of the due index", async () => {
    const [id] = await dueExecutions(1);
    await clients.doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { PK: executionPk(id as string), SK: META_SK },
        UpdateExpression: "SET #s = :done",
        ExpressionAttributeNames: { "#s": "status" },
        ExpressionAttributeValues: { ":done": "completed" },
      }),
    );
    expect(await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 1_000 })).toEqual([]);
    expect(await wakeAt(id as string)).toBeUndefined();
  });

  it("costs one query when nothing is due", async () => {
    await dueExecutions(2);
    const meter = new RequestMeter();
    const client = new DynamoDBClient({ endpoint: inject("dynamoEndpoint"), region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
    meter.attach(client, "dynamodb");
    const metered = new DynamoExecutionStore({ client, tableName });
    expect(await metered.claimDueExecutions(30_000, 100, { nowMs: T0 - 1 })).toEqual([]);
    expect(meter.snapshot()).toEqual({ "dynamodb.Query": expect.objectContaining({ requests: 1 }) });
  });
});
