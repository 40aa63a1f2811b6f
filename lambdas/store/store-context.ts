/** What the DynamoDB store's modules share: the client, the table and the retention. */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { StoredValues } from "./stored-values.js";

export interface StoreContext {
  doc: DynamoDBDocumentClient;
  tableName: string;
  retentionSeconds: number;
  /** How values are sealed, offloaded and read back (stored-values.ts). */
  values: StoredValues;
}
