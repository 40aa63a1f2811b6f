/**
 * Large values: what each store records (up to its `maxValueBytes`) reads back exactly through
 * every read (getExecution, readHistory, loadSnapshot, readEvents, readInbox, a continued run's
 * input), whether it lives in its item, is sealed, or sits in the object store.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_VALUE_BYTES } from "../../../lambdas/core/limits.js";
import type { HistoryEvent } from "../../../lambdas/core/events.js";
import type { ExecutionStore } from "../../../lambdas/ports/store.js";
import { batch, completion, lease, newExecution, signal, signalReceived, step, T0 } from "./fixtures.js";
import type { StoreKit } from "./kits.js";

/** A string of `bytes` of JSON (quotes included) with every kind of character JSON escapes or encodes in several bytes. */
function value(bytes: number, seed: string): string {
  const unit = `${seed} "quoted" \\ back\nslash é € 😀 `;
  const unitBytes = Buffer.byteLength(JSON.stringify(unit)) - 2;
  const text = unit.repeat(Math.floor((bytes - 2) / unitBytes));
  return text + "x".repeat(bytes - Buffer.byteLength(JSON.stringify(text)));
}

export function valuesContract(kit: StoreKit): void {
  let store: ExecutionStore;
  let size: number;
  beforeAll(async () => {
    store = await kit.newStore();
    // 2 MB where the store offloads; just under one item's worth where it does not.
    size = Math.min(2_000_000, (store.maxValueBytes ?? MAX_VALUE_BYTES) - 1_000);
  });

  describe("large values", () => {
    it("an input, step results, a signal and an output read back exactly through every read", async () => {
      const input = { blob: value(size, "input") };
      await store.createExecution(newExecution("large-1", { input }));
      expect((await store.getExecution("large-1"))?.input).toStrictEqual(input);
      const taken = await lease(store, "large-1");
      const results = [value(size, "a"), value(size, "b")];
      await store.commit(taken.lease, batch([step(2, results[0])]), T0);
      await store.commit(taken.lease, batch([step(3, results[1])]), T0);
      const payload = { blob: value(size, "signal") };
      const pending = await store.addToInbox("large-1", signal("more", payload), T0);
      expect(pending.event).toMatchObject({ payload });
      const inbox = await store.readInbox("large-1");
      expect(inbox).toHaveLength(1);
      expect(inbox[0]?.event).toMatchObject({ payload });
      const received = signalReceived(4, inbox[0] as (typeof inbox)[number]);
      await store.commit(taken.lease, batch([received], { consumed: [{ item: inbox[0] as (typeof inbox)[number], seq: 4 }] }), T0);

      const snapshot = await store.loadSnapshot("large-1", { nowMs: T0 });
      const results2 = snapshot?.history.filter((e): e is HistoryEvent & { type: "StepCompleted" } => e.type === "StepCompleted").map((e) => e.result);
      expect(results2).toStrictEqual(results);
      expect(snapshot?.history[0]).toMatchObject({ type: "ExecutionStarted", input });
      expect(snapshot?.inbox).toEqual([]);
      const later = await store.loadSnapshot("large-1", { nowMs: T0, afterSeq: 2 });
      expect(later?.history.map((e) => e.seq)).toStrictEqual([3, 4]);
      expect((await store.readEvents("large-1", [4]))[0]).toMatchObject({ type: "SignalReceived", payload });
      const paged = await store.readHistory("large-1", { afterSeq: 1, limit: 1 });
      expect(paged.events[0]).toMatchObject({ seq: 2, result: results[0] });

      const output = { blob: value(size, "output") };
      await store.commit(taken.lease, completion(4, output), T0);
      expect((await store.getExecution("large-1"))?.output).toStrictEqual(output);
      expect((await store.readHistory("large-1")).events.map((e) => e.type)).toStrictEqual([
        "ExecutionStarted",
        "StepCompleted",
        "StepCompleted",
        "SignalReceived",
        "ExecutionCompleted",
      ]);
    });

    it("a continued run's large input is its ExecutionStarted's, and the execution's", async () => {
      await store.createExecution(newExecution("large-2"));
      const taken = await lease(store, "large-2");
      const input = { next: value(size, "continued") };
      await store.commit(
        taken.lease,
        batch([{ seq: 2, atMs: T0, type: "ExecutionStarted", workflow: "wf", version: 1, input, run: 2 }], {
          execution: { status: "running", releaseLease: false, run: { run: 2, runStartSeq: 2, input } },
        }),
        T0,
      );
      expect((await store.getExecution("large-2"))?.input).toStrictEqual(input);
      const snapshot = await store.loadSnapshot("large-2", { nowMs: T0 });
      expect(snapshot?.history).toHaveLength(1);
      expect(snapshot?.history[0]).toMatchObject({ seq: 2, input });
    });
  });
}
