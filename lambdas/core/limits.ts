/**
 * Size limits. Without an object store, every value the engine records (a step result, an input,
 * an output, a signal payload) is one DynamoDB item's worth at most; with one (the deployed
 * engine, `durable dev`), values above the offload threshold go to S3 and the limits are the
 * transport's: what Lambda accepts in a request for values that come through the API, 50 MB for
 * what the engine records itself. The API refuses what the engine could not commit.
 */

/** Largest value (step result, input, output, signal payload, child input) kept in an item, as UTF-8 JSON. */
export const MAX_VALUE_BYTES = 350_000;

/** Largest step result, output, child or continue-as-new input when values are offloaded, as UTF-8 JSON. */
export const MAX_OFFLOADED_VALUE_BYTES = 50 * 1024 * 1024;

/**
 * Largest value that comes through the API (a start's input, a signal's payload, a callback's
 * result) when values are offloaded: Lambda takes at most 6 MB (6,291,456 bytes) per request,
 * event envelope included, so the value gets what is left after a generous envelope.
 */
export const MAX_API_VALUE_BYTES = 6_000_000;

/** Largest published state (`ctx.setState`), as JSON: it lives on the execution item, read by every GET. */
export const MAX_STATE_BYTES = 16_384;

/**
 * Largest history event or inbox item as stored (a value plus its envelope: names, ids, times,
 * a bounded error). DynamoDB's item limit is 400 KB including keys and attribute names; this
 * leaves room for both. An envelope is bounded (names ≤ 256 characters, errors by ERROR_LIMITS),
 * so any value within MAX_VALUE_BYTES fits.
 */
export const MAX_EVENT_BYTES = 395_000;

/** Largest history event or inbox item, as JSON, a store whose values are at most `maxValueBytes` records. */
export function maxEventBytesFor(maxValueBytes: number): number {
  return maxValueBytes <= MAX_VALUE_BYTES ? MAX_EVENT_BYTES : maxValueBytes + (MAX_EVENT_BYTES - MAX_VALUE_BYTES);
}

/**
 * An execution's inbox (signals, cancel requests, children's results not yet taken into history)
 * holds at most this many items and bytes of signals from callers; a signal beyond either is
 * refused (INBOX_FULL) until the workflow has taken the inbox in. Children's results and cancel
 * requests are never refused.
 */
export const MAX_INBOX_ITEMS = 1_000;
export const MAX_INBOX_BYTES = 8_000_000;
/** Cancel requests beyond the inbox's limits still accepted (a flooded execution stays cancelable). */
export const CANCEL_HEADROOM_ITEMS = 100;

/**
 * An execution counts as due this long before its wake time: the clocks of the machines that set
 * wake times may run ahead of a worker's, and a sweeper's claim moves the wake time this far at
 * most (the sweeper caps its lock to it).
 */
export const WAKE_TOLERANCE_MS = 300_000;

const encoder = new TextEncoder();

export function jsonBytes(text: string): number {
  return encoder.encode(text).length;
}
