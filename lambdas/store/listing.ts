/**
 * Listing executions newest first over the table's GSIs (keys.ts `TABLE.indexes`):
 *
 *   tags given            TAG_SHARDS streams: byTag[<key>=<value>#<shard>] of the first tag by key,
 *                         workflow as a FilterExpression; status and the other tags are checked
 *                         on the execution items fetched for the page
 *   a tenant's list       the same, in the tenant's own byTag partitions: its tags'
 *                         (`<tenant>/<key>=<value>#<shard>`), or with no tag its listing items'
 *                         (`<tenant>/#<shard>`); no index of other tenants is read
 *   workflow given        one stream: byWorkflow[workflow], status as a FilterExpression
 *   only status given     one stream: byStatus[status]
 *   neither               five streams, byStatus[s] for each status, merged newest first
 *
 * A position says, per stream, the last item handed out (`{ at: createdAtMs, id }`), `null`
 * once the stream is read to its end, or nothing for "not started". The store returns it as a
 * page's `next`; the API signs it into a cursor, so only positions made here come back.
 */
import { EXECUTION_STATUSES, type ExecutionStatus } from "../core/status.js";
import { InvalidCursorError } from "./cursor.js";
import type { Tags } from "../core/tags.js";
import { executionIdFromPk, executionPk, META_SK, TABLE, TAG_SHARDS, tagPartition, tagSk, TENANT_TAG_KEY, tenantPartition } from "./keys.js";
import { MAX_STORED_ID_CHARS, tenantOf } from "../core/tenants.js";

export interface IndexStream {
  /** The stream's key in a position. */
  name: string;
  indexName: string;
  partitionAttribute: string;
  partitionValue: string;
  /** The table sort key of the stream's items (an index's LastEvaluatedKey holds it). */
  tableSk: string;
  /** Only items whose attribute has this value. A FilterExpression: a query's Limit counts items before it. */
  filter?: { attribute: "status" | "workflow" | "tagWorkflow"; value: string };
}

export interface ItemPosition {
  at: number;
  id: string;
}

/** Per stream: after this item; `null` = read to its end; absent = from the newest. */
export type ListPosition = Record<string, ItemPosition | null>;

/** What one stream gave for a page: matching items newest first, and how far it read. */
export interface StreamRead<T> {
  items: T[];
  /** No items left after the last one read. */
  exhausted: boolean;
  /** The last index item read, matching or not (DynamoDB's LastEvaluatedKey); set unless exhausted. */
  evaluatedTo?: ItemPosition;
}

/** What a listed item must carry: its table key and creation time. */
export interface ListedItem {
  PK: string;
  createdAtMs: number;
}

export function streamsFor(query: { workflow?: string; status?: ExecutionStatus; tags?: Tags; tenant?: string }): IndexStream[] {
  const { byWorkflow, byStatus, byTag } = TABLE.indexes;
  const [tag] = Object.entries(query.tags ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const { tenant } = query;
  if (tag !== undefined || tenant !== undefined) {
    return Array.from({ length: TAG_SHARDS }, (_, shard) => ({
      name: `tag${shard}`,
      indexName: byTag.name,
      partitionAttribute: byTag.partitionKey.name,
      partitionValue: tag === undefined ? tenantPartition(tenant as string, shard) : tagPartition(tag[0], tag[1], shard, tenant),
      tableSk: tagSk(tag === undefined ? TENANT_TAG_KEY : tag[0]),
      ...(query.workflow === undefined ? {} : { filter: { attribute: "tagWorkflow" as const, value: query.workflow } }),
    }));
  }
  if (query.workflow !== undefined) {
    return [
      {
        name: "workflow",
        indexName: byWorkflow.name,
        partitionAttribute: byWorkflow.partitionKey.name,
        partitionValue: query.workflow,
        tableSk: META_SK,
        ...(query.status === undefined ? {} : { filter: { attribute: "status" as const, value: query.status } }),
      },
    ];
  }
  const statuses = query.status === undefined ? EXECUTION_STATUSES : [query.status];
  return statuses.map((status) => ({
    name: status,
    indexName: byStatus.name,
    partitionAttribute: byStatus.partitionKey.name,
    partitionValue: status,
    tableSk: META_SK,
  }));
}

/**
 * Whether a fetched execution belongs on the page: the index read found it by one filter; its
 * status may have changed since, and the other tags are checked here.
 */
export function matchesQuery(execution: { id: string; status: ExecutionStatus; tags?: Tags }, query: { status?: ExecutionStatus; tags?: Tags; tenant?: string }): boolean {
  // The streams read the tenant's partitions only; this keeps it so should an index ever hold a stray entry.
  if (tenantOf(execution.id) !== query.tenant) return false;
  if (query.status !== undefined && execution.status !== query.status) return false;
  return Object.entries(query.tags ?? {}).every(([key, value]) => execution.tags?.[key] === value);
}

/**
 * Reads a position back. Cursors are signed, so a bad shape means a position from an older
 * format or another query shape: refused like a forged cursor, never passed to DynamoDB.
 */
export function parsePosition(streams: readonly IndexStream[], after: unknown): ListPosition {
  if (after === undefined) return {};
  if (typeof after !== "object" || after === null || Array.isArray(after)) throw new InvalidCursorError("malformed position");
  const names = new Set(streams.map((s) => s.name));
  const position: ListPosition = {};
  for (const [name, value] of Object.entries(after)) {
    if (!names.has(name)) throw new InvalidCursorError("malformed position");
    if (value === null) {
      position[name] = null;
      continue;
    }
    const { at, id } = (value ?? {}) as { at?: unknown; id?: unknown };
    const wellFormed =
      typeof at === "number" && Number.isSafeInteger(at) && at >= 0 && typeof id === "string" && id.length > 0 && id.length <= MAX_STORED_ID_CHARS;
    if (!wellFormed) throw new InvalidCursorError("malformed position");
    position[name] = { at, id };
  }
  return position;
}

/** The GSI key to resume a stream after `position`: index keys plus the table's keys. */
export function exclusiveStartKey(stream: IndexStream, position: ItemPosition): Record<string, unknown> {
  return {
    [TABLE.partitionKey.name]: executionPk(position.id),
    [TABLE.sortKey.name]: stream.tableSk,
    [stream.partitionAttribute]: stream.partitionValue,
    [TABLE.indexes.byStatus.sortKey.name]: position.at,
  };
}

export function positionOf(item: Record<string, unknown>): ItemPosition {
  return { at: Number(item[TABLE.indexes.byStatus.sortKey.name]), id: executionIdFromPk(String(item[TABLE.partitionKey.name])) };
}

/**
 * Merges the streams' reads into one page of at most `limit` items, newest first, and says where
 * each stream stands after it.
 *
 * An item may go out only if no stream could still hold something newer: a stream that stopped
 * early (read budget, 1 MB per query) has unread items no newer than where it stopped reading
 * (`evaluatedTo`), so items older than that wait for a later page. Each stream's own order is
 * kept (a stable sort), which keeps its position exact when several items share a millisecond.
 *
 * A page never repeats or skips an item, and always moves: if nothing can go out, some stream
 * read only non-matching items, and its position advances past them.
 */
export function mergeNewestFirst<T extends ListedItem>(
  streams: readonly IndexStream[],
  reads: readonly StreamRead<T>[],
  previous: ListPosition,
  limit: number,
): { items: T[]; next?: ListPosition } {
  const candidates = reads
    .flatMap((read, stream) => read.items.map((item) => ({ item, stream })))
    .sort((a, b) => b.item.createdAtMs - a.item.createdAtMs);
  const stoppedAt = reads.map((read) => (read.exhausted ? undefined : read.evaluatedTo?.at));
  const taken: { item: T; stream: number }[] = [];
  for (const candidate of candidates) {
    if (taken.length >= limit) break;
    const maybeNewerElsewhere = stoppedAt.some((at, stream) => stream !== candidate.stream && at !== undefined && candidate.item.createdAtMs < at);
    if (maybeNewerElsewhere) break;
    taken.push(candidate);
  }

  const next: ListPosition = {};
  streams.forEach((stream, index) => {
    const read = reads[index] as StreamRead<T>;
    const mine = taken.filter((t) => t.stream === index);
    const before = previous[stream.name];
    let after: ItemPosition | null | undefined = before;
    if (before === null || (read.exhausted && mine.length === read.items.length)) after = null;
    else if (mine.length === read.items.length) after = read.evaluatedTo ?? before; // all handed out: skip what the filter dropped too
    else if (mine.length > 0) after = positionOf(mine[mine.length - 1]!.item as unknown as Record<string, unknown>);
    if (after !== undefined) next[stream.name] = after;
  });
  const done = streams.every((stream) => next[stream.name] === null);
  return { items: taken.map((t) => t.item), ...(done ? {} : { next }) };
}
