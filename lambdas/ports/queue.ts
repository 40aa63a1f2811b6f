/**
 * The queue's ports: the wake-up message, where the engine sends wake-ups, and what it does with
 * a message it could not handle. SQS implements them in queue/, the test kit in memory.
 */
import { MAX_STORED_ID_CHARS } from "../core/tenants.js";
import { z } from "zod";
import type { ErrorInfo } from "../core/errors.js";

export const WakeupMessage = z.object({
  executionId: z.string().min(1).max(MAX_STORED_ID_CHARS),
  /** When the execution is due; absent = now. */
  dueAtMs: z.number().int().nonnegative().optional(),
});
export type WakeupMessage = z.infer<typeof WakeupMessage>;

/** Where the engine sends wake-ups: an interface so tests can count or fail sends. */
export interface WakeupScheduler {
  /** Wakes `executionId` at `dueAtMs` (or now). */
  schedule(executionId: string, options: { dueAtMs?: number; nowMs: number }): Promise<void>;
  /** Wakes several executions now. */
  wakeNow(executionIds: readonly string[]): Promise<void>;
  /** Wake-ups waiting to be received now (SQS's ApproximateNumberOfMessages), if the queue can tell. */
  backlog?(): Promise<number>;
}

/** A wake-up message that could not be handled: back later (engine retry backoff), or dead-lettered. */
export interface Redelivery {
  /** Makes a received message visible again in `delaySeconds` (0 = at once). */
  retryLater(receiptHandle: string, delaySeconds: number): Promise<void>;
  /** Sends the wake-up of an execution the engine gave up on to the dead-letter queue. */
  deadLetter(message: WakeupMessage, reason: ErrorInfo): Promise<void>;
}
