import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  aesGcmCodec,
  createPayloadCodecs,
  gzipCodec,
  InvalidCodecConfigError,
  localEnvelopeCodec,
  PayloadDecryptError,
  PayloadError,
  type PayloadCodec,
} from "../../lambdas/payloads/index.js";

const order1 = { executionId: "order-1" };
const order2 = { executionId: "order-2" };
const SECRET = "card-4111-1111-1111-1111";
const secretValue = new TextEncoder().encode(JSON.stringify({ card: SECRET, note: `${SECRET} again` }));

interface Kind {
  name: string;
  make(key: Uint8Array, keyId: string): PayloadCodec;
  id(keyId: string): string;
  /** Bytes at the start of a value that hold no ciphertext: a change there is a bad header or a decrypt error. */
  headerBytes(keyId: string): number;
}

const kinds: Kind[] = [
  { name: "aesGcmCodec", make: (key, keyId) => aesGcmCodec({ key, keyId }), id: (k) => `aes-256-gcm:${k}`, headerBytes: (k) => 2 + k.length },
  { name: "localEnvelopeCodec", make: (key, keyId) => localEnvelopeCodec({ masterKey: key, keyId }), id: (k) => `local-envelope:${k}`, headerBytes: () => 3 },
];

describe.each(kinds)("$name", (kind) => {
  it("a value comes back as it was, under its execution", async () => {
    const codec = kind.make(randomBytes(32), "k1");
    expect(codec.id).toBe(kind.id("k1"));
    for (const value of [new Uint8Array(0), secretValue, randomBytes(1_000_000)]) {
      const sealed = await codec.encode(value, order1);
      expect(Buffer.from(await codec.decode(sealed, order1)).equals(value)).toBe(true);
    }
  });

  it("another codec with the same key and key id reads it (another process)", async () => {
    const key = randomBytes(32);
    const sealed = await kind.make(key, "k1").encode(secretValue, order1);
    expect(Buffer.from(await kind.make(key, "k1").decode(sealed, order1)).equals(secretValue)).toBe(true);
  });

  it("no part of the plaintext shows in what is stored, and the same value encrypts differently each time", async () => {
    const payloads = createPayloadCodecs({ codecs: [kind.make(randomBytes(32), "k1")] });
    const first = Buffer.from(await payloads.encode(secretValue, order1));
    const second = Buffer.from(await payloads.encode(secretValue, order1));
    for (const stored of [first, second]) {
      expect(stored.toString("latin1")).not.toContain("4111");
      expect(stored.toString("latin1")).not.toContain("card");
      expect(stored.includes(Buffer.from(SECRET).subarray(0, 6))).toBe(false);
    }
    expect(first.equals(second)).toBe(false);
  });

  it("a value does not decrypt under another key with the same key id", async () => {
    const sealed = await kind.make(randomBytes(32), "k1").encode(secretValue, order1);
    const err = await kind.make(randomBytes(32), "k1").decode(sealed, order1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadDecryptError);
    expect(err).toMatchObject({ code: "PAYLOAD_DECRYPT_FAILED" });
  });

  it("a value copied to another execution does not decrypt there", async () => {
    const codec = kind.make(randomBytes(32), "k1");
    const sealed = await codec.encode(secretValue, order1);
    const err = await codec.decode(sealed, order2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadDecryptError);
    expect((err as Error).message).toContain("order-2");
    // Still readable where it belongs.
    expect(Buffer.from(await codec.decode(sealed, order1)).equals(secretValue)).toBe(true);
  });

  it("changing any byte makes decoding fail; past the header it is PayloadDecryptError", async () => {
    const codec = kind.make(randomBytes(32), "k1");
    const sealed = await codec.encode(new TextEncoder().encode("short secret"), order1);
    for (let at = 0; at < sealed.length; at++) {
      const tampered = Uint8Array.from(sealed);
      tampered[at] = (tampered[at] as number) ^ 0x01;
      const err = await codec.decode(tampered, order1).catch((e: unknown) => e);
      expect(err, `byte ${at}`).toBeInstanceOf(PayloadError);
      if (at >= kind.headerBytes("k1")) expect(err, `byte ${at}`).toBeInstanceOf(PayloadDecryptError);
    }
    const cut = await codec.decode(sealed.subarray(0, sealed.length - 1), order1).catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(PayloadError);
  });

  it("works behind gzip in a chain", async () => {
    const payloads = createPayloadCodecs({ codecs: [gzipCodec({ minBytes: 0 }), kind.make(randomBytes(32), "k1")] });
    const value = new TextEncoder().encode(JSON.stringify(Array.from({ length: 1_000 }, () => SECRET)));
    const stored = await payloads.encode(value, order1);
    expect(stored.length).toBeLessThan(value.length / 10);
    expect(Buffer.from(await payloads.decode(stored, order1)).equals(value)).toBe(true);
  });

  it("refuses a key that is not 32 bytes and a bad key id", () => {
    expect(() => kind.make(randomBytes(16), "k1")).toThrow(InvalidCodecConfigError);
    expect(() => kind.make(randomBytes(32), "has space")).toThrow(InvalidCodecConfigError);
    expect(() => kind.make(randomBytes(32), "x".repeat(65))).toThrow(InvalidCodecConfigError);
  });

  it("keeps its own copy of the key", async () => {
    const key = randomBytes(32);
    const codec = kind.make(key, "k1");
    const sealed = await codec.encode(secretValue, order1);
    const original = Buffer.from(key);
    key.fill(0);
    expect(Buffer.from(await codec.decode(sealed, order1)).equals(secretValue)).toBe(true);
    expect(Buffer.from(await kind.make(original, "k1").decode(sealed, order1)).equals(secretValue)).toBe(true);
  });
});

describe("localEnvelopeCodec data keys", () => {
  it("values of one execution share a data key, another execution gets its own", async () => {
    const codec = localEnvelopeCodec({ masterKey: randomBytes(32), keyId: "dev" });
    const dataKeyOf = (sealed: Uint8Array): string => {
      const length = ((sealed[1] as number) << 8) | (sealed[2] as number);
      return Buffer.from(sealed.subarray(3, 3 + length)).toString("hex");
    };
    const a = await codec.encode(secretValue, order1);
    const b = await codec.encode(secretValue, order1);
    const c = await codec.encode(secretValue, order2);
    expect(dataKeyOf(a)).toBe(dataKeyOf(b));
    expect(dataKeyOf(c)).not.toBe(dataKeyOf(a));
  });
});
