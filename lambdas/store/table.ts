/**
 * Creates the table for the local stack and tests, with the same keys and indexes the CDK
 * construct deploys (lib/durable-workflows.ts; test/infra checks both against TABLE).
 */
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient, ResourceInUseException, UpdateTimeToLiveCommand } from "@aws-sdk/client-dynamodb";
import { TABLE } from "./keys";

export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const { byWorkflow, byStatus, due } = TABLE.indexes;
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
        ],
        KeySchema: [
          { AttributeName: TABLE.partitionKey, KeyType: "HASH" },
          { AttributeName: TABLE.sortKey, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: [byWorkflow, byStatus, due].map((index) => ({
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
    return; // exists already (a restarted local stack with data on disk)
  }
  for (let i = 0; i < 100; i += 1) {
    const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (out.Table?.TableStatus === "ACTIVE") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await client.send(
    new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true } }),
  );
}
