/**
 * The one place environment variables are read. Each fails fast naming the variable; the CDK
 * construct that grants access also sets it.
 */
import { DurableError } from "../core/errors.js";

export class ConfigError extends DurableError {
  constructor(name: string, problem: string) {
    super("CONFIG", `environment variable ${name} ${problem}`, { details: { variable: name } });
  }
}

export interface EngineConfig {
  tableName: string;
  queueUrl: string;
  retentionSeconds: number;
  /**
   * DURABLE_DLQ_URL: where the worker sends the wake-up of an execution it gave up on (engine
   * retries spent). Required by the worker (`requireDeadLetterQueueUrl`), unused elsewhere.
   */
  deadLetterQueueUrl?: string;
  /** Set only for local runs (DynamoDB Local / the SQS emulator). */
  dynamoEndpoint?: string;
  sqsEndpoint?: string;
  /**
   * DURABLE_PAYLOAD_BUCKET: where values above the threshold go (DURABLE_PAYLOAD_THRESHOLD_BYTES,
   * default 32 KB); DURABLE_PAYLOAD_KMS_KEY: the KMS key values are sealed under (envelope
   * encryption), none when unset. DURABLE_S3_ENDPOINT: set only for local runs.
   */
  payloads?: { bucket: string; thresholdBytes?: number; kmsKeyId?: string; s3Endpoint?: string };
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === "") throw new ConfigError(name, "is not set");
  return value;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(name, `must be a positive whole number, got "${value}"`);
  return n;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): EngineConfig {
  const config: EngineConfig = {
    tableName: required(env, "DURABLE_TABLE_NAME"),
    queueUrl: required(env, "DURABLE_QUEUE_URL"),
    retentionSeconds: positiveInt(env, "DURABLE_RETENTION_SEC", 30 * 86_400),
  };
  if (env.DURABLE_DLQ_URL) config.deadLetterQueueUrl = env.DURABLE_DLQ_URL;
  if (env.DURABLE_DYNAMODB_ENDPOINT) config.dynamoEndpoint = env.DURABLE_DYNAMODB_ENDPOINT;
  if (env.DURABLE_SQS_ENDPOINT) config.sqsEndpoint = env.DURABLE_SQS_ENDPOINT;
  if (env.DURABLE_PAYLOAD_BUCKET) {
    config.payloads = { bucket: env.DURABLE_PAYLOAD_BUCKET };
    if (env.DURABLE_PAYLOAD_THRESHOLD_BYTES) config.payloads.thresholdBytes = positiveInt(env, "DURABLE_PAYLOAD_THRESHOLD_BYTES", 32_768);
    if (env.DURABLE_PAYLOAD_KMS_KEY) config.payloads.kmsKeyId = env.DURABLE_PAYLOAD_KMS_KEY;
    if (env.DURABLE_S3_ENDPOINT) config.payloads.s3Endpoint = env.DURABLE_S3_ENDPOINT;
  } else if (env.DURABLE_PAYLOAD_KMS_KEY) {
    throw new ConfigError("DURABLE_PAYLOAD_BUCKET", "is not set, but DURABLE_PAYLOAD_KMS_KEY is (values are sealed only with an object store configured)");
  }
  return config;
}

/**
 * DURABLE_CURSOR_SECRET: the key that signs pagination cursors (store/cursor.ts), at least 32
 * characters. Undefined when unset: each process then makes a random one, and a cursor is
 * refused by any other Lambda instance, so deployed APIs should set it.
 */
export function readCursorSecret(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.DURABLE_CURSOR_SECRET;
  if (value === undefined || value === "") return undefined;
  if (value.length < 32) throw new ConfigError("DURABLE_CURSOR_SECRET", `must be at least 32 characters, got ${value.length}`);
  return value;
}

/**
 * DURABLE_CURSOR_SECRET_ARN: the Secrets Manager secret whose versions sign cursors (the deployed
 * API reads it at cold start, see cursor-keys.ts); undefined when unset.
 */
export function readCursorSecretArn(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.DURABLE_CURSOR_SECRET_ARN;
  if (value === undefined || value === "") return undefined;
  if (!value.startsWith("arn:")) throw new ConfigError("DURABLE_CURSOR_SECRET_ARN", `must be a secret's ARN, got "${value.slice(0, 40)}"`);
  return value;
}

/** The worker cannot run without a dead-letter queue to send given-up wake-ups to. */
export function requireDeadLetterQueueUrl(config: EngineConfig): string {
  if (!config.deadLetterQueueUrl) throw new ConfigError("DURABLE_DLQ_URL", "is not set (the worker dead-letters the wake-ups of executions it gave up on)");
  return config.deadLetterQueueUrl;
}
