/** Key layout of the single table: which item of an execution lives under which key. */

export const META_SK = "META";
export const HISTORY_PREFIX = "H#";
export const INBOX_PREFIX = "P#";
/** Callback items: `CB#<callbackId>`, kept until the execution is purged. */
export const CALLBACK_PREFIX = "CB#";

export function callbackSk(callbackId: string): string {
  return `${CALLBACK_PREFIX}${callbackId}`;
}
/** Tag items: `TAG#<key>`, one per tag, indexed by byTag (schema.ts). */
export const TAG_PREFIX = "TAG#";
/**
 * Partitions each tag's index entries are spread over. A list by tag reads all of them and merges
 * them newest first; a tag on every execution takes up to this many times one partition's writes.
 */
export const TAG_SHARDS = 8;

export function tagSk(key: string): string {
  return `${TAG_PREFIX}${key}`;
}

/**
 * The byTag partition of `key=value` an execution's tag item goes to (its shard is fixed by the
 * id). A tenant's executions have partitions of their own, `<tenant>/<key>=<value>#<shard>`: a
 * tag key holds no `/` and a tenant no `=`, so no partition of one tenant is another's, nor that
 * of an execution of no tenant.
 */
export function tagPartition(key: string, value: string, shard: number, tenant?: string): string {
  return `${tenant === undefined ? "" : `${tenant}/`}${key}=${value}#${shard}`;
}

/**
 * A tenant's executions are listed through one more item each, `TAG#` (the tag of no key), in
 * the byTag partitions `<tenant>/#<shard>`: a tenant's list reads its own partitions only.
 */
export const TENANT_TAG_KEY = "";

export function tenantPartition(tenant: string, shard: number): string {
  return `${tenant}/#${shard}`;
}

export function tagShard(executionId: string): number {
  let hash = 2166136261; // FNV-1a
  for (let i = 0; i < executionId.length; i += 1) hash = Math.imul(hash ^ executionId.charCodeAt(i), 16777619);
  return (hash >>> 0) % TAG_SHARDS;
}

/** Partition of the sparse "due" index: one shard for now (see README, limits). */
export const DUE_SHARD = "DUE";
/** Partition of the sparse "purge" index: ended executions by the time their retention ends. */
export const PURGE_SHARD = "PURGE";

const SEQ_DIGITS = 10;
const TIME_DIGITS = 13;

/** A schedule's state item (its latest fire) lives under `SCHEDULE#<name>`, sort key META. */
export function schedulePk(scheduleName: string): string {
  return `SCHEDULE#${scheduleName}`;
}

export function executionPk(executionId: string): string {
  return `EXEC#${executionId}`;
}

export function executionIdFromPk(pk: string): string {
  return pk.slice("EXEC#".length);
}

export function historySk(seq: number): string {
  return `${HISTORY_PREFIX}${String(seq).padStart(SEQ_DIGITS, "0")}`;
}

export function seqFromHistorySk(sk: string): number {
  return Number(sk.slice(HISTORY_PREFIX.length));
}

/** Pending items sort by arrival time, then id: the inbox is read oldest first. */
export function inboxSk(arrivedAtMs: number, eventId: string): string {
  return `${INBOX_PREFIX}${String(arrivedAtMs).padStart(TIME_DIGITS, "0")}#${eventId}`;
}

export { TABLE } from "./schema.js";
