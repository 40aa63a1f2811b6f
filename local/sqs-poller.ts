/**
 * A stand-in for Lambda's SQS event source mapping with
 * `ReportBatchItemFailures`, so the deployed worker handler runs unchanged
 * on one machine.
 *
 * Per batch, as on AWS: receive up to `batchSize` messages, invoke the
 * handler with an `SQSEvent`, then delete every message not named in
 * `batchItemFailures`. A handler that throws, times out, or names a message
 * that is not in the batch fails the whole batch: nothing is deleted and
 * every message reappears after its visibility timeout.
 */
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from "aws-lambda";
import { createLambdaContext } from "./http-api.js";

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface SqsPollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** Default: derived from the queue URL (`arn:aws:sqs:<region>:<account>:<name>`). */
  queueArn?: string;
  handler: SqsHandler;
  /** Messages per invocation, 1..10 (one ReceiveMessage). Default 10. */
  batchSize?: number;
  /** Long-poll wait, 0..20 s. Default 1. */
  waitTimeSeconds?: number;
  /** Lambda timeout: the context counts down from it, and a batch still running then counts as failed. Default 60000. */
  functionTimeoutMs?: number;
  /** Parallel receive-invoke loops, like the mapping's concurrency. Default 1. */
  concurrency?: number;
  /** Default "worker". */
  functionName?: string;
  /** Receives every failure (SQS errors, handler errors, invalid batch responses). Default: log to stderr. */
  onError?: (err: unknown) => void;
}

export interface SqsPoller {
  /** Stops polling; resolves once the in-flight batches have been handled and deleted. */
  stop(): Promise<void>;
}

export type SqsPollerErrorCode =
  | "RECEIVE_FAILED"
  | "DELETE_FAILED"
  | "HANDLER_FAILED"
  | "HANDLER_TIMEOUT"
  | "INVALID_BATCH_RESPONSE";

/** What the poller reports through `onError`; `cause` holds the original error if there is one. */
export class SqsPollerError extends Error {
  override readonly name = "SqsPollerError";
  constructor(
    readonly code: SqsPollerErrorCode,
    message: string,
    readonly queueUrl: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;

/**
 * Starts polling `queueUrl` into `handler` the way Lambda's SQS event source
 * mapping does.
 *
 * @example
 * const poller = startSqsPoller({ sqs, queueUrl, handler: workerHandler });
 * // ...
 * await poller.stop();
 */
export function startSqsPoller(opts: SqsPollerOptions): SqsPoller {
  const batchSize = clamp(opts.batchSize ?? 10, 1, 10);
  const waitTimeSeconds = clamp(opts.waitTimeSeconds ?? 1, 0, 20);
  const functionTimeoutMs = opts.functionTimeoutMs ?? 60_000;
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const functionName = opts.functionName ?? "worker";
  const onError =
    opts.onError ??
    ((err: unknown) => {
      console.error("[sqs-poller]", err);
    });
  const report = (err: unknown) => {
    try {
      onError(err);
    } catch {
      // A faulty error callback must not stop the poller.
    }
  };

  // Aborting cancels the in-flight long polls and backoff sleeps, never a
  // handler or a delete: those finish so the batch is settled before stop() resolves.
  // Caveat (fauxqs, and possibly SQS): the emulator keeps an aborted long
  // poll's waiter until its WaitTimeSeconds runs out, so a message sent in
  // that window is received for nobody and stays hidden for its visibility
  // timeout. A short waitTimeSeconds keeps that window short.
  const stopping = new AbortController();
  let regionPromise: Promise<string> | undefined;
  const source = async () => {
    regionPromise ??= resolveRegion(opts);
    const awsRegion = await regionPromise;
    return { awsRegion, eventSourceARN: opts.queueArn ?? arnFromQueueUrl(opts.queueUrl, awsRegion) };
  };

  async function pollLoop(): Promise<void> {
    let backoffMs = 0;
    while (!stopping.signal.aborted) {
      if (backoffMs > 0) await sleep(backoffMs, stopping.signal);
      if (stopping.signal.aborted) return;

      let messages: Message[];
      try {
        const received = await opts.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: opts.queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: waitTimeSeconds,
            AttributeNames: ["All"],
            MessageSystemAttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: stopping.signal },
        );
        messages = received.Messages ?? [];
        backoffMs = 0;
      } catch (err) {
        if (stopping.signal.aborted) return;
        report(new SqsPollerError("RECEIVE_FAILED", `ReceiveMessage failed: ${describe(err)}`, opts.queueUrl, { cause: err }));
        backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, backoffMs * 2));
        continue;
      }
      if (messages.length === 0) continue;

      try {
        const { awsRegion, eventSourceARN } = await source();
        await runBatch(messages.map((m) => toRecord(m, eventSourceARN, awsRegion)));
      } catch (err) {
        // runBatch reports its own failures; this is a last resort so the loop survives.
        report(err);
      }
    }
  }

  async function runBatch(records: SQSRecord[]): Promise<void> {
    const context = createLambdaContext({ functionName, region: records[0]!.awsRegion, timeoutMs: functionTimeoutMs });
    const outcome = await invokeWithTimeout(opts.handler, { Records: records }, context, functionTimeoutMs);

    if (outcome.kind === "threw") {
      report(new SqsPollerError("HANDLER_FAILED", `Handler failed: ${describe(outcome.error)}`, opts.queueUrl, { cause: outcome.error }));
      return;
    }
    if (outcome.kind === "timeout") {
      report(new SqsPollerError("HANDLER_TIMEOUT", `Handler did not finish within ${functionTimeoutMs} ms`, opts.queueUrl));
      return;
    }
    const failedIds = failedMessageIds(outcome.result, records);
    if (failedIds === "invalid") {
      report(
        new SqsPollerError(
          "INVALID_BATCH_RESPONSE",
          `batchItemFailures names a message that is not in the batch (or no messageId); the whole batch is retried: ${JSON.stringify(outcome.result)}`,
          opts.queueUrl,
        ),
      );
      return;
    }
    await deleteRecords(records.filter((r) => !failedIds.has(r.messageId)));
  }

  async function deleteRecords(records: SQSRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += 10) {
      const chunk = records.slice(start, start + 10);
      try {
        const result = await opts.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: opts.queueUrl,
            Entries: chunk.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
          }),
        );
        if (result.Failed && result.Failed.length > 0) {
          report(
            new SqsPollerError(
              "DELETE_FAILED",
              `DeleteMessageBatch failed for ${result.Failed.length} message(s): ${result.Failed.map((f) => `${f.Code}: ${f.Message}`).join("; ")}`,
              opts.queueUrl,
            ),
          );
        }
      } catch (err) {
        // The messages reappear after their visibility timeout and run again:
        // at-least-once, as on AWS.
        report(new SqsPollerError("DELETE_FAILED", `DeleteMessageBatch failed: ${describe(err)}`, opts.queueUrl, { cause: err }));
      }
    }
  }

  const loops = Array.from({ length: concurrency }, () => pollLoop());
  const done = Promise.all(loops).then(() => undefined);
  return {
    stop: () => {
      stopping.abort();
      return done;
    },
  };
}

type Outcome =
  | { kind: "returned"; result: SQSBatchResponse | void }
  | { kind: "threw"; error: unknown }
  | { kind: "timeout" };

async function invokeWithTimeout(
  handler: SqsHandler,
  event: SQSEvent,
  context: Context,
  timeoutMs: number,
): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "timeout" }), timeoutMs);
  });
  const invocation = (async (): Promise<Outcome> => {
    try {
      return { kind: "returned", result: await handler(event, context) };
    } catch (error) {
      return { kind: "threw", error };
    }
  })();
  try {
    return await Promise.race([invocation, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The message ids to keep, or "invalid" when Lambda would treat the response
 * as a failure of the whole batch (an identifier that is empty or not in the
 * batch). No response, or one without failures, means every message succeeded.
 */
function failedMessageIds(result: SQSBatchResponse | void, records: SQSRecord[]): Set<string> | "invalid" {
  const failures = (result as Partial<SQSBatchResponse> | undefined | null)?.batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return "invalid";
  const inBatch = new Set(records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const failure of failures as unknown[]) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== "string" || !inBatch.has(id)) return "invalid";
    failed.add(id);
  }
  return failed;
}

/** Shapes a received message the way Lambda hands it to an SQS-triggered function. */
function toRecord(message: Message, eventSourceARN: string, awsRegion: string): SQSRecord {
  const attributes = { ...(message.Attributes ?? {}) } as Record<string, string>;
  const record: SQSRecord = {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: attributes as unknown as SQSRecordAttributes,
    messageAttributes: toLambdaMessageAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN,
    awsRegion,
  };
  if (message.MD5OfMessageAttributes) record.md5OfMessageAttributes = message.MD5OfMessageAttributes;
  return record;
}

function toLambdaMessageAttributes(attributes: Record<string, MessageAttributeValue> | undefined): SQSMessageAttributes {
  const result: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    result[name] = {
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { binaryValue: Buffer.from(value.BinaryValue).toString("base64") } : {}),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((v) => Buffer.from(v).toString("base64")),
      dataType: value.DataType ?? "String",
    };
  }
  return result;
}

async function resolveRegion(opts: SqsPollerOptions): Promise<string> {
  const fromArn = opts.queueArn?.split(":")[3];
  if (fromArn) return fromArn;
  const fromUrl = /^https?:\/\/sqs\.([a-z0-9-]+)\./.exec(opts.queueUrl)?.[1];
  if (fromUrl) return fromUrl;
  const region = opts.sqs.config.region;
  return typeof region === "function" ? await region() : region;
}

/** `https://sqs.<region>.<host>/<account>/<name>` → `arn:aws:sqs:<region>:<account>:<name>`. */
function arnFromQueueUrl(queueUrl: string, region: string): string {
  const [account = "000000000000", name = "queue"] = new URL(queueUrl).pathname.split("/").filter(Boolean);
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.trunc(value)));
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
