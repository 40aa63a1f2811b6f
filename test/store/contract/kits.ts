/**
 * The stores the contract suite runs against: the DynamoDB store on this run's DynamoDB Local
 * (a table of its own per `newStore`), and the in-memory store.
 */
import { DynamoExecutionStore } from "../../../lambdas/store/dynamo-store.js";
import type { ExecutionStore } from "../../../lambdas/ports/store.js";
import { createTable } from "../../../lambdas/store/table.js";
import { MemoryExecutionStore } from "../../../lambdas/testing/memory-store.js";
import { testClients, uniqueName } from "../../support/services.js";

export interface StoreSettings {
  retentionSeconds?: number;
  singlePutSteps?: boolean;
}

export interface StoreKit {
  name: string;
  /** A store that sees nothing of any other (its own table, or its own memory). */
  newStore(settings?: StoreSettings): Promise<ExecutionStore>;
}

const dynamoKit: StoreKit = {
  name: "DynamoExecutionStore",
  async newStore(settings = {}) {
    const clients = testClients();
    const tableName = uniqueName("contract");
    await createTable(clients.dynamo, tableName);
    return new DynamoExecutionStore({ client: clients.doc, tableName, ...settings });
  },
};

const memoryKit: StoreKit = {
  name: "MemoryExecutionStore",
  async newStore(settings = {}) {
    return new MemoryExecutionStore(settings);
  },
};

export const STORE_KITS: readonly StoreKit[] = [dynamoKit, memoryKit];
