/**
 * How executions, history events and inbox items are laid out as DynamoDB items, and read back.
 * Event bodies and payloads are stored as JSON strings so a value reads back exactly as written.
 */
import { DurableError, type ErrorInfo } from "../core/errors.js";
import type { HistoryEvent, InboxEvent, InboxItem } from "../core/events.js";
import { MAX_VALUE_BYTES } from "../core/limits.js";
import type { ExecutionStatus } from "../core/status.js";
import { PayloadTooLargeError } from "./errors.js";
import { DUE_SHARD, executionPk, historySk, META_SK, inboxSk, tagPartition, tagShard, tagSk, TENANT_TAG_KEY, tenantPartition } from "./keys.js";
import { tenantOf } from "../core/tenants.js";
import type { Tags } from "../core/tags.js";
import type { ExecutionListing, ExecutionRecord, NewExecution } from "../ports/store.js";

/**
 * Input and output are repeated on the execution item only up to this size; larger ones are read
 * from their history event, so input + output never push the execution item past 400 KB.
 */
export const INLINE_VALUE_BYTES = 64_000;
/**
 * The input rides on every update of the execution item (a write costs by the item's size), so it
 * is repeated there only when small.
 */
export const INLINE_INPUT_BYTES = 1_024;

/** The execution item (META) as stored. */
export type MetaItem = {
  PK: string;
  SK: string;
  id: string;
  workflow: string;
  version: number;
  status: ExecutionStatus;
  input?: string;
  /** Set when the input is too large to repeat here: it is in the run's ExecutionStarted event. */
  inputInHistory?: boolean;
  /** Set when the output is too large to repeat here: the seq of the ExecutionCompleted event. */
  outputSeq?: number;
  output?: string;
  /** The latest `ctx.setState` value, as JSON, and when it was recorded. */
  publishedState?: string;
  publishedStateAtMs?: number;
  /** Tags given at start, as JSON (each also has a tag item, for the byTag index). */
  tags?: string;
  /** A delayed start: when the workflow function begins. */
  startAtMs?: number;
  /** The W3C trace context of the request that started it. */
  traceparent?: string;
  error?: string;
  createdAtMs: number;
  updatedAtMs: number;
  run: number;
  runStartSeq: number;
  lastSeq: number;
  leaseOwner?: string;
  leaseExpiresAtMs?: number;
  leaseVersion: number;
  retryCount: number;
  /** +1 for every item put in the inbox: a worker ends its turn only if it has seen them all. */
  inboxSeq?: number;
  /** Items and bytes in the inbox now (signals, cancels, children's results), for its limits. */
  inboxCount?: number;
  inboxBytes?: number;
  nextWakeAtMs?: number;
  dueShard?: string;
  parent?: string;
  /** Once ended: when its retention ends and the sweeper removes all of its items. */
  purgeAtMs?: number;
  purgeShard?: string;
  /** A purge under way holds the execution until then (see purge.ts). */
  purgeClaimUntilMs?: number;
};

/** A history event's item; its size is checked, and its value sealed, as it is written (stored-values.ts). */
export function historyItem(executionId: string, event: HistoryEvent): Record<string, unknown> {
  const data = JSON.stringify(event);
  // `atMs` lets a purge tell this execution's items from those of a later one under the same id.
  return { PK: executionPk(executionId), SK: historySk(event.seq), type: event.type, atMs: event.atMs, data };
}

export function inboxItem(executionId: string, event: InboxEvent, nowMs: number, eventId: string): Record<string, unknown> {
  const data = JSON.stringify(event);
  return { PK: executionPk(executionId), SK: inboxSk(nowMs, eventId), type: event.type, arrivedAtMs: nowMs, atMs: nowMs, data };
}

/** Bytes an inbox item counts for in the inbox's limit: its stored JSON. */
export function inboxItemBytes(event: InboxEvent): number {
  return Buffer.byteLength(JSON.stringify(event));
}

export function metaItem(request: NewExecution, maxValueBytes = MAX_VALUE_BYTES): MetaItem {
  const encoded = encode(request.input, "the input", maxValueBytes);
  const inline = encoded === undefined || Buffer.byteLength(encoded) <= INLINE_INPUT_BYTES;
  const input = inline ? encoded : undefined;
  return {
    PK: executionPk(request.id),
    SK: META_SK,
    id: request.id,
    workflow: request.workflow,
    version: request.version,
    // A delayed start sleeps until its time: nothing runs it before (see core/tags.ts).
    status: request.startAtMs === undefined ? "running" : "sleeping",
    ...(input === undefined ? {} : { input }),
    ...(inline ? {} : { inputInHistory: true }),
    ...(request.tags === undefined || Object.keys(request.tags).length === 0 ? {} : { tags: JSON.stringify(request.tags) }),
    ...(request.startAtMs === undefined ? {} : { startAtMs: request.startAtMs }),
    ...(request.traceparent === undefined ? {} : { traceparent: request.traceparent }),
    createdAtMs: request.nowMs,
    updatedAtMs: request.nowMs,
    run: 1,
    runStartSeq: 1,
    lastSeq: 1,
    leaseVersion: 0,
    retryCount: 0,
    nextWakeAtMs: request.startAtMs ?? request.nowMs,
    dueShard: DUE_SHARD,
    ...(request.parent ? { parent: JSON.stringify(request.parent) } : {}),
  };
}

/** One item per tag, written with the execution item, listed through the byTag index. */
export function tagItems(request: NewExecution): Record<string, unknown>[] {
  const shard = tagShard(request.id);
  const tenant = tenantOf(request.id);
  const item = (sk: string, tagKey: string) => ({
    PK: executionPk(request.id),
    SK: sk,
    tagKey,
    createdAtMs: request.nowMs,
    tagWorkflow: request.workflow,
    // As every item but META: a purge tells this execution's items from a later one's by it.
    atMs: request.nowMs,
  });
  const tags = Object.entries(request.tags ?? {}).map(([key, value]) => item(tagSk(key), tagPartition(key, value, shard, tenant)));
  return tenant === undefined ? tags : [item(tagSk(TENANT_TAG_KEY), tenantPartition(tenant, shard)), ...tags];
}

let arrivalCounter = 0;
export function nextArrivalCounter(): string {
  arrivalCounter += 1;
  return String(arrivalCounter).padStart(12, "0");
}

export const newItemCondition = { ConditionExpression: "attribute_not_exists(PK)" };

export function startedEvent(request: NewExecution): HistoryEvent {
  return {
    seq: 1,
    atMs: request.nowMs,
    type: "ExecutionStarted",
    workflow: request.workflow,
    version: request.version,
    input: request.input,
    run: 1,
    ...(request.parent ? { parent: request.parent } : {}),
    ...(request.startAtMs === undefined ? {} : { startAtMs: request.startAtMs }),
  };
}

export function encode(value: unknown, what: string, maxValueBytes = MAX_VALUE_BYTES): string | undefined {
  if (value === undefined) return undefined;
  const text = JSON.stringify(value);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxValueBytes) throw new PayloadTooLargeError(what, bytes, maxValueBytes);
  return text;
}

/** A value attribute as JSON text; a sealed one must have been opened first (StoredValues.openItem). */
export function decode(text: unknown): unknown {
  if (text instanceof Uint8Array) throw new SealedValueError();
  return typeof text === "string" ? JSON.parse(text) : undefined;
}

export function decodeEvent(item: Record<string, unknown>): HistoryEvent {
  return JSON.parse(dataOf(item)) as HistoryEvent;
}

export function decodeInboxItem(item: Record<string, unknown>): InboxItem {
  return { key: String(item.SK), arrivedAtMs: Number(item.arrivedAtMs), event: JSON.parse(dataOf(item)) as InboxEvent };
}

function dataOf(item: Record<string, unknown>): string {
  if (typeof item.data !== "string") throw new SealedValueError();
  return item.data;
}

/** A sealed or offloaded value read as if it were JSON text: a read path that does not open its items. */
class SealedValueError extends DurableError {
  constructor() {
    super("SEALED_VALUE_NOT_OPENED", "a sealed or offloaded value was read without being opened (StoredValues.openItem)");
  }
}

/** What a list reads of each execution item: everything but input, output and error (up to 350 KB each). */
export const LISTED_ATTRIBUTES = [
  "id",
  "workflow",
  "version",
  "status",
  "createdAtMs",
  "updatedAtMs",
  "run",
  "runStartSeq",
  "lastSeq",
  "leaseOwner",
  "leaseExpiresAtMs",
  "leaseVersion",
  "retryCount",
  "inboxSeq",
  "nextWakeAtMs",
  "parent",
  "purgeAtMs",
  "tags",
  "startAtMs",
] as const;

/** An execution item read through the list's projection, as a listing (no input key at all). */
export function toListing(item: MetaItem): ExecutionListing {
  const { input: _input, output: _output, error: _error, ...listing } = toRecord(item);
  return listing;
}

export function toRecord(item: MetaItem): ExecutionRecord {
  const record: ExecutionRecord = {
    id: item.id,
    workflow: item.workflow,
    version: Number(item.version),
    status: item.status,
    input: decode(item.input),
    createdAtMs: Number(item.createdAtMs),
    updatedAtMs: Number(item.updatedAtMs),
    run: Number(item.run ?? 1),
    runStartSeq: Number(item.runStartSeq ?? 1),
    lastSeq: Number(item.lastSeq ?? 0),
    leaseVersion: Number(item.leaseVersion ?? 0),
    retryCount: Number(item.retryCount ?? 0),
    inboxSeq: Number(item.inboxSeq ?? 0),
  };
  if (item.output !== undefined) record.output = decode(item.output);
  if (item.error !== undefined) record.error = decode(item.error) as ErrorInfo;
  if (item.leaseOwner !== undefined) record.leaseOwner = item.leaseOwner;
  if (item.leaseExpiresAtMs !== undefined) record.leaseExpiresAtMs = Number(item.leaseExpiresAtMs);
  if (item.nextWakeAtMs !== undefined) record.nextWakeAtMs = Number(item.nextWakeAtMs);
  if (item.parent !== undefined) record.parent = JSON.parse(item.parent) as { executionId: string; position: number };
  if (item.purgeAtMs !== undefined) record.purgeAtMs = Number(item.purgeAtMs);
  if (item.tags !== undefined) record.tags = JSON.parse(item.tags) as Tags;
  if (item.startAtMs !== undefined) record.startAtMs = Number(item.startAtMs);
  if (item.traceparent !== undefined) record.traceparent = item.traceparent;
  if (item.publishedState !== undefined) record.state = { value: decode(item.publishedState), atMs: Number(item.publishedStateAtMs ?? 0) };
  return record;
}

/** The latest state `events` publish (`ctx.setState`), as the execution item stores it; undefined if none. */
export function publishedState(events: readonly HistoryEvent[]): { publishedState: string; publishedStateAtMs: number } | undefined {
  for (let i = events.length - 1; i >= 0; i -= 1) {
    const event = events[i] as HistoryEvent;
    if (event.type === "StateSet") return { publishedState: JSON.stringify(event.value), publishedStateAtMs: event.atMs };
  }
  return undefined;
}

/** ALL_OLD on a failed condition comes back in wire format even through the document client. */
export function unmarshallItem(item: Record<string, unknown>): MetaItem {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(item)) {
    const v = value as { S?: string; N?: string; BOOL?: boolean; B?: Uint8Array } | string | number;
    if (typeof v === "object" && v !== null) out[key] = v.S ?? (v.N !== undefined ? Number(v.N) : (v.BOOL ?? v.B));
    else out[key] = v;
  }
  return out as unknown as MetaItem;
}

