/**
 * Engine retries: what the worker does when a turn fails for an infrastructure reason (DynamoDB
 * busy, an SQS send refused, a crash or a timeout, a workflow version this deployment lacks...),
 * as opposed to a step failing, which the step's retry policy handles inside the workflow.
 *
 *   turn 0 fails ─ backoff(1) ─ retry 1 fails ─ backoff(2) ─ ... ─ retry 20 fails ─ give up:
 *   the execution is failed with the reason (ExecutionFailed under the lease) and its wake-up
 *   goes to the dead-letter queue.
 *
 * The count lives on the execution item (`retryCount`): taking the lease adds 1 and the commit
 * that ends a turn resets it, so a turn that dies without a word (Lambda timeout, crash) is
 * counted too. Backoff is `engineRetryDelaySeconds` (min(2 ** n + jitter, 64 s)), applied by the
 * handler through the message's visibility timeout.
 */
import type { CommitBatch } from "../core/driver.js";
import { DurableError, type ErrorInfo, toErrorInfo } from "../core/errors.js";
import { engineRetryDelaySeconds, MAX_ENGINE_RETRIES } from "../core/retry.js";
import type { WakeupMessage } from "../ports/queue.js";
import { HistoryConflictError, LeaseLostError, StoreBusyError } from "../store/errors.js";
import type { ExecutionRecord, Lease } from "../ports/store.js";
import type { EngineDeps, WorkerOptions } from "./deps.js";

/** The engine stopped retrying an execution: it is failed with this error. */
export class EngineRetriesExhaustedError extends DurableError {
  constructor(executionId: string, failedTurns: number, cause: unknown) {
    const last = cause === undefined ? "they crashed or timed out without reporting an error" : `the last one: ${toErrorInfo(cause).message}`;
    super(
      "ENGINE_RETRIES_EXHAUSTED",
      `execution "${executionId}" was failed by the engine after ${failedTurns} turns in a row could not finish (${last})`,
      { details: { executionId, failedTurns, ...(cause === undefined ? {} : { lastError: summary(toErrorInfo(cause)) }) }, ...(cause === undefined ? {} : { cause }) },
    );
  }
}

export interface EngineRetryPolicy {
  /** Retries after the first turn before the execution is failed. */
  maxRetries: number;
  /** Seconds before retry number `retryCount` (1-based). */
  delaySeconds: (retryCount: number, random: number) => number;
}

export function engineRetryPolicy(options: WorkerOptions): EngineRetryPolicy {
  return {
    maxRetries: options.engineRetries?.maxRetries ?? MAX_ENGINE_RETRIES,
    delaySeconds: options.engineRetries?.delaySeconds ?? engineRetryDelaySeconds,
  };
}

/**
 * Fails the execution because its engine retries are spent: the wake-up goes to the dead-letter
 * queue, then ExecutionFailed is appended under the lease (the parent, if any, is told); if that
 * cannot be done, a conditional status update marks it failed instead. Throws when neither
 * worked: the next delivery gives up again.
 */
export async function giveUp(
  message: WakeupMessage,
  taken: { lease: Lease; execution: ExecutionRecord; unlock: () => Promise<void> },
  failedTurns: number,
  cause: unknown,
  deps: EngineDeps,
): Promise<{ kind: "gave-up"; failedTurns: number; error: ErrorInfo } | { kind: "dropped"; reason: "superseded" }> {
  const log = deps.logger;
  const executionId = message.executionId;
  const error = toErrorInfo(new EngineRetriesExhaustedError(executionId, failedTurns, cause));
  // False when the execution had ended (or gone) before this could fail it: nothing to count.
  let failedIt: boolean;
  try {
    // Dead-letter first: if anything below fails, the next delivery gives up (and sends) again,
    // so an execution the engine failed always has its message there, at least once.
    if (deps.redelivery) await deps.redelivery.deadLetter(message, error);
    else log?.error("no dead-letter queue configured (DURABLE_DLQ_URL): the given-up wake-up is only logged", { executionId });
    try {
      failedIt = await failUnderLease(taken.lease, taken.execution, error, deps);
    } catch (err) {
      if (err instanceof LeaseLostError) {
        log?.warn("lease lost while giving up; the worker that took over counts on", { executionId });
        return { kind: "dropped", reason: "superseded" };
      }
      // Busy is passing: the next delivery gives up again, under a lease, with the history event.
      if (err instanceof StoreBusyError) throw err;
      log?.warn("could not append ExecutionFailed under the lease; failing by a status update", { executionId, error: toErrorInfo(err).message });
      failedIt = await deps.store.endWithoutLease(executionId, { status: "failed", error }, deps.clock(), { parent: taken.execution.parent });
    }
  } catch (err) {
    await taken.unlock().catch(() => undefined);
    throw err;
  }
  const workflow = taken.execution.workflow;
  log?.error("execution failed: engine retries exhausted", { executionId, workflow, failedTurns, error: error.message });
  if (failedIt) {
    deps.metrics?.engineGaveUp(workflow);
    deps.metrics?.executionEnded("failed", workflow);
  }
  const parent = taken.execution.parent;
  if (parent) {
    // The commit made the parent due, so the sweeper wakes it if this send is lost.
    await deps.scheduler.wakeNow([parent.executionId]).catch((err: unknown) => {
      log?.warn("could not wake the parent; the sweeper will", { executionId, parent: parent.executionId, error: toErrorInfo(err).message });
    });
  }
  return { kind: "gave-up", failedTurns, error };
}

/** Appends ExecutionFailed after the last event, in one commit under the lease; false if the execution is gone. */
async function failUnderLease(lease: Lease, execution: ExecutionRecord, error: ErrorInfo, deps: EngineDeps): Promise<boolean> {
  const executionId = lease.executionId;
  for (let attempt = 1; ; attempt += 1) {
    const nowMs = deps.clock();
    // The execution item's lastSeq is that of the last turn's end; single-event appends may follow it.
    const snapshot = await deps.store.loadSnapshot(executionId, { afterSeq: execution.lastSeq, nowMs });
    if (!snapshot) return false;
    const lastSeq = snapshot.history.reduce((max, e) => Math.max(max, e.seq), execution.lastSeq);
    const parent = snapshot.execution.parent;
    const batch: CommitBatch = {
      events: [{ seq: lastSeq + 1, atMs: nowMs, type: "ExecutionFailed", error }],
      lastSeq: lastSeq + 1,
      consumed: [],
      childStarts: [],
      childCancels: [],
      execution: { status: "failed", nextWakeAtMs: null, releaseLease: true, error },
      ...(parent
        ? { notifyParent: { executionId: parent.executionId, event: { type: "ChildEnded" as const, position: parent.position, childId: executionId, status: "failed" as const, error } } }
        : {}),
    };
    try {
      await deps.store.commit(lease, batch, nowMs);
      return true;
    } catch (err) {
      // A zombie's single-event append took that seq a moment ago: read again and go after it.
      if (err instanceof HistoryConflictError && attempt < 3) continue;
      throw err;
    }
  }
}

function summary(info: ErrorInfo): { name: string; message: string; code?: string } {
  return { name: info.name, message: info.message, ...(info.code === undefined ? {} : { code: info.code }) };
}
