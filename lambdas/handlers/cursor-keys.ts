/**
 * The API's cursor-signing keys from Secrets Manager (DURABLE_CURSOR_SECRET_ARN), read through
 * Powertools Parameters at cold start and again every few minutes, never from the environment:
 * the current version signs, and the version rotated out (AWSPREVIOUS) still verifies, so a
 * rotation breaks no cursor handed out before it.
 */
import { getSecret } from "@aws-lambda-powertools/parameters/secrets";
import { type CursorCodec, createCursorCodec } from "../store/cursor.js";

/** How long a read of the keys is kept: a rotation reaches every instance within this. */
export const CURSOR_KEYS_MAX_AGE_SECONDS = 300;

/** Reads one version of the secret by its staging label; undefined when that version does not exist. */
export type SecretReader = (stage: "AWSCURRENT" | "AWSPREVIOUS") => Promise<string | undefined>;

/** A reader of `secretArn` through Powertools Parameters (cached `maxAge` seconds). */
export function secretsManagerReader(secretArn: string, maxAge = CURSOR_KEYS_MAX_AGE_SECONDS): SecretReader {
  return async (stage) => {
    try {
      const value = await getSecret<string>(secretArn, { maxAge, sdkOptions: { VersionStage: stage } });
      return typeof value === "string" && value.length > 0 ? value : undefined;
    } catch (err) {
      // No AWSPREVIOUS before the first rotation.
      if (stage === "AWSPREVIOUS" && err instanceof Error && /ResourceNotFound|version|staging label/i.test(`${err.name} ${err.message} ${String((err as { cause?: unknown }).cause ?? "")}`)) return undefined;
      throw err;
    }
  };
}

/**
 * The codec for the keys `read` gives now; re-read after `maxAgeMs`. A failed re-read keeps
 * the last keys (cursors keep working while Secrets Manager is unreachable); a failed first read
 * throws, and the request fails (the API answers 500).
 */
export function cursorCodecFrom(read: SecretReader, options: { maxAgeMs?: number; now?: () => number } = {}): () => Promise<CursorCodec> {
  const maxAgeMs = options.maxAgeMs ?? CURSOR_KEYS_MAX_AGE_SECONDS * 1000;
  const now = options.now ?? Date.now;
  let cached: { codec: CursorCodec; atMs: number } | undefined;
  let loading: Promise<CursorCodec> | undefined;
  const load = async (): Promise<CursorCodec> => {
    const [current, previous] = await Promise.all([read("AWSCURRENT"), read("AWSPREVIOUS")]);
    if (current === undefined) throw new Error("the cursor secret has no current value");
    const codec = createCursorCodec({ current, previous: previous === undefined || previous === current ? [] : [previous] });
    cached = { codec, atMs: now() };
    return codec;
  };
  return async () => {
    if (cached && now() - cached.atMs < maxAgeMs) return cached.codec;
    loading ??= load().finally(() => {
      loading = undefined;
    });
    try {
      return await loading;
    } catch (err) {
      if (cached) return cached.codec;
      throw err;
    }
  };
}
