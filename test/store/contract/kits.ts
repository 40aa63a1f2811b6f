/**
 * The stores the contract suite runs against: the DynamoDB store on this run's DynamoDB Local
 * (a table of its own per `newStore`), plain and with its values sealed and offloaded to the S3
 * emulator, and the in-memory store.
 */
import { randomBytes } from "node:crypto";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { s3BlobStore } from "../../../lambdas/payloads/blob-store.js";
import { createPayloadCodecs } from "../../../lambdas/payloads/codec.js";
import { gzipCodec } from "../../../lambdas/payloads/gzip.js";
import { localEnvelopeCodec } from "../../../lambdas/payloads/local-envelope.js";
import { DynamoExecutionStore } from "../../../lambdas/store/dynamo-store.js";
import { MIN_OFFLOAD_THRESHOLD_BYTES } from "../../../lambdas/store/stored-values.js";
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

/**
 * The DynamoDB store as deployed with encryption: values sealed by gzip and the envelope codec,
 * those over 1 KB (the lowest threshold there is) in a bucket of the S3 emulator. Every contract
 * test then goes through sealing, offload and the reads that undo them.
 */
const sealedDynamoKit: StoreKit = {
  name: "DynamoExecutionStore (values sealed, offloaded to S3 above 1 KB)",
  async newStore(settings = {}) {
    const clients = testClients();
    const tableName = uniqueName("sealed");
    await createTable(clients.dynamo, tableName);
    const bucket = tableName.toLowerCase();
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const codecs = createPayloadCodecs({ codecs: [gzipCodec(), localEnvelopeCodec({ masterKey: randomBytes(32), keyId: "contract" })] });
    return new DynamoExecutionStore({
      client: clients.doc,
      tableName,
      payloads: { blobs: s3BlobStore({ client: clients.s3, bucket }), codecs, offloadThresholdBytes: MIN_OFFLOAD_THRESHOLD_BYTES },
      ...settings,
    });
  },
};

const memoryKit: StoreKit = {
  name: "MemoryExecutionStore",
  async newStore(settings = {}) {
    return new MemoryExecutionStore(settings);
  },
};

export const STORE_KITS: readonly StoreKit[] = [dynamoKit, sealedDynamoKit, memoryKit];
