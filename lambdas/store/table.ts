/**
 * Creates the table for the local stack and tests, with the same keys and indexes the CDK
 * construct deploys (lib/durable-workflows.ts; test/infra checks both against TABLE).
 */
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient, ResourceInUseException, UpdateTableCommand } from "@aws-sdk/client-dynamodb";
import { TABLE } from "./keys.js";

export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const { byWorkflow, byStatus, due, purge } = TABLE.indexes;
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: TABLE.partitionKey, AttributeType: "S" },
          { AttributeName: TABLE.sortKey, AttributeType: "S" },
          { AttributeName: byWorkflow.partitionKey, AttributeType: "S" },
          { AttributeName: byStatus.partitionKey, AttributeType: "S" },
          { AttributeName: byWorkflow.sortKey, AttributeType: "N" },
          { AttributeName: due.partitionKey, AttributeType: "S" },
          { AttributeName: due.sortKey, AttributeType: "N" },
          { AttributeName: purge.partitionKey, AttributeType: "S" },
          { AttributeName: purge.sortKey, AttributeType: "N" },
        ],
        KeySchema: [
          { AttributeName: TABLE.partitionKey, KeyType: "HASH" },
          { AttributeName: TABLE.sortKey, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: [byWorkflow, byStatus, due, purge].map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: "HASH" as const },
            { AttributeName: index.sortKey, KeyType: "RANGE" as const },
          ],
          Projection:
            index.include.length === 0
              ? { ProjectionType: "KEYS_ONLY" as const }
              : { ProjectionType: "INCLUDE" as const, NonKeyAttributes: [...index.include] },
        })),
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    // Exists already (a restarted local stack with data on disk): add what a newer version indexes.
    await addMissingIndexes(client, tableName);
    return;
  }
  for (let i = 0; i < 100; i += 1) {
    const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (out.Table?.TableStatus === "ACTIVE") break;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Creates the indexes of TABLE a table made by an earlier version lacks, and waits for them. */
async function addMissingIndexes(client: DynamoDBClient, tableName: string): Promise<void> {
  const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const existing = new Set((described.Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  for (const index of Object.values(TABLE.indexes)) {
    if (existing.has(index.name)) continue;
    await client.send(
      new UpdateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: index.partitionKey, AttributeType: "S" },
          { AttributeName: index.sortKey, AttributeType: "N" },
        ],
        GlobalSecondaryIndexUpdates: [
          {
            Create: {
              IndexName: index.name,
              KeySchema: [
                { AttributeName: index.partitionKey, KeyType: "HASH" },
                { AttributeName: index.sortKey, KeyType: "RANGE" },
              ],
              Projection: index.include.length === 0 ? { ProjectionType: "KEYS_ONLY" } : { ProjectionType: "INCLUDE", NonKeyAttributes: [...index.include] },
            },
          },
        ],
      }),
    );
    for (let i = 0; i < 200; i += 1) {
      const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
      if (out.Table?.GlobalSecondaryIndexes?.find((g) => g.IndexName === index.name)?.IndexStatus === "ACTIVE") break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
