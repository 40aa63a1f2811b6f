/**
 * Creates the table for the local stack and tests from the schema (schema.ts) the CDK construct
 * deploys too, and brings a table made by an earlier version up to it (missing indexes).
 */
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  ResourceInUseException,
  type TableDescription,
  UpdateTableCommand,
} from "@aws-sdk/client-dynamodb";
import { type IndexSchema, TABLE } from "./schema.js";

export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const indexes = Object.values(TABLE.indexes);
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: attributeDefinitions([TABLE.partitionKey, TABLE.sortKey, ...indexes.flatMap((i) => [i.partitionKey, i.sortKey])]),
        KeySchema: [
          { AttributeName: TABLE.partitionKey.name, KeyType: "HASH" },
          { AttributeName: TABLE.sortKey.name, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: indexes.map(globalIndex),
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    // Exists already (a restarted local stack with data on disk): add what a newer version indexes.
    await addMissingIndexes(client, tableName);
    return;
  }
  await waitUntil(client, tableName, (table) => table?.TableStatus === "ACTIVE");
}

function attributeDefinitions(attributes: readonly { name: string; type: "S" | "N" }[]): AttributeDefinition[] {
  const byName = new Map(attributes.map((a) => [a.name, a.type]));
  return [...byName].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }));
}

function globalIndex(index: IndexSchema): GlobalSecondaryIndex {
  return {
    IndexName: index.name,
    KeySchema: [
      { AttributeName: index.partitionKey.name, KeyType: "HASH" },
      { AttributeName: index.sortKey.name, KeyType: "RANGE" },
    ],
    Projection: index.include.length === 0 ? { ProjectionType: "KEYS_ONLY" } : { ProjectionType: "INCLUDE", NonKeyAttributes: [...index.include] },
  };
}

/**
 * Creates the indexes of the schema a table made by an earlier version lacks, one at a time, and
 * makes again one whose projection changed since (an index is rebuilt from the table's items).
 */
async function addMissingIndexes(client: DynamoDBClient, tableName: string): Promise<void> {
  const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const existing = new Map((described.Table?.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName, i]));
  for (const index of Object.values(TABLE.indexes)) {
    const current = existing.get(index.name);
    if (current && sameProjection(current.Projection?.NonKeyAttributes ?? [], index.include)) continue;
    if (current) {
      await client.send(new UpdateTableCommand({ TableName: tableName, GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: index.name } }] }));
      await waitUntil(client, tableName, (table) => !(table?.GlobalSecondaryIndexes ?? []).some((g) => g.IndexName === index.name));
    }
    await client.send(
      new UpdateTableCommand({
        TableName: tableName,
        AttributeDefinitions: attributeDefinitions([index.partitionKey, index.sortKey]),
        GlobalSecondaryIndexUpdates: [{ Create: globalIndex(index) }],
      }),
    );
    await waitUntil(client, tableName, (table) => table?.GlobalSecondaryIndexes?.find((g) => g.IndexName === index.name)?.IndexStatus === "ACTIVE");
  }
}

function sameProjection(projected: readonly string[], wanted: readonly string[]): boolean {
  return [...projected].sort().join(",") === [...wanted].sort().join(",");
}

async function waitUntil(client: DynamoDBClient, tableName: string, ready: (table: TableDescription | undefined) => boolean): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (ready(out.Table)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
