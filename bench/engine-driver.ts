/**
 * Runs workflows through the engine's own turn (`processWakeup`) on a given store, with wake-ups
 * held in memory: the store makes the requests a deployed worker makes, with no queue in between
 * (the payload benchmark counts DynamoDB and S3, not SQS).
 */
import type { WakeupMessage, WakeupScheduler } from "../lambdas/ports/queue.js";
import { processWakeup, type EngineDeps } from "../lambdas/engine/process-wakeup.js";

/** Wake-ups in arrival order; a wake-up due later is kept with its time. */
export class WakeupList implements WakeupScheduler {
  readonly pending: WakeupMessage[] = [];

  async schedule(executionId: string, options: { dueAtMs?: number; nowMs: number }): Promise<void> {
    this.pending.push({ executionId, ...(options.dueAtMs === undefined ? {} : { dueAtMs: options.dueAtMs }) });
  }

  async wakeNow(executionIds: readonly string[]): Promise<void> {
    for (const executionId of new Set(executionIds)) this.pending.push({ executionId });
  }
}

const INVOCATION = { remainingMs: () => 60_000 };

/** Takes turns until no wake-up is left; throws if a turn fails (a benchmark of failures measures nothing). */
export async function runUntilIdle(deps: EngineDeps, wakeups: WakeupList, maxTurns = 1_000): Promise<number> {
  let turns = 0;
  for (let message = wakeups.pending.shift(); message !== undefined; message = wakeups.pending.shift()) {
    if (message.dueAtMs !== undefined && message.dueAtMs > deps.clock()) throw new Error(`execution "${message.executionId}" sleeps: this driver does not move the clock`);
    turns += 1;
    if (turns > maxTurns) throw new Error(`still busy after ${maxTurns} turns`);
    const result = await processWakeup(message, INVOCATION, deps);
    if (result.kind === "retry" || result.kind === "gave-up") throw new Error(`execution "${message.executionId}": turn failed: ${result.error.message}`);
  }
  return turns;
}
