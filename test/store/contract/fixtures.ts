/** Building blocks of the contract tests: times, events, batches, leases. */
import type { CommitBatch, ExecutionUpdate } from "../../../lambdas/core/driver.js";
import type { HistoryEvent, InboxItem } from "../../../lambdas/core/events.js";
import type { ExecutionStore, LeaseResult, NewExecution } from "../../../lambdas/ports/store.js";

export const T0 = 1_800_000_000_000;
export const MINUTE = 60_000;

export type Acquired = Extract<LeaseResult, { acquired: true }>;

export function acquired(result: LeaseResult): Acquired {
  if (!result.acquired) throw new Error(`lease not acquired: ${result.reason}`);
  return result;
}

/** Takes the lease of `executionId` for `owner` (a minute long by default). */
export async function lease(store: ExecutionStore, executionId: string, owner = "worker", nowMs = T0, leaseMs = MINUTE): Promise<Acquired> {
  return acquired(await store.acquireLease(executionId, { owner, nowMs, leaseMs }));
}

export function newExecution(id: string, overrides: Partial<NewExecution> = {}): NewExecution {
  return { id, workflow: "wf", version: 1, input: { id }, nowMs: T0, ...overrides };
}

export function step(seq: number, result: unknown = `result-${seq}`, atMs = T0): HistoryEvent {
  return { seq, atMs, type: "StepCompleted", position: seq, name: `step-${seq}`, attempt: 1, result };
}

export function signalReceived(seq: number, pending: InboxItem, atMs = T0): HistoryEvent {
  if (pending.event.type !== "Signal") throw new Error("not a signal");
  return { seq, atMs, type: "SignalReceived", name: pending.event.name, signalId: pending.event.signalId, payload: pending.event.payload, arrivedAtMs: pending.arrivedAtMs };
}

export function batch(events: HistoryEvent[], extra: Partial<CommitBatch> = {}): CommitBatch {
  return { events, lastSeq: events[events.length - 1]?.seq ?? 1, consumed: [], childStarts: [], childCancels: [], ...extra };
}

export function sleepingUntil(nextWakeAtMs: number | null): ExecutionUpdate {
  return { status: "sleeping", nextWakeAtMs, releaseLease: true };
}

/** A batch that ends the execution completed with `output`, after `lastSeq`. */
export function completion(lastSeq: number, output: unknown, atMs = T0): CommitBatch {
  return batch([{ seq: lastSeq + 1, atMs, type: "ExecutionCompleted", output }], { execution: { status: "completed", nextWakeAtMs: null, releaseLease: true, output } });
}

/** Creates, leases and completes an execution at `atMs`; returns its record's purgeAtMs. */
export async function completeExecution(store: ExecutionStore, id: string, atMs = T0, request: Partial<NewExecution> = {}): Promise<number> {
  await store.createExecution(newExecution(id, { nowMs: atMs, ...request }));
  const taken = await lease(store, id, "worker", atMs);
  await store.commit(taken.lease, completion(1, `done-${id}`, atMs), atMs);
  const record = await store.getExecution(id);
  if (record?.purgeAtMs === undefined) throw new Error(`${id} has no purgeAtMs`);
  return record.purgeAtMs;
}

export function signal(name: string, payload: unknown, signalId = `${name}-${Math.random().toString(36).slice(2, 8)}`) {
  return { type: "Signal" as const, name, signalId, payload };
}
