import { createHash, randomUUID } from "node:crypto";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { startFauxqs } from "fauxqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqsPollerError, startSqsPoller, type SqsPoller } from "../../local/sqs-poller.js";

type Fauxqs = Awaited<ReturnType<typeof startFauxqs>>;

let fauxqs: Fauxqs;
let sqs: SQSClient;

function sqsClient(port: number): SQSClient {
  return new SQSClient({
    // fauxqs queue URLs name the host sqs.<region>.localhost, which does not resolve.
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
}

beforeAll(async () => {
  fauxqs = await startFauxqs({ port: 0, logger: false });
  sqs = sqsClient(fauxqs.port);
});

afterAll(async () => {
  sqs?.destroy();
  await fauxqs?.stop();
});

async function createQueue(visibilityTimeoutSec = 1): Promise<{ queueUrl: string; queueArn: string }> {
  const name = `poller-${randomUUID()}`;
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: String(visibilityTimeoutSec) } }),
  );
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
  return { queueUrl: QueueUrl!, queueArn: Attributes!.QueueArn! };
}

async function sendBodies(queueUrl: string, bodies: string[]): Promise<string[]> {
  const { Successful } = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: body })),
    }),
  );
  return bodies.map((_, i) => Successful!.find((s) => s.Id === String(i))!.MessageId!);
}

/** Messages still in the queue, visible or in flight. */
async function messagesLeft(queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Starts a poller that records every invocation; `respond` decides each invocation's outcome. */
function recordingPoller(
  queueUrl: string,
  respond: (event: SQSEvent, invocation: number) => Promise<SQSBatchResponse | void> = async () => {},
  extra: { queueArn?: string; functionTimeoutMs?: number; batchSize?: number } = {},
): { poller: SqsPoller; invocations: { event: SQSEvent; context: Context; remainingMs: number }[]; errors: unknown[] } {
  const invocations: { event: SQSEvent; context: Context; remainingMs: number }[] = [];
  const errors: unknown[] = [];
  const poller = startSqsPoller({
    sqs,
    queueUrl,
    waitTimeSeconds: 1,
    onError: (err) => errors.push(err),
    handler: async (event, context) => {
      invocations.push({ event, context, remainingMs: context.getRemainingTimeInMillis() });
      return respond(event, invocations.length);
    },
    ...extra,
  });
  return { poller, invocations, errors };
}

const records = (invocations: { event: SQSEvent }[]): SQSRecord[] => invocations.flatMap((i) => i.event.Records);

describe("startSqsPoller", () => {
  it("delivers messages to the handler as an SQSEvent shaped like Lambda's", async () => {
    const { queueUrl, queueArn } = await createQueue();
    const sentBeforeMs = Date.now();
    const { MessageId } = await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({ executionId: "exec-1" }),
        MessageAttributes: {
          kind: { DataType: "String", StringValue: "wake-up" },
          attempt: { DataType: "Number", StringValue: "3" },
          blob: { DataType: "Binary", BinaryValue: Buffer.from([1, 2, 3]) },
        },
      }),
    );
    // No queueArn given: the poller derives it from the queue URL.
    const { poller, invocations, errors } = recordingPoller(queueUrl, undefined, { functionTimeoutMs: 45_000 });
    try {
      await waitFor("one invocation", () => invocations.length === 1);
    } finally {
      await poller.stop();
    }

    const { event, context, remainingMs } = invocations[0]!;
    expect(event.Records).toHaveLength(1);
    const record = event.Records[0]!;
    expect(record.messageId).toBe(MessageId);
    expect(record.receiptHandle).toEqual(expect.any(String));
    expect(record.receiptHandle.length).toBeGreaterThan(0);
    expect(record.body).toBe('{"executionId":"exec-1"}');
    expect(record.md5OfBody).toBe(createHash("md5").update(record.body).digest("hex"));
    expect(record.eventSource).toBe("aws:sqs");
    expect(record.eventSourceARN).toBe(queueArn);
    expect(record.awsRegion).toBe("us-east-1");

    expect(record.attributes.ApproximateReceiveCount).toBe("1");
    expect(record.attributes.SenderId).toEqual(expect.any(String));
    const sentMs = Number(record.attributes.SentTimestamp);
    expect(sentMs).toBeGreaterThanOrEqual(sentBeforeMs - 1_000);
    expect(Number(record.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(sentMs);

    expect(record.messageAttributes).toEqual({
      kind: { stringValue: "wake-up", stringListValues: [], binaryListValues: [], dataType: "String" },
      attempt: { stringValue: "3", stringListValues: [], binaryListValues: [], dataType: "Number" },
      blob: { binaryValue: Buffer.from([1, 2, 3]).toString("base64"), stringListValues: [], binaryListValues: [], dataType: "Binary" },
    });
    expect(record.md5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);

    expect(context.functionName).toBe("worker");
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(remainingMs).toBeGreaterThan(40_000);
    expect(remainingMs).toBeLessThanOrEqual(45_000);
    expect(errors).toEqual([]);
  });

  it("hands up to batchSize messages to one invocation", async () => {
    const { queueUrl } = await createQueue();
    await sendBodies(queueUrl, ["a", "b", "c", "d", "e"]);
    const { poller, invocations } = recordingPoller(queueUrl, undefined, { batchSize: 3 });
    try {
      await waitFor("all five messages handled", () => records(invocations).length === 5);
    } finally {
      await poller.stop();
    }
    expect(invocations.every((i) => i.event.Records.length <= 3)).toBe(true);
    expect(invocations[0]!.event.Records).toHaveLength(3);
  });

  it("deletes the messages of a batch that succeeds", async () => {
    const { queueUrl } = await createQueue();
    await sendBodies(queueUrl, ["one", "two", "three"]);
    const { poller, invocations, errors } = recordingPoller(queueUrl);
    try {
      await waitFor("three messages handled", () => records(invocations).length === 3);
      // Counts in-flight messages too, so empty means deleted, not merely hidden.
      await waitFor("queue empty", async () => (await messagesLeft(queueUrl)) === 0);
    } finally {
      await poller.stop();
    }
    expect(records(invocations).map((r) => r.body).sort()).toEqual(["one", "three", "two"]);
    expect(errors).toEqual([]);
  });

  it("redelivers only the records listed in batchItemFailures, after the visibility timeout, with ApproximateReceiveCount 2", async () => {
    const { queueUrl } = await createQueue(1);
    const [okId, failId] = await sendBodies(queueUrl, ["ok", "fail-once"]);
    const { poller, invocations, errors } = recordingPoller(queueUrl, async (event) => ({
      batchItemFailures: event.Records.filter((r) => r.body === "fail-once" && r.attributes.ApproximateReceiveCount === "1").map(
        (r) => ({ itemIdentifier: r.messageId }),
      ),
    }));
    let firstReceiveMs = 0;
    try {
      await waitFor("first delivery of both", () => records(invocations).length >= 2);
      firstReceiveMs = Date.now();
      await waitFor("failed record redelivered", () => records(invocations).some((r) => r.attributes.ApproximateReceiveCount === "2"));
      await waitFor("queue empty", async () => (await messagesLeft(queueUrl)) === 0);
    } finally {
      await poller.stop();
    }
    const redelivered = records(invocations).filter((r) => r.attributes.ApproximateReceiveCount === "2");
    expect(redelivered.map((r) => r.messageId)).toEqual([failId]);
    expect(records(invocations).filter((r) => r.messageId === okId)).toHaveLength(1);
    // It stayed hidden for (about) the 1 s visibility timeout.
    expect(Date.now() - firstReceiveMs).toBeGreaterThanOrEqual(800);
    expect(errors).toEqual([]);
  });

  it("redelivers the whole batch when the handler throws, and reports the error", async () => {
    const { queueUrl } = await createQueue(1);
    const ids = await sendBodies(queueUrl, ["x", "y", "z"]);
    const { poller, invocations, errors } = recordingPoller(queueUrl, async (_event, invocation) => {
      if (invocation === 1) throw new Error("worker crashed");
    });
    try {
      await waitFor("all three redelivered", () =>
        ids.every((id) => records(invocations).some((r) => r.messageId === id && r.attributes.ApproximateReceiveCount === "2")),
      );
      await waitFor("queue empty", async () => (await messagesLeft(queueUrl)) === 0);
    } finally {
      await poller.stop();
    }
    expect(invocations[0]!.event.Records.map((r) => r.messageId).sort()).toEqual([...ids].sort());
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(SqsPollerError);
    expect((errors[0] as SqsPollerError).code).toBe("HANDLER_FAILED");
    expect(((errors[0] as SqsPollerError).cause as Error).message).toBe("worker crashed");
  });

  it("redelivers the whole batch when batchItemFailures names a message that is not in the batch", async () => {
    const { queueUrl } = await createQueue(1);
    const ids = await sendBodies(queueUrl, ["p", "q"]);
    const { poller, invocations, errors } = recordingPoller(queueUrl, async (_event, invocation) =>
      invocation === 1 ? { batchItemFailures: [{ itemIdentifier: "not-a-message-in-this-batch" }] } : undefined,
    );
    try {
      await waitFor("both redelivered", () =>
        ids.every((id) => records(invocations).some((r) => r.messageId === id && r.attributes.ApproximateReceiveCount === "2")),
      );
      await waitFor("queue empty", async () => (await messagesLeft(queueUrl)) === 0);
    } finally {
      await poller.stop();
    }
    expect((errors[0] as SqsPollerError).code).toBe("INVALID_BATCH_RESPONSE");
  });

  it("stop() resolves promptly while a 20 s long poll is in flight", async () => {
    const { queueUrl } = await createQueue();
    const poller = startSqsPoller({ sqs, queueUrl, waitTimeSeconds: 20, concurrency: 2, handler: async () => {} });
    // Give both loops time to be parked inside ReceiveMessage.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await poller.stop();
    // Far below the 20 s the poll would take; loose, since the machine may be busy.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("stop() waits for the in-flight batch to finish and deletes its messages", async () => {
    const { queueUrl } = await createQueue(30);
    await sendBodies(queueUrl, ["slow"]);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered = false;
    const poller = startSqsPoller({
      sqs,
      queueUrl,
      handler: async () => {
        entered = true;
        await released;
      },
    });
    await waitFor("handler entered", () => entered);
    let stopped = false;
    const stopping = poller.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).toBe(false);
    release();
    await stopping;
    // Visibility timeout is 30 s: an empty queue now means the message was deleted.
    expect(await messagesLeft(queueUrl)).toBe(0);
  });

  it("reports SQS errors through onError and keeps retrying instead of crashing", async () => {
    const doomed = await startFauxqs({ port: 0, logger: false });
    const client = sqsClient(doomed.port);
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: "doomed" }));
    await doomed.stop();
    const errors: unknown[] = [];
    const poller = startSqsPoller({
      sqs: client,
      queueUrl: QueueUrl!,
      handler: async () => {},
      onError: (err) => errors.push(err),
    });
    try {
      await waitFor("two failed receives", () => errors.length >= 2);
    } finally {
      await poller.stop();
      client.destroy();
    }
    expect(errors.every((e) => e instanceof SqsPollerError && e.code === "RECEIVE_FAILED")).toBe(true);
  });
});
