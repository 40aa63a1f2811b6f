/**
 * Pagination cursors: opaque to clients, and tamper-proof.
 *
 *   cursor = base64url(JSON { v, q, p }) "." base64url(HMAC-SHA256(secret, first part))
 *
 * `p` is where the store stopped (its own position format), `q` a fingerprint of the query the
 * page answered (the list filters, or the execution whose history it is). A cursor decodes only
 * if its MAC is right and it was made for the same query, so a forged, truncated or edited cursor,
 * or one from another query, is refused with INVALID_CURSOR before the store sees it; it can
 * never make the store read from a position we did not hand out.
 *
 * The secret comes from Secrets Manager (handlers/cursor-keys.ts, deployed), or from
 * DURABLE_CURSOR_SECRET (read by the handler's config module). Without either,
 * a random secret made when this module loads is used: cursors then live as long as the process
 * (one Lambda instance; a cold start or another concurrent instance refuses them with a 400 and
 * the client starts paging again), which is fine for the local stack and tests but not for a
 * deployed API under load. Set the variable there.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { StoreError } from "./errors.js";

/** A cursor that this API did not hand out for this query. Maps to HTTP 400. */
export class InvalidCursorError extends StoreError {
  constructor(reason: string) {
    super("INVALID_CURSOR", `the cursor is not one this API gave out for this query (${reason}); omit it to start from the first page`);
  }
}

export interface CursorCodec {
  /** Signs `position` (any JSON value) into a cursor bound to `query`. */
  encode(query: string, position: unknown): string;
  /** The position inside a cursor made by `encode` for the same `query`; throws InvalidCursorError otherwise. */
  decode(query: string, cursor: string): unknown;
}

/** The signing key, and keys rotated out whose cursors are still accepted (Secrets Manager's AWSPREVIOUS). */
export interface CursorKeys {
  current: string | Buffer;
  previous?: readonly (string | Buffer)[];
}

const FORMAT_VERSION = 1;
/** Longer than any cursor we make (the widest is five index positions); refused before any work. */
export const MAX_CURSOR_CHARS = 2048;
const MIN_SECRET_BYTES = 16;

/** Made once per process: see the file comment for what that means for cursors. */
const processSecret = randomBytes(32);

/**
 * A codec signing with `secret`, or with this process's random secret when it is undefined.
 *
 * @example
 * const cursors = createCursorCodec(process.env.DURABLE_CURSOR_SECRET);
 * const cursor = cursors.encode("history:order-1", 42);
 * cursors.decode("history:order-1", cursor); // 42
 * cursors.decode("history:order-2", cursor); // throws InvalidCursorError
 */
export function createCursorCodec(secret?: string | Buffer | CursorKeys): CursorCodec {
  const keys = secret === undefined ? { current: processSecret, previous: [] } : typeof secret === "string" || Buffer.isBuffer(secret) ? { current: secret, previous: [] } : secret;
  const key = Buffer.from(keys.current);
  const older = (keys.previous ?? []).map((k) => Buffer.from(k));
  for (const k of [key, ...older]) if (k.length < MIN_SECRET_BYTES) throw new RangeError(`the cursor secret must be at least ${MIN_SECRET_BYTES} bytes`);
  const macWith = (k: Buffer, text: string) => createHmac("sha256", k).update(text).digest();
  const mac = (text: string) => macWith(key, text);
  /** Signed with the current key, or with one rotated out (a cursor handed out before the rotation). */
  const signedByAny = (given: Buffer, body: string) =>
    [key, ...older].some((k) => {
      const expected = macWith(k, body);
      // Length first: timingSafeEqual throws on different lengths.
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  return {
    encode(query, position) {
      const body = Buffer.from(JSON.stringify({ v: FORMAT_VERSION, q: fingerprint(query), p: position })).toString("base64url");
      return `${body}.${mac(body).toString("base64url")}`;
    },
    decode(query, cursor) {
      if (cursor.length > MAX_CURSOR_CHARS) throw new InvalidCursorError("too long");
      const parts = cursor.split(".");
      const [body, signature] = parts;
      if (parts.length !== 2 || !body || !signature) throw new InvalidCursorError("malformed");
      const given = Buffer.from(signature, "base64url");
      if (!signedByAny(given, body)) throw new InvalidCursorError("bad signature");
      // Base64 decoding ignores a last character's spare bits: only the one spelling we made counts.
      if (given.toString("base64url") !== signature) throw new InvalidCursorError("bad signature");
      let payload: unknown;
      try {
        payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
      } catch {
        throw new InvalidCursorError("malformed"); // only reachable with a leaked secret
      }
      const { v, q, p } = (payload ?? {}) as { v?: unknown; q?: unknown; p?: unknown };
      if (v !== FORMAT_VERSION) throw new InvalidCursorError("unknown version");
      if (q !== fingerprint(query)) throw new InvalidCursorError("made for another query");
      return p;
    },
  };
}

/** Short and fixed-size: the cursor says which query it belongs to without spelling it out. */
function fingerprint(query: string): string {
  return createHash("sha256").update(query).digest("base64url").slice(0, 22);
}
