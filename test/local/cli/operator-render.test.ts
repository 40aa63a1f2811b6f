/**
 * What `durable history`, `watch` and `get` derive and show from an execution, as pure functions:
 * the durations history lets us measure (a retried step from its retry time, a timer from its
 * start, a run's end from its start; positions restart with each run), the progress line of a
 * terminal, durations and sizes as a person reads them, and values too large for the API to answer
 * inline as their size and the command that prints them.
 */
import { describe, expect, it } from "vitest";
import type { Execution, ExecutionWithRefs, HistoryEventView } from "../../../lambdas/client/types.js";
import { progressLine } from "../../../local/cli/ops/progress-line.js";
import { renderExecution } from "../../../local/cli/ops/render-execution.js";
import { createTimeline } from "../../../local/cli/ops/render-history.js";
import { formatBytes, formatDuration } from "../../../local/cli/ops/render-values.js";

const T0 = Date.parse("2026-12-01T10:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();
let seq = 0;
const event = (ms: number, body: Record<string, unknown>) => ({ seq: (seq += 1), at: at(ms), ...body }) as unknown as HistoryEventView;

describe("the history timeline", () => {
  it("measures each call from what history records: the event before a first attempt, the retry time, the call's start, the run's start", () => {
    seq = 0;
    const timeline = createTimeline("order-1");
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

/** What the API puts in `valueRefs` for a value it leaves out. */
const ref = (id: string, name: string, bytes: number) => ({ name, bytes, parts: Math.ceil(bytes / 2_500_000), href: `/executions/${id}/values/${name}` });

describe("large values in the timeline", () => {
  it("shows a value named in valueRefs as its size and the durable value command that prints it, never undefined", () => {
    seq = 0;
    const timeline = createTimeline("order-9");
    const lines = [
      event(0, { type: "ExecutionStarted", workflow: "order", version: 1, run: 1, valueRefs: { input: ref("order-9", "1.input", 1_200_022) } }),
      event(10, { type: "StepCompleted", position: 0, name: "report", attempt: 1, valueRefs: { result: ref("order-9", "2.result", 2_000_000) } }),
      event(20, { type: "StepCompleted", position: 1, name: "small", attempt: 1, result: "ok" }),
      event(30, { type: "SignalReceived", name: "more", signalId: "s-1", valueRefs: { payload: ref("order-9", "4.payload", 5_400_000) } }),
      event(40, { type: "ChildCompleted", position: 2, childId: "c-1", valueRefs: { output: ref("order-9", "5.output", 1_000_001) } }),
      event(50, { type: "ContinuedAsNew", nextRun: 2, valueRefs: { input: ref("order-9", "6.input", 3_000_000) } }),
      event(60, { type: "ExecutionStarted", workflow: "order", version: 1, run: 2, input: { n: 2 } }),
      event(70, { type: "ExecutionCompleted", valueRefs: { output: ref("order-9", "8.output", 49_000_000) } }),
      // A kind of event this version does not know, from a newer server.
      event(80, { type: "NoteTaken", name: "memo", valueRefs: { payload: ref("order-9", "9.payload", 1_500_000) } }),
    ].map((e) => timeline.row(e).detail);

    expect(lines).toEqual([
      "v1, run 1, input: 1.2 MB (durable value order-9 1.input to print it)",
      "result: 2.0 MB (durable value order-9 2.result to print it)",
      'result "ok"',
      "payload: 5.4 MB (durable value order-9 4.payload to print it)",
      "output: 1.0 MB (durable value order-9 5.output to print it)",
      "next run 2, input: 3.0 MB (durable value order-9 6.input to print it)",
      'v1, run 2, input {"n":2}',
      "output: 49.0 MB (durable value order-9 8.output to print it)",
      "payload: 1.5 MB (durable value order-9 9.payload to print it)",
    ]);
  });

  it("durable get shows an input or output still named in valueRefs by its size, and one fetched whole", () => {
    const base = { id: "order-9", workflow: "order", version: 1, status: "completed", run: 1, createdAt: at(0), updatedAt: at(1_000) } as const;
    const byRef = renderExecution({ ...base, valueRefs: { input: ref("order-9", "input", 1_200_022), output: ref("order-9", "output", 3_000_046) } } as ExecutionWithRefs);
    expect(byRef).toMatch(/^input {7}1\.2 MB \(durable value order-9 input to print it\)$/m);
    expect(byRef).toMatch(/^output {6}3\.0 MB \(durable value order-9 output to print it\)$/m);
    expect(byRef).not.toContain("undefined");

    const whole = renderExecution({ ...base, input: { blob: "i".repeat(80) }, output: "done" } as Execution);
    expect(whole).toContain(`input       {\n              "blob": "${"i".repeat(80)}"\n            }`);
    expect(whole).toMatch(/^output {6}"done"$/m);
  });

  it("sizes read in powers of 1 000, as the API's limits are given", () => {
    expect([0, 999, 1_000, 12_345, 999_999, 1_000_001, 2_049_999, 52_428_800, 6_000_000_000].map(formatBytes)).toEqual([
      "0 bytes",
      "999 bytes",
      "1.0 KB",
      "12.3 KB",
      "1.0 MB",
      "1.0 MB",
      "2.0 MB",
      "52.4 MB",
      "6.0 GB",
    ]);
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
