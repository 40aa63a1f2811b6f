/**
 * StoredValues on its own: what it writes where, what a read checks, and how failures of the
 * object store or KMS surface (a throttle or a 5xx is STORE_BUSY, tried again by the API's caller
 * and by the worker; a refusal stays what it is).
 */
import { describe, expect, it } from "vitest";
import { type BlobStore, memoryBlobStore } from "../../lambdas/payloads/blob-store.js";
import { BlobIntegrityError, BlobStoreError } from "../../lambdas/payloads/errors.js";
import { StoreBusyError } from "../../lambdas/store/errors.js";
import { historyItem } from "../../lambdas/store/items.js";
import { StoredValues } from "../../lambdas/store/stored-values.js";

const event = (seq: number, result: string) => historyItem("order-1", { seq, atMs: 1, type: "StepCompleted", position: seq, name: "s", attempt: 1, result });

/** `inner` whose put and get fail with an S3 error of `status` (`awsError`) while `failing` is true. */
function failingStore(inner: BlobStore, status: number, awsError: string): BlobStore & { failing: boolean } {
  const error = () => new BlobStoreError("PutObject", "k", Object.assign(new Error(awsError), { name: awsError, $metadata: { httpStatusCode: status } }));
  const store = {
    failing: true,
    bucket: inner.bucket,
    put: async (key: string, bytes: Uint8Array) => {
      if (store.failing) throw error();
      return inner.put(key, bytes);
    },
    get: async (key: string) => {
      if (store.failing) throw error();
      return inner.get(key);
    },
    deletePrefix: inner.deletePrefix.bind(inner),
    list: inner.list.bind(inner),
  };
  return store;
}

describe("StoredValues", () => {
  it("keeps small data in the item, offloads large data under a key of its execution, item and hash, and reads it back", async () => {
    const blobs = memoryBlobStore();
    const values = new StoredValues({ blobs, offloadThresholdBytes: 1_024 });
    const small = await values.sealItem(event(2, "s"));
    expect(typeof small.data).toBe("string");
    const large = await values.sealItem(event(3, "x".repeat(5_000)));
    expect(large.data).toBeUndefined();
    expect(String(large.dataRef)).toMatch(/^executions\/order-1\/H%23\d+-[0-9a-f]{64}$/);
    expect(await blobs.list("executions/order-1/")).toEqual([large.dataRef]);
    const fresh = new StoredValues({ blobs, offloadThresholdBytes: 1_024 });
    const read = { ...large };
    await fresh.openItem(read);
    expect(JSON.parse(String(read.data))).toMatchObject({ result: "x".repeat(5_000) });
    expect(fresh.counts).toMatchObject({ gets: 1, cacheHits: 0 });
  });

  it("refuses an object whose bytes are not the ones its key names (BlobIntegrityError)", async () => {
    const blobs = memoryBlobStore();
    const values = new StoredValues({ blobs, offloadThresholdBytes: 1_024 });
    const large = await values.sealItem(event(3, "x".repeat(5_000)));
    await blobs.put(String(large.dataRef), new TextEncoder().encode(JSON.stringify({ seq: 3, result: "forged" })));
    await expect(new StoredValues({ blobs, offloadThresholdBytes: 1_024 }).openItem({ ...large })).rejects.toBeInstanceOf(BlobIntegrityError);
  });

  it("turns an S3 throttle or 5xx into STORE_BUSY, writing nothing, and keeps an access refusal as it is", async () => {
    const inner = memoryBlobStore();
    const throttled = failingStore(inner, 503, "SlowDown");
    const values = new StoredValues({ blobs: throttled, offloadThresholdBytes: 1_024 });
    await expect(values.sealItem(event(3, "x".repeat(5_000)))).rejects.toBeInstanceOf(StoreBusyError);
    await expect(values.sealItem(event(3, "x".repeat(5_000)))).rejects.toMatchObject({ code: "STORE_BUSY" });
    expect(await inner.list("executions/")).toEqual([]);
    throttled.failing = false;
    const sealed = await values.sealItem(event(3, "x".repeat(5_000)));
    throttled.failing = true;
    await expect(new StoredValues({ blobs: throttled }).openItem({ ...sealed })).rejects.toBeInstanceOf(StoreBusyError);
    const denied = new StoredValues({ blobs: failingStore(inner, 403, "AccessDenied"), offloadThresholdBytes: 1_024 });
    const refusal = await denied.sealItem(event(4, "y".repeat(5_000))).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(BlobStoreError);
    expect(refusal).not.toBeInstanceOf(StoreBusyError);
  });
});
