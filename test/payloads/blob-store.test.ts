import { createHash, randomUUID } from "node:crypto";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSqsEmulator, type RunningSqsEmulator } from "../../local/sqs-emulator.js";
import { BlobNotFoundError, BlobStoreError, memoryBlobStore, s3BlobStore } from "../../lambdas/payloads/index.js";
import { MULTIPART_PART_BYTES } from "../../lambdas/payloads/blob-store.js";
import { blobStoreContract } from "./blob-store-contract.js";

/** fauxqs serves S3 on the same endpoint as SQS. */
let emulator: RunningSqsEmulator;
let client: S3Client;
const bucket = `payloads-${randomUUID()}`;
/** Headers of the requests the client sent, by operation. */
const sent: { operation: string; headers: Record<string, string> }[] = [];

beforeAll(async () => {
  emulator = await startSqsEmulator();
  client = new S3Client({
    endpoint: emulator.endpoint,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      sent.push({ operation: String(context.commandName), headers: { ...(request.headers ?? {}) } });
      return next(args);
    },
    { step: "finalizeRequest", name: "recordHeaders" },
  );
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  client?.destroy();
  await emulator?.stop();
});

blobStoreContract("s3BlobStore on the S3 emulator", () => s3BlobStore({ client, bucket }));
blobStoreContract("memoryBlobStore", () => memoryBlobStore("memory-test"));

describe("s3BlobStore", () => {
  it("uploads an object over 8 MiB in parts (50 MB, past the emulator's 11 MiB request limit) and reads it back whole", async () => {
    const store = s3BlobStore({ client, bucket });
    const bytes = new Uint8Array(50 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) % 251;
    const key = `multipart/${randomUUID()}`;
    sent.length = 0;
    await store.put(key, bytes);
    expect(sent.filter((r) => r.operation === "UploadPartCommand")).toHaveLength(Math.ceil(bytes.length / MULTIPART_PART_BYTES));
    expect(sent.some((r) => r.operation === "PutObjectCommand")).toBe(false);
    const back = await store.get(key);
    expect(createHash("sha256").update(back).digest("hex")).toBe(createHash("sha256").update(bytes).digest("hex"));
  });

  it("puts objects as octet-stream with a SHA-256 checksum of their bytes", async () => {
    const store = s3BlobStore({ client, bucket });
    const bytes = new TextEncoder().encode("checked bytes");
    sent.length = 0;
    await store.put(`checksum/${randomUUID()}`, bytes);
    const put = sent.find((r) => r.operation === "PutObjectCommand");
    expect(put?.headers["content-type"]).toBe("application/octet-stream");
    expect(put?.headers["x-amz-checksum-sha256"]).toBe(createHash("sha256").update(bytes).digest("base64"));
  });

  it("a bucket that does not exist is BlobStoreError, not a missing key", async () => {
    const store = s3BlobStore({ client, bucket: `missing-${randomUUID()}` });
    const err = await store.get("k").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobStoreError);
    expect(err).not.toBeInstanceOf(BlobNotFoundError);
    expect(err).toMatchObject({ code: "BLOB_STORE_FAILED", awsError: "NoSuchBucket", details: { operation: "GetObject", httpStatus: 404 } });
    await expect(store.put("k", Uint8Array.of(1))).rejects.toMatchObject({ name: "BlobStoreError", details: { operation: "PutObject" } });
    await expect(store.deletePrefix("p/")).rejects.toMatchObject({ name: "BlobStoreError", details: { operation: "ListObjectsV2" } });
  });

  it("keys DeleteObjects did not delete are BlobStoreError naming them", async () => {
    // fauxqs never answers a key it did not delete: the answer S3 gives then is stood in for.
    const refusing = new S3Client({ endpoint: emulator.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
    refusing.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== "DeleteObjectsCommand") return next(args);
        const keys = (args.input as { Delete: { Objects: { Key: string }[] } }).Delete.Objects.map((o) => o.Key);
        return { output: { $metadata: { httpStatusCode: 200 }, Errors: [{ Key: keys[0], Code: "AccessDenied", Message: "Access Denied" }] }, response: {} };
      },
      { step: "initialize", name: "refuseOneDelete" },
    );
    const prefix = `refused/${randomUUID()}/`;
    const store = s3BlobStore({ client: refusing, bucket });
    await store.put(`${prefix}a`, Uint8Array.of(1));
    await store.put(`${prefix}b`, Uint8Array.of(2));
    const err = await store.deletePrefix(prefix).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobStoreError);
    expect(err).toMatchObject({ details: { operation: "DeleteObjects", key: prefix, failedCount: 1, deleted: 1, failed: [{ key: `${prefix}a`, code: "AccessDenied" }] } });
    expect((err as Error).message).toContain(`${prefix}a`);
    refusing.destroy();
  });

  it("a missing key keeps the SDK's NoSuchKey as its cause", async () => {
    const err = await s3BlobStore({ client, bucket }).get(`missing/${randomUUID()}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobNotFoundError);
    expect((err as Error).cause).toMatchObject({ name: "NoSuchKey" });
  });
});
