/**
 * The sweeper: the backstop for a wake-up lost between a DynamoDB commit and the SQS send (a
 * crash, a failed send, the local emulator restarted empty). It claims executions whose wake time
 * passed a grace period ago and that no worker holds (`claimDueExecutions`: one query on the sparse
 * "due" index when nothing is due, then one conditional update per execution, so two sweepers
 * running at once never both wake the same one), and wakes them. A claim needs no live lease, so
 * running executions are not swept; a crashed worker's execution (due since whatever woke it) is
 * claimed once its lease runs out. It also removes executions whose retention has ended.
 */
import type { ExecutionStore } from "../ports/store.js";
import type { WakeupScheduler } from "../ports/queue.js";
import { type EngineLogger, silentLogger } from "./observability.js";
import { WAKE_TOLERANCE_MS } from "../core/limits.js";

export interface SweepOptions {
  /** Only executions due at least this long ago: their own wake-up had its chance. Default 30 s. */
  graceMs?: number;
  /** At most this many per sweep. Default 500. */
  limit?: number;
  /**
   * How long a claim keeps other sweepers off an execution whose wake-up was just sent; if that
   * wake-up is lost too, the execution is due again after it. Default 60 s.
   */
  lockTimeMs?: number;
  /**
   * When the wake-up queue holds at least `backlog.messages` visible messages (default 100), the
   * executions due recently are most likely in it, waiting their turn: only those due for longer
   * than `backlog.graceMs` more (default 5 minutes) are woken again, so an overloaded system is not
   * flooded with duplicate wake-ups. A lost wake-up is then found once the backlog is gone, or
   * after that extra grace.
   */
  backlog?: { messages?: number; graceMs?: number };
  /** Executions whose retention ended removed per sweep, at most (each all its items). Default 25. */
  purgeLimit?: number;
  /** Time a sweep spends removing expired executions, at most. Default 20 s. */
  purgeBudgetMs?: number;
}

export interface SweepDeps {
  store: ExecutionStore;
  scheduler: WakeupScheduler;
  clock: () => number;
  logger?: EngineLogger;
}

/** Whether the wake-up queue has a backlog (an unknown depth counts as none: the sweeper does its job). */
async function queueBacklogged(deps: SweepDeps, options: SweepOptions): Promise<boolean> {
  if (!deps.scheduler.backlog) return false;
  try {
    return (await deps.scheduler.backlog()) >= (options.backlog?.messages ?? 100);
  } catch (err) {
    (deps.logger ?? silentLogger).warn("sweeper could not read the queue's depth", { error: err instanceof Error ? err.message : String(err) });
    return false;
  }
}

/** SQS takes up to 10 messages per batch: claims are sent, or given back, 10 at a time. */
const SEND_BATCH = 10;

export async function sweepDue(deps: SweepDeps, options: SweepOptions = {}): Promise<{ woken: string[]; failed: string[]; purged: string[] }> {
  const log = deps.logger ?? silentLogger;
  const nowMs = deps.clock();
  // A claim moves the wake time to the end of its lock: within what a worker still counts as due.
  const lockTimeMs = Math.min(options.lockTimeMs ?? 60_000, WAKE_TOLERANCE_MS);
  const backlogged = await queueBacklogged(deps, options);
  const graceMs = (options.graceMs ?? 30_000) + (backlogged ? (options.backlog?.graceMs ?? 300_000) : 0);
  const claimed = await deps.store.claimDueExecutions(lockTimeMs, options.limit ?? 500, { nowMs, dueBeforeMs: nowMs - graceMs });
  const woken: string[] = [];
  const failed: string[] = [];
  for (let i = 0; i < claimed.length; i += SEND_BATCH) {
    const chunk = claimed.slice(i, i + SEND_BATCH);
    const ids = chunk.map((c) => c.executionId);
    try {
      await deps.scheduler.wakeNow(ids);
      woken.push(...ids);
    } catch (err) {
      // Give the claims back so the next sweep tries again at once.
      failed.push(...ids);
      log.warn("sweeper could not send wake-ups; released them", { count: ids.length, error: err instanceof Error ? err.message : String(err) });
      await Promise.all(chunk.map((c) => c.unlock().catch(() => undefined)));
    }
  }
  if (woken.length > 0) log.info("sweeper woke overdue executions", { count: woken.length });
  // Retention: executions whose retention ended go with all their items (store/purge.ts).
  let purged: string[] = [];
  try {
    purged = await deps.store.purgeExpired({ nowMs, limit: options.purgeLimit ?? 25, deadlineMs: Date.now() + (options.purgeBudgetMs ?? 20_000) });
    if (purged.length > 0) log.info("sweeper removed executions whose retention ended", { count: purged.length });
  } catch (err) {
    log.warn("sweeper could not remove expired executions; the next sweep tries again", { error: err instanceof Error ? err.message : String(err) });
  }
  return { woken, failed, purged };
}
