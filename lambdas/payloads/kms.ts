/**
 * `kmsEnvelopeCodec`: envelope encryption (see envelope.ts) with data keys from AWS KMS.
 *
 * Each data key comes from `GenerateDataKey` (AES_256) with the encryption context
 * `{ "durable:execution": <executionId> }`, and is opened with `Decrypt` under the same context and
 * `KeyId`: KMS itself refuses to open a data key for another execution. The context is written in
 * CloudTrail's record of each call, so execution ids show there (never values).
 *
 * The codec id is `kms-envelope:` and the first 16 hex digits of the SHA-256 of `keyId`: a key ARN
 * fits in a codec id (128 characters) but an alias ARN may not (alias names run to 256), and one
 * rule for every form keeps ids short and stable. The id depends on the string, not the key it
 * resolves to: name the key the same way (its ARN, best) wherever values are read. KMS's automatic
 * rotation keeps the key id and opens old data keys, so it needs no change here; pointing an alias
 * at another key does not work for values already written (Decrypt is asked with the alias).
 *
 * The role needs `kms:GenerateDataKey` and `kms:Decrypt` on the key.
 */
import { createHash } from "node:crypto";
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from "@aws-sdk/client-kms";
import type { CodecContext, PayloadCodec } from "./codec.js";
import { envelopeCodec, type DataKey, type DataKeyCacheOptions, type DataKeyProvider } from "./envelope.js";
import { InvalidCodecConfigError, KmsRequestError, PayloadDecryptError } from "./errors.js";

/** The same envelope with a local master key instead of KMS, for `durable dev` and tests. */
export { localEnvelopeCodec, type LocalEnvelopeCodecOptions } from "./local-envelope.js";

/** The encryption context key that binds a data key to its execution. */
export const KMS_EXECUTION_CONTEXT_KEY = "durable:execution";
export const KMS_ENVELOPE_CODEC_PREFIX = "kms-envelope:";

/** KMS's answers to a ciphertext it will not open with this key and context: not retryable. */
const DECRYPT_REFUSALS = new Set(["InvalidCiphertextException", "IncorrectKeyException"]);
/** KMS accepts key ids (ARN, id, alias name or ARN) of 1 to 2048 characters. */
const MAX_KEY_ID_CHARS = 2048;

export interface KmsEnvelopeCodecOptions extends DataKeyCacheOptions {
  client: KMSClient;
  /** The KMS key: its ARN (best), id, alias name (`alias/payloads`) or alias ARN. */
  keyId: string;
}

/**
 * Encrypts values under data keys from KMS, one per execution, cached (see envelope.ts).
 *
 * @example
 * const payloads = createPayloadCodecs({
 *   codecs: [gzipCodec(), kmsEnvelopeCodec({ client: new KMSClient({}), keyId: process.env.PAYLOAD_KEY_ARN })],
 * });
 */
export function kmsEnvelopeCodec(options: KmsEnvelopeCodecOptions): PayloadCodec {
  const keyId = checkKmsKeyId(options.keyId);
  return envelopeCodec({
    id: kmsEnvelopeCodecId(keyId),
    provider: kmsDataKeyProvider(options.client, keyId),
    dataKeyTtlMs: options.dataKeyTtlMs,
    maxCachedKeys: options.maxCachedKeys,
    clock: options.clock,
  });
}

/**
 * The id `kmsEnvelopeCodec` has for `keyId`: what a value's frame names, and what
 * CodecUnavailableError reports.
 *
 * @example
 * kmsEnvelopeCodecId(keyArn); // "kms-envelope:" and 16 hex digits, the same for the same string
 */
export function kmsEnvelopeCodecId(keyId: string): string {
  return `${KMS_ENVELOPE_CODEC_PREFIX}${createHash("sha256").update(keyId, "utf8").digest("hex").slice(0, 16)}`;
}

function kmsDataKeyProvider(client: KMSClient, keyId: string): DataKeyProvider {
  return {
    keyId,
    async generate(context: CodecContext): Promise<DataKey> {
      let answer;
      try {
        answer = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: "AES_256", EncryptionContext: encryptionContext(context) }));
      } catch (err) {
        throw new KmsRequestError("GenerateDataKey", keyId, err);
      }
      if (answer.Plaintext === undefined || answer.CiphertextBlob === undefined) {
        throw new KmsRequestError("GenerateDataKey", keyId, new Error("the answer has no Plaintext or no CiphertextBlob"));
      }
      return { plaintext: Buffer.from(answer.Plaintext), encrypted: answer.CiphertextBlob };
    },
    async decrypt(encrypted: Uint8Array, context: CodecContext): Promise<Uint8Array> {
      let answer;
      try {
        answer = await client.send(
          new DecryptCommand({ CiphertextBlob: encrypted, KeyId: keyId, EncryptionContext: encryptionContext(context), EncryptionAlgorithm: "SYMMETRIC_DEFAULT" }),
        );
      } catch (err) {
        if (err instanceof Error && DECRYPT_REFUSALS.has(err.name)) {
          throw new PayloadDecryptError(
            `KMS would not decrypt the value's data key with key "${keyId}" (${err.name}): the value belongs to another execution than "${context.executionId}", ` +
              "was written under another key, or was altered",
            { keyId, executionId: context.executionId, awsError: err.name },
            err,
          );
        }
        throw new KmsRequestError("Decrypt", keyId, err);
      }
      if (answer.Plaintext === undefined) throw new KmsRequestError("Decrypt", keyId, new Error("the answer has no Plaintext"));
      return Buffer.from(answer.Plaintext);
    },
  };
}

function encryptionContext(context: CodecContext): Record<string, string> {
  return { [KMS_EXECUTION_CONTEXT_KEY]: context.executionId };
}

function checkKmsKeyId(keyId: unknown): string {
  if (typeof keyId !== "string" || keyId.length === 0 || keyId.length > MAX_KEY_ID_CHARS || /\s/.test(keyId)) {
    throw new InvalidCodecConfigError(`a KMS keyId must be a key ARN, key id, alias name or alias ARN, got ${JSON.stringify(keyId)}`);
  }
  return keyId;
}
