/**
 * `gzipCodec`: compresses values of at least `minBytes` with gzip (node:zlib, off the event loop).
 *
 * Output: flag (1 byte) | body. Flag 0: the body is the value as is (shorter than `minBytes`, or
 * gzip did not make it smaller, e.g. already encrypted bytes); flag 1: the body is gzip. Put it
 * before an encryption codec in a chain: ciphertext does not compress.
 *
 * The same value gives the same bytes (Node writes no time or name into the gzip header), so a
 * retried write of a value offloaded under the hash of its bytes lands on the same object. A
 * different zlib build (another Node version) may compress differently; that costs one more
 * object, never a wrong read.
 */
import { constants as bufferConstants } from "node:buffer";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { concatBytes, ownBytes, u8 } from "./bytes.js";
import type { PayloadCodec } from "./codec.js";
import { InvalidCodecConfigError, InvalidPayloadFrameError, PayloadCorruptError } from "./errors.js";

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

const STORED = 0;
const GZIPPED = 1;

export const GZIP_CODEC_ID = "gzip";
export const DEFAULT_GZIP_MIN_BYTES = 1024;
export const DEFAULT_GZIP_MAX_BYTES = 64 * 1024 * 1024;

export interface GzipCodecOptions {
  /** Values shorter than this are stored as they are. Default 1024. */
  minBytes?: number;
  /**
   * Largest value decode inflates to; a larger one fails with PayloadCorruptError instead of
   * filling memory (a gzip bomb). Default 64 MiB; keep it above the largest value written.
   */
  maxBytes?: number;
  /** zlib level 1 (fast) to 9 (small). Default 6, zlib's own. */
  level?: number;
}

/**
 * Compresses values of at least `minBytes`; put it first in a chain, before encryption.
 *
 * @example
 * createPayloadCodecs({ codecs: [gzipCodec({ minBytes: 4096 }), kmsEnvelopeCodec({ client, keyId })] });
 */
export function gzipCodec(options: GzipCodecOptions = {}): PayloadCodec {
  const minBytes = integerIn(options.minBytes ?? DEFAULT_GZIP_MIN_BYTES, 0, Number.MAX_SAFE_INTEGER, "minBytes");
  const maxBytes = integerIn(options.maxBytes ?? DEFAULT_GZIP_MAX_BYTES, 1, bufferConstants.MAX_LENGTH, "maxBytes");
  const level = integerIn(options.level ?? 6, 1, 9, "level");
  return {
    id: GZIP_CODEC_ID,
    encode: async (bytes) => {
      if (bytes.length < minBytes) return concatBytes([u8(STORED), bytes]);
      const packed = await gzipAsync(bytes, { level });
      return packed.length < bytes.length ? concatBytes([u8(GZIPPED), packed]) : concatBytes([u8(STORED), bytes]);
    },
    decode: async (bytes) => {
      const flag = bytes[0];
      const body = bytes.subarray(1);
      if (flag === STORED) return body;
      if (flag === GZIPPED) return inflate(body, maxBytes);
      throw new InvalidPayloadFrameError(`gzip codec: unknown flag ${String(flag)} (expected ${STORED} or ${GZIPPED})`);
    },
  };
}

async function inflate(body: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  try {
    return ownBytes(await gunzipAsync(body, { maxOutputLength: maxBytes }));
  } catch (err) {
    // zlib stops at maxOutputLength with ERR_BUFFER_TOO_LARGE (a RangeError).
    const tooLarge = err instanceof RangeError || (err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE";
    throw new PayloadCorruptError(
      tooLarge ? `gzip codec: the value inflates to more than ${maxBytes} bytes (maxBytes)` : `gzip codec: the value does not decompress (${String(err)})`,
      { maxBytes, tooLarge },
      err,
    );
  }
}

function integerIn(value: number, min: number, max: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidCodecConfigError(`gzip ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}
