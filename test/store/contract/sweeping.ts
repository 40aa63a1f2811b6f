/** What the sweeper calls: findDue, claimDueExecutions (claims), purgeExpired; and endWithoutLease. Each test has a store of its own. */
import { describe, expect, it } from "vitest";
import { LeaseLostError } from "../../../lambdas/store/errors.js";
import { batch, completeExecution, lease, MINUTE, newExecution, signal, sleepingUntil, step, T0 } from "./fixtures.js";
import type { StoreKit } from "./kits.js";

export function sweepContract(kit: StoreKit): void {
  describe("findDue", () => {
    it("lists executions due by a time, oldest first, up to a limit; not those sleeping later, waiting on nothing, or ended", async () => {
      const store = await kit.newStore();
      await store.createExecution(newExecution("due-b", { nowMs: T0 + 10 }));
      await store.createExecution(newExecution("due-a", { nowMs: T0 }));
      await store.createExecution(newExecution("due-later", { nowMs: T0 }));
      await store.createExecution(newExecution("due-never", { nowMs: T0 }));
      await completeExecution(store, "due-ended", T0);
      const later = await lease(store, "due-later");
      await store.commit(later.lease, batch([], { execution: sleepingUntil(T0 + MINUTE) }), T0);
      const never = await lease(store, "due-never");
      await store.commit(never.lease, batch([], { execution: sleepingUntil(null) }), T0);
      expect(await store.findDue(T0 + 20, 10)).toStrictEqual([
        { executionId: "due-a", nextWakeAtMs: T0 },
        { executionId: "due-b", nextWakeAtMs: T0 + 10 },
      ]);
      expect(await store.findDue(T0 + 20, 1)).toStrictEqual([{ executionId: "due-a", nextWakeAtMs: T0 }]);
      expect(await store.findDue(T0 + 9, 10)).toStrictEqual([{ executionId: "due-a", nextWakeAtMs: T0 }]);
      expect((await store.findDue(T0 + MINUTE, 10)).map((d) => d.executionId)).toEqual(["due-a", "due-b", "due-later"]);
    });
  });

  describe("claimDueExecutions", () => {
    it("claims due executions by moving their wake time to the claim's end; they are not due again until it runs out", async () => {
      const store = await kit.newStore();
      // Due a millisecond apart: DynamoDB leaves the order of equal wake times open.
      for (const [i, id] of ["claim-1", "claim-2", "claim-3"].entries()) await store.createExecution(newExecution(id, { nowMs: T0 + i }));
      const claimed = await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 1_000 });
      expect(claimed.map((c) => c.executionId)).toEqual(["claim-1", "claim-2", "claim-3"]);
      for (const id of ["claim-1", "claim-2", "claim-3"]) expect((await store.getExecution(id))?.nextWakeAtMs).toBe(T0 + 31_000);
      // Ordered by their new wake time, equal for all three now.
      expect(await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 2_000 })).toEqual([]);
      expect((await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 31_000 })).map((c) => c.executionId).sort()).toEqual(["claim-1", "claim-2", "claim-3"]);
    });

    it("gives two sweepers running at once disjoint claims that cover every due execution", async () => {
      const store = await kit.newStore();
      const ids = Array.from({ length: 30 }, (_, i) => `sweep-${String(i).padStart(2, "0")}`);
      for (const id of ids) await store.createExecution(newExecution(id));
      const [a, b] = await Promise.all([store.claimDueExecutions(30_000, 100, { nowMs: T0 + 1_000 }), store.claimDueExecutions(30_000, 100, { nowMs: T0 + 1_000 })]);
      const mine = a.map((c) => c.executionId);
      const theirs = b.map((c) => c.executionId);
      expect(mine.filter((id) => theirs.includes(id))).toEqual([]);
      expect([...mine, ...theirs].sort()).toEqual(ids);
    });

    it("skips executions a live lease holds, not due before dueBeforeMs, or ended; an expired lease does not hold", async () => {
      const store = await kit.newStore();
      for (const id of ["skip-leased", "skip-expired-lease", "skip-late", "skip-free"]) await store.createExecution(newExecution(id));
      await completeExecution(store, "skip-ended");
      await lease(store, "skip-leased", "w", T0, 10_000);
      await lease(store, "skip-expired-lease", "w", T0, 10);
      const late = await lease(store, "skip-late");
      await store.commit(late.lease, batch([], { execution: sleepingUntil(T0 + MINUTE) }), T0);
      const claimed = await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 1_000, dueBeforeMs: T0 + 5_000 });
      expect(claimed.map((c) => c.executionId).sort()).toEqual(["skip-expired-lease", "skip-free"]);
    });

    it("gives a claim back with unlock: due again at its old time; an unlock after the wake time moved changes nothing", async () => {
      const store = await kit.newStore();
      await store.createExecution(newExecution("unclaim-1"));
      await store.createExecution(newExecution("unclaim-2"));
      const claims = await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 1_000 });
      await claims.find((c) => c.executionId === "unclaim-1")?.unlock();
      expect((await store.getExecution("unclaim-1"))?.nextWakeAtMs).toBe(T0);
      await store.addToInbox("unclaim-2", signal("s", 1), T0 + 2_000);
      await claims.find((c) => c.executionId === "unclaim-2")?.unlock();
      expect((await store.getExecution("unclaim-2"))?.nextWakeAtMs).toBe(T0 + 2_000);
      expect((await store.claimDueExecutions(30_000, 10, { nowMs: T0 + 3_000 })).map((c) => c.executionId).sort()).toEqual(["unclaim-1", "unclaim-2"]);
    });

    it("answers nothing when nothing is due", async () => {
      const store = await kit.newStore();
      await store.createExecution(newExecution("nothing-due"));
      expect(await store.claimDueExecutions(30_000, 10, { nowMs: T0 - 1 })).toEqual([]);
    });
  });

  describe("endWithoutLease", () => {
    it("appends ExecutionFailed after the last event, fences out the lease holder and tells the parent", async () => {
      const store = await kit.newStore({ retentionSeconds: 100 });
      await store.createExecution(newExecution("fail-parent"));
      const parent = { executionId: "fail-parent", position: 3 };
      await store.createExecution(newExecution("fail-kid", { parent }));
      const holder = await lease(store, "fail-kid", "holder", T0, MINUTE);
      await store.commit(holder.lease, batch([step(2)]), T0 + 1);
      const error = { name: "EngineRetriesExhaustedError", message: "gave up", code: "ENGINE_RETRIES_EXHAUSTED" };
      expect(await store.endWithoutLease("fail-kid", { status: "failed", error }, T0 + 10, { parent })).toBe(true);
      expect((await store.readHistory("fail-kid")).events.slice(2)).toStrictEqual([{ seq: 3, atMs: T0 + 10, type: "ExecutionFailed", error }]);
      const record = await store.getExecution("fail-kid");
      expect(record).toMatchObject({ status: "failed", error, leaseVersion: 2, lastSeq: 3, updatedAtMs: T0 + 10, purgeAtMs: T0 + 10 + 100_000, retryCount: 1 });
      expect(record?.leaseOwner).toBeUndefined();
      expect(record?.nextWakeAtMs).toBeUndefined();
      await expect(store.commit(holder.lease, batch([], { execution: sleepingUntil(null) }), T0 + 20)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.commit(holder.lease, batch([step(4), step(5)]), T0 + 20)).rejects.toBeInstanceOf(LeaseLostError);
      expect((await store.readInbox("fail-parent")).map((p) => p.event)).toStrictEqual([{ type: "ChildEnded", position: 3, childId: "fail-kid", status: "failed", error }]);
      expect(await store.getExecution("fail-parent")).toMatchObject({ nextWakeAtMs: T0 + 10, inboxSeq: 1 });
    });

    it("is false for an ended or unknown execution, and fails one whose parent ended without telling it", async () => {
      const store = await kit.newStore();
      const error = { name: "Error", message: "gave up" };
      await completeExecution(store, "fail-done");
      expect(await store.endWithoutLease("fail-done", { status: "failed", error }, T0 + 1)).toBe(false);
      expect((await store.getExecution("fail-done"))?.status).toBe("completed");
      expect(await store.endWithoutLease("nobody", { status: "failed", error }, T0 + 1)).toBe(false);
      expect(await store.getExecution("nobody")).toBeUndefined();
      await completeExecution(store, "fail-ended-parent");
      await store.createExecution(newExecution("fail-kid-2", { parent: { executionId: "fail-ended-parent", position: 0 } }));
      expect(await store.endWithoutLease("fail-kid-2", { status: "failed", error }, T0 + 2, { parent: { executionId: "fail-ended-parent", position: 0 } })).toBe(true);
      expect((await store.getExecution("fail-kid-2"))?.status).toBe("failed");
      expect(await store.readInbox("fail-ended-parent")).toEqual([]);
      expect((await store.readHistory("fail-kid-2")).events.map((e) => e.type)).toEqual(["ExecutionStarted", "ExecutionFailed"]);
    });
  });

  describe("endWithoutLease, terminated", () => {
    it("appends ExecutionTerminated with who asked, fences out the lease holder and tells the parent the child was terminated", async () => {
      const store = await kit.newStore({ retentionSeconds: 100 });
      await store.createExecution(newExecution("term-parent"));
      const parent = { executionId: "term-parent", position: 1 };
      await store.createExecution(newExecution("term-kid", { parent }));
      const holder = await lease(store, "term-kid", "holder", T0, MINUTE);
      const error = { name: "ExecutionTerminated", message: "terminated: stuck", code: "TERMINATED" };
      expect(await store.endWithoutLease("term-kid", { status: "terminated", error, reason: "stuck", by: "ops@example" }, T0 + 5, { parent })).toBe(true);
      expect((await store.readHistory("term-kid")).events.slice(1)).toStrictEqual([{ seq: 2, atMs: T0 + 5, type: "ExecutionTerminated", reason: "stuck", by: "ops@example" }]);
      expect(await store.getExecution("term-kid")).toMatchObject({ status: "terminated", error, purgeAtMs: T0 + 5 + 100_000 });
      await expect(store.commit(holder.lease, batch([step(3), step(4)]), T0 + 6)).rejects.toBeInstanceOf(LeaseLostError);
      expect((await store.readInbox("term-parent")).map((p) => p.event)).toStrictEqual([{ type: "ChildEnded", position: 1, childId: "term-kid", status: "terminated", error }]);
      expect(await store.endWithoutLease("term-kid", { status: "terminated", error }, T0 + 7)).toBe(false);
    });
  });

  describe("redriveExecution", () => {
    const error = { name: "Error", message: "boom" };
    const redriven = { type: "ExecutionRedriven" as const, dropped: [3], redrive: 1, by: "ops" };

    it("puts a failed execution back to running, due now, error and retention cleared, the fencing token moved on, ExecutionRedriven next", async () => {
      const store = await kit.newStore({ retentionSeconds: 100 });
      await store.createExecution(newExecution("redrive-1"));
      const holder = await lease(store, "redrive-1", "holder", T0, MINUTE);
      await store.commit(holder.lease, batch([step(2)]), T0 + 1);
      expect(await store.endWithoutLease("redrive-1", { status: "failed", error }, T0 + 2)).toBe(true);
      const failed = await store.getExecution("redrive-1");
      await store.redriveExecution("redrive-1", redriven, { expectedLastSeq: 3 }, T0 + 50);
      const record = await store.getExecution("redrive-1");
      expect(record).toMatchObject({ status: "running", nextWakeAtMs: T0 + 50, lastSeq: 4, retryCount: 0, updatedAtMs: T0 + 50, leaseVersion: (failed?.leaseVersion ?? 0) + 1 });
      expect(record?.error).toBeUndefined();
      expect(record?.purgeAtMs).toBeUndefined();
      expect((await store.readHistory("redrive-1")).events.at(-1)).toStrictEqual({ ...redriven, seq: 4, atMs: T0 + 50 });
      expect((await store.findDue(T0 + 50, 10)).map((d) => d.executionId)).toContain("redrive-1");
      const again = await store.acquireLease("redrive-1", { owner: "next", nowMs: T0 + 51, leaseMs: MINUTE });
      expect(again.acquired).toBe(true);
    });

    it("refuses, writing nothing, an execution that is not failed, a child, one whose retention ended, an unknown one, and a stale read of history", async () => {
      const store = await kit.newStore({ retentionSeconds: 100 });
      await store.createExecution(newExecution("redrive-running"));
      await expect(store.redriveExecution("redrive-running", redriven, { expectedLastSeq: 1 }, T0 + 1)).rejects.toMatchObject({ code: "EXECUTION_NOT_FAILED" });
      await expect(store.redriveExecution("redrive-nobody", redriven, { expectedLastSeq: 1 }, T0 + 1)).rejects.toMatchObject({ code: "EXECUTION_NOT_FOUND" });

      await store.createExecution(newExecution("redrive-parent"));
      await store.createExecution(newExecution("redrive-kid", { parent: { executionId: "redrive-parent", position: 0 } }));
      expect(await store.endWithoutLease("redrive-kid", { status: "failed", error }, T0 + 2)).toBe(true);
      await expect(store.redriveExecution("redrive-kid", redriven, { expectedLastSeq: 2 }, T0 + 3)).rejects.toMatchObject({ code: "EXECUTION_NOT_FAILED" });

      await store.createExecution(newExecution("redrive-stale"));
      expect(await store.endWithoutLease("redrive-stale", { status: "failed", error }, T0 + 2)).toBe(true);
      await expect(store.redriveExecution("redrive-stale", redriven, { expectedLastSeq: 1 }, T0 + 3)).rejects.toMatchObject({ code: "STORE_BUSY" });
      await expect(store.redriveExecution("redrive-stale", redriven, { expectedLastSeq: 2 }, T0 + 2 + 100_000)).rejects.toMatchObject({ code: "EXECUTION_NOT_FOUND" });
      expect(await store.getExecution("redrive-stale")).toMatchObject({ status: "failed", lastSeq: 2 });
      expect((await store.readHistory("redrive-stale")).events.map((e) => e.type)).toEqual(["ExecutionStarted", "ExecutionFailed"]);
    });
  });

  describe("purgeExpired", () => {
    it("removes every item of executions whose retention ended, oldest first, up to a limit; others stay", async () => {
      const store = await kit.newStore({ retentionSeconds: 60 });
      // An inbox item left when it ended goes too.
      await store.createExecution(newExecution("purge-a"));
      await store.addToInbox("purge-a", signal("s", "left over"), T0);
      const a = await lease(store, "purge-a");
      await store.commit(a.lease, batch([step(2), { seq: 3, atMs: T0, type: "ExecutionCompleted", output: 1 }], { execution: { status: "completed", nextWakeAtMs: null, releaseLease: true, output: 1 } }), T0);
      await completeExecution(store, "purge-b", T0 + 10);
      await completeExecution(store, "purge-c", T0 + 20);
      await store.createExecution(newExecution("purge-running"));
      expect(await store.purgeExpired({ nowMs: T0 + 59_999, limit: 10 })).toEqual([]);
      expect(await store.purgeExpired({ nowMs: T0 + 60_030, limit: 2 })).toEqual(["purge-a", "purge-b"]);
      for (const id of ["purge-a", "purge-b"]) {
        expect(await store.getExecution(id)).toBeUndefined();
        expect(await store.readHistory(id)).toStrictEqual({ events: [] });
        expect(await store.readInbox(id)).toEqual([]);
        expect(await store.loadSnapshot(id, { nowMs: T0 })).toBeUndefined();
      }
      expect(await store.purgeExpired({ nowMs: T0 + 60_030, limit: 10 })).toEqual(["purge-c"]);
      expect(await store.getExecution("purge-running")).toBeDefined();
      expect(await store.purgeExpired({ nowMs: T0 + 10 * 60_000, limit: 10 })).toEqual([]);
    });

    it("stops at its deadline", async () => {
      const store = await kit.newStore({ retentionSeconds: 1 });
      await completeExecution(store, "purge-deadline");
      expect(await store.purgeExpired({ nowMs: T0 + 5_000, limit: 10, deadlineMs: Date.now() - 1 })).toEqual([]);
      expect(await store.getExecution("purge-deadline")).toBeDefined();
    });

    it("spares items written after the midpoint of the retention (a later execution's, or a zombie's late one)", async () => {
      const store = await kit.newStore({ retentionSeconds: 60 });
      const purgeAtMs = await completeExecution(store, "purge-mid", T0);
      const zombie = { executionId: "purge-mid", owner: "zombie", version: 1, expiresAtMs: T0 };
      await store.commit(zombie, batch([step(7, "late", T0 + 40_000)]), T0 + 40_000);
      expect(await store.purgeExpired({ nowMs: purgeAtMs, limit: 10 })).toEqual(["purge-mid"]);
      expect(await store.getExecution("purge-mid")).toBeUndefined();
      expect((await store.readHistory("purge-mid")).events.map((e) => e.seq)).toEqual([7]);
    });

    it("lets the id be used again once purged", async () => {
      const store = await kit.newStore({ retentionSeconds: 60 });
      const purgeAtMs = await completeExecution(store, "purge-reuse", T0);
      await store.purgeExpired({ nowMs: purgeAtMs, limit: 10 });
      const again = await store.createExecution(newExecution("purge-reuse", { nowMs: purgeAtMs + 1, input: "new" }));
      expect(again).toMatchObject({ created: true, execution: { input: "new", status: "running" } });
      expect((await store.readHistory("purge-reuse")).events.map((e) => e.type)).toEqual(["ExecutionStarted"]);
    });
  });
}
