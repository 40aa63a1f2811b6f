/**
 * The engine's queue ports in memory, over a MemoryQueue on a virtual clock:
 *
 *   MemoryWakeupScheduler (WakeupScheduler)  sends `{ executionId, dueAtMs? }` as SqsWakeupScheduler
 *                                            does, delayed by at most SQS's 900 s (by default),
 *                                            so a longer timer is chained by the worker as in
 *                                            production
 *   MemoryRedelivery (Redelivery)            retry backoff through the message's visibility, and
 *                                            the dead-letter queue
 *
 * A wake-up due now is visible at once; one due later is held until the clock reaches its time
 * (or the 900 s cap). Delays are exact to the millisecond: SQS counts whole seconds, rounded up,
 * which only ever makes a wake-up later, and the worker sends on one that comes early.
 *
 * @example
 * let nowMs = Date.UTC(2026, 0, 1);
 * const queue = new MemoryQueue(() => nowMs);
 * const scheduler = new MemoryWakeupScheduler(queue);
 * await scheduler.schedule("order-1", { dueAtMs: nowMs + 60_000, nowMs });
 * queue.receive(10); // [] until nowMs moves a minute on
 */
import type { ErrorInfo } from "../core/errors.js";
import { visibilitySecondsFor } from "../queue/redelivery.js";
import type { Redelivery, WakeupMessage, WakeupScheduler } from "../ports/queue.js";
import { MAX_DELAY_SECONDS } from "../queue/wakeups.js";
import type { MemoryQueue } from "./memory-queue.js";

export interface MemoryWakeupSchedulerOptions {
  /**
   * Longest delay of one message. Default SQS's 900 s, so a long timer is chained through the
   * worker as in production (a 30-day sleep is 2 880 hops, some 40 ms); `Infinity` holds each
   * wake-up until its time instead, as TestEnvironment does.
   */
  maxDelaySeconds?: number;
}

export class MemoryWakeupScheduler implements WakeupScheduler {
  private readonly maxDelayMs: number;

  constructor(
    private readonly queue: MemoryQueue,
    options: MemoryWakeupSchedulerOptions = {},
  ) {
    this.maxDelayMs = (options.maxDelaySeconds ?? MAX_DELAY_SECONDS) * 1000;
  }

  async schedule(executionId: string, options: { dueAtMs?: number; nowMs: number }): Promise<void> {
    const message: WakeupMessage = { executionId, ...(options.dueAtMs === undefined ? {} : { dueAtMs: options.dueAtMs }) };
    const delayMs = options.dueAtMs === undefined ? 0 : Math.min(Math.max(0, options.dueAtMs - options.nowMs), this.maxDelayMs);
    this.queue.send(JSON.stringify(message), delayMs);
  }

  async wakeNow(executionIds: readonly string[]): Promise<void> {
    for (const executionId of new Set(executionIds)) this.queue.send(JSON.stringify({ executionId } satisfies WakeupMessage));
  }
}

export class MemoryRedelivery implements Redelivery {
  constructor(private readonly queue: MemoryQueue) {}

  async retryLater(receiptHandle: string, delaySeconds: number): Promise<void> {
    this.queue.changeVisibility(receiptHandle, visibilitySecondsFor(delaySeconds));
  }

  async deadLetter(message: WakeupMessage, reason: ErrorInfo): Promise<void> {
    this.queue.deadLetters.push({ body: JSON.stringify(message), reason: "dead-lettered", details: reason });
  }
}
