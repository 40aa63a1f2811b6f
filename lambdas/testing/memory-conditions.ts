/**
 * The conditions and update rules the DynamoDB store writes as expressions, as functions over an
 * in-memory execution item, named as in `lambdas/store/commits.ts` and `dynamo-store.ts`.
 */
import type { MetaItem } from "../store/items.js";
import { DUE_SHARD } from "../store/keys.js";

/** The execution has not ended (the DynamoDB store's `NOT_ENDED`: status running or sleeping). */
export function notEnded(meta: MetaItem): boolean {
  return meta.status === "running" || meta.status === "sleeping";
}

/** The lease is still this worker's: same owner and same fencing token as when it was taken. */
export function leaseHeldBy(meta: MetaItem | undefined, lease: { owner: string; version: number }): meta is MetaItem {
  return meta !== undefined && meta.leaseOwner === lease.owner && Number(meta.leaseVersion) === lease.version;
}

/** No inbox item arrived since the worker last looked (a missing counter counts as 0). */
export function inboxUnchanged(meta: MetaItem, inboxSeen: number | undefined): boolean {
  if (inboxSeen === undefined) return true;
  return inboxSeen === 0 ? meta.inboxSeq === undefined || Number(meta.inboxSeq) === 0 : Number(meta.inboxSeq) === inboxSeen;
}

/**
 * A request DynamoDB refuses before looking at any item (an invalid expression or parameter):
 * the SDK raises it with the name `ValidationException`, and the store passes it on unchanged.
 */
export class MemoryValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ValidationException";
  }
}

/** An UpdateItem's SET / REMOVE / ADD clauses, by attribute name. */
export interface MetaChange {
  set: Record<string, unknown>;
  remove: string[];
  add: Record<string, number>;
}

export function emptyChange(): MetaChange {
  return { set: {}, remove: [], add: {} };
}

export function isEmptyChange(change: MetaChange): boolean {
  return Object.keys(change.set).length === 0 && change.remove.length === 0 && Object.keys(change.add).length === 0;
}

/** DynamoDB refuses an update expression that names one attribute in two clauses. */
export function assertNoOverlap(change: MetaChange): void {
  const seen = new Set<string>();
  for (const name of [...Object.keys(change.set), ...new Set(change.remove), ...Object.keys(change.add)]) {
    if (seen.has(name)) throw new MemoryValidationError(`Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [${name}], path two: [${name}]`);
    seen.add(name);
  }
}

/** Applies an update in place; ADD on a missing number starts from 0, as DynamoDB's does. */
export function applyChange(meta: MetaItem, change: MetaChange): void {
  const fields = meta as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(change.set)) fields[name] = value;
  for (const name of change.remove) delete fields[name];
  for (const [name, delta] of Object.entries(change.add)) fields[name] = Number(fields[name] ?? 0) + delta;
}

/**
 * Puts an item in another execution's inbox: counts it and makes that execution due now (the
 * DynamoDB store's `markDue`, whose condition is `notEnded`).
 */
export function markDueChange(nowMs: number, bytes: number): MetaChange {
  return { set: { nextWakeAtMs: nowMs, dueShard: DUE_SHARD }, remove: [], add: { inboxSeq: 1, inboxCount: 1, inboxBytes: bytes } };
}
