/** createExecution, getExecution, readHistory, loadSnapshot, readEvents: what a reader sees. */
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_VALUE_BYTES } from "../../../lambdas/core/limits.js";
import { PayloadTooLargeError } from "../../../lambdas/store/errors.js";
import type { ExecutionStore } from "../../../lambdas/ports/store.js";
import { batch, completeExecution, completion, lease, newExecution, signal, signalReceived, step, T0 } from "./fixtures.js";
import type { StoreKit } from "./kits.js";

export function executionContract(kit: StoreKit): void {
  let store: ExecutionStore;
  beforeAll(async () => {
    store = await kit.newStore();
  });

  describe("createExecution", () => {
    it("creates the execution and its ExecutionStarted together, due at once", async () => {
      const { created, execution } = await store.createExecution(newExecution("create-1", { version: 2, input: { a: 1 } }));
      const expected = {
        id: "create-1",
        workflow: "wf",
        version: 2,
        status: "running",
        input: { a: 1 },
        createdAtMs: T0,
        updatedAtMs: T0,
        run: 1,
        runStartSeq: 1,
        lastSeq: 1,
        leaseVersion: 0,
        retryCount: 0,
        inboxSeq: 0,
        nextWakeAtMs: T0,
      };
      expect(created).toBe(true);
      expect(execution).toStrictEqual(expected);
      expect(await store.getExecution("create-1")).toStrictEqual(expected);
      expect((await store.readHistory("create-1")).events).toStrictEqual([{ seq: 1, atMs: T0, type: "ExecutionStarted", workflow: "wf", version: 2, input: { a: 1 }, run: 1 }]);
    });

    it("is idempotent on the id: a second create returns the existing execution and writes nothing", async () => {
      await store.createExecution(newExecution("create-2", { input: "first" }));
      const again = await store.createExecution(newExecution("create-2", { input: "second", workflow: "other", nowMs: T0 + 5 }));
      expect(again.created).toBe(false);
      expect(again.execution).toMatchObject({ workflow: "wf", input: "first", createdAtMs: T0 });
      expect((await store.readHistory("create-2")).events).toHaveLength(1);
    });

    it("keeps the parent of a child execution, on the record and its ExecutionStarted", async () => {
      const parent = { executionId: "create-parent", position: 4 };
      const { execution } = await store.createExecution(newExecution("create-child", { parent }));
      expect(execution.parent).toStrictEqual(parent);
      expect((await store.getExecution("create-child"))?.parent).toStrictEqual(parent);
      expect((await store.readHistory("create-child")).events[0]).toMatchObject({ parent });
    });

    it("keeps an input over 1 KB only in history: getExecution reads it, the lease's and the snapshot's records do not carry it", async () => {
      const input = { text: "i".repeat(2_000) };
      const { execution } = await store.createExecution(newExecution("create-big", { input }));
      expect(execution.input).toStrictEqual(input);
      expect((await store.getExecution("create-big"))?.input).toStrictEqual(input);
      expect((await store.loadSnapshot("create-big", { nowMs: T0 }))?.execution.input).toBeUndefined();
      const taken = await lease(store, "create-big");
      expect(taken.execution.input).toBeUndefined();
      expect((await store.readHistory("create-big")).events[0]).toMatchObject({ input });
    });

    it("refuses an input over the store's value limit with PayloadTooLargeError and writes nothing", async () => {
      const input = "x".repeat(store.maxValueBytes ?? MAX_VALUE_BYTES);
      await expect(store.createExecution(newExecution("create-huge", { input }))).rejects.toBeInstanceOf(PayloadTooLargeError);
      expect(await store.getExecution("create-huge")).toBeUndefined();
      expect((await store.readHistory("create-huge")).events).toEqual([]);
    });

    it("stores values as JSON, so reads return JSON copies that callers cannot use to change what is stored", async () => {
      const input = { at: new Date(T0), gone: undefined, list: [1, undefined], nested: { n: 1 } };
      const { execution } = await store.createExecution(newExecution("create-json", { input }));
      const asJson = { at: new Date(T0).toISOString(), list: [1, null], nested: { n: 1 } };
      expect(execution.input).toStrictEqual(asJson);
      input.nested.n = 2;
      const read = await store.getExecution("create-json");
      expect(read?.input).toStrictEqual(asJson);
      (read?.input as { nested: { n: number } }).nested.n = 3;
      expect((await store.getExecution("create-json"))?.input).toStrictEqual(asJson);
      const [started] = (await store.readHistory("create-json")).events;
      (started as { input: { nested: { n: number } } }).input.nested.n = 4;
      expect((await store.readHistory("create-json")).events[0]).toMatchObject({ input: asJson });
    });

    it("starts an id whose history outlived its execution item (the orphan is removed first)", async () => {
      // A single-put append needs no execution item: a fake lease writes history under a free id.
      const orphanLease = { executionId: "create-orphan", owner: "ghost", version: 1, expiresAtMs: T0 };
      await store.commit(orphanLease, batch([{ ...step(1, "ghost"), atMs: T0 - 10 }]), T0 - 10);
      expect((await store.readHistory("create-orphan")).events).toHaveLength(1);
      const { created } = await store.createExecution(newExecution("create-orphan"));
      expect(created).toBe(true);
      expect((await store.readHistory("create-orphan")).events).toStrictEqual([expect.objectContaining({ seq: 1, type: "ExecutionStarted" })]);
    });

    it("keeps stray history past seq 1 left without an execution item in the next execution under that id (reported)", async () => {
      const orphanLease = { executionId: "create-stray", owner: "ghost", version: 1, expiresAtMs: T0 };
      await store.commit(orphanLease, batch([{ ...step(2, "zombie's"), atMs: T0 - 10 }]), T0 - 10);
      await store.createExecution(newExecution("create-stray"));
      expect((await store.readHistory("create-stray")).events.map((e) => e.type)).toEqual(["ExecutionStarted", "StepCompleted"]);
    });
  });

  describe("createExecution under an id whose retention ended", () => {
    let retained: ExecutionStore;
    beforeAll(async () => {
      retained = await kit.newStore({ retentionSeconds: 60 });
    });

    it("answers with the ended execution until its retention ends, then removes it and starts afresh", async () => {
      const purgeAtMs = await completeExecution(retained, "reuse-1", T0);
      expect(purgeAtMs).toBe(T0 + 60_000);
      const early = await retained.createExecution(newExecution("reuse-1", { nowMs: purgeAtMs - 1, input: "second" }));
      expect(early).toMatchObject({ created: false, execution: { status: "completed", output: "done-reuse-1" } });
      const late = await retained.createExecution(newExecution("reuse-1", { nowMs: purgeAtMs, input: "second" }));
      expect(late.created).toBe(true);
      expect(late.execution).toMatchObject({ status: "running", input: "second", createdAtMs: purgeAtMs });
      expect((await retained.readHistory("reuse-1")).events).toStrictEqual([expect.objectContaining({ seq: 1, type: "ExecutionStarted", input: "second" })]);
    });
  });

  describe("getExecution", () => {
    it("answers undefined for an unknown id", async () => {
      expect(await store.getExecution("nobody")).toBeUndefined();
    });

    it("still returns an execution whose retention ended until it is purged (the API hides it)", async () => {
      const retained = await kit.newStore({ retentionSeconds: 1 });
      const purgeAtMs = await completeExecution(retained, "get-expired");
      expect((await retained.getExecution("get-expired"))?.purgeAtMs).toBe(purgeAtMs);
    });

    it("reads an output over 64 KB from its ExecutionCompleted event; the snapshot's record does not carry it", async () => {
      const output = { text: "o".repeat(70_000) };
      await store.createExecution(newExecution("get-big-output"));
      const taken = await lease(store, "get-big-output");
      await store.commit(taken.lease, completion(1, output), T0 + 1);
      expect((await store.getExecution("get-big-output"))?.output).toStrictEqual(output);
      expect((await store.loadSnapshot("get-big-output", { nowMs: T0 }))?.execution.output).toBeUndefined();
    });

    it("keeps a small output and the error on the record", async () => {
      await store.createExecution(newExecution("get-failed"));
      const taken = await lease(store, "get-failed");
      const error = { name: "Error", message: "boom", code: "BOOM", details: { n: 1 } };
      await store.commit(taken.lease, batch([{ seq: 2, atMs: T0, type: "ExecutionFailed", error }], { execution: { status: "failed", nextWakeAtMs: null, releaseLease: true, error } }), T0 + 2);
      const record = await store.getExecution("get-failed");
      expect(record).toMatchObject({ status: "failed", error, updatedAtMs: T0 + 2, lastSeq: 2, purgeAtMs: T0 + 2 + 30 * 86_400_000 });
      expect(record?.nextWakeAtMs).toBeUndefined();
      expect(record?.leaseOwner).toBeUndefined();
    });
  });

  describe("readHistory", () => {
    beforeAll(async () => {
      await store.createExecution(newExecution("history-1"));
      const taken = await lease(store, "history-1");
      await store.commit(taken.lease, batch([step(2), step(3), step(4), step(5)]), T0);
    });

    it("pages by afterSeq and limit; lastSeq says where a full page stopped, even at the very end", async () => {
      const seqs = (r: { events: { seq: number }[]; lastSeq?: number }) => ({ seqs: r.events.map((e) => e.seq), lastSeq: r.lastSeq });
      expect(seqs(await store.readHistory("history-1"))).toEqual({ seqs: [1, 2, 3, 4, 5], lastSeq: undefined });
      expect(seqs(await store.readHistory("history-1", { limit: 2 }))).toEqual({ seqs: [1, 2], lastSeq: 2 });
      expect(seqs(await store.readHistory("history-1", { afterSeq: 2, limit: 2 }))).toEqual({ seqs: [3, 4], lastSeq: 4 });
      expect(seqs(await store.readHistory("history-1", { afterSeq: 3, limit: 2 }))).toEqual({ seqs: [4, 5], lastSeq: 5 });
      expect(seqs(await store.readHistory("history-1", { afterSeq: 4, limit: 2 }))).toEqual({ seqs: [5], lastSeq: undefined });
      expect(seqs(await store.readHistory("history-1", { afterSeq: 5 }))).toEqual({ seqs: [], lastSeq: undefined });
      expect(seqs(await store.readHistory("history-1", { afterSeq: 1 }))).toEqual({ seqs: [2, 3, 4, 5], lastSeq: undefined });
    });

    it("returns each event exactly as committed", async () => {
      expect((await store.readHistory("history-1", { afterSeq: 1, limit: 1 })).events).toStrictEqual([step(2)]);
    });

    it("answers an unknown execution with no events", async () => {
      expect(await store.readHistory("nobody", { limit: 5 })).toStrictEqual({ events: [] });
    });

    it("refuses a limit below 1, as DynamoDB does", async () => {
      await expect(store.readHistory("history-1", { limit: 0 })).rejects.toMatchObject({ name: "ValidationException" });
    });
  });

  describe("loadSnapshot", () => {
    it("returns the execution, the current run's history after afterSeq, and the whole inbox oldest first", async () => {
      await store.createExecution(newExecution("snapshot-1"));
      const taken = await lease(store, "snapshot-1");
      await store.commit(taken.lease, batch([step(2)]), T0);
      // Continue-as-new: run 2 starts at seq 4.
      await store.commit(
        taken.lease,
        batch(
          [
            { seq: 3, atMs: T0, type: "ContinuedAsNew", input: { round: 2 }, nextRun: 2 },
            { seq: 4, atMs: T0, type: "ExecutionStarted", workflow: "wf", version: 1, input: { round: 2 }, run: 2 },
          ],
          { execution: { status: "running", releaseLease: false, run: { run: 2, runStartSeq: 4, input: { round: 2 } } } },
        ),
        T0 + 1,
      );
      await store.commit(taken.lease, batch([step(5)]), T0 + 2);
      const late = await store.addToInbox("snapshot-1", signal("s", "late", "sig-late"), T0 + 20);
      const early = await store.addToInbox("snapshot-1", signal("s", "early", "sig-early"), T0 + 10);

      const whole = await store.loadSnapshot("snapshot-1", { nowMs: T0 });
      expect(whole?.execution).toMatchObject({ run: 2, runStartSeq: 4, lastSeq: 4, input: { round: 2 }, inboxSeq: 2, leaseOwner: "worker" });
      expect(whole?.history.map((e) => e.seq)).toEqual([4, 5]);
      expect(whole?.inbox).toStrictEqual([early, late]);
      expect((await store.loadSnapshot("snapshot-1", { afterSeq: 4, nowMs: T0 }))?.history.map((e) => e.seq)).toEqual([5]);
      expect((await store.loadSnapshot("snapshot-1", { afterSeq: 5, nowMs: T0 }))?.history).toEqual([]);
      // readHistory still reads every run.
      expect((await store.readHistory("snapshot-1")).events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    });

    it("answers undefined for an unknown execution", async () => {
      expect(await store.loadSnapshot("nobody", { nowMs: T0 })).toBeUndefined();
    });
  });

  describe("readEvents", () => {
    beforeAll(async () => {
      await store.createExecution(newExecution("events-1"));
      const taken = await lease(store, "events-1");
      const pending = await store.addToInbox("events-1", signal("s", "payload", "sig-1"), T0);
      await store.commit(taken.lease, batch([step(2), signalReceived(3, pending)], { consumed: [{ item: pending, seq: 3 }] }), T0);
    });

    it("returns events by seq, in the order asked", async () => {
      expect((await store.readEvents("events-1", [3, 1, 2])).map((e) => [e.seq, e.type])).toEqual([
        [3, "SignalReceived"],
        [1, "ExecutionStarted"],
        [2, "StepCompleted"],
      ]);
      expect(await store.readEvents("events-1", [])).toEqual([]);
    });

    it("throws for a seq with no event, and answers a seq asked twice twice", async () => {
      await expect(store.readEvents("events-1", [1, 9])).rejects.toThrow('execution "events-1" has no history event at seq 9');
      expect((await store.readEvents("events-1", [1, 1])).map((e) => e.seq)).toEqual([1, 1]);
    });
  });
}
