import { InvalidTransitionError } from "./errors.js";

/**
 * Execution statuses. `running`: has work to do or a worker is on it; `sleeping`: waiting for a
 * timer, a signal, a child or a retry; the last four are terminal (`failed` may be redriven).
 */
export type ExecutionStatus = "running" | "sleeping" | "completed" | "failed" | "canceled" | "terminated";

export const EXECUTION_STATUSES: readonly ExecutionStatus[] = ["running", "sleeping", "completed", "failed", "canceled", "terminated"];
export const TERMINAL_STATUSES: readonly ExecutionStatus[] = ["completed", "failed", "canceled", "terminated"];

export function isTerminal(status: ExecutionStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

const ALLOWED: Record<ExecutionStatus, readonly ExecutionStatus[]> = {
  running: ["running", "sleeping", "completed", "failed", "canceled", "terminated"],
  // A woken execution keeps `sleeping` until its turn ends (the item changes once per turn).
  sleeping: ["running", "sleeping", "completed", "failed", "canceled", "terminated"],
  completed: [],
  // Only a redrive leaves `failed` (store.redriveExecution), never a worker's commit.
  failed: [],
  canceled: [],
  terminated: [],
};

/** Throws InvalidTransitionError unless `from → to` is legal. Nothing leaves a terminal status. */
export function assertTransition(from: ExecutionStatus, to: ExecutionStatus): void {
  if (!ALLOWED[from].includes(to)) throw new InvalidTransitionError(from, to);
}

export function canTransition(from: ExecutionStatus, to: ExecutionStatus): boolean {
  return ALLOWED[from].includes(to);
}
