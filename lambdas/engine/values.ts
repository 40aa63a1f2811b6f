/**
 * Large values in API answers. An answer of Lambda is at most 6 MB, and a value may be 50 MB: an
 * execution view or a history event keeps a value inline up to MAX_INLINE_VALUE_BYTES of JSON and
 * names a larger one in `valueRefs` instead, which `GET /executions/{id}/values/{name}` serves in
 * parts of at most VALUE_PART_BYTES (UTF-8 bytes of its JSON, cut between characters).
 *
 *   { "id": "order-1", ..., "valueRefs": { "input": { "name": "input", "bytes": 5000000, "parts": 2 } } }
 *   GET /executions/order-1/values/input?part=0   → the first 2.5 MB of the input's JSON
 *
 * Names: `input` and `output` of the execution, `<seq>.<field>` of a history event
 * (`7.result`, `12.payload`).
 */
import { createHash } from "node:crypto";
import { DurableError } from "../core/errors.js";
import type { HistoryEvent } from "../core/events.js";
import { jsonBytes } from "../core/limits.js";

/** Largest value, as JSON, an answer holds inline; a larger one is named in `valueRefs`. */
export const MAX_INLINE_VALUE_BYTES = 1_000_000;
/**
 * Largest part of a value one answer carries: a part travels as the body string of Lambda's
 * response, where escaping can double it (a JSON of quotes), and that must stay under 6 MB.
 */
export const VALUE_PART_BYTES = 2_500_000;

/** Fields of history events that hold a workflow's values. */
const EVENT_VALUE_FIELDS = ["input", "output", "result", "payload"] as const;

export interface ValueRef {
  /** What `GET /executions/{id}/values/{name}` takes. */
  name: string;
  /** Bytes of the value's JSON (UTF-8). */
  bytes: number;
  /** How many parts the route serves it in (`?part=0` … `parts - 1`). */
  parts: number;
  /** Set by the API: the route that serves it. */
  href?: string;
}

export type ValueRefs = Record<string, ValueRef>;

/** A reference to `value` under `name`, or undefined when it is small enough to stay inline. */
function refTo(value: unknown, name: string): ValueRef | undefined {
  if (value === undefined) return undefined;
  const text = JSON.stringify(value) ?? "null";
  if (jsonBytes(text) <= MAX_INLINE_VALUE_BYTES) return undefined;
  const bytes = Buffer.from(text, "utf8");
  return { name, bytes: bytes.length, parts: partCuts(bytes, VALUE_PART_BYTES).length - 1 };
}

/** Takes the execution's large input and output out of `view`, naming them in `valueRefs`. */
export function referExecutionValues<T extends { input?: unknown; output?: unknown; valueRefs?: ValueRefs }>(view: T): T {
  const refs: ValueRefs = {};
  for (const field of ["input", "output"] as const) {
    const found = refTo(view[field], field);
    if (found === undefined) continue;
    delete view[field];
    refs[field] = found;
  }
  if (Object.keys(refs).length > 0) view.valueRefs = refs;
  return view;
}

/** Takes an event view's large values out, naming them `<seq>.<field>` in `valueRefs`. */
export function referEventValues(view: Record<string, unknown>, seq: number): Record<string, unknown> {
  const refs: ValueRefs = {};
  for (const field of EVENT_VALUE_FIELDS) {
    const found = refTo(view[field], `${seq}.${field}`);
    if (found === undefined) continue;
    delete view[field];
    refs[field] = found;
  }
  if (Object.keys(refs).length > 0) view.valueRefs = refs;
  return view;
}

export class ValueNotFoundError extends DurableError {
  constructor(executionId: string, name: string) {
    super("VALUE_NOT_FOUND", `execution "${executionId}" has no value "${name}"`, { details: { executionId, name } });
  }
}

export class InvalidValueNameError extends DurableError {
  constructor(name: string) {
    super("INVALID_VALUE_NAME", `"${name}" names no value: use input, output or <seq>.<field> (a history event's ${EVENT_VALUE_FIELDS.join(", ")})`, {
      details: { name },
    });
  }
}

export class InvalidValuePartError extends DurableError {
  constructor(part: number, parts: number) {
    super("INVALID_VALUE_PART", `part ${part} does not exist: the value has ${parts} part${parts === 1 ? "" : "s"} (0 to ${parts - 1})`, { details: { part, parts } });
  }
}

/** What a value name points at. */
export type ValueName = { kind: "execution"; field: "input" | "output" } | { kind: "event"; seq: number; field: (typeof EVENT_VALUE_FIELDS)[number] };

export function parseValueName(name: string): ValueName {
  if (name === "input" || name === "output") return { kind: "execution", field: name };
  const match = /^([1-9][0-9]{0,11})\.([a-z]+)$/.exec(name);
  const field = match?.[2] as (typeof EVENT_VALUE_FIELDS)[number] | undefined;
  if (!match || field === undefined || !EVENT_VALUE_FIELDS.includes(field)) throw new InvalidValueNameError(name);
  return { kind: "event", seq: Number(match[1]), field };
}

/** The field of `event` a name points at; undefined when the event has none. */
export function eventValue(event: HistoryEvent, field: string): unknown {
  return (event as unknown as Record<string, unknown>)[field];
}

export interface ValuePart {
  /** This part's text: a slice of the value's JSON, whole characters only. */
  text: string;
  part: number;
  parts: number;
  bytes: number;
  /** The SHA-256 of the whole value's JSON (hex): parts of one value all carry the same. */
  sha256: string;
}

/** Part `part` of `value`'s JSON. Cuts fall between UTF-8 characters, at most VALUE_PART_BYTES apart. */
export function valuePart(value: unknown, part: number, partBytes = VALUE_PART_BYTES): ValuePart {
  const bytes = Buffer.from(JSON.stringify(value) ?? "null", "utf8");
  const cuts = partCuts(bytes, partBytes);
  const parts = cuts.length - 1;
  if (!Number.isSafeInteger(part) || part < 0 || part >= parts) throw new InvalidValuePartError(part, parts);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return { text: bytes.subarray(cuts[part] as number, cuts[part + 1] ?? bytes.length).toString("utf8"), part, parts, bytes: bytes.length, sha256 };
}

/** Where parts begin and end: 0, …, bytes.length; each cut before a character's first byte. */
function partCuts(bytes: Uint8Array, partBytes: number): number[] {
  const cuts = [0];
  let at = 0;
  while (at < bytes.length) {
    let end = Math.min(at + partBytes, bytes.length);
    // Back off continuation bytes (10xxxxxx).
    while (end < bytes.length && ((bytes[end] as number) & 0xc0) === 0x80) end -= 1;
    cuts.push(end);
    at = end;
  }
  if (cuts.length === 1) cuts.push(0);
  return cuts;
}
