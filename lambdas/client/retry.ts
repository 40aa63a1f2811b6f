/**
 * Which answers the client tries again, and how long it waits. Only the two answers the API
 * documents as "nothing was written, try later" are retried: `503 STORE_BUSY` (DynamoDB
 * throttled) and `429 INBOX_FULL` (the workflow has not taken its inbox in yet). Anything else
 * may have taken effect (API Gateway's own 503/504 when the function timed out, a network error)
 * or will fail the same way again, so it goes to the caller.
 */
import { ApiError } from "./errors.js";

export interface RetryOptions {
  /** Tries after the first. Default 4; 0 turns retries off. */
  maxRetries?: number;
  /** Backoff before the first retry, doubled at each next one. Default 200 ms. */
  initialDelayMs?: number;
  /** Longest backoff. Default 5 000 ms. */
  maxDelayMs?: number;
}

export type RetryPolicy = Required<RetryOptions>;

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 4, initialDelayMs: 200, maxDelayMs: 5_000 };

/** The API's own "try later" answers (not a gateway's answer with the same status). */
const RETRIED_CODES: ReadonlySet<string> = new Set(["STORE_BUSY", "INBOX_FULL"]);

export function isRetried(err: unknown): boolean {
  return err instanceof ApiError && err.origin === "api" && RETRIED_CODES.has(err.code);
}

export function retryPolicy(options: RetryOptions | undefined): RetryPolicy {
  const policy = { ...DEFAULT_RETRY, ...dropUndefined(options ?? {}) };
  for (const [key, value] of Object.entries(policy)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`retry.${key} must be a finite number ≥ 0, got ${String(value)}`);
  }
  return policy;
}

/**
 * Backoff before retry number `retry` (0 for the first): exponential, capped, with "equal
 * jitter": at least half the backoff, so retries always spread out, plus up to the other half at
 * random, so clients that failed together do not come back together.
 */
export function retryDelayMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const backoffMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** retry);
  return backoffMs / 2 + random() * (backoffMs / 2);
}

/** Waits `ms`; rejects with the signal's reason as soon as it aborts (as fetch does). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
