/**
 * The sweeper: the backstop for a wake-up lost between a DynamoDB commit and the SQS send (a
 * crash, a failed send, the local emulator restarted empty). It finds executions whose wake time
 * passed a grace period ago (sparse "due" index: one query when nothing is due) and wakes them.
 * A live lease keeps an execution's wake time at the lease's end, so running executions are not
 * swept; a crashed worker's execution becomes due when its lease runs out.
 */
import type { ExecutionStore } from "../store/store";
import type { WakeupScheduler } from "../queue/wakeups";
import { type EngineLogger, silentLogger } from "./process-wakeup";

export interface SweepOptions {
  /** Only executions due at least this long ago: their own wake-up had its chance. Default 30 s. */
  graceMs?: number;
  /** At most this many per sweep. Default 500. */
  limit?: number;
}

export interface SweepDeps {
  store: ExecutionStore;
  scheduler: WakeupScheduler;
  clock: () => number;
  logger?: EngineLogger;
}

export async function sweepDue(deps: SweepDeps, options: SweepOptions = {}): Promise<{ woken: string[] }> {
  const due = await deps.store.findDue(deps.clock() - (options.graceMs ?? 30_000), options.limit ?? 500);
  const ids = due.map((d) => d.executionId);
  if (ids.length > 0) {
    await deps.scheduler.wakeNow(ids);
    (deps.logger ?? silentLogger).info("sweeper woke overdue executions", { count: ids.length });
  }
  return { woken: ids };
}
