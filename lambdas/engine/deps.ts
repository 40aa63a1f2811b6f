/**
 * What the engine's service layer runs on: the ports it calls (the store, the wake-up scheduler,
 * redelivery, the clock) with the options of a worker, and what one wake-up comes to. Types only,
 * so every module of the layer can depend on them without depending on each other.
 */
import type { ErrorInfo } from "../core/errors.js";
import type { DriveOutcome } from "../core/driver.js";
import type { WorkflowRegistry } from "../core/workflow.js";
import type { Redelivery, WakeupScheduler } from "../ports/queue.js";
import type { ExecutionStore } from "../ports/store.js";
import type { EngineLogger, EngineMetrics } from "./observability.js";
import type { RunCache } from "./run-cache.js";

export interface EngineDeps {
  store: ExecutionStore;
  scheduler: WakeupScheduler;
  registry: WorkflowRegistry;
  /** Epoch ms; injected so tests can skip time. */
  clock: () => number;
  random: () => number;
  /** Identifies this worker in leases. */
  workerId: string;
  /** Replayed runs kept warm between turns (the worker's process lives on between invocations). */
  runCache?: RunCache;
  /** Backoff through the message's visibility and the dead-letter queue (the worker; see engine-retries.ts). */
  redelivery?: Redelivery;
  logger?: EngineLogger;
  /** Executions ended, step attempts and their latency (Powertools Metrics when deployed). */
  metrics?: EngineMetrics;
}

export interface InvocationTime {
  /** Milliseconds left in this invocation (Lambda's getRemainingTimeInMillis). */
  remainingMs(): number;
}

export interface WorkerOptions {
  /** No new step starts with less than this left. Default 10 s. */
  minRemainingMs?: number;
  /**
   * Steps still running this long before the invocation ends are interrupted (a failed attempt,
   * retried in a new invocation) so the turn can commit. Default 3 s (at most `minRemainingMs`);
   * 0 never interrupts.
   */
  turnEndMarginMs?: number;
  /** How often a turn looks at the inbox for a cancel or signals while it runs steps. Default 1 s. */
  inboxCheckIntervalMs?: number;
  /** The lease outlives the invocation by this much. Default 5 s. */
  leaseMarginMs?: number;
  /**
   * Engine retries (infrastructure failures): at most `maxRetries` turns in a row without progress
   * after the first (default MAX_ENGINE_RETRIES, 20), waiting `delaySeconds(n)` before retry n
   * (default engineRetryDelaySeconds). Tests shorten the wait.
   */
  engineRetries?: { maxRetries?: number; delaySeconds?: (retryCount: number, random: number) => number };
  /**
   * TESTS ONLY, deliberately broken: turns that made progress are not told from turns that made
   * none, so the count of failed turns is reset only by a turn's closing commit and a workflow of
   * long steps is given up although it advances. The fault suite must catch it.
   */
  unsafeResetRetriesOnlyAtTurnEnd?: boolean;
}

/** What SQS says about the message being handled. */
export interface Delivery {
  /** ApproximateReceiveCount: 1 on the first delivery. */
  receiveCount?: number;
  /**
   * False when the invocation already spent time on other records of its batch: a step whose
   * timeout does not fit in what is left then waits for a new invocation. Default true.
   */
  firstInInvocation?: boolean;
}

export type WakeupResult =
  | { kind: "ran"; outcome: DriveOutcome["kind"]; commits: number; stepAttempts: number }
  | { kind: "rescheduled"; dueAtMs: number }
  | { kind: "dropped"; reason: "not-found" | "terminal" | "superseded" | "not-due" }
  | { kind: "busy"; retryAtMs: number }
  /** An infrastructure failure: the message should come back in `delaySeconds` (engine retry `retryCount`). */
  | { kind: "retry"; retryCount: number; delaySeconds: number; error: ErrorInfo }
  /** Engine retries spent: the execution was failed and its wake-up dead-lettered. */
  | { kind: "gave-up"; failedTurns: number; error: ErrorInfo };

