import { describe, expect, it } from "vitest";
import {
  createPayloadCodecs,
  InvalidCodecConfigError,
  KMS_EXECUTION_CONTEXT_KEY,
  kmsEnvelopeCodec,
  kmsEnvelopeCodecId,
  KmsRequestError,
  PayloadDecryptError,
  readFrame,
} from "../../lambdas/payloads/index.js";
import { FakeKms } from "./fake-kms.js";

const KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const order1 = { executionId: "order-1" };
const order2 = { executionId: "order-2" };
const value = (i: number): Uint8Array => new TextEncoder().encode(JSON.stringify({ step: i, card: "4111-1111-1111-1111" }));
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** The encrypted data key a value carries (after the version byte, behind a 2-byte length). */
function dataKeyOf(sealed: Uint8Array): Buffer {
  const length = ((sealed[1] as number) << 8) | (sealed[2] as number);
  return Buffer.from(sealed.subarray(3, 3 + length));
}

/** A clock the test moves. */
function manualClock(startMs = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let nowMs = startMs;
  return { now: () => nowMs, advance: (ms) => (nowMs += ms) };
}

describe("kmsEnvelopeCodec", () => {
  it("50 values of one execution cost one GenerateDataKey, bound to the execution", async () => {
    const kms = new FakeKms();
    const codec = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    const sealed = [];
    for (let i = 0; i < 50; i++) sealed.push(await codec.encode(value(i), order1));
    expect(kms.count("GenerateDataKey")).toBe(1);
    expect(kms.calls[0]).toEqual({ operation: "GenerateDataKey", keyId: KEY_ARN, keySpec: "AES_256", encryptionContext: { "durable:execution": "order-1" } });
    expect(KMS_EXECUTION_CONTEXT_KEY).toBe("durable:execution");
    expect(new Set(sealed.map((s) => dataKeyOf(s).toString("hex"))).size).toBe(1);
  });

  it("50 values read by another process cost one Decrypt, under the same context and key", async () => {
    const kms = new FakeKms();
    const writer = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    const sealed = [];
    for (let i = 0; i < 50; i++) sealed.push(await writer.encode(value(i), order1));

    const reader = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    for (let i = 0; i < 50; i++) expect(JSON.parse(text(await reader.decode(sealed[i] as Uint8Array, order1)))).toEqual({ step: i, card: "4111-1111-1111-1111" });
    expect(kms.count("Decrypt")).toBe(1);
    expect(kms.calls.find((c) => c.operation === "Decrypt")).toEqual({ operation: "Decrypt", keyId: KEY_ARN, encryptionContext: { "durable:execution": "order-1" } });
  });

  it("the writer reads its own values back without a Decrypt", async () => {
    const kms = new FakeKms();
    const codec = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    const sealed = await codec.encode(value(1), order1);
    expect(JSON.parse(text(await codec.decode(sealed, order1)))).toMatchObject({ step: 1 });
    expect(kms.count("Decrypt")).toBe(0);
  });

  it("two executions get two data keys, each opened once", async () => {
    const kms = new FakeKms();
    const writer = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    const a = [await writer.encode(value(1), order1), await writer.encode(value(2), order1)];
    const b = [await writer.encode(value(3), order2), await writer.encode(value(4), order2)];
    expect(kms.count("GenerateDataKey")).toBe(2);
    expect(kms.calls.map((c) => c.encryptionContext)).toEqual([{ "durable:execution": "order-1" }, { "durable:execution": "order-2" }]);
    expect(dataKeyOf(a[0] as Uint8Array).equals(dataKeyOf(b[0] as Uint8Array))).toBe(false);

    const reader = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    for (const sealed of a) await reader.decode(sealed, order1);
    for (const sealed of b) await reader.decode(sealed, order2);
    expect(kms.count("Decrypt")).toBe(2);
  });

  it("concurrent encodes of one execution share one GenerateDataKey, concurrent decodes one Decrypt", async () => {
    const kms = new FakeKms();
    kms.delayMs = 30;
    const writer = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    const sealed = await Promise.all(Array.from({ length: 20 }, (_, i) => writer.encode(value(i), order1)));
    expect(kms.count("GenerateDataKey")).toBe(1);

    const reader = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    const opened = await Promise.all(sealed.map((s) => reader.decode(s, order1)));
    expect(kms.count("Decrypt")).toBe(1);
    expect(opened.map((o) => JSON.parse(text(o)).step)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("a data key is used for dataKeyTtlMs, then a new one is asked for; decoded keys expire too", async () => {
    const kms = new FakeKms();
    const clock = manualClock();
    const writer = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN, dataKeyTtlMs: 60_000, clock: clock.now });
    const first = await writer.encode(value(1), order1);
    clock.advance(59_999);
    await writer.encode(value(2), order1);
    expect(kms.count("GenerateDataKey")).toBe(1);
    clock.advance(1);
    const third = await writer.encode(value(3), order1);
    expect(kms.count("GenerateDataKey")).toBe(2);
    expect(dataKeyOf(third).equals(dataKeyOf(first))).toBe(false);

    const reader = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN, dataKeyTtlMs: 60_000, clock: clock.now });
    await reader.decode(first, order1);
    await reader.decode(first, order1);
    expect(kms.count("Decrypt")).toBe(1);
    clock.advance(60_000);
    await reader.decode(first, order1);
    expect(kms.count("Decrypt")).toBe(2);
  });

  it("the default TTL is 15 minutes", async () => {
    const kms = new FakeKms();
    const clock = manualClock();
    const codec = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN, clock: clock.now });
    await codec.encode(value(1), order1);
    clock.advance(15 * 60_000 - 1);
    await codec.encode(value(2), order1);
    expect(kms.count("GenerateDataKey")).toBe(1);
    clock.advance(1);
    await codec.encode(value(3), order1);
    expect(kms.count("GenerateDataKey")).toBe(2);
  });

  it("at most maxCachedKeys data keys are kept, the least recently used out first", async () => {
    const kms = new FakeKms();
    const codec = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN, maxCachedKeys: 2 });
    for (const id of ["a", "b", "a", "c", "a"]) await codec.encode(value(1), { executionId: id });
    // a, b asked for; a used again; c pushes out b (least recently used); a still kept.
    expect(kms.count("GenerateDataKey")).toBe(3);
    await codec.encode(value(1), { executionId: "b" });
    expect(kms.count("GenerateDataKey")).toBe(4);
  });

  it("a value copied to another execution: KMS refuses its data key, PayloadDecryptError", async () => {
    const kms = new FakeKms();
    const writer = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    const sealed = await writer.encode(value(1), order1);
    for (const codec of [writer, kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN })]) {
      const err = await codec.decode(sealed, order2).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PayloadDecryptError);
      expect(err).toMatchObject({ code: "PAYLOAD_DECRYPT_FAILED", details: { awsError: "InvalidCiphertextException", executionId: "order-2" } });
    }
    expect(kms.calls.filter((c) => c.operation === "Decrypt").map((c) => c.encryptionContext)).toEqual([
      { "durable:execution": "order-2" },
      { "durable:execution": "order-2" },
    ]);
  });

  it("IncorrectKeyException is PayloadDecryptError; a refused key is not cached", async () => {
    const kms = new FakeKms();
    const sealed = await kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN }).encode(value(1), order1);
    const reader = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    kms.failNext("Decrypt", "IncorrectKeyException");
    await expect(reader.decode(sealed, order1)).rejects.toMatchObject({ name: "PayloadDecryptError", details: { awsError: "IncorrectKeyException" } });
    expect(JSON.parse(text(await reader.decode(sealed, order1)))).toMatchObject({ step: 1 });
    expect(kms.count("Decrypt")).toBe(2);
  });

  it("a data key altered in the value: KMS does not know it, PayloadDecryptError", async () => {
    const kms = new FakeKms();
    const sealed = await kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN }).encode(value(1), order1);
    const tampered = Uint8Array.from(sealed);
    tampered[10] = (tampered[10] as number) ^ 0xff;
    await expect(kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN }).decode(tampered, order1)).rejects.toBeInstanceOf(PayloadDecryptError);
    const body = Uint8Array.from(sealed);
    body[body.length - 1] = (body[body.length - 1] as number) ^ 0x01;
    await expect(kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN }).decode(body, order1)).rejects.toBeInstanceOf(PayloadDecryptError);
  });

  it("KMS throttling is KmsRequestError with the AWS error name, and is not cached", async () => {
    const kms = new FakeKms();
    const codec = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    kms.failNext("GenerateDataKey", "ThrottlingException");
    const err = await codec.encode(value(1), order1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KmsRequestError);
    expect(err).toMatchObject({
      code: "KMS_REQUEST_FAILED",
      operation: "GenerateDataKey",
      awsError: "ThrottlingException",
      details: { operation: "GenerateDataKey", keyId: KEY_ARN, awsError: "ThrottlingException", httpStatus: 400 },
    });
    expect((err as Error).cause).toMatchObject({ name: "ThrottlingException" });
    const sealed = await codec.encode(value(1), order1);
    expect(kms.count("GenerateDataKey")).toBe(2);

    const reader = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    kms.failNext("Decrypt", "ThrottlingException");
    await expect(reader.decode(sealed, order1)).rejects.toMatchObject({ name: "KmsRequestError", operation: "Decrypt", awsError: "ThrottlingException" });
    await expect(reader.decode(sealed, order1)).resolves.toBeInstanceOf(Uint8Array);
  });

  it("concurrent encodes that share a failed request all fail, and the next one asks again", async () => {
    const kms = new FakeKms();
    kms.delayMs = 20;
    const codec = kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN });
    kms.failNext("GenerateDataKey", "KMSInternalException");
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => codec.encode(value(i), order1)));
    expect(results.every((r) => r.status === "rejected" && r.reason instanceof KmsRequestError)).toBe(true);
    expect(kms.count("GenerateDataKey")).toBe(1);
    await codec.encode(value(1), order1);
    expect(kms.count("GenerateDataKey")).toBe(2);
  });

  it("the stored value holds the encrypted data key, never the plaintext key or value", async () => {
    const kms = new FakeKms();
    const payloads = createPayloadCodecs({ codecs: [kmsEnvelopeCodec({ client: kms.client(), keyId: KEY_ARN })] });
    const stored = await payloads.encode(value(1), order1);
    const { codecIds, payload } = readFrame(stored);
    expect(codecIds).toEqual([kmsEnvelopeCodecId(KEY_ARN)]);
    expect(payload[0]).toBe(1);
    expect(dataKeyOf(payload).length).toBe(180);
    expect(Buffer.from(stored).toString("latin1")).not.toContain("4111");
    expect(Buffer.from(stored).toString("latin1")).not.toContain("card");
  });

  it("the codec id is kms-envelope: and a short hash of the key id, within 128 characters for any key id", () => {
    const aliasArn = `arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/${"a".repeat(250)}`;
    expect(kmsEnvelopeCodecId(KEY_ARN)).toMatch(/^kms-envelope:[0-9a-f]{16}$/);
    expect(kmsEnvelopeCodecId(KEY_ARN)).toBe(kmsEnvelopeCodecId(KEY_ARN));
    expect(kmsEnvelopeCodecId(KEY_ARN)).not.toBe(kmsEnvelopeCodecId("alias/payloads"));
    const codec = kmsEnvelopeCodec({ client: new FakeKms().client(), keyId: aliasArn });
    expect(codec.id.length).toBeLessThanOrEqual(128);
    expect(codec.id).toBe(kmsEnvelopeCodecId(aliasArn));
  });

  it("refuses a key id KMS would not take and cache settings out of range", () => {
    const client = new FakeKms().client();
    expect(() => kmsEnvelopeCodec({ client, keyId: "" })).toThrow(InvalidCodecConfigError);
    expect(() => kmsEnvelopeCodec({ client, keyId: "alias/has space" })).toThrow(InvalidCodecConfigError);
    expect(() => kmsEnvelopeCodec({ client, keyId: KEY_ARN, dataKeyTtlMs: 0 })).toThrow(InvalidCodecConfigError);
    expect(() => kmsEnvelopeCodec({ client, keyId: KEY_ARN, maxCachedKeys: 0 })).toThrow(InvalidCodecConfigError);
  });
});
