/**
 * The single DynamoDB table, in memory: one partition per execution id, holding the execution item
 * (META) and the other items (history `H#<seq>`, inbox `P#<time>#<id>`) by sort key, in the byte
 * order DynamoDB keeps them. Items are the very records `lambdas/store/items.ts` builds for
 * DynamoDB (event bodies as JSON strings), so a value reads back exactly as DynamoDB gives it.
 *
 * The sparse indexes (due, purge, byWorkflow, byStatus) are not kept: they are derived from the
 * execution items when queried (see `indexQuery`), which DynamoDB Local also makes look instant.
 */
import type { MetaItem } from "../store/items.js";
import { executionPk, META_SK } from "../store/keys.js";

/** A history or inbox item as stored: `{ PK, SK, type, atMs, data, ... }`. */
export type StoredItem = Record<string, unknown>;

/** What DynamoDB keeps under `EXEC#<id>`. */
export interface Partition {
  meta?: MetaItem;
  /** Every other item, by sort key. */
  items: Map<string, StoredItem>;
  /** `items`' keys in DynamoDB's order; dropped on every write, rebuilt on the next read. */
  sortedKeys?: string[];
}

/** One GSI entry: the execution item's key attributes. */
export interface IndexEntry {
  executionId: string;
  meta: MetaItem;
}

/**
 * DynamoDB compares string keys as UTF-8 bytes; JavaScript compares UTF-16 code units. The two
 * agree on ASCII, and differ above U+FFFF against U+E000–U+FFFF, so compare bytes.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

export class MemoryTable {
  private readonly partitions = new Map<string, Partition>();

  /** The partition of `executionId`, created empty if it has none. */
  partition(executionId: string): Partition {
    let partition = this.partitions.get(executionId);
    if (!partition) {
      partition = { items: new Map() };
      this.partitions.set(executionId, partition);
    }
    return partition;
  }

  meta(executionId: string): MetaItem | undefined {
    return this.partitions.get(executionId)?.meta;
  }

  putMeta(meta: MetaItem): void {
    this.partition(meta.id).meta = meta;
  }

  deleteMeta(executionId: string): void {
    const partition = this.partitions.get(executionId);
    if (!partition) return;
    delete partition.meta;
    this.dropIfEmpty(executionId, partition);
  }

  item(executionId: string, sortKey: string): StoredItem | undefined {
    return this.partitions.get(executionId)?.items.get(sortKey);
  }

  /** A put: replaces an item with the same key, as DynamoDB's PutItem does. */
  putItem(executionId: string, item: StoredItem): void {
    const partition = this.partition(executionId);
    partition.items.set(String(item.SK), item);
    delete partition.sortedKeys;
  }

  deleteItem(executionId: string, sortKey: string): void {
    const partition = this.partitions.get(executionId);
    if (!partition || !partition.items.delete(sortKey)) return;
    delete partition.sortedKeys;
    this.dropIfEmpty(executionId, partition);
  }

  /** Items (not META) with `from <= SK <= to`, in key order: a Query's key condition. */
  range(executionId: string, from: string, to: string): StoredItem[] {
    return this.allItems(executionId).filter((item) => compareKeys(String(item.SK), from) >= 0 && compareKeys(String(item.SK), to) <= 0);
  }

  /** Every item of the partition but META, in key order. */
  allItems(executionId: string): StoredItem[] {
    const partition = this.partitions.get(executionId);
    if (!partition) return [];
    const keys = (partition.sortedKeys ??= [...partition.items.keys()].sort(compareKeys));
    return keys.map((key) => partition.items.get(key) as StoredItem);
  }

  /** Every item (not META) whose sort key starts with `prefix`, in every partition: a GSI over such items. */
  itemsWithPrefix(prefix: string): { executionId: string; item: StoredItem }[] {
    const found: { executionId: string; item: StoredItem }[] = [];
    for (const [executionId, partition] of this.partitions) {
      for (const [sortKey, item] of partition.items) if (sortKey.startsWith(prefix)) found.push({ executionId, item });
    }
    return found;
  }

  /** Execution items an index would hold: those with `attribute` set (a sparse GSI). */
  indexed(attribute: keyof MetaItem): IndexEntry[] {
    const entries: IndexEntry[] = [];
    for (const [executionId, partition] of this.partitions) {
      if (partition.meta && partition.meta[attribute] !== undefined) entries.push({ executionId, meta: partition.meta });
    }
    return entries;
  }

  private dropIfEmpty(executionId: string, partition: Partition): void {
    if (!partition.meta && partition.items.size === 0) this.partitions.delete(executionId);
  }
}

/** A copy of an execution item: what a read returns (its values are strings and numbers). */
export function copyMeta(meta: MetaItem): MetaItem {
  return { ...meta };
}

/** The table key of an execution item, as index entries and list positions carry it. */
export function metaKey(executionId: string): { PK: string; SK: string } {
  return { PK: executionPk(executionId), SK: META_SK };
}
