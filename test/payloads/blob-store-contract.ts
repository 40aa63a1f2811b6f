/**
 * What every BlobStore does, as tests: `s3BlobStore` against the S3 emulator and `memoryBlobStore`
 * run the same ones.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { BlobNotFoundError, InvalidBlobKeyError, type BlobStore } from "../../lambdas/payloads/index.js";

/** Puts `count` small objects under `prefix`, a few at a time; returns their keys in order. */
export async function putMany(store: BlobStore, prefix: string, count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(5, "0")}`);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < keys.length) {
        const key = keys[next++] as string;
        await store.put(key, new TextEncoder().encode(key));
      }
    }),
  );
  return keys;
}

export function blobStoreContract(name: string, makeStore: () => Promise<BlobStore> | BlobStore): void {
  describe(`${name} (BlobStore contract)`, () => {
    let store: BlobStore;
    /** A prefix of the test's own, so tests share the bucket and never each other's objects. */
    const fresh = (): string => `t-${randomUUID()}/`;

    beforeAll(async () => {
      store = await makeStore();
    });

    it("a 5 MB value comes back byte for byte", async () => {
      const key = `${fresh()}big`;
      const bytes = randomBytes(5 * 1024 * 1024);
      await store.put(key, bytes);
      const back = await store.get(key);
      expect(back.length).toBe(bytes.length);
      expect(Buffer.from(back).equals(bytes)).toBe(true);
    });

    it("writing the same key and bytes again leaves one object with those bytes", async () => {
      const prefix = fresh();
      const bytes = new TextEncoder().encode("same");
      await store.put(`${prefix}k`, bytes);
      await store.put(`${prefix}k`, bytes);
      expect(await store.list(prefix)).toEqual([`${prefix}k`]);
      expect(new TextDecoder().decode(await store.get(`${prefix}k`))).toBe("same");
    });

    it("what is stored does not change when the caller's arrays do", async () => {
      const key = `${fresh()}k`;
      const bytes = Uint8Array.from([1, 2, 3]);
      await store.put(key, bytes);
      bytes[0] = 9;
      const read = await store.get(key);
      read[1] = 9;
      expect([...(await store.get(key))]).toEqual([1, 2, 3]);
    });

    it("a missing key is BlobNotFoundError naming the bucket and key", async () => {
      const key = `${fresh()}missing`;
      const err = await store.get(key).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BlobNotFoundError);
      expect(err).toMatchObject({ code: "BLOB_NOT_FOUND", bucket: store.bucket, key, details: { bucket: store.bucket, key } });
    });

    it("deletePrefix deletes every object under the prefix, over several pages, and nothing else", async () => {
      const base = fresh();
      const target = `${base}a/`;
      await putMany(store, target, 1_205);
      const neighbours = [`${base}a`, `${base}ab/0`, `${base}b/0`, `${base}A/0`];
      for (const key of neighbours) await store.put(key, Uint8Array.of(1));

      expect(await store.deletePrefix(target)).toBe(1_205);
      expect(await store.list(target)).toEqual([]);
      expect((await store.list(base)).sort()).toEqual([...neighbours].sort());
      await expect(store.get(`${target}00000`)).rejects.toBeInstanceOf(BlobNotFoundError);
      expect(await store.deletePrefix(target)).toBe(0);
    });

    it("list gives every key under the prefix, over several pages, in key order", async () => {
      const prefix = fresh();
      const keys = await putMany(store, prefix, 1_003);
      await store.put(`${fresh()}elsewhere`, Uint8Array.of(1));
      expect(await store.list(prefix)).toEqual(keys);
      expect(await store.list(`${prefix}0100`)).toEqual(keys.slice(1000, 1003));
      expect(await store.list(fresh())).toEqual([]);
    });

    it("deletePrefix with modifiedBefore deletes only objects modified before it", async () => {
      const prefix = fresh();
      const startMs = Date.now();
      await putMany(store, prefix, 3);
      expect(await store.deletePrefix(prefix, { modifiedBefore: new Date(startMs - 2_000) })).toBe(0);
      expect(await store.list(prefix)).toHaveLength(3);
      expect(await store.deletePrefix(prefix, { modifiedBefore: new Date(Date.now() + 2_000) })).toBe(3);
      expect(await store.list(prefix)).toEqual([]);
    });

    it("keys with spaces, %, #, +, = and non-ASCII characters are stored, listed and deleted as they are", async () => {
      const prefix = fresh();
      const keys = [`${prefix}a b`, `${prefix}order%2F1/H%2300000001-ab`, `${prefix}x#y+z=w`, `${prefix}café/ü`, `${prefix}?&`];
      for (const key of keys) await store.put(key, new TextEncoder().encode(key));
      for (const key of keys) expect(new TextDecoder().decode(await store.get(key))).toBe(key);
      expect((await store.list(prefix)).sort()).toEqual([...keys].sort());
      expect(await store.deletePrefix(prefix)).toBe(keys.length);
      expect(await store.list(prefix)).toEqual([]);
    });

    it("refuses keys S3 would refuse, and an empty prefix to delete", async () => {
      await expect(store.put("", Uint8Array.of(1))).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.put("é".repeat(513), Uint8Array.of(1))).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.get("")).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.deletePrefix("")).rejects.toBeInstanceOf(InvalidBlobKeyError);
      const prefix = fresh();
      const longest = `${prefix}${"k".repeat(1024 - prefix.length)}`;
      expect(Buffer.byteLength(longest)).toBe(1024);
      await store.put(longest, Uint8Array.of(7));
      expect([...(await store.get(longest))]).toEqual([7]);
    });
  });
}
