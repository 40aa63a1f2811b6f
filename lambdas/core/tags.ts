/**
 * Tags and delayed starts: what a caller may give an execution when it starts it. Checked by the
 * engine (engine/executions.ts), so the API, the test kits and the starter all refuse the same.
 */
import { DurableError } from "./errors.js";

/** Most tags on one execution: each is one more item written with the start. */
export const MAX_TAGS = 10;
export const MAX_TAG_KEY_CHARS = 64;
export const MAX_TAG_VALUE_CHARS = 256;
/** How far ahead a start may be delayed. */
export const MAX_START_DELAY_MS = 366 * 24 * 3_600_000;

const TAG_KEY = /^[A-Za-z0-9_.:-]{1,64}$/;
// Printable characters only: a tag is read in lists and URLs.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Tags as given at start: short keys and values, a bounded number of them. */
export type Tags = Readonly<Record<string, string>>;

export class InvalidTagsError extends DurableError {
  constructor(message: string) {
    super("INVALID_TAGS", message);
  }
}

export class InvalidStartAtError extends DurableError {
  constructor(message: string) {
    super("INVALID_START_AT", message);
  }
}

/** Throws InvalidTagsError naming the first tag that breaks a rule. */
export function checkTags(tags: unknown): Tags {
  if (typeof tags !== "object" || tags === null || Array.isArray(tags)) throw new InvalidTagsError("tags must be an object of string values, like {\"customer\": \"c-42\"}");
  const entries = Object.entries(tags as Record<string, unknown>);
  if (entries.length > MAX_TAGS) throw new InvalidTagsError(`an execution takes at most ${MAX_TAGS} tags, got ${entries.length}`);
  for (const [key, value] of entries) {
    if (!TAG_KEY.test(key)) throw new InvalidTagsError(`tag key "${key.slice(0, 80)}" must be 1–${MAX_TAG_KEY_CHARS} characters of A–Z, a–z, 0–9, _ . : or -`);
    if (typeof value !== "string") throw new InvalidTagsError(`tag "${key}" must have a string value`);
    if (value.length === 0 || value.length > MAX_TAG_VALUE_CHARS) throw new InvalidTagsError(`tag "${key}" must have a value of 1–${MAX_TAG_VALUE_CHARS} characters`);
    if (CONTROL.test(value)) throw new InvalidTagsError(`tag "${key}" has a control character in its value`);
  }
  return tags as Tags;
}

/**
 * When a delayed start may begin: undefined for "now" (no time, or one already past), else the
 * time in ms. Throws InvalidStartAtError beyond MAX_START_DELAY_MS.
 */
export function checkStartAt(startAt: Date | string | number | undefined, nowMs: number): number | undefined {
  if (startAt === undefined) return undefined;
  const atMs = startAt instanceof Date ? startAt.getTime() : typeof startAt === "number" ? startAt : Date.parse(startAt);
  if (!Number.isFinite(atMs)) throw new InvalidStartAtError(`startAt must be a time (ISO 8601 with a time zone, like "2026-12-24T09:00:00Z")`);
  if (atMs > nowMs + MAX_START_DELAY_MS) throw new InvalidStartAtError(`startAt may be at most 366 days ahead, got ${new Date(atMs).toISOString()}`);
  return atMs > nowMs ? Math.trunc(atMs) : undefined;
}
