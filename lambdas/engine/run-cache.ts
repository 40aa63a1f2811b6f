/**
 * Replayed workflows kept warm between invocations of one worker (Lambda reuses its process).
 * A warm run only needs the events written since its last turn: one query from `lastSeq`, no
 * replay of the whole history, so a long history costs each turn only what is new.
 *
 * An entry is valid while the execution is on the same run and history continues exactly where
 * the entry stopped; events another worker wrote in between are replayed onto it like any others.
 * Entries are dropped on any error mid-turn (their state may be ahead of what was committed).
 */
import type { WorkflowRun } from "../core/run.js";

export interface WarmRun {
  /** The replayed run; its ExecutionStarted and lastSeq say where it stands. */
  run: WorkflowRun;
}

export class RunCache {
  private readonly entries = new Map<string, WarmRun>();
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries = 256) {}

  /** Takes the entry out: the caller owns it for the turn and puts it back when the turn ends cleanly. */
  take(executionId: string): WarmRun | undefined {
    const entry = this.entries.get(executionId);
    if (entry) {
      this.entries.delete(executionId);
      this.hits += 1;
    } else {
      this.misses += 1;
    }
    return entry;
  }

  put(executionId: string, entry: WarmRun): void {
    this.entries.delete(executionId);
    this.entries.set(executionId, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
