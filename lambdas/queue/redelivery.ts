/**
 * What happens to a wake-up message that could not be handled: it comes back later (engine retry
 * backoff through its visibility timeout), or, once the engine gave up on its execution, it goes
 * to the dead-letter queue.
 *
 * Why the visibility timeout and not a delayed re-send + delete: the message that failed is the one
 * that comes back, so nothing is duplicated if the delete after a re-send is lost, SQS's own redrive
 * policy (maxReceiveCount) still counts its receives as a backstop, and if the
 * ChangeMessageVisibility call itself fails the message still comes back, after the queue's
 * default visibility timeout.
 */
import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { ErrorInfo } from "../core/errors.js";
import type { Redelivery, WakeupMessage } from "../ports/queue.js";

/** SQS's longest visibility timeout: 12 hours. */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;

/** Visibility in whole seconds within SQS's bounds. */
export function visibilitySecondsFor(delaySeconds: number): number {
  if (!Number.isFinite(delaySeconds) || delaySeconds <= 0) return 0;
  return Math.min(MAX_VISIBILITY_TIMEOUT_SECONDS, Math.ceil(delaySeconds));
}

export class SqsRedelivery implements Redelivery {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly deadLetterQueueUrl: string,
  ) {}

  async retryLater(receiptHandle: string, delaySeconds: number): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: visibilitySecondsFor(delaySeconds),
      }),
    );
  }

  async deadLetter(message: WakeupMessage, reason: ErrorInfo): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.deadLetterQueueUrl,
        MessageBody: JSON.stringify(message),
        MessageAttributes: {
          executionId: { DataType: "String", StringValue: message.executionId },
          errorCode: { DataType: "String", StringValue: reason.code ?? reason.name },
          // Attribute values are at most 256 KB with the rest of the message; a reason is short.
          errorMessage: { DataType: "String", StringValue: reason.message.slice(0, 1_000) || "(no message)" },
        },
      }),
    );
  }
}
