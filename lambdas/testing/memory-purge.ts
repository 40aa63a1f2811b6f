/**
 * Retention in memory, as `lambdas/store/purge.ts` does it in DynamoDB:
 *
 *   ended ── retention ── purgeAtMs ── claim (purgeClaimUntilMs) ── delete items ── delete META
 *
 * Items are deleted only if written before the midpoint between the execution's end and
 * `purgeAtMs` (their `atMs`), so the items of a later execution under the same id are spared,
 * exactly as the DynamoDB conditions spare them.
 */
import { compareKeys, type MemoryTable } from "./memory-table.js";

/** How long a purge holds an execution before another may take it up (purge.ts's CLAIM_MS). */
const CLAIM_MS = 60_000;

/** Ended executions whose retention has passed, oldest first (the sparse "purge" index). */
export function findExpired(table: MemoryTable, nowMs: number, limit: number): { executionId: string; purgeAtMs: number }[] {
  return table
    .indexed("purgeShard")
    .filter((entry) => entry.meta.purgeAtMs !== undefined && Number(entry.meta.purgeAtMs) <= nowMs)
    .sort((a, b) => Number(a.meta.purgeAtMs) - Number(b.meta.purgeAtMs) || compareKeys(a.executionId, b.executionId))
    .slice(0, limit)
    .map((entry) => ({ executionId: entry.executionId, purgeAtMs: Number(entry.meta.purgeAtMs) }));
}

/**
 * Deletes every item of an execution whose retention ended at `purgeAtMs`, the execution item
 * last. False when another purge holds it, or it is not (or no longer) that execution, or
 * `deadlineMs` (wall clock, as in purge.ts) has passed.
 */
export function purgeExecution(table: MemoryTable, executionId: string, purgeAtMs: number, options: { nowMs: number; deadlineMs?: number }): boolean {
  const meta = table.meta(executionId);
  const claimable =
    meta !== undefined &&
    meta.purgeAtMs !== undefined &&
    Number(meta.purgeAtMs) === purgeAtMs &&
    purgeAtMs <= options.nowMs &&
    (meta.purgeClaimUntilMs === undefined || Number(meta.purgeClaimUntilMs) < options.nowMs);
  if (!claimable) return false;
  meta.purgeClaimUntilMs = options.nowMs + CLAIM_MS;
  const endedAtMs = Math.min(Number(meta.updatedAtMs ?? purgeAtMs), purgeAtMs);
  if (options.deadlineMs !== undefined && Date.now() > options.deadlineMs) {
    delete meta.purgeClaimUntilMs; // stopped before deleting anything: the next sweep goes on
    return false;
  }
  deleteItemsBefore(table, executionId, endedAtMs + (purgeAtMs - endedAtMs) / 2);
  if (Number(table.meta(executionId)?.purgeAtMs) !== purgeAtMs) return false;
  table.deleteMeta(executionId);
  return true;
}

/** Deletes history and inbox items left without an execution item, written before `beforeMs`. */
export function purgeOrphans(table: MemoryTable, executionId: string, beforeMs: number): void {
  deleteItemsBefore(table, executionId, beforeMs);
}

/** Deletes the execution's items (all but META) written before `beforeMs`. */
function deleteItemsBefore(table: MemoryTable, executionId: string, beforeMs: number): void {
  for (const item of table.allItems(executionId)) {
    const key = String(item.SK);
    // Items without `atMs` (written by earlier versions) belong to the execution being purged.
    if (item.atMs === undefined || Number(item.atMs) < beforeMs) table.deleteItem(executionId, key);
  }
}
