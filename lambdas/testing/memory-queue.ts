/**
 * An SQS queue in memory, on a virtual clock: messages become visible at their delay's end,
 * a received message is in flight for the visibility timeout (or until its visibility is changed)
 * and comes back unless deleted, and one received more than `maxReceiveCount` times goes to the
 * dead-letter list instead (SQS's redrive policy). Nothing happens on its own: time moves only
 * when the clock it is given moves.
 */
import { randomUUID } from "node:crypto";

export interface MemoryQueueOptions {
  /** The queue's visibility timeout. Default 360 s: the construct's 6 × a 60 s worker timeout. */
  visibilityTimeoutSeconds?: number;
  /** Receives before a message is moved to the dead-letter list. Default 25, as the construct's redrive policy. */
  maxReceiveCount?: number;
}

/** A message as a receive hands it out (what SQS puts in a Lambda event record). */
export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** 1 on the first receive. */
  receiveCount: number;
  sentAtMs: number;
  firstReceivedAtMs: number;
}

/** A message moved out of the queue: by the redrive policy, or sent to the dead-letter queue by the engine. */
export interface DeadLetter {
  body: string;
  reason: "max-receives" | "dead-lettered";
  /** What the engine said when it dead-lettered the message (an ErrorInfo). */
  details?: unknown;
}

interface StoredMessage {
  messageId: string;
  body: string;
  sentAtMs: number;
  visibleAtMs: number;
  receiveCount: number;
  firstReceivedAtMs?: number;
  /** Set while in flight; a new one on every receive, as SQS gives. */
  receiptHandle?: string;
  /** Order of sending, for a stable order among messages visible at the same time. */
  order: number;
}

export class MemoryQueue {
  readonly deadLetters: DeadLetter[] = [];
  /** Messages sent so far. */
  sent = 0;
  private readonly messages: StoredMessage[] = [];
  private readonly visibilityTimeoutMs: number;
  private readonly maxReceiveCount: number;

  constructor(
    private readonly clock: () => number,
    options: MemoryQueueOptions = {},
  ) {
    this.visibilityTimeoutMs = (options.visibilityTimeoutSeconds ?? 360) * 1000;
    this.maxReceiveCount = options.maxReceiveCount ?? 25;
  }

  /** Sends a message that becomes visible `delayMs` from now. */
  send(body: string, delayMs = 0): void {
    const now = this.clock();
    this.sent += 1;
    this.messages.push({ messageId: randomUUID(), body, sentAtMs: now, visibleAtMs: now + Math.max(0, delayMs), receiveCount: 0, order: this.sent });
  }

  /** Up to `max` messages visible now, oldest first; each is in flight until deleted or its visibility ends. */
  receive(max: number): ReceivedMessage[] {
    const now = this.clock();
    const received: ReceivedMessage[] = [];
    const visible = this.messages.filter((m) => m.visibleAtMs <= now).sort((a, b) => a.visibleAtMs - b.visibleAtMs || a.order - b.order);
    for (const message of visible) {
      if (received.length >= max) break;
      if (message.receiveCount >= this.maxReceiveCount) {
        this.remove(message);
        this.deadLetters.push({ body: message.body, reason: "max-receives" });
        continue;
      }
      message.receiveCount += 1;
      message.firstReceivedAtMs ??= now;
      message.receiptHandle = randomUUID();
      message.visibleAtMs = now + this.visibilityTimeoutMs;
      received.push({
        messageId: message.messageId,
        receiptHandle: message.receiptHandle,
        body: message.body,
        receiveCount: message.receiveCount,
        sentAtMs: message.sentAtMs,
        firstReceivedAtMs: message.firstReceivedAtMs,
      });
    }
    return received;
  }

  /** Deletes a received message; a stale receipt handle deletes nothing. */
  delete(receiptHandle: string): void {
    const message = this.messages.find((m) => m.receiptHandle === receiptHandle);
    if (message) this.remove(message);
  }

  /** ChangeMessageVisibility: the in-flight message comes back `seconds` from now. */
  changeVisibility(receiptHandle: string, seconds: number): void {
    const message = this.messages.find((m) => m.receiptHandle === receiptHandle);
    if (!message) throw new Error(`no message in flight has receipt handle "${receiptHandle}" (SQS: ReceiptHandleIsInvalid)`);
    message.visibleAtMs = this.clock() + seconds * 1000;
  }

  /** When the next message becomes visible (now or later), if any is queued or in flight. */
  nextVisibleAtMs(): number | undefined {
    return this.messages.reduce<number | undefined>((min, m) => (min === undefined || m.visibleAtMs < min ? m.visibleAtMs : min), undefined);
  }

  /** Messages queued or in flight. */
  get depth(): number {
    return this.messages.length;
  }

  /** Bodies of the messages queued or in flight, in the order they become visible. */
  bodies(): string[] {
    return [...this.messages].sort((a, b) => a.visibleAtMs - b.visibleAtMs || a.order - b.order).map((m) => m.body);
  }

  clear(): void {
    this.messages.splice(0);
  }

  private remove(message: StoredMessage): void {
    this.messages.splice(this.messages.indexOf(message), 1);
  }
}
