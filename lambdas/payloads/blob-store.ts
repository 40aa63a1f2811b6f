/**
 * Where large values go: objects in a bucket, under keys the caller chooses (stored-values.ts
 * names them after the hash of their bytes). `s3BlobStore` is the deployed one; `memoryBlobStore`
 * keeps the same contract in a Map, for tests and the in-memory engine.
 *
 * S3 errors are translated here: a missing key is BlobNotFoundError, anything else BlobStoreError,
 * with the SDK's error as `cause`. Without `s3:ListBucket` on the bucket, S3 answers a missing key
 * with 403 AccessDenied, which is then a BlobStoreError: grant it to read missing keys as missing.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { forEachBounded } from "../core/bounded.js";
import { ownBytes } from "./bytes.js";
import { BlobNotFoundError, BlobStoreError, httpStatus, InvalidBlobKeyError, PayloadError } from "./errors.js";

/** S3's longest key, in bytes of UTF-8. */
const MAX_KEY_BYTES = 1024;
/** Most keys one DeleteObjects takes, and most one ListObjectsV2 page holds. */
const MAX_KEYS_PER_REQUEST = 1000;
/**
 * Objects larger than this are uploaded in parts of this size (S3's parts are at least 5 MiB): a
 * 50 MB value goes up in seven requests in flight together, and within what any S3 endpoint takes
 * in one request body.
 */
export const MULTIPART_PART_BYTES = 8 * 1024 * 1024;
/** Parts of one upload in flight at once. */
const PART_CONCURRENCY = 4;

export interface DeletePrefixOptions {
  /**
   * Deletes only objects last modified before this. S3 records times to the second, so the cut is
   * at the whole second before it: an object written in the same second is kept, never one written
   * after it deleted.
   */
  modifiedBefore?: Date;
}

export interface BlobStore {
  readonly bucket: string;
  /** Durable when it resolves. Same key + same bytes again is harmless. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** BlobNotFoundError when absent. */
  get(key: string): Promise<Uint8Array>;
  /**
   * Deletes every object whose key starts with `prefix` (not empty), page by page (ListObjectsV2,
   * then DeleteObjects of up to 1000); returns how many. BlobStoreError names the keys S3 did not
   * delete.
   */
  deletePrefix(prefix: string, options?: DeletePrefixOptions): Promise<number>;
  /** Keys under prefix (for tests and tools), all pages, in S3's order (UTF-8 bytes). */
  list(prefix: string): Promise<string[]>;
}

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
}

/**
 * The BlobStore on an S3 bucket. Objects are written with `ChecksumAlgorithm: "SHA256"`: S3
 * checks the bytes it received against the SDK's hash before it stores them.
 *
 * @example
 * const blobs = s3BlobStore({ client: new S3Client({}), bucket: process.env.PAYLOAD_BUCKET });
 * await blobs.put("executions/order-1/H%2300000007-<sha256>", bytes);
 */
export function s3BlobStore(options: S3BlobStoreOptions): BlobStore {
  const { client, bucket } = options;

  async function listPage(prefix: string, continuationToken: string | undefined) {
    try {
      return await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: MAX_KEYS_PER_REQUEST, ContinuationToken: continuationToken }));
    } catch (err) {
      throw new BlobStoreError("ListObjectsV2", prefix, err);
    }
  }

  /** Every page of the listing, one after the other (the next asked for once the last is handled). */
  async function* pages(prefix: string) {
    let token: string | undefined;
    do {
      const page = await listPage(prefix, token);
      yield page.Contents ?? [];
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async function deleteKeys(prefix: string, keys: string[], deletedBefore: number): Promise<void> {
    let answer;
    try {
      answer = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    } catch (err) {
      throw new BlobStoreError("DeleteObjects", prefix, err, { deleted: deletedBefore });
    }
    const failed = answer.Errors ?? [];
    if (failed.length > 0) {
      const first = failed[0];
      throw new BlobStoreError(
        "DeleteObjects",
        prefix,
        new Error(`${failed.length} of ${keys.length} objects were not deleted, the first "${first?.Key}": ${first?.Code} ${first?.Message ?? ""}`.trim()),
        { deleted: deletedBefore + keys.length - failed.length, failedCount: failed.length, failed: failed.slice(0, 20).map((e) => ({ key: e.Key, code: e.Code })) },
      );
    }
  }

  /** CreateMultipartUpload, the parts (a few at once), CompleteMultipartUpload; aborted on failure. */
  async function putInParts(key: string, bytes: Uint8Array): Promise<void> {
    let uploadId: string | undefined;
    try {
      const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: "application/octet-stream", ChecksumAlgorithm: "SHA256" }));
      uploadId = created.UploadId;
      if (uploadId === undefined) throw new Error("CreateMultipartUpload answered no UploadId");
      const count = Math.ceil(bytes.length / MULTIPART_PART_BYTES);
      const parts: { PartNumber: number; ETag?: string; ChecksumSHA256?: string }[] = new Array(count);
      await forEachBounded(Array.from({ length: count }, (_v, i) => i), PART_CONCURRENCY, async (index) => {
        const body = bytes.subarray(index * MULTIPART_PART_BYTES, Math.min((index + 1) * MULTIPART_PART_BYTES, bytes.length));
        const part = await client.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: index + 1, Body: body, ChecksumAlgorithm: "SHA256" }),
        );
        parts[index] = { PartNumber: index + 1, ...(part.ETag === undefined ? {} : { ETag: part.ETag }), ...(part.ChecksumSHA256 === undefined ? {} : { ChecksumSHA256: part.ChecksumSHA256 }) };
      });
      await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      // An upload left incomplete costs storage until the bucket's lifecycle rule aborts it.
      if (uploadId !== undefined) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      throw new BlobStoreError("PutObject", key, err, { multipart: true });
    }
  }

  return {
    bucket,
    async put(key, bytes) {
      checkKey(key);
      if (bytes.length > MULTIPART_PART_BYTES) return putInParts(key, bytes);
      try {
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: "application/octet-stream", ChecksumAlgorithm: "SHA256" }),
        );
      } catch (err) {
        throw new BlobStoreError("PutObject", key, err);
      }
    },
    async get(key) {
      checkKey(key);
      try {
        const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (answer.Body === undefined) throw new Error("the answer has no body");
        return await answer.Body.transformToByteArray();
      } catch (err) {
        if (err instanceof PayloadError) throw err;
        if (isMissingKey(err)) throw new BlobNotFoundError(bucket, key, err);
        throw new BlobStoreError("GetObject", key, err);
      }
    },
    async deletePrefix(prefix, deleteOptions = {}) {
      checkDeletePrefix(prefix);
      const cutMs = cutOf(deleteOptions.modifiedBefore);
      let deleted = 0;
      for await (const objects of pages(prefix)) {
        const keys: string[] = [];
        for (const object of objects) {
          if (object.Key === undefined) continue;
          if (cutMs !== undefined && !(object.LastModified !== undefined && object.LastModified.getTime() < cutMs)) continue;
          keys.push(object.Key);
        }
        if (keys.length === 0) continue;
        await deleteKeys(prefix, keys, deleted);
        deleted += keys.length;
      }
      return deleted;
    },
    async list(prefix) {
      checkPrefix(prefix);
      const keys: string[] = [];
      for await (const objects of pages(prefix)) {
        for (const object of objects) if (object.Key !== undefined) keys.push(object.Key);
      }
      return keys;
    },
  };
}

/**
 * The BlobStore contract in memory: bytes are copied in and out, times are `Date.now()`.
 *
 * @example
 * const store = new StoredValues({ blobs: memoryBlobStore() });
 */
export function memoryBlobStore(bucket = "memory"): BlobStore {
  const objects = new Map<string, { bytes: Uint8Array; modifiedAtMs: number }>();
  const keysUnder = (prefix: string): string[] => [...objects.keys()].filter((key) => key.startsWith(prefix)).sort(byUtf8);
  return {
    bucket,
    async put(key, bytes) {
      checkKey(key);
      objects.set(key, { bytes: ownBytes(bytes), modifiedAtMs: Date.now() });
    },
    async get(key) {
      checkKey(key);
      const object = objects.get(key);
      if (object === undefined) throw new BlobNotFoundError(bucket, key);
      return ownBytes(object.bytes);
    },
    async deletePrefix(prefix, options = {}) {
      checkDeletePrefix(prefix);
      const cutMs = cutOf(options.modifiedBefore);
      let deleted = 0;
      for (const key of keysUnder(prefix)) {
        if (cutMs !== undefined && !((objects.get(key)?.modifiedAtMs ?? Infinity) < cutMs)) continue;
        objects.delete(key);
        deleted += 1;
      }
      return deleted;
    },
    async list(prefix) {
      checkPrefix(prefix);
      return keysUnder(prefix);
    },
  };
}

/** The whole second at or before `modifiedBefore`, in epoch milliseconds (see DeletePrefixOptions). */
function cutOf(modifiedBefore: Date | undefined): number | undefined {
  if (modifiedBefore === undefined) return undefined;
  const ms = modifiedBefore.getTime();
  if (Number.isNaN(ms)) throw new RangeError("deletePrefix: modifiedBefore is not a valid date");
  return Math.floor(ms / 1000) * 1000;
}

function isMissingKey(err: unknown): boolean {
  const name = err instanceof Error ? err.name : undefined;
  return name === "NoSuchKey" || (httpStatus(err) === 404 && name !== "NoSuchBucket");
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0 || Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
    throw new InvalidBlobKeyError(`a blob key must be 1 to ${MAX_KEY_BYTES} bytes of UTF-8, got ${typeof key === "string" ? `${Buffer.byteLength(key, "utf8")} bytes` : typeof key}`, {
      key: typeof key === "string" ? key.slice(0, 200) : undefined,
    });
  }
}

function checkPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== "string" || Buffer.byteLength(prefix, "utf8") > MAX_KEY_BYTES) {
    throw new InvalidBlobKeyError(`a prefix must be a string of at most ${MAX_KEY_BYTES} bytes of UTF-8`);
  }
}

/** An empty prefix would delete the whole bucket: refused. */
function checkDeletePrefix(prefix: unknown): asserts prefix is string {
  checkPrefix(prefix);
  if (prefix.length === 0) throw new InvalidBlobKeyError("deletePrefix needs a prefix: an empty one would delete every object in the bucket");
}

function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
