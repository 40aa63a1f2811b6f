/**
 * The payload layer: codec chains that compress and encrypt values, and the object store large
 * values go to.
 */
export {
  createPayloadCodecs,
  isFramedValue,
  readFrame,
  FRAME_MAGIC,
  MAX_CODEC_CHAIN,
  type CodecContext,
  type PayloadCodec,
  type PayloadCodecs,
  type PayloadCodecsOptions,
} from "./codec.js";
export { gzipCodec, GZIP_CODEC_ID, type GzipCodecOptions } from "./gzip.js";
export { aesGcmCodec, AES_GCM_CODEC_PREFIX, type AesGcmCodecOptions } from "./aes-gcm.js";
export { kmsEnvelopeCodec, kmsEnvelopeCodecId, KMS_ENVELOPE_CODEC_PREFIX, KMS_EXECUTION_CONTEXT_KEY, type KmsEnvelopeCodecOptions } from "./kms.js";
export { localEnvelopeCodec, LOCAL_ENVELOPE_CODEC_PREFIX, type LocalEnvelopeCodecOptions } from "./local-envelope.js";
export {
  envelopeCodec,
  DEFAULT_DATA_KEY_TTL_MS,
  DEFAULT_MAX_CACHED_KEYS,
  type DataKey,
  type DataKeyCacheOptions,
  type DataKeyProvider,
  type EnvelopeCodecOptions,
} from "./envelope.js";
export { s3BlobStore, memoryBlobStore, type BlobStore, type DeletePrefixOptions, type S3BlobStoreOptions } from "./blob-store.js";
export {
  PayloadError,
  InvalidCodecConfigError,
  InvalidPayloadFrameError,
  CodecUnavailableError,
  PayloadDecryptError,
  PayloadCorruptError,
  KmsRequestError,
  InvalidBlobKeyError,
  BlobNotFoundError,
  BlobIntegrityError,
  BlobStoreError,
} from "./errors.js";
