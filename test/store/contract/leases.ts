/** acquireLease, unlock, markProgress, and what a zombie (a worker whose lease was taken over) can still do. */
import { beforeAll, describe, expect, it } from "vitest";
import { HistoryConflictError, LeaseLostError } from "../../../lambdas/store/errors.js";
import type { ExecutionStore } from "../../../lambdas/ports/store.js";
import { acquired, batch, completion, lease, newExecution, sleepingUntil, step, T0 } from "./fixtures.js";
import type { StoreKit } from "./kits.js";

export function leaseContract(kit: StoreKit): void {
  let store: ExecutionStore;
  beforeAll(async () => {
    store = await kit.newStore();
  });

  describe("acquireLease", () => {
    it("with dueByMs, takes the lease only of an execution with work: due by then, or something in its inbox", async () => {
      await store.createExecution(newExecution("lease-due"));
      const first = await lease(store, "lease-due", "a", T0 + 1, 1_000);
      await store.commit(first.lease, batch([], { execution: sleepingUntil(T0 + 600_000) }), T0 + 2);
      // A wake time 10 minutes on: not due by 5 minutes from now, nothing written.
      const before = await store.getExecution("lease-due");
      const early = await store.acquireLease("lease-due", { owner: "b", nowMs: T0 + 3, leaseMs: 1_000, dueByMs: T0 + 300_003 });
      expect(early).toMatchObject({ acquired: false, reason: "not-due", execution: { status: "sleeping", nextWakeAtMs: T0 + 600_000 } });
      expect(await store.getExecution("lease-due")).toStrictEqual(before);
      // Without dueByMs the lease is taken whatever the wake time.
      const any = acquired(await store.acquireLease("lease-due", { owner: "c", nowMs: T0 + 4, leaseMs: 1_000 }));
      await any.unlock();
      // Waiting for a signal only (no wake time): not due, until a signal is in the inbox.
      await store.commit(acquired(await store.acquireLease("lease-due", { owner: "d", nowMs: T0 + 5, leaseMs: 1_000 })).lease, batch([], { execution: sleepingUntil(null) }), T0 + 6);
      expect(await store.acquireLease("lease-due", { owner: "e", nowMs: T0 + 7, leaseMs: 1_000, dueByMs: T0 + 300_007 })).toMatchObject({ acquired: false, reason: "not-due" });
      await store.addToInbox("lease-due", { type: "Signal", name: "go", signalId: "s1", payload: 1 }, T0 + 8);
      expect(await store.acquireLease("lease-due", { owner: "f", nowMs: T0 + 9, leaseMs: 1_000, dueByMs: T0 + 300_009 })).toMatchObject({ acquired: true });
      // A live lease is "held" rather than "not-due".
      expect(await store.acquireLease("lease-due", { owner: "g", nowMs: T0 + 10, leaseMs: 1_000, dueByMs: T0 + 300_010 })).toMatchObject({ acquired: false, reason: "held" });
    });

    it("takes a free lease with the next fencing token, and says what the execution was before", async () => {
      await store.createExecution(newExecution("lease-1"));
      const taken = await lease(store, "lease-1", "a", T0 + 5, 1_000);
      expect(taken.lease).toStrictEqual({ executionId: "lease-1", owner: "a", version: 1, expiresAtMs: T0 + 1_005 });
      expect(taken.previous).toStrictEqual({ status: "running", nextWakeAtMs: T0, retryCount: 0, lastSeq: 1, inboxSeq: 0 });
      const expected = {
        id: "lease-1",
        workflow: "wf",
        version: 1,
        status: "running",
        input: { id: "lease-1" },
        createdAtMs: T0,
        updatedAtMs: T0,
        run: 1,
        runStartSeq: 1,
        lastSeq: 1,
        leaseOwner: "a",
        leaseExpiresAtMs: T0 + 1_005,
        leaseVersion: 1,
        retryCount: 1,
        inboxSeq: 0,
        nextWakeAtMs: T0,
      };
      expect(taken.execution).toStrictEqual(expected);
      expect(await store.getExecution("lease-1")).toStrictEqual(expected);
    });

    it("holds the lease until strictly after it expires; the next taker gets the next token", async () => {
      await store.createExecution(newExecution("lease-2"));
      await lease(store, "lease-2", "a", T0, 1_000);
      const atExpiry = await store.acquireLease("lease-2", { owner: "b", nowMs: T0 + 1_000, leaseMs: 1_000 });
      expect(atExpiry).toMatchObject({ acquired: false, reason: "held", execution: { leaseOwner: "a", leaseVersion: 1, leaseExpiresAtMs: T0 + 1_000 } });
      const after = acquired(await store.acquireLease("lease-2", { owner: "b", nowMs: T0 + 1_001, leaseMs: 1_000 }));
      expect(after.lease.version).toBe(2);
      expect(after.previous.retryCount).toBe(1);
      expect(await store.getExecution("lease-2")).toMatchObject({ leaseOwner: "b", leaseVersion: 2, leaseExpiresAtMs: T0 + 2_001, retryCount: 2 });
    });

    it("counts each turn in advance (retryCount + 1); the commit that ends a turn sets it back to 0", async () => {
      await store.createExecution(newExecution("lease-3"));
      const one = await lease(store, "lease-3");
      await one.unlock(); // a failed turn lets go; its count stays
      const two = await lease(store, "lease-3");
      expect(two.previous.retryCount).toBe(1);
      expect((await store.getExecution("lease-3"))?.retryCount).toBe(2);
      await store.commit(two.lease, batch([step(2)], { execution: sleepingUntil(T0 + 60_000) }), T0);
      const record = await store.getExecution("lease-3");
      expect(record).toMatchObject({ retryCount: 0, status: "sleeping", nextWakeAtMs: T0 + 60_000, lastSeq: 2, leaseVersion: 2 });
      expect(record?.leaseOwner).toBeUndefined();
      const three = await lease(store, "lease-3", "c", T0 + 1);
      expect(three.previous).toStrictEqual({ status: "sleeping", nextWakeAtMs: T0 + 60_000, retryCount: 0, lastSeq: 2, inboxSeq: 0 });
    });

    it("refuses an ended execution (terminal, with its record, which stays as it was) and an unknown one", async () => {
      await store.createExecution(newExecution("lease-4"));
      const taken = await lease(store, "lease-4");
      await store.commit(taken.lease, completion(1, "out"), T0);
      const before = await store.getExecution("lease-4");
      const refused = await store.acquireLease("lease-4", { owner: "b", nowMs: T0 + 5_000, leaseMs: 1_000 });
      expect(refused).toStrictEqual({ acquired: false, reason: "terminal", execution: before });
      expect(await store.getExecution("lease-4")).toStrictEqual(before);
      expect(await store.acquireLease("nobody", { owner: "b", nowMs: T0, leaseMs: 1_000 })).toStrictEqual({ acquired: false, reason: "not-found" });
    });

    it("leaves the wake time as it is", async () => {
      await store.createExecution(newExecution("lease-5", { nowMs: T0 - 100 }));
      await lease(store, "lease-5");
      expect((await store.getExecution("lease-5"))?.nextWakeAtMs).toBe(T0 - 100);
    });
  });

  describe("unlock", () => {
    it("gives the lease back: another worker takes it at once", async () => {
      await store.createExecution(newExecution("unlock-1"));
      const taken = await lease(store, "unlock-1", "a");
      await taken.unlock();
      const record = await store.getExecution("unlock-1");
      expect(record?.leaseOwner).toBeUndefined();
      expect(record?.leaseExpiresAtMs).toBeUndefined();
      expect((await lease(store, "unlock-1", "b")).lease.version).toBe(2);
    });

    it("from a zombie does not free the holder's lease", async () => {
      await store.createExecution(newExecution("unlock-2"));
      const zombie = await lease(store, "unlock-2", "zombie", T0, 50);
      await lease(store, "unlock-2", "holder", T0 + 51, 10_000);
      await zombie.unlock();
      expect(await store.getExecution("unlock-2")).toMatchObject({ leaseOwner: "holder", leaseVersion: 2 });
      expect(await store.acquireLease("unlock-2", { owner: "third", nowMs: T0 + 100, leaseMs: 1_000 })).toMatchObject({ acquired: false, reason: "held" });
    });
  });

  describe("a zombie (its lease expired and another worker took over)", () => {
    async function takeover(id: string) {
      await store.createExecution(newExecution(id));
      const zombie = (await lease(store, id, "zombie", T0, 50)).lease;
      const holder = (await lease(store, id, "holder", T0 + 51, 10_000)).lease;
      await store.commit(holder, batch([step(2, "holder's")]), T0 + 60);
      return { zombie, holder };
    }

    it("loses a seq the holder wrote first: two writers at one seq, the second gets HistoryConflictError", async () => {
      const { zombie } = await takeover("zombie-1");
      await expect(store.commit(zombie, batch([step(2, "zombie's")]), T0 + 70)).rejects.toBeInstanceOf(HistoryConflictError);
      await expect(store.commit(zombie, batch([step(2, "zombie's")]), T0 + 70)).rejects.toMatchObject({ code: "HISTORY_CONFLICT", details: { executionId: "zombie-1", seq: 2 } });
      expect((await store.readHistory("zombie-1")).events.map((e) => (e as { result?: unknown }).result)).toEqual([undefined, "holder's"]);
    });

    it("cannot commit the end of a turn or a transaction (LeaseLostError), and nothing of it lands", async () => {
      const { zombie } = await takeover("zombie-2");
      const before = await store.getExecution("zombie-2");
      await expect(store.commit(zombie, batch([], { execution: sleepingUntil(T0 + 1) }), T0 + 70)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.commit(zombie, batch([step(3)], { execution: sleepingUntil(T0 + 1) }), T0 + 70)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.commit(zombie, batch([step(3), step(4)]), T0 + 70)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.markProgress(zombie, 9)).rejects.toBeInstanceOf(LeaseLostError);
      expect(await store.getExecution("zombie-2")).toStrictEqual(before);
      expect((await store.readHistory("zombie-2")).events).toHaveLength(2);
    });

    it("can still append a step result at a seq nobody wrote: the single put has no lease check", async () => {
      const { zombie } = await takeover("zombie-3");
      await store.commit(zombie, batch([step(3, "zombie's")]), T0 + 70);
      expect((await store.readHistory("zombie-3")).events.map((e) => e.seq)).toEqual([1, 2, 3]);
    });

    it("cannot append even a step result when every commit is a lease-checked transaction (singlePutSteps: false)", async () => {
      const strict = await kit.newStore({ singlePutSteps: false });
      await strict.createExecution(newExecution("zombie-4"));
      const zombie = (await lease(strict, "zombie-4", "zombie", T0, 50)).lease;
      const holder = (await lease(strict, "zombie-4", "holder", T0 + 51, 10_000)).lease;
      await strict.commit(holder, batch([step(2)]), T0 + 60);
      await expect(strict.commit(zombie, batch([step(3)]), T0 + 70)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(strict.commit(holder, batch([step(2)]), T0 + 70)).rejects.toBeInstanceOf(HistoryConflictError);
      expect((await strict.readHistory("zombie-4")).events.map((e) => e.seq)).toEqual([1, 2]);
    });
  });

  describe("fencing", () => {
    it("checks owner and token, not the clock: a lease past its expiry that nobody took over still commits", async () => {
      await store.createExecution(newExecution("fence-1"));
      const late = (await lease(store, "fence-1", "slow", T0, 10)).lease;
      await store.commit(late, batch([step(2)], { execution: sleepingUntil(T0 + 5_000) }), T0 + 1_000);
      expect(await store.getExecution("fence-1")).toMatchObject({ status: "sleeping", lastSeq: 2 });
    });
  });

  describe("markProgress", () => {
    it("under the lease, sets retryCount to 1 and notes lastSeq", async () => {
      await store.createExecution(newExecution("progress-1"));
      await (await lease(store, "progress-1")).unlock();
      const taken = await lease(store, "progress-1", "worker", T0 + 1);
      expect((await store.getExecution("progress-1"))?.retryCount).toBe(2);
      await store.markProgress(taken.lease, 7);
      expect(await store.getExecution("progress-1")).toMatchObject({ retryCount: 1, lastSeq: 7, leaseOwner: "worker" });
    });

    it("refuses a lease that is not the execution's (LeaseLostError), also for an unknown execution", async () => {
      await expect(store.markProgress({ executionId: "nobody", owner: "w", version: 1, expiresAtMs: T0 }, 2)).rejects.toBeInstanceOf(LeaseLostError);
    });
  });
}
