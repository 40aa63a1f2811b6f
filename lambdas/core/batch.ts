/**
 * `ctx.map` and `ctx.parallel`: bounded fan-out over durable calls. A batch is workflow code, not
 * a durable call of its own: each item runs its calls (steps, sleeps, waits, children) on the
 * workflow's context, so every one of them is recorded, replayed and checked for
 * non-determinism like any other. What makes it replay identically is the runtime's order: the
 * outcomes of calls are applied in the order they were recorded, and after each one the code runs
 * until it waits again, so the same items start at the same positions on every replay. (Changing
 * `maxConcurrency` on a running execution changes that order: replay then reports
 * NON_DETERMINISM, as for any other change of the calls.)
 */
import { CancelledError, DurableError, type ErrorInfo, toErrorInfo } from "./errors.js";
import type { WorkflowContext } from "./workflow.js";

/** When a batch is done before every item has run. */
export interface CompletionPolicy {
  /** Done once this many items succeeded: the rest are not started. */
  minSuccessful?: number;
  /** Failed items the batch accepts; one more fails it. Default 0 (fail fast) unless a percentage is given. */
  toleratedFailureCount?: number;
  /** Failed items, in percent of all items, the batch accepts; more fails it. */
  toleratedFailurePercentage?: number;
}

export interface BatchOptions {
  /** Items in flight at once (each counts from its start until its function settles). Default: all. */
  maxConcurrency?: number;
  completion?: CompletionPolicy;
}

export type BatchItemStatus = "succeeded" | "failed" | "in-flight" | "not-started";

/** One item of a batch, at its index. */
export type BatchItem<T> =
  | { index: number; status: "succeeded"; value: T }
  | { index: number; status: "failed"; error: ErrorInfo }
  | { index: number; status: "in-flight" | "not-started" };

export type CompletionReason = "all-settled" | "min-successful" | "failure-tolerance-exceeded";

/** What a batch came to, in item order. Plain data: a workflow may return it as its output. */
export interface BatchResult<T> {
  /** Every item in index order, with its value or its error. */
  items: BatchItem<T>[];
  /** The values of the items that succeeded, in index order. */
  values: T[];
  /** The items that failed, in index order, with why. */
  errors: { index: number; error: ErrorInfo }[];
  succeeded: number;
  failed: number;
  /**
   * Why the batch ended: every item settled, enough succeeded (`minSuccessful`), or more failed
   * than tolerated (or so many that `minSuccessful` can no longer be reached). Items still in
   * flight then run on, but their outcomes are not in the result.
   */
  completionReason: CompletionReason;
}

/**
 * A batch that failed more items than its policy tolerates (by default: any). `result` holds
 * every item as it stood.
 */
export class BatchFailedError extends DurableError {
  readonly result: BatchResult<unknown>;

  constructor(name: string, result: BatchResult<unknown>) {
    const first = result.errors[0];
    super(
      "BATCH_FAILED",
      `batch "${name}" failed: ${result.failed} of ${result.items.length} item(s) failed${first ? `; item ${first.index}: ${first.error.message}` : ""}`,
      { details: { name, failed: result.failed, succeeded: result.succeeded, items: result.items.length, ...(first ? { firstFailedIndex: first.index } : {}) } },
    );
    this.result = result;
  }
}

/** Options that make no sense (a concurrency of 0, a percentage over 100, ...). */
export class InvalidBatchOptionsError extends DurableError {
  constructor(name: string, problem: string) {
    super("INVALID_BATCH_OPTIONS", `batch "${name}": ${problem}`, { details: { name } });
  }
}

/** Runs `fn` over `items`, at most `maxConcurrency` at a time, until the policy says done. */
export async function runBatch<I, O>(
  ctx: WorkflowContext,
  name: string,
  items: readonly I[],
  fn: (ctx: WorkflowContext, item: I, index: number) => Promise<O>,
  options: BatchOptions = {},
): Promise<BatchResult<O>> {
  if (!Array.isArray(items)) throw new InvalidBatchOptionsError(name, "items must be an array");
  const limits = checkOptions(name, items.length, options);
  const states: BatchItem<O>[] = items.map((_, index) => ({ index, status: "not-started" }));
  let succeeded = 0;
  let failed = 0;
  let next = 0;
  let inFlight = 0;

  return new Promise<BatchResult<O>>((resolve, reject) => {
    let done = false;
    const finish = (reason: CompletionReason) => {
      if (done) return;
      done = true;
      const result = resultOf(states, succeeded, failed, reason);
      if (reason === "failure-tolerance-exceeded") reject(new BatchFailedError(name, result as BatchResult<unknown>));
      else resolve(result);
    };
    const startMore = () => {
      while (!done && inFlight < limits.maxConcurrency && next < items.length) {
        const index = next;
        next += 1;
        inFlight += 1;
        states[index] = { index, status: "in-flight" };
        // Called synchronously, in index order: its first durable call takes the next position.
        let settled: Promise<O>;
        try {
          settled = Promise.resolve(fn(ctx, items[index] as I, index));
        } catch (error) {
          settled = Promise.reject(error);
        }
        settled.then(
          (value) => {
            inFlight -= 1;
            if (done) return;
            states[index] = { index, status: "succeeded", value };
            succeeded += 1;
            settle();
          },
          (error: unknown) => {
            inFlight -= 1;
            if (done) return;
            // Cancellation is the execution's, not the item's: the workflow sees it as it is.
            if (error instanceof CancelledError) {
              done = true;
              reject(error);
              return;
            }
            states[index] = { index, status: "failed", error: toErrorInfo(error) };
            failed += 1;
            settle();
          },
        );
      }
    };
    const settle = () => {
      if (failed > limits.toleratedFailures) return finish("failure-tolerance-exceeded");
      if (limits.minSuccessful !== undefined) {
        if (succeeded >= limits.minSuccessful) return finish("min-successful");
        // Too many failed for the rest to make up the number, even if every one succeeds.
        if (items.length - failed < limits.minSuccessful) return finish("failure-tolerance-exceeded");
      }
      if (succeeded + failed === items.length) return finish("all-settled");
      startMore();
    };
    if (items.length === 0) return finish("all-settled");
    startMore();
  });
}

function checkOptions(name: string, count: number, options: BatchOptions): { maxConcurrency: number; toleratedFailures: number; minSuccessful?: number } {
  const { maxConcurrency = Number.POSITIVE_INFINITY, completion = {} } = options;
  if (!(maxConcurrency === Number.POSITIVE_INFINITY || (Number.isInteger(maxConcurrency) && maxConcurrency >= 1))) {
    throw new InvalidBatchOptionsError(name, `maxConcurrency must be a whole number ≥ 1, got ${String(maxConcurrency)}`);
  }
  const { minSuccessful, toleratedFailureCount, toleratedFailurePercentage } = completion;
  if (minSuccessful !== undefined && !(Number.isInteger(minSuccessful) && minSuccessful >= 1)) {
    throw new InvalidBatchOptionsError(name, `minSuccessful must be a whole number ≥ 1, got ${String(minSuccessful)}`);
  }
  if (minSuccessful !== undefined && minSuccessful > count) {
    throw new InvalidBatchOptionsError(name, `minSuccessful is ${minSuccessful} but there are only ${count} item(s)`);
  }
  if (toleratedFailureCount !== undefined && !(Number.isInteger(toleratedFailureCount) && toleratedFailureCount >= 0)) {
    throw new InvalidBatchOptionsError(name, `toleratedFailureCount must be a whole number ≥ 0, got ${String(toleratedFailureCount)}`);
  }
  if (toleratedFailurePercentage !== undefined && !(typeof toleratedFailurePercentage === "number" && toleratedFailurePercentage >= 0 && toleratedFailurePercentage <= 100)) {
    throw new InvalidBatchOptionsError(name, `toleratedFailurePercentage must be from 0 to 100, got ${String(toleratedFailurePercentage)}`);
  }
  // Both given: the stricter one holds.
  const byCount = toleratedFailureCount ?? Number.POSITIVE_INFINITY;
  const byPercentage = toleratedFailurePercentage === undefined ? Number.POSITIVE_INFINITY : Math.floor((toleratedFailurePercentage * count) / 100);
  const toleratedFailures = toleratedFailureCount === undefined && toleratedFailurePercentage === undefined ? 0 : Math.min(byCount, byPercentage);
  return { maxConcurrency, toleratedFailures, ...(minSuccessful === undefined ? {} : { minSuccessful }) };
}

function resultOf<T>(states: BatchItem<T>[], succeeded: number, failed: number, completionReason: CompletionReason): BatchResult<T> {
  const items = states.map((s) => ({ ...s }));
  const values: T[] = [];
  const errors: { index: number; error: ErrorInfo }[] = [];
  for (const item of items) {
    if (item.status === "succeeded") values.push(item.value);
    else if (item.status === "failed") errors.push({ index: item.index, error: item.error });
  }
  return { items, values, errors, succeeded, failed, completionReason };
}
