import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  aesGcmCodec,
  CodecUnavailableError,
  createPayloadCodecs,
  gzipCodec,
  InvalidCodecConfigError,
  InvalidPayloadFrameError,
  kmsEnvelopeCodec,
  MAX_CODEC_CHAIN,
  PayloadError,
  readFrame,
  type PayloadCodec,
} from "../../lambdas/payloads/index.js";
import { FakeKms } from "./fake-kms.js";

const context = { executionId: "order-1" };
const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const json = (value: unknown): Uint8Array => text(JSON.stringify(value));

/** Counts the calls a codec gets, to show which ones ran. */
function counted(codec: PayloadCodec): PayloadCodec & { encodes: number; decodes: number } {
  const wrapper = {
    id: codec.id,
    encodes: 0,
    decodes: 0,
    encode: (bytes: Uint8Array, ctx: typeof context) => {
      wrapper.encodes += 1;
      return codec.encode(bytes, ctx);
    },
    decode: (bytes: Uint8Array, ctx: typeof context) => {
      wrapper.decodes += 1;
      return codec.decode(bytes, ctx);
    },
  };
  return wrapper;
}

/** A codec that appends its tag on encode and checks it off on decode: its effect is visible. */
function tagging(id: string): PayloadCodec {
  const tag = text(`<${id}>`);
  return {
    id,
    encode: async (bytes) => Uint8Array.from([...bytes, ...tag]),
    decode: async (bytes) => {
      const end = bytes.subarray(bytes.length - tag.length);
      if (!end.every((b, i) => b === tag[i])) throw new Error(`${id}: not mine`);
      return bytes.subarray(0, bytes.length - tag.length);
    },
  };
}

describe("payload codec chain", () => {
  it("a value comes back as it was through gzip and encryption", async () => {
    const payloads = createPayloadCodecs({ codecs: [gzipCodec({ minBytes: 16 }), aesGcmCodec({ key: randomBytes(32), keyId: "k1" })] });
    for (const value of [new Uint8Array(0), text("x"), json({ items: Array.from({ length: 500 }, (_, i) => ({ i, name: `item ${i}` })) }), randomBytes(100_000)]) {
      const stored = await payloads.encode(value, context);
      expect(Buffer.from(await payloads.decode(stored, context)).equals(value)).toBe(true);
    }
  });

  it("the frame names the codecs in encode order, after DUR1", async () => {
    const payloads = createPayloadCodecs({ codecs: [gzipCodec(), aesGcmCodec({ key: randomBytes(32), keyId: "2025-02" })] });
    const stored = await payloads.encode(json({ a: 1 }), context);
    expect(Buffer.from(stored.subarray(0, 4)).toString("latin1")).toBe("DUR1");
    expect(readFrame(stored).codecIds).toEqual(["gzip", "aes-256-gcm:2025-02"]);
    expect(payloads.writes).toEqual(["gzip", "aes-256-gcm:2025-02"]);
  });

  it("the codecs run in order on encode and in reverse on decode", async () => {
    const payloads = createPayloadCodecs({ codecs: [tagging("a"), tagging("b")] });
    const stored = await payloads.encode(text("v"), context);
    expect(Buffer.from(readFrame(stored).payload).toString()).toBe("v<a><b>");
    expect(Buffer.from(await payloads.decode(stored, context)).toString()).toBe("v");
  });

  it("a value written with an old key is read with the old codec in `readable`, and new values use the new key", async () => {
    const oldKey = aesGcmCodec({ key: randomBytes(32), keyId: "2024-11" });
    const newKey = aesGcmCodec({ key: randomBytes(32), keyId: "2025-02" });
    const before = await createPayloadCodecs({ codecs: [gzipCodec(), oldKey] }).encode(json({ v: "old" }), context);

    const now = createPayloadCodecs({ codecs: [newKey], readable: [gzipCodec(), oldKey] });
    expect(JSON.parse(Buffer.from(await now.decode(before, context)).toString())).toEqual({ v: "old" });
    const after = await now.encode(json({ v: "new" }), context);
    expect(readFrame(after).codecIds).toEqual(["aes-256-gcm:2025-02"]);
    expect(now.reads).toEqual(["aes-256-gcm:2025-02", "gzip", "aes-256-gcm:2024-11"]);

    // Without the old codec the old value is unreadable, and says which codec it needs.
    const forgetful = createPayloadCodecs({ codecs: [newKey], readable: [gzipCodec()] });
    const err = await forgetful.decode(before, context).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CodecUnavailableError);
    expect(err).toMatchObject({ code: "CODEC_UNAVAILABLE", codecId: "aes-256-gcm:2024-11" });
  });

  it("a codec the frame names but the chain lacks fails before any codec runs", async () => {
    const gzip = counted(gzipCodec({ minBytes: 0 }));
    const secret = counted(aesGcmCodec({ key: randomBytes(32), keyId: "gone" }));
    // Encode order [secret, gzip]: decode would run gzip first if it did not look every id up first.
    const stored = await createPayloadCodecs({ codecs: [secret, gzip] }).encode(json({ a: 1 }), context);
    const reader = createPayloadCodecs({ codecs: [gzip] });
    await expect(reader.decode(stored, context)).rejects.toBeInstanceOf(CodecUnavailableError);
    expect(gzip.decodes).toBe(0);
    expect(secret.decodes).toBe(0);
  });

  it("a value under a KMS key that is not registered fails without a KMS call", async () => {
    const kms = new FakeKms();
    const writer = createPayloadCodecs({ codecs: [gzipCodec(), kmsEnvelopeCodec({ client: kms.client(), keyId: "alias/old" })] });
    const stored = await writer.encode(json({ card: "4111" }), context);
    expect(kms.count("GenerateDataKey")).toBe(1);

    const reader = createPayloadCodecs({ codecs: [gzipCodec(), kmsEnvelopeCodec({ client: kms.client(), keyId: "alias/new" })] });
    const err = await reader.decode(stored, context).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CodecUnavailableError);
    expect((err as Error).message).toContain("add it to `readable`");
    expect(kms.count("Decrypt")).toBe(0);
  });

  it("bytes that are not a frame, or a broken frame, are InvalidPayloadFrameError", async () => {
    const payloads = createPayloadCodecs({ codecs: [gzipCodec()], readable: [aesGcmCodec({ key: randomBytes(32), keyId: "k" })] });
    const good = await payloads.encode(text("value"), context);
    const broken: [string, Uint8Array][] = [
      ["plain JSON", json({ a: 1 })],
      ["empty", new Uint8Array(0)],
      ["only the magic", text("DUR1")],
      ["a count past the ids", Uint8Array.from([...text("DUR1"), 2, 4, ...text("gzip")])],
      ["an id longer than the bytes", Uint8Array.from([...text("DUR1"), 1, 40, ...text("gzip")])],
      ["an id with a space", Uint8Array.from([...text("DUR1"), 1, 3, ...text("g z"), 0])],
      ["an id that is not ASCII", Uint8Array.from([...text("DUR1"), 1, 2, 0xc3, 0xa9, 0])],
      ["an empty id", Uint8Array.from([...text("DUR1"), 1, 0, 0])],
      ["another magic", Uint8Array.from([...text("DUR2"), ...good.subarray(4)])],
      ["a truncated aes-256-gcm value", Uint8Array.from([...text("DUR1"), 1, 13, ...text("aes-256-gcm:k"), 1, 1, ...text("k"), 1, 2, 3])],
      ["a gzip value with an unknown flag", Uint8Array.from([...text("DUR1"), 1, 4, ...text("gzip"), 7, 1, 2])],
    ];
    for (const [what, bytes] of broken) {
      const err = await payloads.decode(bytes, context).catch((e: unknown) => e);
      expect(err, what).toBeInstanceOf(InvalidPayloadFrameError);
      expect(err, what).toBeInstanceOf(PayloadError);
      expect((err as PayloadError).code, what).toBe("INVALID_PAYLOAD_FRAME");
    }
  });

  it("a chain holds at most MAX_CODEC_CHAIN codecs, and a frame naming more is refused", async () => {
    expect(MAX_CODEC_CHAIN).toBe(8);
    const eight = Array.from({ length: 8 }, (_, i) => tagging(`t${i}`));
    const full = createPayloadCodecs({ codecs: eight });
    expect(Buffer.from(await full.decode(await full.encode(text("v"), context), context)).toString()).toBe("v");
    expect(() => createPayloadCodecs({ codecs: [...eight, tagging("t8")] })).toThrow(InvalidCodecConfigError);

    const nine = Uint8Array.from([...text("DUR1"), 9, ...Array.from({ length: 9 }, (_, i) => [2, ...text(`t${i}`)]).flat(), 0]);
    const registry = createPayloadCodecs({ codecs: [], readable: Array.from({ length: 9 }, (_, i) => tagging(`t${i}`)) });
    await expect(registry.decode(nine, context)).rejects.toThrow(/at most 8/);
  });

  it("a chain refuses bad ids and two different codecs under one id", () => {
    expect(() => createPayloadCodecs({ codecs: [tagging("has space")] })).toThrow(InvalidCodecConfigError);
    expect(() => createPayloadCodecs({ codecs: [tagging("x".repeat(129))] })).toThrow(InvalidCodecConfigError);
    expect(() => createPayloadCodecs({ codecs: [tagging("x".repeat(128))] })).not.toThrow();
    expect(() => createPayloadCodecs({ codecs: [tagging("same"), tagging("same")] })).toThrow(/two different codecs/);
    // An id in both lists is read with the one in `codecs`.
    const current = tagging("k");
    expect(() => createPayloadCodecs({ codecs: [current], readable: [tagging("k")] })).not.toThrow();
  });

  it("an empty chain frames the value as it is", async () => {
    const payloads = createPayloadCodecs({ codecs: [] });
    const stored = await payloads.encode(text("plain"), context);
    expect(readFrame(stored)).toMatchObject({ codecIds: [] });
    expect(Buffer.from(await payloads.decode(stored, context)).toString()).toBe("plain");
  });
});
