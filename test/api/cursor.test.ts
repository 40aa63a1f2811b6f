/** Cursors: what one encodes decodes back, and no edit, truncation, other query or other secret gets through. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createCursorCodec, InvalidCursorError, MAX_CURSOR_CHARS } from "../../lambdas/store/cursor.js";

const SEED = 7_331;
const codec = createCursorCodec("a cursor secret for these tests");

describe("cursors", () => {
  it("decode to the position they were made with, for the same query", () => {
    console.info(`cursor property seed: ${SEED}`);
    fc.assert(
      fc.property(fc.string(), fc.jsonValue(), (query, position) => {
        const cursor = codec.encode(query, position);
        expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
        expect(codec.decode(query, cursor)).toEqual(JSON.parse(JSON.stringify(position)));
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("refuse any one-character change, any truncation, another query and another secret", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 2 }), fc.nat(), fc.constantFrom(..."ABab01-_."), (position, at, replacement) => {
        const cursor = codec.encode("q", position);
        const i = at % cursor.length;
        const edited = cursor.slice(0, i) + replacement + cursor.slice(i + 1);
        if (edited !== cursor) expect(() => codec.decode("q", edited)).toThrow(InvalidCursorError);
        expect(() => codec.decode("q", cursor.slice(0, i))).toThrow(InvalidCursorError);
        expect(() => codec.decode("q2", cursor)).toThrow(InvalidCursorError);
        expect(() => createCursorCodec("another secret, also long enough").decode("q", cursor)).toThrow(InvalidCursorError);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("refuse every other spelling of the signature's last character (base64 ignores its spare bits)", () => {
    const cursor = codec.encode("q", { at: 1, id: "x" });
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (const c of alphabet) {
      const edited = cursor.slice(0, -1) + c;
      if (edited !== cursor) expect(() => codec.decode("q", edited)).toThrow(InvalidCursorError);
    }
  });

  it("refuse garbage without throwing anything but InvalidCursorError", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (garbage) => {
        expect(() => codec.decode("q", garbage)).toThrow(InvalidCursorError);
      }),
      { seed: SEED, numRuns: 300 },
    );
    expect(() => codec.decode("q", "a".repeat(MAX_CURSOR_CHARS + 1))).toThrow(InvalidCursorError);
  });

  it("from two codecs without a secret share this process's secret", () => {
    const cursor = createCursorCodec().encode("q", 1);
    expect(createCursorCodec().decode("q", cursor)).toBe(1);
  });

  it("need a secret of at least 16 bytes", () => {
    expect(() => createCursorCodec("short")).toThrow(RangeError);
  });
});
