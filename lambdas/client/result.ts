/**
 * Waiting for an execution to end: polls `GET /executions/{id}` until its status is final. The
 * API has no long poll, so the client backs off from a quick first look (most waits are for short
 * workflows) to `pollIntervalMs`.
 */
import { TERMINAL_STATUSES } from "../core/status.js";
import { InvalidArgumentError, ResultTimeoutError } from "./errors.js";
import { sleep } from "./retry.js";
import type { ExecutionWithRefs } from "./types.js";

export interface ResultOptions {
  /** Give up after this long with a ResultTimeoutError (the execution goes on). Default: wait as long as it takes. */
  timeoutMs?: number;
  /** Longest pause between two reads. Default 1 000 ms; the first pauses are shorter (100, 200, 400 ms, ...). */
  pollIntervalMs?: number;
  /** Stops waiting when aborted: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

const FIRST_PAUSE_MS = 100;
const DEFAULT_POLL_INTERVAL_MS = 1_000;

/** Reads the execution until it has ended, and returns that last read. */
export async function waitUntilEnded(
  executionId: string,
  read: (signal: AbortSignal) => Promise<ExecutionWithRefs>,
  options: ResultOptions = {},
): Promise<ExecutionWithRefs> {
  const { timeoutMs, signal } = options;
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  if (!(pollIntervalMs > 0) || !Number.isFinite(pollIntervalMs)) throw new InvalidArgumentError(`pollIntervalMs must be a positive number of ms, got ${pollIntervalMs}`);
  if (timeoutMs !== undefined && !(timeoutMs >= 0)) throw new InvalidArgumentError(`timeoutMs must be a number of ms ≥ 0, got ${timeoutMs}`);
  if (signal?.aborted) throw signal.reason;

  // One signal for everything in flight (the read, the pause), aborted by the caller or the deadline.
  const controller = new AbortController();
  let last: ExecutionWithRefs | undefined;
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const deadline =
    timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(new ResultTimeoutError(executionId, timeoutMs, last?.status)), timeoutMs);
  try {
    for (let pause = 0; ; pause += 1) {
      last = await read(controller.signal);
      if (TERMINAL_STATUSES.includes(last.status)) return last;
      await sleep(Math.min(pollIntervalMs, FIRST_PAUSE_MS * 2 ** pause), controller.signal);
    }
  } finally {
    clearTimeout(deadline);
    signal?.removeEventListener("abort", onAbort);
  }
}
