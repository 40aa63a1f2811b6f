/**
 * `localEnvelopeCodec`: the envelope codec of production (envelope.ts) with data keys wrapped by a
 * local 32-byte master key instead of KMS, so that `durable dev` and tests run the same path
 * (per-execution data keys, their caches, the value format) without AWS.
 *
 * A wrapped data key is: version (1 byte) | IV (12) | tag (16) | encrypted key (32), sealed with
 * AES-256-GCM under the master key with the execution id in its associated data, as KMS binds a
 * data key to its encryption context. The codec id is `local-envelope:<keyId>`.
 */
import { randomBytes } from "node:crypto";
import { ByteReader, concatBytes, u8 } from "./bytes.js";
import type { CodecContext, PayloadCodec } from "./codec.js";
import { envelopeCodec, type DataKey, type DataKeyCacheOptions, type DataKeyProvider } from "./envelope.js";
import { PayloadDecryptError } from "./errors.js";
import { associatedData, checkLocalKey, checkLocalKeyId, IV_BYTES, KEY_BYTES, open, seal, TAG_BYTES } from "./gcm.js";

const WRAP_VERSION = 1;
const WRAP_LABEL = "durable-aws/local-data-key/v1";
const WRAPPED_KEY_BYTES = 1 + IV_BYTES + TAG_BYTES + KEY_BYTES;

export const LOCAL_ENVELOPE_CODEC_PREFIX = "local-envelope:";

export interface LocalEnvelopeCodecOptions extends DataKeyCacheOptions {
  /** 32 random bytes that wrap the data keys. Copied. */
  masterKey: Uint8Array;
  /** Names the master key: 1 to 64 of `A-Z a-z 0-9 . _ -`. Change it with the key. */
  keyId: string;
}

/**
 * The KMS envelope codec's path with data keys wrapped by a local master key: no AWS needed.
 *
 * @example
 * const payloads = createPayloadCodecs({ codecs: [localEnvelopeCodec({ masterKey: randomBytes(32), keyId: "dev" })] });
 */
export function localEnvelopeCodec(options: LocalEnvelopeCodecOptions): PayloadCodec {
  const keyId = checkLocalKeyId(options.keyId, "local-envelope");
  const masterKey = checkLocalKey(options.masterKey, "local-envelope", keyId);
  return envelopeCodec({
    id: `${LOCAL_ENVELOPE_CODEC_PREFIX}${keyId}`,
    provider: localDataKeyProvider(masterKey, keyId),
    dataKeyTtlMs: options.dataKeyTtlMs,
    maxCachedKeys: options.maxCachedKeys,
    clock: options.clock,
  });
}

function localDataKeyProvider(masterKey: Uint8Array, keyId: string): DataKeyProvider {
  const aad = (context: CodecContext): Uint8Array => associatedData([WRAP_LABEL, keyId, context.executionId]);
  return {
    keyId,
    async generate(context: CodecContext): Promise<DataKey> {
      const plaintext = randomBytes(KEY_BYTES);
      const sealed = seal(masterKey, plaintext, aad(context));
      return { plaintext, encrypted: concatBytes([u8(WRAP_VERSION), sealed.iv, sealed.tag, sealed.ciphertext]) };
    },
    async decrypt(encrypted: Uint8Array, context: CodecContext): Promise<Uint8Array> {
      // Like KMS's InvalidCiphertextException: whatever is wrong with the wrapped key, it does not open.
      const refused = (): PayloadDecryptError =>
        new PayloadDecryptError(
          `the value's data key did not open under master key "${keyId}": the value belongs to another execution than "${context.executionId}", ` +
            "was written under another master key, or was altered",
          { keyId, executionId: context.executionId },
        );
      if (encrypted.length !== WRAPPED_KEY_BYTES) throw refused();
      const reader = new ByteReader(encrypted, "a wrapped data key");
      if (reader.u8() !== WRAP_VERSION) throw refused();
      const plaintext = open(masterKey, { iv: reader.take(IV_BYTES), tag: reader.take(TAG_BYTES), ciphertext: reader.rest() }, aad(context));
      if (plaintext === undefined) throw refused();
      return Buffer.from(plaintext);
    },
  };
}
