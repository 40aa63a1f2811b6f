/** Builds the engine's dependencies from the environment, for the deployed handlers. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { s3BlobStore } from "../payloads/blob-store.js";
import { createPayloadCodecs } from "../payloads/codec.js";
import { gzipCodec } from "../payloads/gzip.js";
import { kmsEnvelopeCodec } from "../payloads/kms.js";
import type { PayloadOptions } from "../store/stored-values.js";
import { randomUUID } from "node:crypto";
import type { WorkflowRegistry } from "../core/workflow.js";
import type { EngineDeps } from "../engine/process-wakeup.js";
import { SqsWakeupScheduler } from "../queue/wakeups.js";
import { SqsRedelivery } from "../queue/redelivery.js";
import { RunCache } from "../engine/run-cache.js";
import { DynamoExecutionStore } from "../store/dynamo-store.js";
import { type EngineConfig, readConfig, requireDeadLetterQueueUrl } from "./config.js";
import { powertoolsLogger, powertoolsMetrics } from "./observability.js";

/** `worker: true` also wires engine-retry backoff and the dead-letter queue (DURABLE_DLQ_URL, required then). */
export function createEngineDeps(registry: WorkflowRegistry, env: NodeJS.ProcessEnv = process.env, options: { worker?: boolean } = {}): EngineDeps {
  const config = readConfig(env);
  const deadLetterQueueUrl = options.worker ? requireDeadLetterQueueUrl(config) : undefined;
  const dynamo = new DynamoDBClient(config.dynamoEndpoint ? { endpoint: config.dynamoEndpoint } : {});
  const sqs = new SQSClient(config.sqsEndpoint ? { endpoint: config.sqsEndpoint } : {});
  return {
    store: new DynamoExecutionStore({
      client: dynamo,
      tableName: config.tableName,
      retentionSeconds: config.retentionSeconds,
      ...(config.payloads ? { payloads: payloadOptions(config.payloads) } : {}),
    }),
    scheduler: new SqsWakeupScheduler(sqs, config.queueUrl),
    registry,
    clock: Date.now,
    random: Math.random,
    workerId: `${env.AWS_LAMBDA_LOG_STREAM_NAME ?? "worker"}/${randomUUID()}`,
    logger: powertoolsLogger,
    metrics: powertoolsMetrics,
    runCache: new RunCache(),
    ...(deadLetterQueueUrl ? { redelivery: new SqsRedelivery(sqs, config.queueUrl, deadLetterQueueUrl) } : {}),
  };
}

/** The object store and codec chain the construct configured (DURABLE_PAYLOAD_*). */
function payloadOptions(config: NonNullable<EngineConfig["payloads"]>): PayloadOptions {
  const s3 = new S3Client(config.s3Endpoint ? { endpoint: config.s3Endpoint, forcePathStyle: true } : {});
  return {
    blobs: s3BlobStore({ client: s3, bucket: config.bucket }),
    ...(config.thresholdBytes === undefined ? {} : { offloadThresholdBytes: config.thresholdBytes }),
    // Compressed before it is sealed (ciphertext does not compress); every value names its chain,
    // so values written before encryption was turned on stay readable.
    ...(config.kmsKeyId === undefined
      ? {}
      : { codecs: createPayloadCodecs({ codecs: [gzipCodec(), kmsEnvelopeCodec({ client: new KMSClient({}), keyId: config.kmsKeyId })] }) }),
  };
}
