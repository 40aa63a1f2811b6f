/**
 * Leases with fencing, against DynamoDB Local: what a second writer, or a zombie whose lease ran
 * out, sees in the table.
 */
import { GetCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import type { CommitBatch } from "../../lambdas/core/driver.js";
import type { HistoryEvent } from "../../lambdas/core/events.js";
import { HistoryConflictError, LeaseLostError } from "../../lambdas/store/errors.js";
import { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { executionPk, META_SK, INBOX_PREFIX } from "../../lambdas/store/keys.js";
import type { Lease, LeaseResult } from "../../lambdas/ports/store.js";
import { createTable } from "../../lambdas/store/table.js";
import { testClients, uniqueName } from "../support/services.js";

const clients = testClients();
const tableName = uniqueName("lease");
const store = new DynamoExecutionStore({ client: clients.doc, tableName });
const T0 = 1_800_000_000_000;
let counter = 0;

beforeAll(async () => {
  await createTable(clients.dynamo, tableName);
});

async function newExecution(options: { parent?: { executionId: string; position: number } } = {}): Promise<string> {
  counter += 1;
  const id = `exec-${counter}`;
  await store.createExecution({ id, workflow: "wf", version: 1, input: { n: counter }, nowMs: T0, ...options });
  return id;
}

function acquired(result: LeaseResult): Extract<LeaseResult, { acquired: true }> {
  if (!result.acquired) throw new Error(`lease not acquired: ${result.reason}`);
  return result;
}

const step = (seq: number, position: number, result: unknown): HistoryEvent => ({ seq, atMs: T0, type: "StepCompleted", position, name: `s${position}`, attempt: 1, result });
const batch = (events: HistoryEvent[], execution?: CommitBatch["execution"]): CommitBatch => ({
  events,
  lastSeq: events[events.length - 1]?.seq ?? 1,
  consumed: [],
  childStarts: [],
  childCancels: [],
  ...(execution ? { execution } : {}),
});
const sleeping = { status: "sleeping" as const, nextWakeAtMs: T0 + 60_000, releaseLease: true };

async function meta(id: string): Promise<Record<string, unknown>> {
  const out = await clients.doc.send(new GetCommand({ TableName: tableName, Key: { PK: executionPk(id), SK: META_SK }, ConsistentRead: true }));
  return out.Item ?? {};
}

describe("acquireLease", () => {
  it("takes a free lease with a new fencing token; a second taker sees it held until it expires", async () => {
    const id = await newExecution();
    const first = acquired(await store.acquireLease(id, { owner: "a", nowMs: T0, leaseMs: 1_000 }));
    expect(first.lease.version).toBe(1);
    const second = await store.acquireLease(id, { owner: "b", nowMs: T0 + 999, leaseMs: 1_000 });
    expect(second).toMatchObject({ acquired: false, reason: "held" });
    const third = acquired(await store.acquireLease(id, { owner: "b", nowMs: T0 + 1_001, leaseMs: 1_000 }));
    expect(third.lease.version).toBe(2);
    expect(await meta(id)).toMatchObject({ leaseOwner: "b", leaseVersion: 2, leaseExpiresAtMs: T0 + 2_001 });
  });

  it("counts each turn in advance (retryCount + 1) and a turn's closing commit sets it back to 0", async () => {
    const id = await newExecution();
    const one = acquired(await store.acquireLease(id, { owner: "a", nowMs: T0, leaseMs: 1_000 }));
    expect(one.previous.retryCount).toBe(0);
    await one.unlock(); // a failed turn lets go; its count stays
    const two = acquired(await store.acquireLease(id, { owner: "a", nowMs: T0, leaseMs: 1_000 }));
    expect(two.previous.retryCount).toBe(1);
    expect((await meta(id)).retryCount).toBe(2);
    await store.commit(two.lease, batch([step(2, 0, "ok")], sleeping), T0);
    expect((await meta(id)).retryCount).toBe(0);
  });

  it("refuses an execution that has ended, and leaves its item as it was", async () => {
    const id = await newExecution();
    const taken = acquired(await store.acquireLease(id, { owner: "a", nowMs: T0, leaseMs: 1_000 }));
    await store.commit(taken.lease, batch([{ seq: 2, atMs: T0, type: "ExecutionCompleted", output: 1 }], { status: "completed", nextWakeAtMs: null, releaseLease: true, output: 1 }), T0);
    const before = await meta(id);
    expect(await store.acquireLease(id, { owner: "b", nowMs: T0 + 5_000, leaseMs: 1_000 })).toMatchObject({ acquired: false, reason: "terminal" });
    expect(await meta(id)).toEqual(before);
  });
});

describe("a zombie worker (its lease expired and another worker took over)", () => {
  async function takeover(): Promise<{ id: string; zombie: Lease; holder: Lease }> {
    const id = await newExecution();
    const zombie = acquired(await store.acquireLease(id, { owner: "zombie", nowMs: T0, leaseMs: 50 })).lease;
    // The zombie pauses past its lease; another worker takes over and commits.
    const holder = acquired(await store.acquireLease(id, { owner: "holder", nowMs: T0 + 51, leaseMs: 10_000 })).lease;
    await store.commit(holder, batch([step(2, 0, "holder's result")]), T0 + 60);
    return { id, zombie, holder };
  }

  it("cannot append at a seq the holder wrote (the single-put path)", async () => {
    const { id, zombie } = await takeover();
    await expect(store.commit(zombie, batch([step(2, 0, "zombie's result")]), T0 + 70)).rejects.toBeInstanceOf(HistoryConflictError);
    const { events } = await store.readHistory(id);
    expect(events.map((e) => (e as { result?: unknown }).result)).toEqual([undefined, "holder's result"]);
  });

  it("cannot commit a transaction, even one that adds no history (the lease check)", async () => {
    const { id, zombie } = await takeover();
    const before = await meta(id);
    await expect(store.commit(zombie, batch([], sleeping), T0 + 70)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(store.commit(zombie, batch([step(3, 1, "x")], sleeping), T0 + 70)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await meta(id)).toEqual(before);
    expect((await store.readHistory(id)).events).toHaveLength(2);
  });

  it("cannot release the holder's lease", async () => {
    const { id, zombie } = await takeover();
    await store.releaseLease(zombie);
    expect(await meta(id)).toMatchObject({ leaseOwner: "holder", leaseVersion: 2 });
    expect(await store.acquireLease(id, { owner: "third", nowMs: T0 + 100, leaseMs: 1_000 })).toMatchObject({ acquired: false, reason: "held" });
  });

  it("does overwrite the execution item when the store is deliberately broken (unsafeSkipLeaseCheck)", async () => {
    const broken = new DynamoExecutionStore({ client: clients.doc, tableName, unsafeSkipLeaseCheck: true });
    const { id, zombie } = await takeover();
    await broken.commit(zombie, batch([], sleeping), T0 + 70);
    // The holder's lease is gone: this is what the fault suite must catch (broken-variant.test.ts).
    expect((await meta(id)).leaseOwner).toBeUndefined();
  });
});

describe("endWithoutLease", () => {
  it("fails a running execution, fences out the lease holder and tells the parent", async () => {
    const parent = await newExecution();
    const id = await newExecution({ parent: { executionId: parent, position: 3 } });
    const holder = acquired(await store.acquireLease(id, { owner: "holder", nowMs: T0, leaseMs: 60_000 })).lease;
    const error = { name: "EngineRetriesExhaustedError", message: "gave up", code: "ENGINE_RETRIES_EXHAUSTED" };
    await expect(store.endWithoutLease(id, { status: "failed", error }, T0 + 10, { parent: { executionId: parent, position: 3 } })).resolves.toBe(true);
    expect(await store.getExecution(id)).toMatchObject({ status: "failed", error, leaseVersion: 2 });
    expect((await store.getExecution(id))?.leaseOwner).toBeUndefined();
    await expect(store.commit(holder, batch([], sleeping), T0 + 20)).rejects.toBeInstanceOf(LeaseLostError);
    const inbox = await clients.doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :p)",
        ExpressionAttributeValues: { ":pk": executionPk(parent), ":p": INBOX_PREFIX },
        ConsistentRead: true,
      }),
    );
    expect(inbox.Items?.map((i) => JSON.parse(String(i.data)))).toEqual([{ type: "ChildEnded", position: 3, childId: id, status: "failed", error }]);
    expect((await store.getExecution(parent))?.nextWakeAtMs).toBe(T0 + 10);
    // Already ended: nothing changes.
    await expect(store.endWithoutLease(id, { status: "failed", error }, T0 + 30)).resolves.toBe(false);
  });
});

describe("commit", () => {
  it("makes the parent due in the same transaction that tells it a child ended (the sweeper's safety guard)", async () => {
    const parent = await newExecution();
    await clients.doc.send(
      new UpdateCommand({ TableName: tableName, Key: { PK: executionPk(parent), SK: META_SK }, UpdateExpression: "REMOVE nextWakeAtMs, dueShard" }),
    );
    const child = await newExecution({ parent: { executionId: parent, position: 0 } });
    const lease = acquired(await store.acquireLease(child, { owner: "w", nowMs: T0, leaseMs: 1_000 })).lease;
    await store.commit(
      lease,
      {
        ...batch([{ seq: 2, atMs: T0 + 5, type: "ExecutionCompleted", output: "done" }], { status: "completed", nextWakeAtMs: null, releaseLease: true, output: "done" }),
        notifyParent: { executionId: parent, event: { type: "ChildEnded", position: 0, childId: child, status: "completed", output: "done" } },
      },
      T0 + 5,
    );
    expect(await meta(parent)).toMatchObject({ nextWakeAtMs: T0 + 5, dueShard: "DUE" });
  });
});
