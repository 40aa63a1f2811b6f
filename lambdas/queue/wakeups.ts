/**
 * Wake-up messages on SQS: `{ executionId, dueAtMs? }`. SQS delays stop at 900 s, so a longer
 * timer is a chain: the message is sent with the longest delay SQS allows and, when it arrives
 * early, re-sent with the rest (see processWakeup).
 */
import { GetQueueAttributesCommand, type SQSClient, SendMessageBatchCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { DurableError } from "../core/errors.js";
import { WakeupMessage, type WakeupScheduler } from "../ports/queue.js";

/** SQS's maximum DelaySeconds. Emulators may accept more; real SQS rejects it, so we clamp. */
export const MAX_DELAY_SECONDS = 900;


/** Delay for a message due at `dueAtMs`, in whole seconds within SQS's bounds. */
export function delaySecondsFor(dueAtMs: number | undefined, nowMs: number): number {
  if (dueAtMs === undefined || dueAtMs <= nowMs) return 0;
  return Math.min(MAX_DELAY_SECONDS, Math.ceil((dueAtMs - nowMs) / 1000));
}

export class InvalidWakeupMessageError extends DurableError {
  constructor(body: string, cause: unknown) {
    super("INVALID_MESSAGE", `not a wake-up message: ${body.slice(0, 200)}`, { cause });
  }
}

export function parseWakeup(body: string): WakeupMessage {
  try {
    return WakeupMessage.parse(JSON.parse(body));
  } catch (err) {
    throw new InvalidWakeupMessageError(body, err);
  }
}

export class SqsWakeupScheduler implements WakeupScheduler {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async schedule(executionId: string, options: { dueAtMs?: number; nowMs: number }): Promise<void> {
    const message: WakeupMessage = { executionId, ...(options.dueAtMs === undefined ? {} : { dueAtMs: options.dueAtMs }) };
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(message),
        DelaySeconds: delaySecondsFor(options.dueAtMs, options.nowMs),
      }),
    );
  }

  async backlog(): Promise<number> {
    const out = await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }));
    return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
  }

  async wakeNow(executionIds: readonly string[]): Promise<void> {
    const unique = [...new Set(executionIds)];
    for (let i = 0; i < unique.length; i += 10) {
      const chunk = unique.slice(i, i + 10);
      const out = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((executionId, index) => ({ Id: String(index), MessageBody: JSON.stringify({ executionId }) })),
        }),
      );
      if (out.Failed && out.Failed.length > 0) {
        throw new Error(`SQS refused ${out.Failed.length} wake-up(s): ${out.Failed.map((f) => f.Message ?? f.Code).join("; ")}`);
      }
    }
  }
}
