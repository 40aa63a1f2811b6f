/**
 * The deployed handlers' payload settings, from the environment the construct writes: the bucket
 * and threshold turn offload on (50 MB values), a KMS key adds the envelope codec, and a key
 * without a bucket, or a threshold that is not a number, fails at cold start naming the variable.
 */
import { describe, expect, it } from "vitest";
import { MAX_OFFLOADED_VALUE_BYTES, MAX_VALUE_BYTES } from "../../lambdas/core/limits.js";
import { WorkflowRegistry } from "../../lambdas/core/workflow.js";
import { ConfigError, readConfig } from "../../lambdas/handlers/config.js";
import { createEngineDeps } from "../../lambdas/handlers/deps.js";

const base = { DURABLE_TABLE_NAME: "t", DURABLE_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/1/q", AWS_REGION: "us-east-1" };
const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

describe("payload settings from the environment", () => {
  it("reads the bucket, the threshold and the key", () => {
    expect(readConfig(base).payloads).toBeUndefined();
    expect(readConfig({ ...base, DURABLE_PAYLOAD_BUCKET: "b", DURABLE_PAYLOAD_THRESHOLD_BYTES: "65536", DURABLE_PAYLOAD_KMS_KEY: key }).payloads).toStrictEqual({
      bucket: "b",
      thresholdBytes: 65_536,
      kmsKeyId: key,
    });
  });

  it("refuses a key without a bucket and a threshold that is not a whole number, naming the variable", () => {
    expect(() => readConfig({ ...base, DURABLE_PAYLOAD_KMS_KEY: key })).toThrow(ConfigError);
    expect(() => readConfig({ ...base, DURABLE_PAYLOAD_KMS_KEY: key })).toThrow(/DURABLE_PAYLOAD_BUCKET/);
    expect(() => readConfig({ ...base, DURABLE_PAYLOAD_BUCKET: "b", DURABLE_PAYLOAD_THRESHOLD_BYTES: "32k" })).toThrow(/DURABLE_PAYLOAD_THRESHOLD_BYTES/);
  });

  it("gives the store an object store (50 MB values) only with a bucket", () => {
    const registry = new WorkflowRegistry([]);
    expect(createEngineDeps(registry, base).store.maxValueBytes).toBe(MAX_VALUE_BYTES);
    expect(createEngineDeps(registry, { ...base, DURABLE_PAYLOAD_BUCKET: "b" }).store.maxValueBytes).toBe(MAX_OFFLOADED_VALUE_BYTES);
    expect(createEngineDeps(registry, { ...base, DURABLE_PAYLOAD_BUCKET: "b", DURABLE_PAYLOAD_KMS_KEY: key }).store.maxValueBytes).toBe(MAX_OFFLOADED_VALUE_BYTES);
  });
});
