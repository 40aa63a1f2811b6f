/**
 * createTable on a table made by an earlier version (a `durable dev` data folder): indexes it
 * lacks are added, and one whose projection changed is made again, on DynamoDB Local.
 */
import { CreateTableCommand, DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { TABLE } from "../../lambdas/store/schema.js";
import { createTable } from "../../lambdas/store/table.js";
import { testClients, uniqueName } from "../support/services.js";

describe("createTable on an existing table", () => {
  it("adds a missing index and remakes one projected differently", async () => {
    const { dynamo } = testClients();
    const tableName = uniqueName("old-table");
    const { byStatus, byTag } = TABLE.indexes;
    // As an earlier version made it: no byTag index at all, byStatus projecting something else.
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: "PK", AttributeType: "S" },
          { AttributeName: "SK", AttributeType: "S" },
          { AttributeName: byStatus.partitionKey.name, AttributeType: "S" },
          { AttributeName: byStatus.sortKey.name, AttributeType: "N" },
        ],
        KeySchema: [
          { AttributeName: "PK", KeyType: "HASH" },
          { AttributeName: "SK", KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: byStatus.name,
            KeySchema: [
              { AttributeName: byStatus.partitionKey.name, KeyType: "HASH" },
              { AttributeName: byStatus.sortKey.name, KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: ["somethingElse"] },
          },
        ],
      }),
    );
    await createTable(dynamo, tableName);
    const indexes = (await dynamo.send(new DescribeTableCommand({ TableName: tableName }))).Table?.GlobalSecondaryIndexes ?? [];
    const projection = (name: string) => indexes.find((i) => i.IndexName === name)?.Projection?.NonKeyAttributes ?? [];
    expect(indexes.map((i) => i.IndexName).sort()).toEqual(Object.values(TABLE.indexes).map((i) => i.name).sort());
    expect(projection(byStatus.name)).toEqual([...byStatus.include]);
    expect(projection(byTag.name)).toEqual([...byTag.include]);
  });
});
