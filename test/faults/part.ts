/**
 * A part of the fault scenario: some workflows, how their executions are started and driven
 * (signals, cancels), and what must be true of them at the end. The scenario (scenario.ts) runs
 * every part at once on the same stacks, then runs the checks every execution gets
 * (invariants.ts) and each part's own.
 */
import type { HistoryEvent, InboxItem } from "../../lambdas/core/events.js";
import type { AnyWorkflow } from "../../lambdas/core/workflow.js";
import type { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import type { ExecutionRecord } from "../../lambdas/ports/store.js";
import type { FaultInjector } from "../support/faults.js";
import type { ScenarioApi } from "./api-client.js";

/** Records a breach of an invariant by one execution. */
export type Report = (id: string, problem: string) => void;

/** What DynamoDB says about one execution at the end. */
export interface ObservedExecution {
  record: ExecutionRecord | undefined;
  /** Every run's history, in seq order. */
  history: HistoryEvent[];
  /** Inbox items still there (whatever their arrival time). */
  inbox: InboxItem[];
}

export type Observed = ReadonlyMap<string, ObservedExecution>;

/**
 * Clock offsets of the scenario, in ms added to the real clock: the API's, and each stack's
 * (its workers and its sweeper).
 */
export interface Skew {
  api: number;
  stacks: readonly number[];
}

/** Time bounds the checks hold the engine to, all in real milliseconds. */
export interface Bounds {
  /**
   * Something that makes an execution due (a signal, a cancel, a child's result, a timer) is
   * taken up within this: a lost wake-up costs the sweeper's grace and interval, a claim whose
   * wake-up is lost too its lock, a crashed turn the lease it held; plus the clock spread and slack.
   */
  dueMs: number;
  /** No step body starts later than this after a cancel was accepted. */
  cancelStepMs: number;
  /** How long the drivers wait for what they act on to show up (a child, a wait) before giving up. */
  appearMs: number;
  /** Largest difference between two of the clocks (the API's and the stacks'). */
  spreadMs: number;
  /** Largest difference between two stacks' clocks: both stamps of a timer come from workers. */
  workerSpreadMs: number;
  /** The largest stack offset: a worker's stamp minus this is the earliest real time it can mean. */
  maxStackSkewMs: number;
  /** The smallest stack offset: a worker's stamp minus this is the latest real time it can mean. */
  minStackSkewMs: number;
}

export interface DriveContext {
  api: ScenarioApi;
  /** The step-run log, to time a signal or cancel into a running turn. */
  faults: FaultInjector;
  /** Seeded, for timing and choices. */
  random: () => number;
  /** Reads executions while the scenario runs (outside every fault scope). */
  reader: DynamoExecutionStore;
  skew: Skew;
  bounds: Bounds;
  /** The API's clock (what its stamps say now). */
  apiClock: () => number;
}

export interface CheckContext {
  observed: Observed;
  api: ScenarioApi;
  faults: FaultInjector;
  bounds: Bounds;
}

export interface ScenarioPart {
  readonly name: string;
  readonly workflows: readonly AnyWorkflow[];
  /** Starts this part's executions. Every part starts before any is driven. */
  start(ctx: DriveContext): Promise<void>;
  /** Sends what its executions wait for (signals, cancels); resolves once everything is sent. */
  drive(ctx: DriveContext): Promise<void>;
  /** Every execution of this part that must exist and end (children included, once known). */
  executions(): readonly string[];
  /** Those only engine retries can end: failed ENGINE_RETRIES_EXHAUSTED, their wake-up in the DLQ. */
  engineFailures(): readonly string[];
  check(ctx: CheckContext, v: Report): void;
  /** A phrase for the one-line summary. */
  summary(ctx: CheckContext): string;
}

/** Resolves once `ready()` holds, or after `timeoutMs` (the checks then report what went wrong). */
export async function until(ready: () => boolean | Promise<boolean>, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const giveUpAtMs = Date.now() + timeoutMs;
  for (;;) {
    if (await ready()) return true;
    if (Date.now() > giveUpAtMs) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** How many of `ids` ended with `status`. */
export function countStatus(observed: Observed, ids: readonly string[], status: string): number {
  return ids.filter((id) => observed.get(id)?.record?.status === status).length;
}
