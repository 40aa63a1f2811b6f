/**
 * Payload codecs: transformations of a value's bytes (compression, encryption) applied before the
 * engine stores a value and undone after it reads one back.
 *
 * Every encoded value is framed so that it says which codec chain wrote it:
 *
 *   "DUR1" | count (1 byte) | count × (id length (1 byte), id (ASCII)) | payload
 *
 * The ids are in encode order; the payload is the last codec's output. Decoding takes the chain
 * from the frame, never from the current configuration, so a value stays readable after the
 * configuration changes (new key, compression turned off) as long as every codec it names is
 * still registered. A codec's output carries its own per-value header (the gzip flag, the key id
 * and IV, the encrypted data key), so the frame only has to name the codec.
 *
 * The frame itself is not authenticated: whoever can write the store can write a frame that
 * names no codec. Encryption here protects what is read from being disclosed, not the store from
 * its own writers.
 */
import { ByteReader, concatBytes, shortField, utf8 } from "./bytes.js";
import { CodecUnavailableError, InvalidCodecConfigError, InvalidPayloadFrameError } from "./errors.js";

/**
 * What a codec may bind a value to: the execution it belongs to. Not the run: a value is written
 * before the engine knows which run takes it (a signal accepted by the API), and a run reads its
 * predecessors' values.
 */
export interface CodecContext {
  executionId: string;
}

/**
 * One transformation of a value's bytes. `id` names it in every frame it writes, so it must stay
 * the same for as long as values written with it are read: rename a codec and its values need it
 * registered under the old id.
 *
 * A codec that binds values to the context (the encryption codecs do) decodes a value only under
 * the context it was encoded with: a value copied to another execution must be decoded and encoded
 * again.
 */
export interface PayloadCodec {
  readonly id: string;
  encode(bytes: Uint8Array, context: CodecContext): Promise<Uint8Array>;
  decode(bytes: Uint8Array, context: CodecContext): Promise<Uint8Array>;
}

/** The first bytes of every framed value. */
export const FRAME_MAGIC = utf8("DUR1");
/** Most codecs one value may name. */
export const MAX_CODEC_CHAIN = 8;
/** What a codec id may be: 1 to 128 printable ASCII characters, no space. */
const CODEC_ID = /^[\x21-\x7e]{1,128}$/;

/** True when the bytes start with the frame's magic: a value this layer wrote (or a forgery of one). */
export function isFramedValue(bytes: Uint8Array): boolean {
  if (bytes.length < FRAME_MAGIC.length + 1) return false;
  return FRAME_MAGIC.every((b, i) => bytes[i] === b);
}

/** Throws InvalidCodecConfigError unless `id` is a valid codec id. */
export function checkCodecId(id: unknown): asserts id is string {
  if (typeof id !== "string" || !CODEC_ID.test(id)) {
    throw new InvalidCodecConfigError(`a codec id must be 1 to 128 printable ASCII characters without spaces, got ${JSON.stringify(id)}`);
  }
}

/** The frame's header naming the chain, in encode order. */
function frameHeader(ids: readonly string[]): Uint8Array {
  return concatBytes([FRAME_MAGIC, Uint8Array.of(ids.length), ...ids.map((id) => shortField(utf8(id)))]);
}

/** Splits a framed value into the chain it names and the payload. */
export function readFrame(bytes: Uint8Array): { codecIds: string[]; payload: Uint8Array } {
  if (!isFramedValue(bytes)) throw new InvalidPayloadFrameError("the value has no DUR1 frame: it was not written by a payload codec chain");
  const reader = new ByteReader(bytes, "the value's frame");
  reader.take(FRAME_MAGIC.length);
  const count = reader.u8();
  if (count > MAX_CODEC_CHAIN) throw new InvalidPayloadFrameError(`the frame names ${count} codecs; at most ${MAX_CODEC_CHAIN} are allowed`);
  const codecIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = String.fromCharCode(...reader.shortField());
    if (!CODEC_ID.test(id)) throw new InvalidPayloadFrameError(`the frame names an invalid codec id ${JSON.stringify(id)}`);
    codecIds.push(id);
  }
  return { codecIds, payload: reader.rest() };
}

/** Applies the codecs in order and frames the result with their ids. */
async function encodeValue(bytes: Uint8Array, codecs: readonly PayloadCodec[], context: CodecContext): Promise<Uint8Array> {
  let payload = bytes;
  for (const codec of codecs) payload = await codec.encode(payload, context);
  return concatBytes([frameHeader(codecs.map((c) => c.id)), payload]);
}

/**
 * Reads the chain from the frame and undoes it, last codec first, with the codecs of `registry`
 * (by id). Every id is looked up before any codec runs, so a missing one fails fast
 * (CodecUnavailableError) without a KMS call.
 */
async function decodeValue(bytes: Uint8Array, registry: ReadonlyMap<string, PayloadCodec>, context: CodecContext): Promise<Uint8Array> {
  const { codecIds, payload } = readFrame(bytes);
  const chain = codecIds.map((id) => {
    const codec = registry.get(id);
    if (codec === undefined) throw new CodecUnavailableError(id, [...registry.keys()]);
    return codec;
  });
  let out = payload;
  for (let i = chain.length - 1; i >= 0; i--) out = await (chain[i] as PayloadCodec).decode(out, context);
  return out;
}

export interface PayloadCodecsOptions {
  /** Applied in this order on encode (e.g. `[gzipCodec(), kmsEnvelopeCodec(...)]`: compress, then encrypt). */
  codecs: PayloadCodec[];
  /**
   * Also accepted on decode: codecs of earlier configurations (an old key) whose values may still
   * be stored. Where an id is both here and in `codecs`, the one in `codecs` is used.
   */
  readable?: PayloadCodec[];
}

/** The configured chain: what the engine calls around storing and reading a value. */
export interface PayloadCodecs {
  /** Ids of the chain `encode` writes, in order. */
  readonly writes: readonly string[];
  /** Ids `decode` accepts. */
  readonly reads: readonly string[];
  encode(bytes: Uint8Array, context: CodecContext): Promise<Uint8Array>;
  decode(bytes: Uint8Array, context: CodecContext): Promise<Uint8Array>;
}

/**
 * A codec chain for the engine: `encode` applies `codecs` in order and frames the value; `decode`
 * undoes whatever chain the value's frame names, with any codec of `codecs` or `readable`.
 *
 * @example
 * const payloads = createPayloadCodecs({
 *   codecs: [gzipCodec(), aesGcmCodec({ key: newKey, keyId: "2025-02" })],
 *   readable: [aesGcmCodec({ key: oldKey, keyId: "2024-11" })],
 * });
 * const stored = await payloads.encode(bytes, { executionId });
 * const back = await payloads.decode(stored, { executionId });
 */
export function createPayloadCodecs(options: PayloadCodecsOptions): PayloadCodecs {
  const codecs = [...options.codecs];
  if (codecs.length > MAX_CODEC_CHAIN) throw new InvalidCodecConfigError(`a chain has at most ${MAX_CODEC_CHAIN} codecs, got ${codecs.length}`);
  const registry = codecRegistry(codecs, options.readable ?? []);
  return {
    writes: codecs.map((c) => c.id),
    reads: [...registry.keys()],
    encode: (bytes, context) => encodeValue(bytes, codecs, context),
    decode: (bytes, context) => decodeValue(bytes, registry, context),
  };
}

/**
 * Codecs by id, those of `codecs` first. Two different codecs under one id in `codecs` are
 * refused: the frame could not tell which of them wrote a value.
 */
function codecRegistry(codecs: readonly PayloadCodec[], readable: readonly PayloadCodec[]): Map<string, PayloadCodec> {
  const registry = new Map<string, PayloadCodec>();
  for (const codec of codecs) {
    checkCodecId(codec.id);
    const known = registry.get(codec.id);
    if (known !== undefined && known !== codec) {
      throw new InvalidCodecConfigError(`two different codecs of the chain have the id "${codec.id}"`, { codecId: codec.id });
    }
    registry.set(codec.id, codec);
  }
  for (const codec of readable) {
    checkCodecId(codec.id);
    if (!registry.has(codec.id)) registry.set(codec.id, codec);
  }
  return registry;
}
