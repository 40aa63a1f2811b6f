/**
 * Errors of the payload layer (codecs, their framing, the blob store). Each has a stable `code`;
 * SDK errors (KMS, S3) are translated into these at this layer's boundary and kept as `cause`.
 */
import { DurableError } from "../core/errors.js";

/** Root of the payload layer's errors: `err instanceof PayloadError` catches them all. */
export class PayloadError extends DurableError {}

/** A codec or a codec chain was configured wrongly (bad key length, bad id, duplicate ids, ...). */
export class InvalidCodecConfigError extends PayloadError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("INVALID_CODEC_CONFIG", message, { details });
  }
}

/** The bytes are not a value this layer wrote: no `DUR1` frame, a truncated frame, a bad codec header. */
export class InvalidPayloadFrameError extends PayloadError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("INVALID_PAYLOAD_FRAME", message, { details });
  }
}

/**
 * A stored value names a codec that is not registered: add it to `readable` (e.g. the old key)
 * to read values written before the configuration changed.
 */
export class CodecUnavailableError extends PayloadError {
  constructor(
    readonly codecId: string,
    registered: readonly string[],
  ) {
    super(
      "CODEC_UNAVAILABLE",
      `the value was written with codec "${codecId}", which is not registered (registered: ${registered.length === 0 ? "none" : registered.map((id) => `"${id}"`).join(", ")}); ` +
        "add it to `readable` to read values written before the configuration changed",
      { details: { codecId, registered: [...registered] } },
    );
  }
}

/**
 * An encrypted value did not decrypt: the key is not the one it was written with, the value was
 * altered, or it is read under another execution than it was written for. Not retryable.
 */
export class PayloadDecryptError extends PayloadError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super("PAYLOAD_DECRYPT_FAILED", message, { details, cause });
  }
}

/** A compressed value did not decompress (corrupt, or larger than the codec's `maxBytes`). */
export class PayloadCorruptError extends PayloadError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super("PAYLOAD_CORRUPT", message, { details, cause });
  }
}

/**
 * A KMS call failed for another reason than the ciphertext: throttling, access denied, a disabled
 * key, the network. `awsError` is the SDK's error name (`ThrottlingException`,
 * `AccessDeniedException`, ...); throttling and network failures are worth retrying later.
 */
export class KmsRequestError extends PayloadError {
  readonly operation: string;
  readonly awsError: string | undefined;
  constructor(operation: string, keyId: string, cause: unknown) {
    super("KMS_REQUEST_FAILED", `KMS ${operation} with key "${keyId}" failed: ${errorText(cause)}`, {
      details: { operation, keyId, awsError: errorName(cause), httpStatus: httpStatus(cause) },
      cause,
    });
    this.operation = operation;
    this.awsError = errorName(cause);
  }
}

/** A blob key S3 would refuse (empty, over 1024 bytes of UTF-8), or an empty prefix to delete. */
export class InvalidBlobKeyError extends PayloadError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("INVALID_BLOB_KEY", message, { details });
  }
}

/** No blob under the key (never written, or deleted with its execution). */
export class BlobNotFoundError extends PayloadError {
  constructor(
    readonly bucket: string,
    readonly key: string,
    cause?: unknown,
  ) {
    super("BLOB_NOT_FOUND", `no blob "${key}" in bucket "${bucket}"`, { details: { bucket, key }, cause });
  }
}

/** A blob's bytes do not match the sha256 (or size) it was stored with: it was altered or overwritten. */
export class BlobIntegrityError extends PayloadError {
  constructor(key: string, expected: string, actual: string) {
    super("BLOB_INTEGRITY", `blob "${key}" does not match what was stored: expected ${expected}, found ${actual}`, {
      details: { key, expected, actual },
    });
  }
}

/**
 * The object store refused or failed a request (other than a missing key): a missing bucket,
 * access denied, throttling, the network, or keys DeleteObjects did not delete (in `details.failed`).
 */
export class BlobStoreError extends PayloadError {
  readonly awsError: string | undefined;
  constructor(operation: string, key: string, cause: unknown, details: Record<string, unknown> = {}) {
    super("BLOB_STORE_FAILED", `S3 ${operation} of "${key}" failed: ${errorText(cause)}`, {
      details: { operation, key, awsError: errorName(cause), httpStatus: httpStatus(cause), ...details },
      cause,
    });
    this.awsError = errorName(cause);
  }
}

function errorName(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

/** The HTTP status an AWS SDK error carries in `$metadata`, if any. */
export function httpStatus(err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | undefined)?.$metadata?.httpStatusCode;
  return typeof status === "number" ? status : undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
