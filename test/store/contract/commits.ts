/** commit: single puts, the closing update with the inbox counter, transactions and their splitting, size limits. */
import { beforeAll, describe, expect, it } from "vitest";
import { InboxChangedError } from "../../../lambdas/core/errors.js";
import { MAX_VALUE_BYTES, maxEventBytesFor } from "../../../lambdas/core/limits.js";
import { HistoryConflictError, LeaseLostError, PayloadTooLargeError, InboxConflictError } from "../../../lambdas/store/errors.js";
import type { ExecutionStore } from "../../../lambdas/ports/store.js";
import { batch, completion, lease, MINUTE, newExecution, signal, signalReceived, sleepingUntil, step, T0 } from "./fixtures.js";
import type { StoreKit } from "./kits.js";

export function commitContract(kit: StoreKit): void {
  let store: ExecutionStore;
  beforeAll(async () => {
    store = await kit.newStore();
  });

  describe("commit: the end of a turn", () => {
    it("sets status, wake time, lastSeq and retryCount 0, and gives the lease back", async () => {
      await store.createExecution(newExecution("end-1"));
      const taken = await lease(store, "end-1");
      await store.commit(taken.lease, batch([step(2)]), T0);
      await store.commit(taken.lease, batch([], { lastSeq: 2, execution: sleepingUntil(T0 + MINUTE) }), T0 + 7);
      const record = await store.getExecution("end-1");
      expect(record).toStrictEqual({
        id: "end-1",
        workflow: "wf",
        version: 1,
        status: "sleeping",
        input: { id: "end-1" },
        createdAtMs: T0,
        updatedAtMs: T0 + 7,
        run: 1,
        runStartSeq: 1,
        lastSeq: 2,
        leaseVersion: 1,
        retryCount: 0,
        inboxSeq: 0,
        nextWakeAtMs: T0 + MINUTE,
      });
      expect((await lease(store, "end-1", "next", T0 + 8)).lease.version).toBe(2);
    });

    it("clears the wake time with null, and leaves it with undefined", async () => {
      await store.createExecution(newExecution("end-2"));
      const taken = await lease(store, "end-2");
      await store.commit(taken.lease, batch([], { execution: { status: "sleeping", releaseLease: false } }), T0 + 1);
      expect((await store.getExecution("end-2"))?.nextWakeAtMs).toBe(T0);
      await store.commit(taken.lease, batch([], { execution: sleepingUntil(null) }), T0 + 2);
      expect((await store.getExecution("end-2"))?.nextWakeAtMs).toBeUndefined();
    });

    it("is refused with InboxChangedError when an inbox item arrived after the worker's read, and nothing of it lands", async () => {
      await store.createExecution(newExecution("inbox-seen-1"));
      const taken = await lease(store, "inbox-seen-1");
      expect(taken.previous.inboxSeq).toBe(0);
      await store.addToInbox("inbox-seen-1", signal("go", 1), T0 + 1);
      const before = await store.getExecution("inbox-seen-1");
      // The update alone, and a transaction that also appends.
      await expect(store.commit(taken.lease, batch([], { execution: sleepingUntil(null) }), T0 + 2, { inboxSeen: 0 })).rejects.toBeInstanceOf(InboxChangedError);
      await expect(store.commit(taken.lease, batch([step(2)], { execution: sleepingUntil(null) }), T0 + 2, { inboxSeen: 0 })).rejects.toMatchObject({ code: "INBOX_CHANGED" });
      expect(await store.getExecution("inbox-seen-1")).toStrictEqual(before);
      expect((await store.readHistory("inbox-seen-1")).events).toHaveLength(1);
      // Having seen it, the worker ends the turn.
      expect(await store.readInboxSeq("inbox-seen-1")).toBe(1);
      await store.commit(taken.lease, batch([step(2)], { execution: sleepingUntil(null) }), T0 + 3, { inboxSeen: 1 });
      expect((await store.getExecution("inbox-seen-1"))?.status).toBe("sleeping");
    });

    it("checks the inbox counter on every transaction given inboxSeen, and not at all without it", async () => {
      await store.createExecution(newExecution("inbox-seen-2"));
      const taken = await lease(store, "inbox-seen-2");
      await store.addToInbox("inbox-seen-2", signal("go", 1), T0 + 1);
      await expect(store.commit(taken.lease, batch([step(2), step(3)]), T0 + 2, { inboxSeen: 0 })).rejects.toBeInstanceOf(InboxChangedError);
      await store.commit(taken.lease, batch([step(2), step(3)]), T0 + 2);
      await store.commit(taken.lease, batch([], { lastSeq: 3, execution: sleepingUntil(null) }), T0 + 3);
      expect(await store.getExecution("inbox-seen-2")).toMatchObject({ status: "sleeping", lastSeq: 3 });
    });

    it("reports a lost lease before a changed inbox", async () => {
      await store.createExecution(newExecution("inbox-seen-3"));
      const zombie = await lease(store, "inbox-seen-3", "zombie", T0, 10);
      await lease(store, "inbox-seen-3", "holder", T0 + 11);
      await store.addToInbox("inbox-seen-3", signal("go", 1), T0 + 12);
      await expect(store.commit(zombie.lease, batch([], { execution: sleepingUntil(null) }), T0 + 13, { inboxSeen: 0 })).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.commit(zombie.lease, batch([step(2)], { execution: sleepingUntil(null) }), T0 + 13, { inboxSeen: 0 })).rejects.toBeInstanceOf(LeaseLostError);
    });

    it("ends a run: a terminal status removes the wake time and sets the retention", async () => {
      const retained = await kit.newStore({ retentionSeconds: 120 });
      await retained.createExecution(newExecution("end-3"));
      const taken = await lease(retained, "end-3");
      await retained.commit(taken.lease, completion(1, { ok: true }), T0 + 9);
      const record = await retained.getExecution("end-3");
      expect(record).toMatchObject({ status: "completed", output: { ok: true }, purgeAtMs: T0 + 9 + 120_000, lastSeq: 2, retryCount: 0 });
      expect(record?.nextWakeAtMs).toBeUndefined();
      expect(await retained.findDue(T0 + 10 * MINUTE, 10)).toEqual([]);
    });
  });

  describe("commit: continue-as-new", () => {
    it("moves to the new run, clears output and error, and keeps a large input only in history", async () => {
      await store.createExecution(newExecution("can-1"));
      const taken = await lease(store, "can-1");
      const input = { big: "n".repeat(2_000) };
      await store.commit(
        taken.lease,
        batch(
          [
            { seq: 2, atMs: T0, type: "ContinuedAsNew", input, nextRun: 2 },
            { seq: 3, atMs: T0, type: "ExecutionStarted", workflow: "wf", version: 1, input, run: 2 },
          ],
          { execution: { status: "running", releaseLease: false, run: { run: 2, runStartSeq: 3, input } } },
        ),
        T0 + 1,
      );
      expect(await store.getExecution("can-1")).toMatchObject({ run: 2, runStartSeq: 3, lastSeq: 3, input, status: "running" });
      expect((await store.loadSnapshot("can-1", { nowMs: T0 }))?.execution.input).toBeUndefined();
    });

    it("is refused when the same update also sets an output (DynamoDB's overlapping paths), and nothing lands", async () => {
      await store.createExecution(newExecution("can-2"));
      const taken = await lease(store, "can-2");
      const update = { status: "running" as const, releaseLease: false, output: "x", run: { run: 2, runStartSeq: 2, input: null } };
      await expect(store.commit(taken.lease, batch([], { execution: update }), T0 + 1)).rejects.toMatchObject({ name: "ValidationException" });
      await expect(store.commit(taken.lease, batch([step(2)], { execution: update }), T0 + 1)).rejects.toMatchObject({ name: "ValidationException" });
      expect((await store.readHistory("can-2")).events).toHaveLength(1);
    });
  });

  describe("commit: inbox items taken into history", () => {
    it("deletes each with the event that records it", async () => {
      await store.createExecution(newExecution("consume-1"));
      const taken = await lease(store, "consume-1");
      const first = await store.addToInbox("consume-1", signal("go", "one"), T0 + 1);
      const second = await store.addToInbox("consume-1", signal("go", "two"), T0 + 2);
      await store.commit(taken.lease, batch([signalReceived(2, first)], { consumed: [{ item: first, seq: 2 }] }), T0 + 3);
      expect(await store.readInbox("consume-1")).toStrictEqual([second]);
      expect((await store.readHistory("consume-1")).events[1]).toStrictEqual(signalReceived(2, first));
      // Consuming does not move the inbox counter: only arrivals do.
      expect(await store.readInboxSeq("consume-1")).toBe(2);
    });

    it("fails a second commit of an item already consumed with InboxConflictError, and nothing of that commit lands", async () => {
      await store.createExecution(newExecution("consume-2"));
      const taken = await lease(store, "consume-2");
      const item = await store.addToInbox("consume-2", signal("go", "one"), T0 + 1);
      await store.commit(taken.lease, batch([signalReceived(2, item)], { consumed: [{ item, seq: 2 }] }), T0 + 2);
      await expect(
        store.commit(taken.lease, batch([signalReceived(3, item)], { consumed: [{ item, seq: 3 }], execution: sleepingUntil(null) }), T0 + 3),
      ).rejects.toBeInstanceOf(InboxConflictError);
      expect((await store.readHistory("consume-2")).events.map((e) => e.seq)).toEqual([1, 2]);
      expect((await store.getExecution("consume-2"))?.status).toBe("running");
    });

    it("takes an item with no event of its own (a repeated cancel) out of the inbox", async () => {
      await store.createExecution(newExecution("consume-3"));
      const taken = await lease(store, "consume-3");
      const cancel = await store.addToInbox("consume-3", { type: "Cancel", reason: "twice" }, T0 + 1);
      await store.commit(taken.lease, batch([], { lastSeq: 1, consumed: [{ item: cancel }], execution: sleepingUntil(null) }), T0 + 2);
      expect(await store.readInbox("consume-3")).toEqual([]);
    });
  });

  describe("commit: history", () => {
    it("appends a step result with one put; two writers at the same seq: the second gets HistoryConflictError", async () => {
      await store.createExecution(newExecution("seq-1"));
      const a = await lease(store, "seq-1", "a");
      await store.commit(a.lease, batch([step(2, "first")]), T0);
      await expect(store.commit(a.lease, batch([step(2, "second")]), T0)).rejects.toBeInstanceOf(HistoryConflictError);
      // In a transaction too, whichever event of it is taken.
      await expect(store.commit(a.lease, batch([step(3), step(2, "third")], { execution: sleepingUntil(null) }), T0)).rejects.toMatchObject({ code: "HISTORY_CONFLICT", details: { seq: 2 } });
      expect((await store.readHistory("seq-1")).events.map((e) => [e.seq, (e as { result?: unknown }).result])).toEqual([
        [1, undefined],
        [2, "first"],
      ]);
    });

    it("splits a batch too big for one transaction in order: a conflict in a later part leaves the earlier parts landed", async () => {
      await store.createExecution(newExecution("split-1"));
      const taken = await lease(store, "split-1");
      await store.commit(taken.lease, batch([step(120, "already there")]), T0);
      const events = Array.from({ length: 150 }, (_, i) => step(i + 2));
      await expect(store.commit(taken.lease, batch(events, { execution: sleepingUntil(null) }), T0 + 1)).rejects.toMatchObject({ code: "HISTORY_CONFLICT", details: { seq: 120 } });
      const seqs = (await store.readHistory("split-1")).events.map((e) => e.seq);
      // The first part (the execution item and 99 events: DynamoDB's 100 items) landed; the second did not.
      expect(seqs).toEqual([...Array.from({ length: 100 }, (_, i) => i + 1), 120]);
      expect((await store.getExecution("split-1"))?.status).toBe("running");
    });

    it("commits a batch of 150 events and the end of the turn, split, all of it", async () => {
      await store.createExecution(newExecution("split-2"));
      const taken = await lease(store, "split-2");
      await store.commit(taken.lease, batch(Array.from({ length: 150 }, (_, i) => step(i + 2)), { execution: sleepingUntil(T0 + MINUTE) }), T0 + 1);
      expect((await store.readHistory("split-2")).events).toHaveLength(151);
      expect(await store.getExecution("split-2")).toMatchObject({ status: "sleeping", lastSeq: 151, nextWakeAtMs: T0 + MINUTE });
    });
  });

  describe("commit: size limits", () => {
    // What the store records: one item's worth (MAX_VALUE_BYTES), or 50 MB when large values go
    // to an object store (the memory store models that one).
    const valueLimit = () => store.maxValueBytes ?? MAX_VALUE_BYTES;
    const eventLimit = () => maxEventBytesFor(valueLimit());

    it("refuses an event over the store's event limit with PayloadTooLargeError, by put or transaction, writing nothing", async () => {
      await store.createExecution(newExecution("size-1"));
      const taken = await lease(store, "size-1");
      const huge = "h".repeat(eventLimit());
      await expect(store.commit(taken.lease, batch([step(2, huge)]), T0)).rejects.toBeInstanceOf(PayloadTooLargeError);
      await expect(store.commit(taken.lease, batch([step(2), step(3, huge)], { execution: sleepingUntil(null) }), T0)).rejects.toMatchObject({
        code: "PAYLOAD_TOO_LARGE",
        details: { limitBytes: eventLimit() },
      });
      expect((await store.readHistory("size-1")).events).toHaveLength(1);
      expect((await store.getExecution("size-1"))?.status).toBe("running");
    });

    it("refuses an output over the store's value limit, writing nothing", async () => {
      await store.createExecution(newExecution("size-2"));
      const taken = await lease(store, "size-2");
      const output = "o".repeat(valueLimit());
      await expect(store.commit(taken.lease, batch([], { execution: { status: "completed", nextWakeAtMs: null, releaseLease: true, output } }), T0)).rejects.toMatchObject({
        code: "PAYLOAD_TOO_LARGE",
        details: { limitBytes: valueLimit() },
      });
      expect((await store.getExecution("size-2"))?.status).toBe("running");
    });

    it("takes in more inbox items with no event of their own (repeated cancels) than one transaction holds", async () => {
      await store.createExecution(newExecution("size-4"));
      const cancels = [];
      for (let i = 0; i < 150; i += 1) cancels.push(await store.addToInbox("size-4", { type: "Cancel" }, T0 + 1));
      const taken = await lease(store, "size-4", "worker", T0 + 2);
      const consumed = cancels.map((item) => ({ item }));
      await store.commit(taken.lease, batch([], { lastSeq: 1, consumed, execution: sleepingUntil(null) }), T0 + 2, { inboxSeen: 150 });
      expect(await store.readInbox("size-4")).toEqual([]);
      expect(await store.getExecution("size-4")).toMatchObject({ status: "sleeping", inboxSeq: 150 });
    });

    it("takes a value at the store's value limit exactly", async () => {
      await store.createExecution(newExecution("size-3"));
      const taken = await lease(store, "size-3");
      const result = "v".repeat(valueLimit() - 2); // with its quotes, the limit's bytes of JSON
      await store.commit(taken.lease, batch([step(2, result)]), T0);
      expect((await store.readHistory("size-3", { afterSeq: 1 })).events[0]).toMatchObject({ result });
    });
  });
}
