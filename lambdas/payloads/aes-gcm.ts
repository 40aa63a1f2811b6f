/**
 * `aesGcmCodec`: AES-256-GCM under a local 32-byte key, for `durable dev` and tests (production
 * uses `kmsEnvelopeCodec`, which keeps keys in KMS).
 *
 * Output: version (1 byte) | key id (1-byte length, ASCII) | IV (12) | tag (16) | ciphertext.
 * The codec id is `aes-256-gcm:<keyId>`, so a chain can hold the current key and older ones under
 * `readable`, and the frame says which key a value needs. The tag covers the key id and the
 * execution id: a value decodes only under the execution it was written for.
 *
 * One key encrypts every value, each with a random IV: rotate it (a new `keyId`, the old codec in
 * `readable`) well before 2**32 values.
 */
import { ByteReader, concatBytes, fromUtf8, shortField, u8, utf8 } from "./bytes.js";
import type { CodecContext, PayloadCodec } from "./codec.js";
import { InvalidPayloadFrameError, PayloadDecryptError } from "./errors.js";
import { associatedData, checkLocalKey, checkLocalKeyId, IV_BYTES, open, seal, TAG_BYTES } from "./gcm.js";

const VERSION = 1;
const LABEL = "durable-aws/aes-256-gcm/v1";

export interface AesGcmCodecOptions {
  /** 32 random bytes, e.g. `randomBytes(32)` or `Buffer.from(process.env.DEV_KEY, "base64")`. Copied. */
  key: Uint8Array;
  /** Names the key in every value it encrypts: 1 to 64 of `A-Z a-z 0-9 . _ -`. Change it with the key. */
  keyId: string;
}

export const AES_GCM_CODEC_PREFIX = "aes-256-gcm:";

/**
 * Encrypts every value under one local key of yours, bound to its execution.
 *
 * @example
 * const payloads = createPayloadCodecs({ codecs: [aesGcmCodec({ key: Buffer.from(process.env.PAYLOAD_KEY, "base64"), keyId: "2025-02" })] });
 */
export function aesGcmCodec(options: AesGcmCodecOptions): PayloadCodec {
  const keyId = checkLocalKeyId(options.keyId, "aes-256-gcm");
  const key = checkLocalKey(options.key, "aes-256-gcm", keyId);
  const id = `${AES_GCM_CODEC_PREFIX}${keyId}`;
  return {
    id,
    encode: async (bytes, context) => encrypt(key, keyId, bytes, context),
    decode: async (bytes, context) => decrypt(key, keyId, bytes, context),
  };
}

function encrypt(key: Uint8Array, keyId: string, bytes: Uint8Array, context: CodecContext): Uint8Array {
  const sealed = seal(key, bytes, aad(keyId, context));
  return concatBytes([u8(VERSION), shortField(utf8(keyId)), sealed.iv, sealed.tag, sealed.ciphertext]);
}

function decrypt(key: Uint8Array, keyId: string, bytes: Uint8Array, context: CodecContext): Uint8Array {
  const reader = new ByteReader(bytes, "an aes-256-gcm value");
  const version = reader.u8();
  if (version !== VERSION) throw new InvalidPayloadFrameError(`aes-256-gcm value has version ${version}; this codec reads version ${VERSION}`);
  const writtenWith = fromUtf8(reader.shortField(), "the aes-256-gcm key id");
  if (writtenWith !== keyId) {
    throw new PayloadDecryptError(`the value was encrypted with key "${writtenWith}", this codec has key "${keyId}"`, { keyId, writtenWith });
  }
  const sealed = { iv: reader.take(IV_BYTES), tag: reader.take(TAG_BYTES), ciphertext: reader.rest() };
  const plain = open(key, sealed, aad(keyId, context));
  if (plain === undefined) {
    throw new PayloadDecryptError(
      `aes-256-gcm value under key "${keyId}" did not decrypt: the key bytes differ from those it was written with, the value was altered, ` +
        `or it belongs to another execution than "${context.executionId}"`,
      { keyId, executionId: context.executionId },
    );
  }
  return plain;
}

function aad(keyId: string, context: CodecContext): Uint8Array {
  return associatedData([LABEL, keyId, context.executionId]);
}
