/**
 * The S3 emulator keeps nothing across restarts, DynamoDB Local does (`dataDir`): without a copy
 * on disk, an execution kept across a restart would refer to objects that are gone. This store
 * writes each object to the emulator and to a folder, and on start puts the folder's objects back
 * into the emulator, so the engine goes on reading through the real S3 API.
 *
 *   <dir>/<sha256 of the key>   the key (one line of JSON), then the object's bytes; its mtime
 *                               is when the object was written
 *
 * The file's mtime stands for S3's LastModified (the emulator's own is the restart's time for a
 * restored object), so a purge deletes by it.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BlobStore, DeletePrefixOptions } from "../lambdas/payloads/blob-store.js";

/** Longest header line: a key is at most 1024 bytes of UTF-8, JSON-quoted. */
const MAX_HEADER_BYTES = 8_192;

/**
 * `inner` (the emulator's bucket) with every object also kept in `dir`; the objects already in
 * `dir` are put back into `inner` before it resolves.
 *
 * @example
 * const blobs = await mirroredBlobStore(s3BlobStore({ client: s3, bucket }), join(dataDir, "objects"));
 */
export async function mirroredBlobStore(inner: BlobStore, dir: string): Promise<BlobStore> {
  await mkdir(dir, { recursive: true });
  const fileOf = (key: string) => join(dir, createHash("sha256").update(key).digest("hex"));
  for (const name of await readdir(dir)) {
    const file = join(dir, name);
    if (name.endsWith(".tmp")) {
      await unlink(file).catch(() => undefined);
      continue;
    }
    const bytes = await readFile(file);
    const newline = bytes.indexOf(0x0a);
    await inner.put(JSON.parse(bytes.subarray(0, newline).toString("utf8")) as string, new Uint8Array(bytes.subarray(newline + 1)));
  }

  return {
    bucket: inner.bucket,
    async put(key, bytes) {
      await inner.put(key, bytes);
      // Written whole or not at all: a crash mid-write leaves a .tmp, dropped at the next start.
      const file = fileOf(key);
      await writeFile(`${file}.tmp`, Buffer.concat([Buffer.from(`${JSON.stringify(key)}\n`, "utf8"), bytes]));
      await rename(`${file}.tmp`, file);
    },
    get: (key) => inner.get(key),
    async deletePrefix(prefix: string, options: DeletePrefixOptions = {}) {
      const cutMs = options.modifiedBefore?.getTime();
      let deleted = 0;
      for (const name of await readdir(dir)) {
        if (name.endsWith(".tmp")) continue;
        const file = join(dir, name);
        const key = await keyOf(file);
        if (!key.startsWith(prefix)) continue;
        if (cutMs !== undefined && (await stat(file)).mtimeMs >= cutMs) continue;
        // The key alone: every key ends in its object's hash, so no other key starts with it.
        await inner.deletePrefix(key);
        await unlink(file);
        deleted += 1;
      }
      return deleted;
    },
    list: (prefix) => inner.list(prefix),
  };
}

/** The key a mirrored file holds, from its first line. */
async function keyOf(file: string): Promise<string> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, MAX_HEADER_BYTES, 0);
    const newline = buffer.subarray(0, bytesRead).indexOf(0x0a);
    return JSON.parse(buffer.subarray(0, newline).toString("utf8")) as string;
  } finally {
    await handle.close();
  }
}
