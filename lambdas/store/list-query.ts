/**
 * Listing executions on DynamoDB: reads the byWorkflow / byStatus index streams (listing.ts says
 * which and merges them), then fetches the execution items a page shows.
 */
import { BatchGetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { StoreBusyError } from "./errors.js";
import { LISTED_ATTRIBUTES, type MetaItem, toListing } from "./items.js";
import { executionIdFromPk, executionPk, META_SK } from "./keys.js";
import { exclusiveStartKey, type IndexStream, type ItemPosition, matchesQuery, mergeNewestFirst, parsePosition, positionOf, type StreamRead, streamsFor } from "./listing.js";
import type { StoreContext } from "./store-context.js";
import type { ExecutionListing, ExecutionListPage, ListExecutionsQuery } from "../ports/store.js";

/** Most index items one list request reads per index partition (each a read unit or less). */
const LIST_READ_BUDGET = 1000;
/** Items a filtered list query asks for at a time: enough that a selective filter needs few round trips. */
const FILTERED_PAGE_SIZE = 100;

/**
 * Executions newest first from the byWorkflow / byStatus index (see listing.ts for the streams
 * and the merge). Index reads are eventually consistent: a start may show up a moment later.
 */
export async function listExecutions(ctx: StoreContext, query: ListExecutionsQuery): Promise<ExecutionListPage> {
  const streams = streamsFor(query);
  const previous = parsePosition(streams, query.after);
  const budget = query.readBudget ?? LIST_READ_BUDGET;
  const reads = await Promise.all(
    streams.map((stream) => {
      const after = previous[stream.name];
      if (after === null) return { items: [], exhausted: true }; // read to its end on an earlier page
      return readIndexStream(ctx, stream, after, query.limit, budget);
    }),
  );
  const page = mergeNewestFirst(streams, reads, previous, query.limit);
  // The indexes project keys only (keys.ts): fetch the items, consistently. One that changed
  // status since the index was read is left out of a status-filtered page; one deleted (TTL)
  // is left out; one seen in two status partitions mid-move is listed once.
  const ids = [...new Set(page.items.map((item) => executionIdFromPk(item.PK)))];
  const fetched = await fetchListed(ctx, ids);
  const executions = ids
    .map((id) => fetched.get(id))
    .filter((item): item is MetaItem => item !== undefined)
    .map((item): ExecutionListing => toListing(item))
    .filter((listing) => matchesQuery(listing, query));
  return { executions, ...(page.next ? { next: page.next } : {}) };
}

/** Execution items by id (at most 100), consistent reads, without their big attributes. */
export async function fetchListed(ctx: StoreContext, ids: readonly string[]): Promise<Map<string, MetaItem>> {
  const found = new Map<string, MetaItem>();
  const names = Object.fromEntries(LISTED_ATTRIBUTES.map((name, i) => [`#a${i}`, name]));
  let keys: Record<string, unknown>[] = ids.map((id) => ({ PK: executionPk(id), SK: META_SK }));
  for (let attempt = 0; keys.length > 0; attempt += 1) {
    if (attempt >= 6) throw new StoreBusyError(`DynamoDB left ${keys.length} keys of a list unprocessed`, undefined);
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt)); // unprocessed keys: back off
    const out = await ctx.doc.send(
      new BatchGetCommand({
        RequestItems: { [ctx.tableName]: { Keys: keys, ConsistentRead: true, ProjectionExpression: Object.keys(names).join(", "), ExpressionAttributeNames: names } },
      }),
    );
    for (const item of out.Responses?.[ctx.tableName] ?? []) found.set(String(item.id), item as MetaItem);
    keys = out.UnprocessedKeys?.[ctx.tableName]?.Keys ?? [];
  }
  return found;
}

/**
 * Up to `want` matching items of one index partition, newest first, after `after`. Loops because
 * Limit counts items before the status filter and a query returns at most 1 MB; stops after
 * reading `budget` items so one request stays bounded (the page is then short).
 */
export async function readIndexStream(
  ctx: StoreContext,
  stream: IndexStream,
  after: ItemPosition | undefined,
  want: number,
  budget: number,
): Promise<StreamRead<{ PK: string; createdAtMs: number }>> {
  const items: { PK: string; createdAtMs: number }[] = [];
  let startKey = after ? exclusiveStartKey(stream, after) : undefined;
  let evaluated = 0;
  let evaluatedTo = after;
  while (items.length < want && evaluated < budget) {
    const pageSize = Math.min(budget - evaluated, stream.filter ? Math.max(want - items.length, FILTERED_PAGE_SIZE) : want - items.length);
    const out = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        IndexName: stream.indexName,
        KeyConditionExpression: "#partition = :partition",
        ExpressionAttributeNames: { "#partition": stream.partitionAttribute, ...(stream.filter ? { "#filter": stream.filter.attribute } : {}) },
        ExpressionAttributeValues: { ":partition": stream.partitionValue, ...(stream.filter ? { ":filter": stream.filter.value } : {}) },
        ...(stream.filter ? { FilterExpression: "#filter = :filter" } : {}),
        ScanIndexForward: false, // newest first
        Limit: pageSize,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of out.Items ?? []) items.push({ PK: String(item.PK), createdAtMs: Number(item.createdAtMs) });
    evaluated += out.ScannedCount ?? pageSize;
    if (!out.LastEvaluatedKey) return { items, exhausted: true };
    startKey = out.LastEvaluatedKey;
    evaluatedTo = positionOf(out.LastEvaluatedKey);
  }
  return { items, exhausted: false, ...(evaluatedTo ? { evaluatedTo } : {}) };
}
