/**
 * The table's schema, declared once: the store reads and writes by it, `createTable` makes the
 * local table from it, and the CDK construct deploys it (lib/durable-workflows.ts), so the three
 * cannot drift apart. No imports: the construct loads this file too.
 */

/** A key attribute and its DynamoDB type. */
export interface KeyAttribute {
  readonly name: string;
  readonly type: "S" | "N";
}

export interface IndexSchema {
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
  /** Non-key attributes projected; none means KEYS_ONLY. */
  readonly include: readonly string[];
}

const index = (name: string, partition: string, sort: string, include: readonly string[]): IndexSchema => ({
  name,
  partitionKey: { name: partition, type: "S" },
  sortKey: { name: sort, type: "N" },
  include,
});

/** Names of the table's attributes and indexes. */
export const TABLE = {
  partitionKey: { name: "PK", type: "S" },
  sortKey: { name: "SK", type: "S" },
  /**
   * Projections are lean on purpose: with ALL, every update of the execution item rewrites it in
   * every index (the benchmark measured ~26 write units per transactional commit). Listing reads
   * the keys (plus status/workflow for filters) and fetches the items it returns. The due and purge
   * indexes are sparse: only executions that carry `dueShard` (not ended) or `purgeShard` (ended,
   * until removed) are in them.
   */
  indexes: {
    byWorkflow: index("byWorkflow", "workflow", "createdAtMs", ["status"]),
    byStatus: index("byStatus", "status", "createdAtMs", ["workflow"]),
    due: index("due", "dueShard", "nextWakeAtMs", []),
    purge: index("purge", "purgeShard", "purgeAtMs", []),
    /**
     * Tag items (`TAG#<key>` in an execution's partition), one per tag: `tagKey` is
     * `<key>=<value>#<shard>`, the shard taken from the execution id (keys.ts TAG_SHARDS), so a
     * tag every execution carries spreads over several partitions instead of making one hot.
     * Their workflow is `tagWorkflow`, not `workflow`: an item with `workflow` and `createdAtMs`
     * would be in the byWorkflow index too, listed there once more under another sort key.
     */
    byTag: index("byTag", "tagKey", "createdAtMs", ["tagWorkflow"]),
  },
} as const;
