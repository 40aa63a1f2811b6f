/**
 * Envelope encryption, shared by `kmsEnvelopeCodec` and `localEnvelopeCodec`: a value is
 * encrypted with AES-256-GCM under a data key, and the data key, encrypted by a key provider (KMS,
 * or a local master key), travels with the value.
 *
 *   version (1 byte) | encrypted data key (2-byte length, bytes) | IV (12) | tag (16) | ciphertext
 *
 * The associated data binds the value to the codec id, the provider's key id and the execution id;
 * the provider binds the data key to the execution as well (KMS's encryption context), so a value
 * copied to another execution fails twice over.
 *
 * Data keys are cached in memory so that the provider is asked rarely:
 * - to write, one data key per execution, used for `dataKeyTtlMs` from when it was asked for:
 *   every value an execution writes in that time costs no provider call, and concurrent encodes
 *   of one execution share the one request in flight;
 * - to read, plaintext data keys by the execution and the encrypted key's bytes, for as long:
 *   reading many values written with one data key costs one provider call. A key this process
 *   generated is readable at once, without a call.
 * Both caches hold at most `maxCachedKeys` keys, least recently used out first. A failed request
 * is not cached: the next encode or decode asks again.
 */
import { ByteReader, concatBytes, longField, ownBytes, u8 } from "./bytes.js";
import { checkCodecId, type CodecContext, type PayloadCodec } from "./codec.js";
import { InvalidCodecConfigError, InvalidPayloadFrameError, PayloadDecryptError } from "./errors.js";
import { ExpiringLru } from "./expiring-lru.js";
import { associatedData, IV_BYTES, KEY_BYTES, open, seal, TAG_BYTES } from "./gcm.js";

const VERSION = 1;
const LABEL = "durable-aws/envelope/v1";
/** Most bytes an encrypted data key may have (its length is written in 2 bytes). */
const MAX_ENCRYPTED_KEY_BYTES = 0xffff;

export const DEFAULT_DATA_KEY_TTL_MS = 15 * 60 * 1000;
export const DEFAULT_MAX_CACHED_KEYS = 1000;

/** A data key: 32 bytes to encrypt with, and the same encrypted by the provider, to store. */
export interface DataKey {
  plaintext: Uint8Array;
  encrypted: Uint8Array;
}

/**
 * Makes and opens data keys. Both calls are bound to the execution: `decrypt` must refuse a key
 * generated for another execution (PayloadDecryptError), as KMS refuses another encryption context.
 */
export interface DataKeyProvider {
  /** Names the key that wraps data keys; part of every value's associated data. */
  readonly keyId: string;
  /** A new data key for the execution. */
  generate(context: CodecContext): Promise<DataKey>;
  /** The plaintext of a data key `generate` made for the execution; PayloadDecryptError otherwise. */
  decrypt(encrypted: Uint8Array, context: CodecContext): Promise<Uint8Array>;
}

export interface DataKeyCacheOptions {
  /** How long a data key is used and kept, from when it was asked for. Default 15 minutes. */
  dataKeyTtlMs?: number;
  /** Most data keys kept, for writing and (apart) for reading. Default 1000. */
  maxCachedKeys?: number;
  /** Epoch milliseconds; injected by tests. Default `Date.now`. */
  clock?: () => number;
}

export interface EnvelopeCodecOptions extends DataKeyCacheOptions {
  /** The codec's id (see PayloadCodec): one per provider key. */
  id: string;
  provider: DataKeyProvider;
}

/**
 * An envelope codec over any data key provider; `kmsEnvelopeCodec` and `localEnvelopeCodec` are
 * this with a KMS key and with a local master key.
 *
 * @example
 * const codec = envelopeCodec({ id: "vault-envelope:payments", provider: vaultDataKeys });
 */
export function envelopeCodec(options: EnvelopeCodecOptions): PayloadCodec {
  const { id, provider } = options;
  checkCodecId(id);
  const ttlMs = positiveInteger(options.dataKeyTtlMs ?? DEFAULT_DATA_KEY_TTL_MS, "dataKeyTtlMs");
  const maxKeys = positiveInteger(options.maxCachedKeys ?? DEFAULT_MAX_CACHED_KEYS, "maxCachedKeys");
  const clock = options.clock ?? Date.now;
  const writeKeys = new ExpiringLru<Promise<DataKey>>(maxKeys);
  const readKeys = new ExpiringLru<Promise<Uint8Array>>(maxKeys);
  const aad = (context: CodecContext): Uint8Array => associatedData([LABEL, id, provider.keyId, context.executionId]);

  function keyToWrite(context: CodecContext): Promise<DataKey> {
    const nowMs = clock();
    const cached = writeKeys.get(context.executionId, nowMs);
    if (cached !== undefined) return cached;
    const pending = Promise.resolve()
      .then(() => provider.generate(context))
      .then((key) => {
        const checked = { plaintext: checkPlaintextKey(key.plaintext, id), encrypted: checkEncryptedKey(key.encrypted, id) };
        readKeys.set(readKeyName(context, checked.encrypted), Promise.resolve(checked.plaintext), nowMs + ttlMs);
        return checked;
      });
    writeKeys.set(context.executionId, pending, nowMs + ttlMs);
    pending.catch(() => writeKeys.deleteIf(context.executionId, pending));
    return pending;
  }

  function keyToRead(encrypted: Uint8Array, context: CodecContext): Promise<Uint8Array> {
    const nowMs = clock();
    const name = readKeyName(context, encrypted);
    const cached = readKeys.get(name, nowMs);
    if (cached !== undefined) return cached;
    const copy = ownBytes(encrypted);
    const pending = Promise.resolve()
      .then(() => provider.decrypt(copy, context))
      .then((plaintext) => checkPlaintextKey(plaintext, id));
    readKeys.set(name, pending, nowMs + ttlMs);
    pending.catch(() => readKeys.deleteIf(name, pending));
    return pending;
  }

  return {
    id,
    async encode(bytes, context) {
      const key = await keyToWrite(context);
      const sealed = seal(key.plaintext, bytes, aad(context));
      return concatBytes([u8(VERSION), longField(key.encrypted), sealed.iv, sealed.tag, sealed.ciphertext]);
    },
    async decode(bytes, context) {
      const reader = new ByteReader(bytes, `a ${id} value`);
      const version = reader.u8();
      if (version !== VERSION) throw new InvalidPayloadFrameError(`${id} value has version ${version}; this codec reads version ${VERSION}`);
      const encrypted = reader.longField();
      if (encrypted.length === 0) throw new InvalidPayloadFrameError(`${id} value has an empty data key`);
      const sealed = { iv: reader.take(IV_BYTES), tag: reader.take(TAG_BYTES), ciphertext: reader.rest() };
      const key = await keyToRead(encrypted, context);
      const plain = open(key, sealed, aad(context));
      if (plain === undefined) {
        throw new PayloadDecryptError(
          `${id} value did not decrypt under its data key: it was altered, or it belongs to another execution than "${context.executionId}"`,
          { codecId: id, keyId: provider.keyId, executionId: context.executionId },
        );
      }
      return plain;
    },
  };
}

/** Names a plaintext data key in the read cache: the execution it opened for and its encrypted bytes. */
function readKeyName(context: CodecContext, encrypted: Uint8Array): string {
  return `${context.executionId.length}:${context.executionId}:${Buffer.from(encrypted.buffer, encrypted.byteOffset, encrypted.length).toString("base64")}`;
}

function checkPlaintextKey(plaintext: unknown, id: string): Uint8Array {
  if (!(plaintext instanceof Uint8Array) || plaintext.length !== KEY_BYTES) {
    const got = plaintext instanceof Uint8Array ? `${plaintext.length} bytes` : typeof plaintext;
    throw new InvalidCodecConfigError(`${id}: the data key provider gave a data key of ${got}, not ${KEY_BYTES} bytes`, { codecId: id });
  }
  return Buffer.from(plaintext);
}

function checkEncryptedKey(encrypted: unknown, id: string): Uint8Array {
  if (!(encrypted instanceof Uint8Array) || encrypted.length === 0 || encrypted.length > MAX_ENCRYPTED_KEY_BYTES) {
    const got = encrypted instanceof Uint8Array ? `${encrypted.length} bytes` : typeof encrypted;
    throw new InvalidCodecConfigError(`${id}: the data key provider gave an encrypted data key of ${got} (1 to ${MAX_ENCRYPTED_KEY_BYTES} expected)`, { codecId: id });
  }
  return ownBytes(encrypted);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidCodecConfigError(`${name} must be a positive integer, got ${value}`);
  return value;
}
