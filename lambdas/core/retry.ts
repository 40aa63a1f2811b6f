import { type Duration, toMs } from "./duration.js";
import type { ErrorInfo } from "./errors.js";

/** How a failing step is retried. Durations as ms or strings ("1s", "5 minutes"). */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 3; 1 means no retry. */
  maxAttempts?: number;
  /** Wait before the second attempt. Default 1 s. */
  initialInterval?: Duration;
  /** Each wait is the previous one times this. Default 2. */
  backoffCoefficient?: number;
  /** No wait is longer than this. Default 5 minutes. */
  maxInterval?: Duration;
  /** Error names or codes that fail the step at once. */
  nonRetryable?: readonly string[];
}

export interface ResolvedRetryPolicy {
  maxAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maxIntervalMs: number;
  nonRetryable: readonly string[];
}

export const DEFAULT_RETRY_POLICY: ResolvedRetryPolicy = {
  maxAttempts: 3,
  initialIntervalMs: 1_000,
  backoffCoefficient: 2,
  maxIntervalMs: 300_000,
  nonRetryable: [],
};

export function resolveRetryPolicy(policy: RetryPolicy | undefined): ResolvedRetryPolicy {
  const resolved: ResolvedRetryPolicy = {
    maxAttempts: policy?.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
    initialIntervalMs: policy?.initialInterval === undefined ? DEFAULT_RETRY_POLICY.initialIntervalMs : toMs(policy.initialInterval),
    backoffCoefficient: policy?.backoffCoefficient ?? DEFAULT_RETRY_POLICY.backoffCoefficient,
    maxIntervalMs: policy?.maxInterval === undefined ? DEFAULT_RETRY_POLICY.maxIntervalMs : toMs(policy.maxInterval),
    nonRetryable: policy?.nonRetryable ?? [],
  };
  if (!Number.isInteger(resolved.maxAttempts) || resolved.maxAttempts < 1) {
    throw new RangeError(`retry.maxAttempts must be a whole number ≥ 1, got ${policy?.maxAttempts}`);
  }
  if (!(resolved.backoffCoefficient >= 1)) {
    throw new RangeError(`retry.backoffCoefficient must be ≥ 1, got ${policy?.backoffCoefficient}`);
  }
  return resolved;
}

/**
 * Wait before attempt `failedAttempt + 1`: initial × coefficient^(failedAttempt − 1), capped,
 * with up to 20 % jitter taken off (so the cap is never exceeded). `random` is in [0, 1).
 */
export function stepRetryDelayMs(policy: ResolvedRetryPolicy, failedAttempt: number, random: number): number {
  const base = Math.min(policy.initialIntervalMs * policy.backoffCoefficient ** (failedAttempt - 1), policy.maxIntervalMs);
  return Math.max(0, Math.round(base * (1 - 0.2 * random)));
}

/** True when the failed attempt should be followed by another. */
export function shouldRetryStep(policy: ResolvedRetryPolicy, failedAttempt: number, error: ErrorInfo): boolean {
  if (error.nonRetryable) return false;
  if (policy.nonRetryable.includes(error.name)) return false;
  if (error.code !== undefined && policy.nonRetryable.includes(error.code)) return false;
  return failedAttempt < policy.maxAttempts;
}

/** Engine retries (lost lease, throttling, a crash): after this many the execution is failed. */
export const MAX_ENGINE_RETRIES = 20;
export const MAX_ENGINE_BACKOFF_SECONDS = 64;

/**
 * Backoff before engine retry number `retryCount` (1-based): min(2 ** n + jitter, 64) seconds,
 * jitter in [1, 3). A real power (`**`); the caret operator would be XOR in JavaScript.
 */
export function engineRetryDelaySeconds(retryCount: number, random: number): number {
  const jitter = 1 + 2 * random;
  return Math.min(Math.ceil(2 ** retryCount + jitter), MAX_ENGINE_BACKOFF_SECONDS);
}
