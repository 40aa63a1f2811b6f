/** What the DynamoDB store's modules share: the client, the table and the retention. */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

export interface StoreContext {
  doc: DynamoDBDocumentClient;
  tableName: string;
  retentionSeconds: number;
}
