/** commit across executions: child starts, cancels of children, the notice to the parent. */
import { beforeAll, describe, expect, it } from "vitest";
import type { HistoryEvent } from "../../../lambdas/core/events.js";
import type { ChildStart } from "../../../lambdas/core/run.js";
import { ChildIdInUseError } from "../../../lambdas/store/errors.js";
import type { ExecutionStore } from "../../../lambdas/ports/store.js";
import { batch, completeExecution, lease, newExecution, sleepingUntil, step, T0 } from "./fixtures.js";
import type { StoreKit } from "./kits.js";

function childStart(childId: string, parentPosition = 0): { event: HistoryEvent; start: ChildStart } {
  return {
    event: { seq: 2, atMs: T0, type: "ChildStarted", position: parentPosition, name: "kid", childId, workflow: "kid-wf", version: 3 },
    start: { childId, workflow: "kid-wf", version: 3, input: { from: "parent" }, parentPosition },
  };
}

export function childContract(kit: StoreKit): void {
  let store: ExecutionStore;
  beforeAll(async () => {
    store = await kit.newStore();
  });

  describe("commit: child starts", () => {
    it("creates the child with its parent, due at once, in the commit that records ChildStarted", async () => {
      await store.createExecution(newExecution("parent-1"));
      const taken = await lease(store, "parent-1");
      const { event, start } = childStart("parent-1-kid", 5);
      await store.commit(taken.lease, batch([event], { childStarts: [start] }), T0 + 3);
      expect(await store.getExecution("parent-1-kid")).toStrictEqual({
        id: "parent-1-kid",
        workflow: "kid-wf",
        version: 3,
        status: "running",
        input: { from: "parent" },
        createdAtMs: T0 + 3,
        updatedAtMs: T0 + 3,
        run: 1,
        runStartSeq: 1,
        lastSeq: 1,
        leaseVersion: 0,
        retryCount: 0,
        inboxSeq: 0,
        nextWakeAtMs: T0 + 3,
        parent: { executionId: "parent-1", position: 5 },
      });
      expect((await store.readHistory("parent-1-kid")).events).toStrictEqual([
        { seq: 1, atMs: T0 + 3, type: "ExecutionStarted", workflow: "kid-wf", version: 3, input: { from: "parent" }, run: 1, parent: { executionId: "parent-1", position: 5 } },
      ]);
      expect((await store.readHistory("parent-1")).events[1]).toStrictEqual(event);
    });

    it("fails with ChildIdInUseError naming the ids another execution holds, and nothing lands", async () => {
      await store.createExecution(newExecution("taken-kid", { input: "mine" }));
      await store.createExecution(newExecution("parent-2"));
      const taken = await lease(store, "parent-2");
      const { event, start } = childStart("taken-kid");
      const before = await store.getExecution("taken-kid");
      const failure = store.commit(taken.lease, batch([event], { childStarts: [start], execution: sleepingUntil(null) }), T0 + 1);
      await expect(failure).rejects.toBeInstanceOf(ChildIdInUseError);
      await expect(failure).rejects.toMatchObject({ code: "CHILD_ID_IN_USE", childIds: ["taken-kid"] });
      expect(await store.getExecution("taken-kid")).toStrictEqual(before);
      expect((await store.readHistory("parent-2")).events).toHaveLength(1);
      expect((await store.getExecution("parent-2"))?.status).toBe("running");
    });

    it("takes the id of an execution whose retention ended: it is purged and replaced", async () => {
      const retained = await kit.newStore({ retentionSeconds: 60 });
      const purgeAtMs = await completeExecution(retained, "old-kid", T0);
      await retained.createExecution(newExecution("parent-3", { nowMs: purgeAtMs }));
      const taken = await lease(retained, "parent-3", "worker", purgeAtMs);
      const { event, start } = childStart("old-kid");
      // Not yet expired: in use.
      await expect(retained.commit(taken.lease, batch([event], { childStarts: [start] }), purgeAtMs - 1)).rejects.toBeInstanceOf(ChildIdInUseError);
      await retained.commit(taken.lease, batch([event], { childStarts: [start] }), purgeAtMs);
      expect(await retained.getExecution("old-kid")).toMatchObject({ status: "running", workflow: "kid-wf", parent: { executionId: "parent-3", position: 0 }, createdAtMs: purgeAtMs });
      expect((await retained.readHistory("old-kid")).events.map((e) => e.type)).toEqual(["ExecutionStarted"]);
    });
  });

  describe("commit: a child id freed by its retention in a later part of a split batch", () => {
    it("tries that part again once the old child is removed: the whole batch lands and the new child starts", async () => {
      const retained = await kit.newStore({ retentionSeconds: 60 });
      const purgeAtMs = await completeExecution(retained, "split-old-kid", T0);
      await retained.createExecution(newExecution("split-parent", { nowMs: purgeAtMs }));
      const taken = await lease(retained, "split-parent", "worker", purgeAtMs);
      const steps = Array.from({ length: 120 }, (_, i) => step(i + 2));
      const { event, start } = childStart("split-old-kid");
      const started = { ...event, seq: 122 };
      await retained.commit(taken.lease, batch([...steps, started], { lastSeq: 122, childStarts: [start], execution: sleepingUntil(null) }), purgeAtMs);
      expect((await retained.readHistory("split-parent")).events).toHaveLength(122);
      expect(await retained.getExecution("split-old-kid")).toMatchObject({ status: "running", parent: { executionId: "split-parent" }, createdAtMs: purgeAtMs });
      expect((await retained.readHistory("split-old-kid")).events.map((e) => e.type)).toEqual(["ExecutionStarted"]);
    });
  });

  describe("commit: asking children to cancel", () => {
    it("puts a Cancel in each child's inbox and makes it due; an ended child is skipped and the rest lands", async () => {
      await store.createExecution(newExecution("cancel-kid-live"));
      await completeExecution(store, "cancel-kid-done");
      await store.createExecution(newExecution("cancel-parent"));
      const taken = await lease(store, "cancel-parent");
      const canceled: HistoryEvent = { seq: 2, atMs: T0, type: "ExecutionCanceled", reason: "stop" };
      await store.commit(
        taken.lease,
        batch([canceled], { childCancels: ["cancel-kid-live", "cancel-kid-done", "cancel-kid-gone"], execution: { status: "canceled", nextWakeAtMs: null, releaseLease: true } }),
        T0 + 4,
      );
      expect((await store.getExecution("cancel-parent"))?.status).toBe("canceled");
      const inbox = await store.readInbox("cancel-kid-live");
      expect(inbox.map((p) => ({ arrivedAtMs: p.arrivedAtMs, event: p.event }))).toStrictEqual([{ arrivedAtMs: T0 + 4, event: { type: "Cancel", reason: "parent canceled" } }]);
      expect(await store.getExecution("cancel-kid-live")).toMatchObject({ inboxSeq: 1, nextWakeAtMs: T0 + 4 });
      expect(await store.readInbox("cancel-kid-done")).toEqual([]);
      expect(await store.readInboxSeq("cancel-kid-done")).toBe(0);
      // A child that is gone does not come back as a stub.
      expect(await store.getExecution("cancel-kid-gone")).toBeUndefined();
      expect(await store.readInbox("cancel-kid-gone")).toEqual([]);
    });
  });

  describe("commit: telling the parent", () => {
    async function childOf(parentId: string, childId: string) {
      await store.createExecution(newExecution(childId, { parent: { executionId: parentId, position: 2 } }));
      const taken = await lease(store, childId);
      const notice = { type: "ChildEnded" as const, position: 2, childId, status: "completed" as const, output: "kid done" };
      const ending = batch([{ seq: 2, atMs: T0, type: "ExecutionCompleted", output: "kid done" }], {
        execution: { status: "completed", nextWakeAtMs: null, releaseLease: true, output: "kid done" },
        notifyParent: { executionId: parentId, event: notice },
      });
      return { taken, notice, ending };
    }

    it("puts ChildEnded in the parent's inbox and makes it due, with the child's end", async () => {
      await store.createExecution(newExecution("told-parent"));
      const taken = await lease(store, "told-parent");
      await store.commit(taken.lease, batch([], { execution: sleepingUntil(null) }), T0);
      expect((await store.getExecution("told-parent"))?.nextWakeAtMs).toBeUndefined();
      const child = await childOf("told-parent", "told-kid");
      await store.commit(child.taken.lease, child.ending, T0 + 6);
      expect((await store.getExecution("told-kid"))?.status).toBe("completed");
      expect((await store.readInbox("told-parent")).map((p) => p.event)).toStrictEqual([child.notice]);
      expect(await store.getExecution("told-parent")).toMatchObject({ nextWakeAtMs: T0 + 6, inboxSeq: 1, status: "sleeping" });
      expect(await store.findDue(T0 + 6, 1_000)).toContainEqual({ executionId: "told-parent", nextWakeAtMs: T0 + 6 });
    });

    it("drops the notice to a parent that ended or is gone, and the child's commit lands", async () => {
      await completeExecution(store, "ended-parent");
      const before = await store.getExecution("ended-parent");
      const toEnded = await childOf("ended-parent", "orphaned-kid-1");
      await store.commit(toEnded.taken.lease, toEnded.ending, T0 + 6);
      expect((await store.getExecution("orphaned-kid-1"))?.status).toBe("completed");
      expect(await store.getExecution("ended-parent")).toStrictEqual(before);
      expect(await store.readInbox("ended-parent")).toEqual([]);

      const toGone = await childOf("gone-parent", "orphaned-kid-2");
      await store.commit(toGone.taken.lease, toGone.ending, T0 + 6);
      expect((await store.getExecution("orphaned-kid-2"))?.status).toBe("completed");
      expect(await store.getExecution("gone-parent")).toBeUndefined();
      expect(await store.readInbox("gone-parent")).toEqual([]);
    });
  });
}
