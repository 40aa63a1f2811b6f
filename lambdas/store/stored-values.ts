/**
 * How values are kept in the table: as JSON text, sealed by a payload codec chain (compressed,
 * encrypted), and above a threshold offloaded to an object store with only a reference left in
 * the item.
 *
 *   history / inbox item `data`   S: JSON          (no codec, at most the threshold)
 *                                 B: sealed frame  (a codec chain, at most the threshold)
 *                                 dataRef + dataBytes: the object `executions/<id>/<SK>-<sha256>`
 *   execution item input, output,  S: JSON or B: sealed frame, never offloaded (the execution item
 *   error, publishedState          only repeats small values; larger ones are read from history)
 *
 * An object is written, and durable, before the item that refers to it (sealing happens before a
 * write is sent); a crash in between leaves an orphan object, never a dangling reference. An
 * object's key ends in the SHA-256 of its bytes: a retried or duplicated write of the same bytes
 * writes the same key, two different values never share one (a zombie worker's result cannot
 * replace the winner's), and a read checks the bytes against the key. Objects go with their
 * execution when it is purged (`deleteObjects`), and a lifecycle rule removes orphans.
 *
 * Values are bound to their execution (the codec context): a sealed value copied to another
 * execution does not decrypt there.
 */
import { createHash } from "node:crypto";
import type { BlobStore } from "../payloads/blob-store.js";
import { createPayloadCodecs, isFramedValue, type PayloadCodecs } from "../payloads/codec.js";
import { BlobIntegrityError, BlobStoreError, KmsRequestError } from "../payloads/errors.js";
import { MAX_OFFLOADED_VALUE_BYTES, MAX_VALUE_BYTES, maxEventBytesFor } from "../core/limits.js";
import { PayloadTooLargeError, StoreBusyError } from "./errors.js";
import { executionIdFromPk, META_SK } from "./keys.js";
import { forEachBounded } from "../core/bounded.js";

export const DEFAULT_OFFLOAD_THRESHOLD_BYTES = 32_768;
export const MIN_OFFLOAD_THRESHOLD_BYTES = 1_024;
/** An item holds its key, names and envelope besides the value: this leaves room for them below 400 KB. */
export const MAX_OFFLOAD_THRESHOLD_BYTES = 300_000;
/** Decoded objects a warm process keeps, by the bytes of their JSON. */
export const DEFAULT_OBJECT_CACHE_BYTES = 64 * 1024 * 1024;
/** Where every execution's objects live in the bucket. */
export const OBJECT_PREFIX = "executions/";
/** What an offloaded item weighs in a transaction: keys, type, times and the reference. */
const REFERENCE_ITEM_BYTES = 1_024;
/** Objects read or written at once for one request. */
const OBJECT_CONCURRENCY = 8;

/** Execution item attributes that hold values (and the update values that set them). */
const META_VALUE_ATTRIBUTES = ["input", "output", "error", "publishedState"] as const;
const UPDATE_VALUE_NAMES = [":input", ":output", ":error", ":publishedState"] as const;

export interface PayloadOptions {
  /** Where values above the threshold go. Without it every value must fit in an item (MAX_VALUE_BYTES). */
  blobs?: BlobStore;
  /** Applied to every value stored (compression, encryption); without it values are stored as JSON. */
  codecs?: PayloadCodecs;
  /** Values whose stored form is larger than this go to `blobs`. Default 32 KB. */
  offloadThresholdBytes?: number;
  /** Decoded objects kept in memory, in bytes of JSON. Default 64 MB; 0 keeps none. */
  objectCacheBytes?: number;
}

/** Counts of object-store requests made, for the benchmark and tests. */
export interface ObjectCounts {
  puts: number;
  gets: number;
  cacheHits: number;
  putBytes: number;
  getBytes: number;
}

export class StoredValues {
  readonly thresholdBytes: number;
  /** Largest value (as JSON) this store can record. */
  readonly maxValueBytes: number;
  /** Largest output repeated on the execution item (larger ones are read from their event). */
  readonly inlineOutputBytes: number;
  readonly counts: ObjectCounts = { puts: 0, gets: 0, cacheHits: 0, putBytes: 0, getBytes: 0 };
  private readonly blobs: BlobStore | undefined;
  /** The chain values are written with; undefined: written as JSON. */
  private readonly codecs: PayloadCodecs | undefined;
  /** What reads undo (every codec a stored value may name, the current chain's and older ones). */
  private readonly readCodecs: PayloadCodecs;
  private readonly cache: ByteBoundedCache;

  constructor(options: PayloadOptions = {}, inlineValueBytes = 64_000) {
    const threshold = options.offloadThresholdBytes ?? DEFAULT_OFFLOAD_THRESHOLD_BYTES;
    if (!Number.isInteger(threshold) || threshold < MIN_OFFLOAD_THRESHOLD_BYTES || threshold > MAX_OFFLOAD_THRESHOLD_BYTES) {
      throw new RangeError(`offloadThresholdBytes must be an integer from ${MIN_OFFLOAD_THRESHOLD_BYTES} to ${MAX_OFFLOAD_THRESHOLD_BYTES}, got ${threshold}`);
    }
    this.thresholdBytes = threshold;
    this.blobs = options.blobs;
    this.codecs = options.codecs !== undefined && options.codecs.writes.length > 0 ? options.codecs : undefined;
    this.readCodecs = options.codecs ?? createPayloadCodecs({ codecs: [] });
    this.maxValueBytes = this.blobs ? MAX_OFFLOADED_VALUE_BYTES : MAX_VALUE_BYTES;
    this.inlineOutputBytes = this.blobs ? Math.min(inlineValueBytes, Math.floor(threshold / 2)) : inlineValueBytes;
    this.cache = new ByteBoundedCache(options.objectCacheBytes ?? DEFAULT_OBJECT_CACHE_BYTES);
  }

  /** True when values are written only as JSON text (no codec, no object store). */
  get plain(): boolean {
    return this.blobs === undefined && this.codecs === undefined;
  }

  /** True when nothing stored can need opening: no object store and no codec to read with. */
  private get readsPlain(): boolean {
    return this.blobs === undefined && this.readCodecs.reads.length === 0;
  }

  /**
   * The item as it is written: its `data` and value attributes sealed, large data offloaded (the
   * object durable when this resolves). Returns a copy; `item` is left as it was.
   */
  async sealItem(item: Record<string, unknown>): Promise<Record<string, unknown>> {
    const pk = item.PK;
    if (typeof pk !== "string" || !pk.startsWith("EXEC#")) return item;
    const executionId = executionIdFromPk(pk);
    if (typeof item.data === "string") {
      this.checkEventSize(item, Buffer.byteLength(item.data));
      if (this.plain) return item;
      const { data: _data, ...rest } = item;
      return { ...rest, ...(await this.sealData(executionId, String(item.SK), item.data)) };
    }
    return item.SK === META_SK ? this.sealStrings(executionId, item, META_VALUE_ATTRIBUTES) : item;
  }

  /** Seals the values an execution-item update sets (`:input`, `:output`, `:error`, `:publishedState`). */
  async sealUpdateValues(executionId: string, values: Record<string, unknown> | undefined): Promise<Record<string, unknown> | undefined> {
    return values === undefined ? values : this.sealStrings(executionId, values, UPDATE_VALUE_NAMES);
  }

  /** A copy of `record` with its JSON text under `names` sealed; `record` itself when there is no codec. */
  private async sealStrings(executionId: string, record: Record<string, unknown>, names: readonly string[]): Promise<Record<string, unknown>> {
    if (!this.codecs) return record;
    const sealed = { ...record };
    for (const name of names) {
      const value = sealed[name];
      if (typeof value === "string") sealed[name] = await this.encode(executionId, value);
    }
    return sealed;
  }

  /** Undoes `sealItem` in place: `data` and value attributes are JSON text again. */
  async openItem(item: Record<string, unknown>): Promise<void> {
    const pk = item.PK;
    const executionId = typeof item.id === "string" ? item.id : typeof pk === "string" && pk.startsWith("EXEC#") ? executionIdFromPk(pk) : undefined;
    if (executionId === undefined) return;
    if (typeof item.dataRef === "string") {
      item.data = await this.readObject(executionId, item.dataRef);
      delete item.dataRef;
      delete item.dataBytes;
    } else if (item.data instanceof Uint8Array) {
      item.data = await this.decode(executionId, item.data);
    }
    if (item.SK === META_SK || item.id !== undefined) {
      for (const name of META_VALUE_ATTRIBUTES) {
        const value = item[name];
        if (value instanceof Uint8Array) item[name] = await this.decode(executionId, value);
      }
    }
  }

  async openItems(items: readonly Record<string, unknown>[]): Promise<void> {
    if (this.readsPlain && !items.some((item) => item.data instanceof Uint8Array || typeof item.dataRef === "string")) return;
    await forEachBounded(items, OBJECT_CONCURRENCY, (item) => this.openItem(item));
  }

  /** Bytes the item will take in a transaction once sealed (an estimate on the safe side). */
  storedBytes(item: Record<string, unknown>): number {
    const bytes = Buffer.byteLength(JSON.stringify(item));
    const data = item.data;
    if (this.blobs && typeof data === "string" && Buffer.byteLength(data) > this.thresholdBytes) return REFERENCE_ITEM_BYTES;
    // A codec's header (an encrypted data key, an IV, a tag) adds a few hundred bytes at most.
    return this.codecs ? bytes + 1_024 : bytes;
  }

  /** The prefix of every object of the execution. */
  objectPrefix(executionId: string): string {
    return `${OBJECT_PREFIX}${encodeURIComponent(executionId)}/`;
  }

  /**
   * Deletes the execution's objects written before `before` (a later execution under the same id
   * writes only after its predecessor's purge, so its objects are newer and kept).
   */
  async deleteObjects(executionId: string, before: Date): Promise<number> {
    if (!this.blobs) return 0;
    return this.blobs.deletePrefix(this.objectPrefix(executionId), { modifiedBefore: before });
  }

  /** Throws PayloadTooLargeError when the item's event is larger than this store records. */
  checkItemSize(item: Record<string, unknown>): void {
    if (typeof item.data === "string") this.checkEventSize(item, Buffer.byteLength(item.data));
  }

  private checkEventSize(item: Record<string, unknown>, bytes: number): void {
    const limit = maxEventBytesFor(this.maxValueBytes);
    if (bytes <= limit) return;
    const sk = String(item.SK);
    const what = sk.startsWith("H#") ? `history event ${String(item.type)} at seq ${Number(sk.slice(2))}` : `the ${String(item.type).toLowerCase()} event`;
    throw new PayloadTooLargeError(what, bytes, limit);
  }

  private async sealData(executionId: string, sk: string, json: string): Promise<Record<string, unknown>> {
    const text = new TextEncoder().encode(json);
    const codecs = this.codecs;
    const stored = codecs ? await busyIfTransient(() => codecs.encode(text, { executionId })) : text;
    if (!this.blobs || stored.length <= this.thresholdBytes) return { data: this.codecs ? stored : json };
    const key = `${this.objectPrefix(executionId)}${encodeURIComponent(sk)}-${sha256(stored)}`;
    await busyIfTransient(() => (this.blobs as BlobStore).put(key, stored));
    this.counts.puts += 1;
    this.counts.putBytes += stored.length;
    this.cache.set(key, json);
    return { dataRef: key, dataBytes: text.length };
  }

  private async readObject(executionId: string, key: string): Promise<string> {
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.counts.cacheHits += 1;
      return cached;
    }
    if (!this.blobs) throw new BlobStoreError("GetObject", key, new Error("the value is in the object store and none is configured"));
    const blobs = this.blobs;
    const bytes = await busyIfTransient(() => blobs.get(key));
    this.counts.gets += 1;
    this.counts.getBytes += bytes.length;
    const expected = key.slice(key.lastIndexOf("-") + 1);
    const actual = sha256(bytes);
    if (actual !== expected) throw new BlobIntegrityError(key, `sha256 ${expected}`, `sha256 ${actual}`);
    const json = isFramedValue(bytes) ? await this.decode(executionId, bytes) : new TextDecoder().decode(bytes);
    this.cache.set(key, json);
    return json;
  }

  private async encode(executionId: string, json: string): Promise<Uint8Array> {
    return busyIfTransient(() => (this.codecs as PayloadCodecs).encode(new TextEncoder().encode(json), { executionId }));
  }

  private async decode(executionId: string, bytes: Uint8Array): Promise<string> {
    return new TextDecoder().decode(await busyIfTransient(() => this.readCodecs.decode(bytes, { executionId })));
  }
}

/**
 * An object-store or KMS failure worth trying again (throttling, a 5xx, the network) as
 * StoreBusyError: the API answers 503 STORE_BUSY with Retry-After, and a worker's turn is tried
 * again, as for DynamoDB throttling. Nothing was recorded: an object is written before its item.
 * Refusals (access denied, a missing bucket, a bad ciphertext) stay what they are.
 */
async function busyIfTransient<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if ((err instanceof BlobStoreError || err instanceof KmsRequestError) && isTransient(err)) {
      throw new StoreBusyError(`${err.message}; try again`, err);
    }
    throw err;
  }
}

const TRANSIENT_AWS_ERRORS = new Set(["SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "ThrottlingException", "ThrottledException", "LimitExceededException", "KMSInternalException", "TimeoutError"]);

function isTransient(err: BlobStoreError | KmsRequestError): boolean {
  const status = (err.details as { httpStatus?: unknown } | undefined)?.httpStatus;
  if (typeof status === "number") return status >= 500 || status === 429 || (err.awsError !== undefined && TRANSIENT_AWS_ERRORS.has(err.awsError));
  // No answer at all: the network, a timeout.
  return true;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Least recently used first out, bounded by the bytes of what it holds. */
class ByteBoundedCache {
  private readonly entries = new Map<string, string>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): string | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: string, value: string): void {
    const size = value.length * 2;
    if (size > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.bytes -= old.length * 2;
    }
    this.entries.set(key, value);
    this.bytes += size;
    for (const [oldest, held] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= held.length * 2;
    }
  }
}
