/**
 * AES-256-GCM with a random 12-byte IV per value and a 16-byte tag, shared by the local key codec
 * and the envelope codecs. The associated data binds a value to its codec, key and execution:
 * moving the ciphertext elsewhere makes the tag check fail.
 *
 * A random 96-bit IV is safe for about 2**32 values under one key (NIST SP 800-38D); the envelope
 * codecs use a data key per execution, far below that.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { concatBytes, longField, ownBytes, utf8 } from "./bytes.js";
import { InvalidCodecConfigError } from "./errors.js";

export const KEY_BYTES = 32;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

export interface Sealed {
  iv: Uint8Array;
  tag: Uint8Array;
  ciphertext: Uint8Array;
}

export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Sealed {
  const iv = new Uint8Array(randomBytes(IV_BYTES));
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = concatBytes([cipher.update(plaintext), cipher.final()]);
  return { iv, tag: new Uint8Array(cipher.getAuthTag()), ciphertext };
}

/** The plaintext, or undefined when the tag does not verify (wrong key, altered bytes, other AAD). */
export function open(key: Uint8Array, sealed: Sealed, aad: Uint8Array): Uint8Array | undefined {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.tag);
    return concatBytes([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * Associated data from named parts (a label, a key's name, the execution id, ...), each with a
 * 2-byte length: no two different lists of parts give the same bytes, whatever the parts hold.
 */
export function associatedData(parts: readonly string[]): Uint8Array {
  return concatBytes(parts.map((part) => longField(utf8(part))));
}

/** What names a local key in values and codec ids: 1 to 64 of `A-Z a-z 0-9 . _ -`. */
const LOCAL_KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Throws InvalidCodecConfigError unless `keyId` can name a local key. */
export function checkLocalKeyId(keyId: unknown, codec: string): string {
  if (typeof keyId !== "string" || !LOCAL_KEY_ID.test(keyId)) {
    throw new InvalidCodecConfigError(`${codec} keyId must be 1 to 64 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(keyId)}`);
  }
  return keyId;
}

/** A copy of `key`, after checking it is 32 bytes. */
export function checkLocalKey(key: unknown, codec: string, keyId: string): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    const got = key instanceof Uint8Array ? `${key.length} bytes` : typeof key;
    throw new InvalidCodecConfigError(`${codec} key "${keyId}" must be ${KEY_BYTES} bytes, got ${got}`, { keyId });
  }
  return ownBytes(key);
}
