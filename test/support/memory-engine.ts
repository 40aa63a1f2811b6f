/**
 * Drives core (WorkflowRun + drive) over an in-memory history, for fast unit tests of replay
 * logic. No AWS here: core has none. Every turn starts from a fresh WorkflowRun replaying the
 * whole history, the way a cold worker would.
 */
import { drive, type CommitBatch, type DriveResult } from "../../lambdas/core/driver.js";
import type { HistoryEvent, InboxEvent, InboxItem } from "../../lambdas/core/events.js";
import { WorkflowRun } from "../../lambdas/core/run.js";
import type { ExecutionStatus } from "../../lambdas/core/status.js";
import type { AnyWorkflow } from "../../lambdas/core/workflow.js";

export class MemoryExecution {
  history: HistoryEvent[] = [];
  inbox: InboxItem[] = [];
  status: ExecutionStatus = "running";
  nextWakeAtMs: number | null | undefined;
  commits: CommitBatch[] = [];
  nowMs = 1_700_000_000_000;
  /** Times the driver read the clock: a driver that spins while waiting reads it thousands of times. */
  clockReads = 0;
  /** Runs before each commit lands (a slow or stalled write). */
  beforeCommit?: (batch: CommitBatch) => Promise<void>;
  private inboxCounter = 0;

  constructor(
    readonly definition: AnyWorkflow,
    input: unknown,
    readonly id = "exec-1",
  ) {
    this.history.push({ seq: 1, atMs: this.nowMs, type: "ExecutionStarted", workflow: definition.name, version: definition.version, input, run: 1 });
  }

  send(event: InboxEvent): void {
    this.inboxCounter += 1;
    this.inbox.push({ key: `P#${this.inboxCounter}`, arrivedAtMs: this.nowMs, event });
  }

  signal(name: string, payload: unknown): void {
    this.send({ type: "Signal", name, signalId: `s${this.inboxCounter + 1}`, payload });
  }

  advance(ms: number): void {
    this.nowMs += ms;
  }

  /** One worker turn from a cold start. */
  async turn(options: { remainingMs?: () => number; definition?: AnyWorkflow } = {}): Promise<DriveResult> {
    const runStart = [...this.history].reverse().find((e) => e.type === "ExecutionStarted") as HistoryEvent & { type: "ExecutionStarted" };
    const run = new WorkflowRun({ executionId: this.id, definition: options.definition ?? this.definition, started: runStart, clock: () => this.nowMs });
    await run.replay(this.history.filter((e) => e.seq > runStart.seq));
    const pending = [...this.inbox];
    const seen = new Set(pending.map((p) => p.key));
    return drive(
      run,
      {
        clock: () => {
          this.clockReads += 1;
          return this.nowMs;
        },
        random: () => 0.5,
        remainingMs: options.remainingMs ?? (() => 60_000),
        readInbox: async () => {
          const fresh = this.inbox.filter((p) => !seen.has(p.key));
          for (const p of fresh) seen.add(p.key);
          return fresh;
        },
        commit: async (batch) => {
          await this.beforeCommit?.(batch);
          const expected = (this.history[this.history.length - 1]?.seq ?? 0) + 1;
          if (batch.events[0] && batch.events[0].seq !== expected) throw new Error(`seq ${batch.events[0].seq} != ${expected}`);
          this.history.push(...batch.events);
          const consumed = new Set(batch.consumed.map((c) => c.item.key));
          this.inbox = this.inbox.filter((p) => !consumed.has(p.key));
          if (batch.execution) {
            this.status = batch.execution.status;
            if (batch.execution.nextWakeAtMs !== undefined) this.nextWakeAtMs = batch.execution.nextWakeAtMs;
          }
          this.commits.push(batch);
        },
      },
      { currentStatus: this.status, inbox: pending },
    );
  }

  /** Turns until the execution sleeps with nothing due, or ends. */
  async settle(maxTurns = 20): Promise<DriveResult> {
    let last: DriveResult | undefined;
    for (let i = 0; i < maxTurns; i += 1) {
      last = await this.turn();
      if (last.outcome.kind !== "yielded" && last.outcome.kind !== "continued") return last;
    }
    throw new Error("did not settle");
  }

  types(): string[] {
    return this.history.map((e) => e.type);
  }
}
