/**
 * What `durable history`, `watch` and `get` derive and show from an execution, as pure functions:
 * the durations history lets us measure (a retried step from its retry time, a timer from its
 * start, a run's end from its start; positions restart with each run), the progress line of a
 * terminal, and durations as a person reads them.
 */
import { describe, expect, it } from "vitest";
import type { Execution, HistoryEventView } from "../../../lambdas/client/types.js";
import { progressLine } from "../../../local/cli/ops/progress-line.js";
import { createTimeline } from "../../../local/cli/ops/render-history.js";
import { formatDuration } from "../../../local/cli/ops/render-values.js";

const T0 = Date.parse("2026-12-01T10:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();
let seq = 0;
const event = (ms: number, body: Record<string, unknown>) => ({ seq: (seq += 1), at: at(ms), ...body }) as unknown as HistoryEventView;

describe("the history timeline", () => {
  it("measures each call from what history records: the event before a first attempt, the retry time, the call's start, the run's start", () => {
    seq = 0;
    const timeline = createTimeline();
    const rows = [
      event(0, { type: "ExecutionStarted", workflow: "order", version: 1, input: { n: 1 }, run: 1 }),
      event(120, { type: "StepAttemptFailed", position: 0, name: "charge", attempt: 1, error: { name: "Error", message: "card declined", code: "DECLINED" }, retryAtMs: T0 + 1_120 }),
      event(1_400, { type: "StepCompleted", position: 0, name: "charge", attempt: 2, result: "ok" }),
      event(1_500, { type: "TimerStarted", position: 1, name: "cool-off", fireAtMs: T0 + 61_500 }),
      event(62_000, { type: "TimerFired", position: 1 }),
      event(62_100, { type: "ChildStarted", position: 2, name: "ship", childId: "c-1", workflow: "ship", version: 2 }),
      event(65_100, { type: "ChildFailed", position: 2, childId: "c-1", status: "failed", error: { name: "Error", message: "no stock" } }),
      event(65_200, { type: "ContinuedAsNew", input: { n: 2 }, nextRun: 2 }),
      event(65_300, { type: "ExecutionStarted", workflow: "order", version: 1, input: { n: 2 }, run: 2 }),
      // Position 1 of run 2 is not the timer of run 1.
      event(65_350, { type: "TimerFired", position: 1 }),
      event(66_300, { type: "ExecutionCompleted", output: "done" }),
    ].map((e) => timeline.row(e));

    expect(rows.map((row) => [row.kind, row.name, row.durationMs, row.attempt])).toEqual([
      ["ExecutionStarted", "order", undefined, undefined],
      ["StepAttemptFailed", "charge", 120, 1],
      ["StepCompleted", "charge", 280, 2],
      ["TimerStarted", "cool-off", undefined, undefined],
      ["TimerFired", "cool-off", 60_500, undefined],
      ["ChildStarted", "ship", undefined, undefined],
      ["ChildFailed", "ship", 3_000, undefined],
      ["ContinuedAsNew", "", 65_200, undefined],
      ["ExecutionStarted", "order", undefined, undefined],
      ["TimerFired", "#1", undefined, undefined],
      ["ExecutionCompleted", "", 1_000, undefined],
    ]);
    expect(rows[1]?.detail).toBe(`DECLINED: card declined; retry at ${at(1_120)}`);
    expect(rows[6]?.detail).toBe("failed: no stock");
  });
});

describe("the progress line of durable watch", () => {
  const execution = {
    id: "order-7",
    workflow: "order",
    version: 1,
    status: "sleeping",
    run: 1,
    input: null,
    createdAt: at(0),
    updatedAt: at(5_000),
    state: { stage: "waiting for approval", done: 3 },
  } as Execution;
  const last = event(4_000, { type: "SignalWaitStarted", position: 2, name: "approve" });

  it("shows the status, the last event, the time since the start and the state", () => {
    expect(progressLine({ execution, lastEvent: last, nowMs: T0 + 83_000 }, 120)).toBe(
      `order-7  sleeping · #${last.seq} SignalWaitStarted "approve" · 1m 23s · state {"stage":"waiting for approval","done":3}`,
    );
  });

  it("fits the terminal's width (a wrapped line could not be rewritten in place), and stops the clock once ended", () => {
    const line = progressLine({ execution, lastEvent: last, nowMs: T0 + 83_000 }, 40);
    expect(line).toHaveLength(39);
    expect(line.endsWith("…")).toBe(true);
    expect(progressLine({ execution: { ...execution, status: "completed" }, nowMs: T0 + 999_000 }, 200)).toContain("completed · 5.0s");
  });
});

describe("durations", () => {
  it("read as a person says them", () => {
    expect([0, 999, 1_000, 12_345, 65_000, 3_600_000 + 120_000, 90_000_000].map(formatDuration)).toEqual(["0ms", "999ms", "1.0s", "12.3s", "1m 05s", "1h 02m", "1d 1h"]);
  });
});
