/**
 * After a crash or a restart, an execution whose lease a dead worker holds waits in silence until
 * the lease runs out; `durable dev` says which and until when. Against DynamoDB Local: the due
 * index and the execution items as the store writes them.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { timeOfDay } from "../../../local/cli/dev/clock-time.js";
import { watchLeaseWaits } from "../../../local/cli/dev/lease-waits.js";
import { DynamoExecutionStore } from "../../../lambdas/store/dynamo-store.js";
import { createTable } from "../../../lambdas/store/table.js";
import { testClients, uniqueName } from "../../support/services.js";

const clients = testClients();
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

async function freshStore(): Promise<DynamoExecutionStore> {
  const tableName = uniqueName("leasewait");
  await createTable(clients.dynamo, tableName);
  return new DynamoExecutionStore({ client: clients.doc, tableName });
}

let store: DynamoExecutionStore;
beforeAll(async () => {
  store = await freshStore();
});

describe("lease waits", () => {
  it("names an execution a stopped worker's lease holds, with the time the lease runs out", async () => {
    await store.createExecution({ id: "held", workflow: "slow", version: 1, input: null, nowMs: T0 });
    await store.acquireLease("held", { owner: "local/earlier-process", nowMs: T0, leaseMs: 65_000 });
    const lines: string[] = [];
    const watch = watchLeaseWaits({ store, workerId: "local/this-process", print: (l) => lines.push(l), clock: () => T0 + 2_000 });
    try {
      const waits = await watch.check();
      expect(waits).toEqual([{ executionId: "held", workflow: "slow", leaseOwner: "local/earlier-process", leaseExpiresAtMs: T0 + 65_000 }]);
      expect(lines).toEqual([`execution held (slow) waits for the lease of a stopped worker until ${timeOfDay(T0 + 65_000)}, then resumes`]);
    } finally {
      watch.stop();
    }
  });

  it("says nothing of this process's own leases, of expired ones, or of executions nobody holds", async () => {
    const own = await freshStore();
    await own.createExecution({ id: "mine", workflow: "w", version: 1, input: null, nowMs: T0 });
    await own.acquireLease("mine", { owner: "local/this-process", nowMs: T0, leaseMs: 65_000 });
    await own.createExecution({ id: "expired", workflow: "w", version: 1, input: null, nowMs: T0 });
    await own.acquireLease("expired", { owner: "local/earlier-process", nowMs: T0, leaseMs: 1_000 });
    await own.createExecution({ id: "free", workflow: "w", version: 1, input: null, nowMs: T0 });
    const lines: string[] = [];
    const watch = watchLeaseWaits({ store: own, workerId: "local/this-process", print: (l) => lines.push(l), clock: () => T0 + 5_000 });
    try {
      expect(await watch.check()).toEqual([]);
      expect(lines).toEqual([]);
    } finally {
      watch.stop();
    }
  });

  it("tells a wait again only after repeatMs, and several waits in one line", async () => {
    const many = await freshStore();
    for (const id of ["a", "b", "c", "d"]) {
      await many.createExecution({ id, workflow: "w", version: 1, input: null, nowMs: T0 });
      await many.acquireLease(id, { owner: "local/earlier-process", nowMs: T0, leaseMs: 60_000 });
    }
    let nowMs = T0 + 1_000;
    const lines: string[] = [];
    const watch = watchLeaseWaits({ store: many, workerId: "local/this-process", print: (l) => lines.push(l), clock: () => nowMs, repeatMs: 15_000 });
    try {
      await watch.check();
      nowMs += 5_000;
      await watch.check();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^4 executions wait for the leases of stopped workers, until ${timeOfDay(T0 + 60_000)} at the latest, then resume: \\w \\(w\\), \\w \\(w\\), \\w \\(w\\) and 1 more$`));
      nowMs += 10_000;
      await watch.check();
      expect(lines).toHaveLength(2);
    } finally {
      watch.stop();
    }
  });
});
