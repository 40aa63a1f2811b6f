import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { gzipCodec, InvalidCodecConfigError, InvalidPayloadFrameError, PayloadCorruptError } from "../../lambdas/payloads/index.js";

const context = { executionId: "order-1" };
const MiB = 1024 * 1024;

/** A JSON document that compresses well, as workflow values do. */
function document(items: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ items: Array.from({ length: items }, (_, i) => ({ sku: `SKU-${i % 40}`, quantity: i % 7, note: "gift wrap" })) }));
}

describe("gzip codec", () => {
  it("the same value gives the same bytes, from one codec or another", async () => {
    const value = document(2_000);
    const first = await gzipCodec().encode(value, context);
    const again = await gzipCodec().encode(value, context);
    const sameCodec = gzipCodec();
    expect(Buffer.from(again).equals(first)).toBe(true);
    expect(Buffer.from(await sameCodec.encode(value, context)).equals(await sameCodec.encode(value, context))).toBe(true);
    expect(first[0]).toBe(1);
    expect(first.length).toBeLessThan(value.length / 5);
    expect(Buffer.from(await gzipCodec().decode(first, context)).equals(value)).toBe(true);
  });

  it("values shorter than minBytes are stored as they are, behind flag 0", async () => {
    const codec = gzipCodec({ minBytes: 2_000 });
    const short = new TextEncoder().encode("a".repeat(1_999));
    const stored = await codec.encode(short, context);
    expect(stored[0]).toBe(0);
    expect(Buffer.from(stored.subarray(1)).equals(short)).toBe(true);
    expect(Buffer.from(await codec.decode(stored, context)).equals(short)).toBe(true);

    const long = new TextEncoder().encode("a".repeat(2_000));
    const packed = await codec.encode(long, context);
    expect(packed[0]).toBe(1);
    expect(packed.length).toBeLessThan(100);
  });

  it("the default minBytes is 1024", async () => {
    const codec = gzipCodec();
    expect((await codec.encode(new Uint8Array(1_023), context))[0]).toBe(0);
    expect((await codec.encode(new Uint8Array(1_024), context))[0]).toBe(1);
  });

  it("bytes gzip does not shrink are stored as they are", async () => {
    const noise = randomBytes(10_000);
    const stored = await gzipCodec().encode(noise, context);
    expect(stored[0]).toBe(0);
    expect(stored.length).toBe(noise.length + 1);
  });

  it("a value that inflates past maxBytes is refused (a gzip bomb), one at maxBytes is read", async () => {
    const bomb = Uint8Array.from([1, ...gzipSync(Buffer.alloc(8 * MiB))]);
    expect(bomb.length).toBeLessThan(20_000);
    const err = await gzipCodec({ maxBytes: MiB }).decode(bomb, context).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadCorruptError);
    expect(err).toMatchObject({ code: "PAYLOAD_CORRUPT", details: { maxBytes: MiB, tooLarge: true } });

    const exact = Uint8Array.from([1, ...gzipSync(Buffer.alloc(MiB, 7))]);
    expect((await gzipCodec({ maxBytes: MiB }).decode(exact, context)).length).toBe(MiB);
  });

  it("the default maxBytes is 64 MiB", async () => {
    const codec = gzipCodec();
    const over = Uint8Array.from([1, ...gzipSync(Buffer.alloc(64 * MiB + 1))]);
    await expect(codec.decode(over, context)).rejects.toBeInstanceOf(PayloadCorruptError);
    const at = Uint8Array.from([1, ...gzipSync(Buffer.alloc(64 * MiB))]);
    expect((await codec.decode(at, context)).length).toBe(64 * MiB);
  });

  it("bytes flagged gzip that are not gzip are PayloadCorruptError; an unknown flag is a bad frame", async () => {
    const codec = gzipCodec();
    const truncated = await codec.encode(document(500), context);
    await expect(codec.decode(Uint8Array.from([1, 1, 2, 3]), context)).rejects.toBeInstanceOf(PayloadCorruptError);
    await expect(codec.decode(truncated.subarray(0, truncated.length - 10), context)).rejects.toBeInstanceOf(PayloadCorruptError);
    await expect(codec.decode(Uint8Array.from([2, 1]), context)).rejects.toBeInstanceOf(InvalidPayloadFrameError);
    await expect(codec.decode(new Uint8Array(0), context)).rejects.toBeInstanceOf(InvalidPayloadFrameError);
  });

  it("refuses options out of range", () => {
    expect(() => gzipCodec({ minBytes: -1 })).toThrow(InvalidCodecConfigError);
    expect(() => gzipCodec({ maxBytes: 0 })).toThrow(InvalidCodecConfigError);
    expect(() => gzipCodec({ level: 10 })).toThrow(InvalidCodecConfigError);
    expect(() => gzipCodec({ minBytes: 1.5 })).toThrow(InvalidCodecConfigError);
  });
});
