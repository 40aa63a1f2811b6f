/**
 * Byte helpers for the small binary headers of this layer. What the builders return
 * (`concatBytes`, the fields, `ownBytes`) is a plain `Uint8Array` of its own, never a slice of
 * Node's shared Buffer pool; `ByteReader` hands out views of the bytes it reads.
 */
import { InvalidPayloadFrameError } from "./errors.js";

const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true });

export function utf8(text: string): Uint8Array {
  return UTF8_ENCODER.encode(text);
}

export function fromUtf8(bytes: Uint8Array, what: string): string {
  try {
    return UTF8_DECODER.decode(bytes);
  } catch (err) {
    throw new InvalidPayloadFrameError(`${what} is not valid UTF-8`, { cause: String(err) });
  }
}

/** The parts one after the other, in a new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function u8(value: number): Uint8Array {
  return Uint8Array.of(value);
}

/** Big-endian 16-bit length, as the headers store lengths. */
export function u16(value: number): Uint8Array {
  return Uint8Array.of((value >>> 8) & 0xff, value & 0xff);
}

/** A length-prefixed field: 1 byte of length (≤ 255), then the bytes. */
export function shortField(bytes: Uint8Array): Uint8Array {
  if (bytes.length > 0xff) throw new RangeError(`field of ${bytes.length} bytes does not fit a 1-byte length`);
  return concatBytes([u8(bytes.length), bytes]);
}

/** A length-prefixed field: 2 bytes of length (≤ 65535), then the bytes. */
export function longField(bytes: Uint8Array): Uint8Array {
  if (bytes.length > 0xffff) throw new RangeError(`field of ${bytes.length} bytes does not fit a 2-byte length`);
  return concatBytes([u16(bytes.length), bytes]);
}

/**
 * Reads a header field by field; a read past the end throws InvalidPayloadFrameError naming
 * `what`, so a truncated value fails with a clear error instead of a RangeError.
 */
export class ByteReader {
  private at = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  u8(): number {
    return this.take(1)[0] as number;
  }

  u16(): number {
    const b = this.take(2);
    return ((b[0] as number) << 8) | (b[1] as number);
  }

  /** The next `n` bytes (a view, not a copy). */
  take(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) {
      throw new InvalidPayloadFrameError(`${this.what} is truncated: wanted ${n} bytes at offset ${this.at}, it has ${this.bytes.length}`);
    }
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  shortField(): Uint8Array {
    return this.take(this.u8());
  }

  longField(): Uint8Array {
    return this.take(this.u16());
  }

  /** Everything not read yet (a view). */
  rest(): Uint8Array {
    const out = this.bytes.subarray(this.at);
    this.at = this.bytes.length;
    return out;
  }
}

/** A Node Buffer (or any view) copied into a plain Uint8Array of its own. */
export function ownBytes(view: Uint8Array): Uint8Array {
  const out = new Uint8Array(view.length);
  out.set(view);
  return out;
}
