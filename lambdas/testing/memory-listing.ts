/**
 * Listing executions newest first, in memory, the way `DynamoExecutionStore.listExecutions` reads
 * its GSIs: the same streams, positions and merge (`lambdas/store/listing.ts`), over index queries
 * emulated here with DynamoDB's `Limit` (counted before the status filter), `LastEvaluatedKey`
 * (set whenever a query read as many items as its limit) and read budget. So pages end where the
 * DynamoDB store's end, short pages and all, and `next` is the same kind of JSON position.
 *
 * One thing is not DynamoDB's: executions created in the same millisecond are listed in the order
 * of their table key (descending). DynamoDB leaves that order unspecified (DynamoDB Local uses
 * one of its own); paging never repeats or skips one in either store.
 */
import { LISTED_ATTRIBUTES, toListing, type MetaItem } from "../store/items.js";
import { executionIdFromPk, executionPk, TABLE, TAG_PREFIX } from "../store/keys.js";
import { type IndexStream, type ItemPosition, matchesQuery, mergeNewestFirst, parsePosition, type StreamRead, streamsFor } from "../store/listing.js";
import type { ExecutionListing, ExecutionListPage, ListExecutionsQuery } from "../ports/store.js";
import { compareKeys, type MemoryTable } from "./memory-table.js";

/** Most index items one list request reads per index partition (dynamo-store.ts's LIST_READ_BUDGET). */
const LIST_READ_BUDGET = 1000;
/** Items a filtered list query asks for at a time (dynamo-store.ts's FILTERED_PAGE_SIZE). */
const FILTERED_PAGE_SIZE = 100;

interface IndexItem {
  PK: string;
  createdAtMs: number;
  /** The attributes a filter may test (the index projects them). */
  status?: string;
  workflow?: string;
  tagWorkflow?: string;
}

export function listExecutionsInMemory(table: MemoryTable, query: ListExecutionsQuery): ExecutionListPage {
  const streams = streamsFor(query);
  const previous = parsePosition(streams, query.after);
  const budget = query.readBudget ?? LIST_READ_BUDGET;
  const reads = streams.map((stream): StreamRead<IndexItem> => {
    const after = previous[stream.name];
    if (after === null) return { items: [], exhausted: true }; // read to its end on an earlier page
    return readIndexStream(table, stream, after, query.limit, budget);
  });
  const page = mergeNewestFirst(streams, reads, previous, query.limit);
  const ids = [...new Set(page.items.map((item) => executionIdFromPk(item.PK)))];
  const executions = ids
    .map((id) => table.meta(id))
    .filter((meta): meta is MetaItem => meta !== undefined)
    .map((meta): ExecutionListing => toListing(projectListed(meta)))
    .filter((listing) => matchesQuery(listing, query));
  return { executions, ...(page.next ? { next: page.next } : {}) };
}

/** Up to `want` matching items of one index partition after `after`, as dynamo-store.ts's readIndexStream loops. */
function readIndexStream(table: MemoryTable, stream: IndexStream, after: ItemPosition | undefined, want: number, budget: number): StreamRead<IndexItem> {
  const items: IndexItem[] = [];
  let startAfter = after;
  let evaluated = 0;
  let evaluatedTo = after;
  while (items.length < want && evaluated < budget) {
    const pageSize = Math.min(budget - evaluated, stream.filter ? Math.max(want - items.length, FILTERED_PAGE_SIZE) : want - items.length);
    const out = queryIndex(table, stream, startAfter, pageSize);
    items.push(...out.items);
    evaluated += out.scannedCount;
    if (!out.lastEvaluated) return { items, exhausted: true };
    startAfter = out.lastEvaluated;
    evaluatedTo = out.lastEvaluated;
  }
  return { items, exhausted: false, ...(evaluatedTo ? { evaluatedTo } : {}) };
}

/** The items of one GSI partition: tag items for byTag, execution items for the others. */
function indexPartition(table: MemoryTable, stream: IndexStream): IndexItem[] {
  if (stream.indexName === TABLE.indexes.byTag.name) {
    return table
      .itemsWithPrefix(TAG_PREFIX)
      .filter(({ item }) => item.tagKey === stream.partitionValue)
      .map(({ executionId, item }): IndexItem => ({ PK: executionPk(executionId), createdAtMs: Number(item.createdAtMs), tagWorkflow: String(item.tagWorkflow) }));
  }
  const attribute = stream.partitionAttribute === "workflow" ? "workflow" : "status";
  return table
    .indexed(attribute)
    .filter((entry) => entry.meta[attribute] === stream.partitionValue)
    .map((entry): IndexItem => ({ PK: executionPk(entry.executionId), createdAtMs: Number(entry.meta.createdAtMs), status: entry.meta.status, workflow: entry.meta.workflow }));
}

/** One Query of a GSI partition, newest first, `Limit` items read, then the filter. */
function queryIndex(table: MemoryTable, stream: IndexStream, startAfter: ItemPosition | undefined, limit: number): { items: IndexItem[]; scannedCount: number; lastEvaluated?: ItemPosition } {
  const partition = indexPartition(table, stream).sort(newestFirst);
  const from = startAfter === undefined ? 0 : partition.findIndex((item) => newestFirst(item, { PK: executionPk(startAfter.id), createdAtMs: startAfter.at, workflow: "" }) > 0);
  const read = from < 0 ? [] : partition.slice(from, from + limit);
  const last = read[read.length - 1];
  return {
    items: read.filter((item) => stream.filter === undefined || item[stream.filter.attribute] === stream.filter.value),
    scannedCount: read.length,
    // DynamoDB sets LastEvaluatedKey whenever a query stops at its Limit, more items or not.
    ...(read.length === limit && last ? { lastEvaluated: { at: last.createdAtMs, id: executionIdFromPk(last.PK) } } : {}),
  };
}

/** ScanIndexForward: false on createdAtMs; the table key breaks ties (see the file comment). */
function newestFirst(a: IndexItem, b: IndexItem): number {
  return b.createdAtMs - a.createdAtMs || compareKeys(b.PK, a.PK);
}

/** The execution item as the list's BatchGetItem projection returns it. */
function projectListed(meta: MetaItem): MetaItem {
  const fields = meta as unknown as Record<string, unknown>;
  const projected: Record<string, unknown> = {};
  for (const name of LISTED_ATTRIBUTES) if (fields[name] !== undefined) projected[name] = fields[name];
  return projected as unknown as MetaItem;
}
