/** addToInbox, readInbox, readInboxSeq: the inbox, its order, its counter and its limits. */
import { beforeAll, describe, expect, it } from "vitest";
import type { InboxEvent } from "../../../lambdas/core/events.js";
import { CANCEL_HEADROOM_ITEMS, MAX_INBOX_BYTES, MAX_INBOX_ITEMS, MAX_VALUE_BYTES, maxEventBytesFor } from "../../../lambdas/core/limits.js";
import { ExecutionEndedError, ExecutionNotFoundError, InboxFullError, PayloadTooLargeError, StoreBusyError } from "../../../lambdas/store/errors.js";
import type { ExecutionStore } from "../../../lambdas/ports/store.js";
import { batch, completeExecution, lease, newExecution, signal, signalReceived, T0 } from "./fixtures.js";
import type { StoreKit } from "./kits.js";

/** `count` addToInbox calls, eight at a time, each retried if DynamoDB reports a conflict. */
async function addConcurrently(store: ExecutionStore, executionId: string, count: number, event: (i: number) => InboxEvent): Promise<void> {
  let next = 0;
  const writer = async () => {
    while (next < count) {
      const i = next;
      next += 1;
      for (;;) {
        try {
          await store.addToInbox(executionId, event(i), T0);
          break;
        } catch (err) {
          if (!(err instanceof StoreBusyError)) throw err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
}

export function inboxContract(kit: StoreKit): void {
  let store: ExecutionStore;
  beforeAll(async () => {
    store = await kit.newStore();
  });

  describe("addToInbox", () => {
    it("puts a signal in the inbox, moves the counter and makes the execution due now", async () => {
      await store.createExecution(newExecution("signal-1"));
      const item = await store.addToInbox("signal-1", signal("go", { n: 1 }, "sig-a"), T0 + 30);
      expect(item).toStrictEqual({ key: expect.stringMatching(/^P#1800000000030#\d{12}#sig-a$/), arrivedAtMs: T0 + 30, event: { type: "Signal", name: "go", signalId: "sig-a", payload: { n: 1 } } });
      expect(await store.readInbox("signal-1")).toStrictEqual([item]);
      expect(await store.readInboxSeq("signal-1")).toBe(1);
      expect(await store.getExecution("signal-1")).toMatchObject({ inboxSeq: 1, nextWakeAtMs: T0 + 30 });
    });

    it("keys other events by their type, and takes a cancel like a signal", async () => {
      await store.createExecution(newExecution("signal-2"));
      const cancel = await store.addToInbox("signal-2", { type: "Cancel", reason: "why" }, T0);
      expect(cancel.key).toMatch(/^P#1800000000000#\d{12}#cancel-[a-z0-9]+$/);
      expect(cancel.event).toStrictEqual({ type: "Cancel", reason: "why" });
      expect(await store.readInboxSeq("signal-2")).toBe(1);
    });

    it("keeps the inbox oldest first: by arrival time, then by arrival within a millisecond", async () => {
      await store.createExecution(newExecution("signal-3"));
      const late = await store.addToInbox("signal-3", signal("s", "late"), T0 + 9);
      const first = await store.addToInbox("signal-3", signal("s", "first"), T0 + 1);
      const second = await store.addToInbox("signal-3", signal("s", "second"), T0 + 1);
      expect((await store.readInbox("signal-3")).map((p) => p.event)).toStrictEqual([first.event, second.event, late.event]);
      expect(await store.readInboxSeq("signal-3")).toBe(3);
    });

    it("refuses an unknown execution (ExecutionNotFoundError) and an ended one (ExecutionEndedError), writing nothing", async () => {
      await expect(store.addToInbox("nobody", signal("s", 1), T0)).rejects.toBeInstanceOf(ExecutionNotFoundError);
      expect(await store.readInbox("nobody")).toEqual([]);
      expect(await store.getExecution("nobody")).toBeUndefined();
      await completeExecution(store, "signal-ended");
      await expect(store.addToInbox("signal-ended", signal("s", 1), T0 + 1)).rejects.toMatchObject({ code: "EXECUTION_ENDED", details: { status: "completed" } });
      await expect(store.addToInbox("signal-ended", { type: "Cancel" }, T0 + 1)).rejects.toBeInstanceOf(ExecutionEndedError);
      expect(await store.readInbox("signal-ended")).toEqual([]);
      expect(await store.readInboxSeq("signal-ended")).toBe(0);
    });

    it("answers an execution whose retention ended as not found", async () => {
      const retained = await kit.newStore({ retentionSeconds: 1 });
      const purgeAtMs = await completeExecution(retained, "signal-expired");
      await expect(retained.addToInbox("signal-expired", signal("s", 1), purgeAtMs - 1)).rejects.toBeInstanceOf(ExecutionEndedError);
      await expect(retained.addToInbox("signal-expired", signal("s", 1), purgeAtMs)).rejects.toBeInstanceOf(ExecutionNotFoundError);
    });

    it("refuses an event over the store's event limit with PayloadTooLargeError, writing nothing", async () => {
      await store.createExecution(newExecution("signal-huge"));
      const limit = maxEventBytesFor(store.maxValueBytes ?? MAX_VALUE_BYTES);
      await expect(store.addToInbox("signal-huge", signal("s", "x".repeat(limit)), T0)).rejects.toBeInstanceOf(PayloadTooLargeError);
      expect(await store.readInbox("signal-huge")).toEqual([]);
      expect(await store.readInboxSeq("signal-huge")).toBe(0);
    });
  });

  describe("inbox limits", () => {
    it("refuses a signal that would take the inbox past its bytes (InboxFullError); a cancel still gets in; taking items in makes room", async () => {
      await store.createExecution(newExecution("full-bytes"));
      const payload = "p".repeat(349_000);
      const accepted = [];
      for (;;) {
        try {
          accepted.push(await store.addToInbox("full-bytes", signal("s", payload, `sig-${accepted.length}`), T0 + accepted.length));
        } catch (err) {
          expect(err).toBeInstanceOf(InboxFullError);
          const bytes = accepted.reduce((n, p) => n + Buffer.byteLength(JSON.stringify(p.event)), 0);
          expect(err).toMatchObject({ code: "INBOX_FULL", details: { executionId: "full-bytes", items: MAX_INBOX_ITEMS, bytes: MAX_INBOX_BYTES, currentItems: accepted.length, currentBytes: bytes } });
          break;
        }
      }
      expect(accepted).toHaveLength(22);
      const seqBefore = await store.readInboxSeq("full-bytes");
      await store.addToInbox("full-bytes", { type: "Cancel", reason: "flooded" }, T0 + 100);
      expect(await store.readInboxSeq("full-bytes")).toBe((seqBefore ?? 0) + 1);
      await expect(store.addToInbox("full-bytes", signal("s", payload), T0 + 101)).rejects.toBeInstanceOf(InboxFullError);
      const taken = await lease(store, "full-bytes");
      const first = accepted[0];
      if (!first) throw new Error("nothing accepted");
      await store.commit(taken.lease, batch([signalReceived(2, first)], { consumed: [{ item: first, seq: 2 }] }), T0 + 102);
      await store.addToInbox("full-bytes", signal("s", payload), T0 + 103);
    });

    it(`refuses signal ${MAX_INBOX_ITEMS + 1} (InboxFullError) and takes cancels up to ${MAX_INBOX_ITEMS + CANCEL_HEADROOM_ITEMS} items`, async () => {
      await store.createExecution(newExecution("full-items"));
      // Eight writers at once: DynamoDB Local takes them about twice as fast as one, and the
      // limit is one condition on the execution item, so it holds under concurrency too.
      await addConcurrently(store, "full-items", MAX_INBOX_ITEMS, (i) => signal("s", i, `sig-${i}`));
      await expect(store.addToInbox("full-items", signal("s", "one too many"), T0)).rejects.toMatchObject({
        code: "INBOX_FULL",
        details: { currentItems: MAX_INBOX_ITEMS },
      });
      await addConcurrently(store, "full-items", CANCEL_HEADROOM_ITEMS, () => ({ type: "Cancel" }));
      await expect(store.addToInbox("full-items", { type: "Cancel" }, T0)).rejects.toBeInstanceOf(InboxFullError);
      expect(await store.readInbox("full-items")).toHaveLength(MAX_INBOX_ITEMS + CANCEL_HEADROOM_ITEMS);
      expect(await store.readInboxSeq("full-items")).toBe(MAX_INBOX_ITEMS + CANCEL_HEADROOM_ITEMS);
    });
  });

  describe("readInboxSeq", () => {
    it("answers undefined for an unknown execution and 0 for a new one", async () => {
      expect(await store.readInboxSeq("nobody")).toBeUndefined();
      await store.createExecution(newExecution("seq-new"));
      expect(await store.readInboxSeq("seq-new")).toBe(0);
    });
  });
}
