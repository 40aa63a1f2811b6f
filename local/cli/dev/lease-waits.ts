/**
 * Says what the dev server is waiting for when nothing seems to happen. After a crash or a
 * restart, an execution whose lease a worker of the earlier process still holds cannot be taken
 * until that lease runs out (up to the worker timeout plus a margin, about a minute locally):
 * the sweeper only claims executions no live lease holds. Without a word, that minute looks like
 * a hang.
 *
 * Every `intervalMs` it reads the sparse "due" index (one query, empty when nothing is due) and,
 * for the due executions it finds (at most `limit`), their execution item: those leased by a
 * worker other than this process's are waiting. Each is printed when first seen and again every
 * `repeatMs` while it still waits; several at once share one line.
 */
import type { ExecutionStore } from "../../../lambdas/ports/store.js";
import { timeOfDay } from "./clock-time.js";

export interface LeaseWaitsOptions {
  store: Pick<ExecutionStore, "findDue" | "getExecution">;
  /** This process's worker: its own leases are work in progress, not a wait. */
  workerId: string;
  print: (line: string) => void;
  clock?: () => number;
  /** Default 5 s. */
  intervalMs?: number;
  /** How often a wait is told again while it lasts. Default 15 s. */
  repeatMs?: number;
  /** Due executions looked at per check. Default 25. */
  limit?: number;
}

export interface LeaseWait {
  executionId: string;
  workflow: string;
  leaseOwner: string;
  leaseExpiresAtMs: number;
}

export interface LeaseWaitsWatch {
  /** One check now: finds the waits and prints what is due to be told. */
  check(): Promise<LeaseWait[]>;
  stop(): void;
}

/** Most waits named on one line; the rest are counted. */
const NAMED = 3;

export function watchLeaseWaits(options: LeaseWaitsOptions): LeaseWaitsWatch {
  const clock = options.clock ?? Date.now;
  const repeatMs = options.repeatMs ?? 15_000;
  const limit = options.limit ?? 25;
  /** When each waiting execution was last told, with the lease end told then. */
  const told = new Map<string, { atMs: number; untilMs: number }>();
  let running: Promise<LeaseWait[]> | undefined;

  async function findWaits(nowMs: number): Promise<LeaseWait[]> {
    const due = await options.store.findDue(nowMs, limit);
    if (due.length === 0) return [];
    const records = await Promise.all(due.map((d) => options.store.getExecution(d.executionId)));
    return records.flatMap((execution) => {
      if (!execution?.leaseOwner || execution.leaseExpiresAtMs === undefined) return [];
      if (execution.leaseOwner === options.workerId || execution.leaseExpiresAtMs < nowMs) return [];
      return [{ executionId: execution.id, workflow: execution.workflow, leaseOwner: execution.leaseOwner, leaseExpiresAtMs: execution.leaseExpiresAtMs }];
    });
  }

  async function check(): Promise<LeaseWait[]> {
    const nowMs = clock();
    const waits = await findWaits(nowMs);
    for (const id of told.keys()) if (!waits.some((w) => w.executionId === id)) told.delete(id);
    const toTell = waits.filter((w) => {
      const last = told.get(w.executionId);
      return !last || last.untilMs !== w.leaseExpiresAtMs || nowMs - last.atMs >= repeatMs;
    });
    if (toTell.length === 0) return waits;
    for (const w of toTell) told.set(w.executionId, { atMs: nowMs, untilMs: w.leaseExpiresAtMs });
    if (toTell.length === 1) {
      const [w] = toTell as [LeaseWait];
      options.print(`execution ${w.executionId} (${w.workflow}) waits for the lease of a stopped worker until ${timeOfDay(w.leaseExpiresAtMs)}, then resumes`);
    } else {
      const lastMs = Math.max(...toTell.map((w) => w.leaseExpiresAtMs));
      const named = toTell.slice(0, NAMED).map((w) => `${w.executionId} (${w.workflow})`).join(", ");
      const rest = toTell.length > NAMED ? ` and ${toTell.length - NAMED} more` : "";
      options.print(`${toTell.length} executions wait for the leases of stopped workers, until ${timeOfDay(lastMs)} at the latest, then resume: ${named}${rest}`);
    }
    return waits;
  }

  const timer = setInterval(() => {
    // A check slower than the interval (DynamoDB Local busy) is not stacked on.
    running ??= check()
      .catch(() => [])
      .finally(() => (running = undefined));
  }, options.intervalMs ?? 5_000);
  timer.unref();

  return {
    check,
    stop: () => clearInterval(timer),
  };
}
