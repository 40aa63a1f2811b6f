/**
 * Metrics and logs: the engine counts starts, ends and step attempts once each (replays and
 * redeliveries add nothing), and the deployed entries publish them as CloudWatch EMF on stdout
 * with Powertools, next to JSON logs that carry the execution id, workflow and seq.
 */
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, SQSBatchResponse } from "aws-lambda";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { ChildFailedError, defineWorkflow, NonRetryableError } from "../../lambdas/index.js";
import { MAX_ENGINE_RETRIES } from "../../lambdas/core/retry.js";
import type { EngineMetrics } from "../../lambdas/engine/observability.js";
import { apiHandlerFromEnv } from "../../lambdas/handlers/api.js";
import { sweeperHandlerFromEnv } from "../../lambdas/handlers/sweeper.js";
import { workerHandlerFromEnv } from "../../lambdas/handlers/worker.js";
import { SqsWakeupScheduler } from "../../lambdas/queue/wakeups.js";
import { createDynamoDBTestEnvironment as createTestEnvironment, type DynamoDBTestEnvironment as TestEnvironment } from "../../local/testing.js";
import { createLambdaContext } from "../../local/http-api.js";
import { invokeWorker, RecordingRedelivery, sqsRecord, type WorkerWorld, workerWorld } from "../worker/harness.js";

// Read when lambdas/handlers/observability.ts is first imported, as in a Lambda cold start.
const NAMESPACE = vi.hoisted(() => {
  const namespace = "DurableWorkflowsTest";
  vi.stubEnv("POWERTOOLS_METRICS_NAMESPACE", namespace);
  vi.stubEnv("POWERTOOLS_SERVICE_NAME", "durable-observability-test");
  return namespace;
});

class RecordingMetrics implements EngineMetrics {
  started: string[] = [];
  ended: string[] = [];
  attempts: { ok: boolean; workflow: string; durationMs: number }[] = [];
  gaveUp: string[] = [];

  executionStarted(workflow: string): void {
    this.started.push(workflow);
  }
  executionEnded(status: "completed" | "failed" | "canceled", workflow: string): void {
    this.ended.push(`${workflow} ${status}`);
  }
  stepAttempt(ok: boolean, durationMs: number, workflow: string): void {
    this.attempts.push({ ok, workflow, durationMs });
  }
  engineGaveUp(workflow: string): void {
    this.gaveUp.push(workflow);
  }

  /** `workflow ok|failed` per step attempt, in order. */
  attemptLines(): string[] {
    return this.attempts.map((a) => `${a.workflow} ${a.ok ? "ok" : "failed"}`);
  }

  clear(): void {
    this.started = [];
    this.ended = [];
    this.attempts = [];
    this.gaveUp = [];
  }
}

const paced = defineWorkflow("paced", async (ctx, n: number) => {
  const a = await ctx.step("a", () => n + 1);
  await ctx.sleep("pause", "1 hour");
  return ctx.step("b", () => a * 2);
});

let flakyCalls = 0;
const flaky = defineWorkflow("flaky", async (ctx) =>
  ctx.step(
    "wobbly",
    () => {
      flakyCalls += 1;
      if (flakyCalls === 1) throw new Error("first attempt fails");
      return "steady";
    },
    { retry: { maxAttempts: 3, initialInterval: "1s" } },
  ),
);

const broken = defineWorkflow("broken", async (ctx) =>
  ctx.step("charge", () => {
    throw new NonRetryableError("card declined");
  }),
);

const kid = defineWorkflow("kid", async (ctx, n: number) => ctx.step("work", () => n * 10));
const guardian = defineWorkflow("guardian", async (ctx) => {
  try {
    return await ctx.child(kid, 4);
  } catch (err) {
    if (err instanceof ChildFailedError) return "child failed";
    throw err;
  }
});

const patient = defineWorkflow("patient", async (ctx) => ctx.waitForSignal("never"));

describe("engine metrics through the worker handler (test kit)", () => {
  const metrics = new RecordingMetrics();
  let env: TestEnvironment;

  beforeAll(async () => {
    env = await createTestEnvironment({
      workflows: [paced, flaky, broken, kid, guardian, patient],
      endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
      metrics,
    });
  });
  afterAll(async () => {
    await env?.close();
  });
  afterEach(() => metrics.clear());

  it("counts a start, each step once although the second turn replays the first, and the completion", async () => {
    const id = await env.start(paced, 1);
    expect(metrics.started).toEqual(["paced"]);
    expect(metrics.attemptLines()).toEqual(["paced ok"]);
    expect(metrics.ended).toEqual([]);

    await env.advanceTime("1 hour");
    expect(await env.result(id)).toBe(4);
    expect(metrics.started).toEqual(["paced"]);
    expect(metrics.attemptLines()).toEqual(["paced ok", "paced ok"]);
    expect(metrics.ended).toEqual(["paced completed"]);
    for (const a of metrics.attempts) expect(a.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("counts a failed attempt and its successful retry as two attempts", async () => {
    flakyCalls = 0;
    const id = await env.start(flaky, null);
    await env.advanceTime("5s");
    expect(await env.result(id)).toBe("steady");
    expect(metrics.attemptLines()).toEqual(["flaky failed", "flaky ok"]);
    expect(metrics.ended).toEqual(["flaky completed"]);
  });

  it("counts a failed execution and a canceled one by their status", async () => {
    const failed = await env.start(broken, null);
    expect((await env.execution(failed)).status).toBe("failed");
    const canceled = await env.start(patient, null);
    await env.cancel(canceled, "not needed");
    expect((await env.execution(canceled)).status).toBe("canceled");

    expect(metrics.started).toEqual(["broken", "patient"]);
    expect(metrics.attemptLines()).toEqual(["broken failed"]);
    expect(metrics.ended).toEqual(["broken failed", "patient canceled"]);
  });

  it("counts a child started by its parent's commit as a start, and both ends", async () => {
    const id = await env.start(guardian, null);
    expect(await env.result(id)).toBe(40);
    expect(metrics.started).toEqual(["guardian", "kid"]);
    expect(metrics.attemptLines()).toEqual(["kid ok"]);
    expect(metrics.ended.sort()).toEqual(["guardian completed", "kid completed"]);
  });

  it("does not count a repeated start with the same id twice", async () => {
    await env.start(broken, null, { id: "same-start" });
    await env.start(broken, null, { id: "same-start" });
    expect(metrics.started).toEqual(["broken"]);
  });
});

describe("engine give-ups", () => {
  let world: WorkerWorld;
  beforeAll(async () => {
    world = await workerWorld("obs-giveup");
  });

  it("count as a give-up and as a failed execution", async () => {
    const id = "obs-crashy";
    const t0 = Date.now() - 60_000;
    await world.store.createExecution({ id, workflow: "kid", version: 1, input: 1, nowMs: t0 });
    // Every turn so far took the lease and was never heard of again.
    for (let i = 0; i <= MAX_ENGINE_RETRIES; i += 1) {
      expect((await world.store.acquireLease(id, { owner: `dead-${i}`, nowMs: t0 + i * 10, leaseMs: 5 })).acquired).toBe(true);
    }
    const metrics = new RecordingMetrics();
    const result = await invokeWorker(world.deps([kid], { redelivery: new RecordingRedelivery(), metrics }), [sqsRecord(id, { receiveCount: 22 })]);
    expect(result.batchItemFailures).toEqual([]);
    expect(metrics.gaveUp).toEqual(["kid"]);
    expect(metrics.ended).toEqual(["kid failed"]);
    expect(metrics.attempts).toEqual([]);
  });
});

/** What a deployed function writes while `fn` runs: stdout and stderr lines, parsed where JSON. */
async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result: T; lines: Record<string, unknown>[]; text: string }> {
  const chunks: string[] = [];
  const record = (chunk: unknown) => {
    chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    return true;
  };
  const out = vi.spyOn(process.stdout, "write").mockImplementation(record);
  const err = vi.spyOn(process.stderr, "write").mockImplementation(record);
  let result: T;
  try {
    result = await fn();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const text = chunks.join("");
  const lines = text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { unparsed: l };
      }
    });
  return { result, lines, text };
}

type Emf = { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } } & Record<string, unknown>;

function emfLines(lines: Record<string, unknown>[]): Emf[] {
  return lines.filter((l): l is Emf => typeof l._aws === "object" && l._aws !== null);
}

function metricNames(emf: Emf): string[] {
  return emf._aws.CloudWatchMetrics.flatMap((m) => m.Metrics.map((x) => x.Name)).sort();
}

describe("the deployed entries (Powertools Logger and Metrics)", () => {
  let world: WorkerWorld;

  beforeAll(async () => {
    world = await workerWorld("obs-deployed");
    vi.stubEnv("DURABLE_TABLE_NAME", world.tableName);
    vi.stubEnv("DURABLE_QUEUE_URL", world.queueUrl);
    vi.stubEnv("DURABLE_DLQ_URL", world.deadLetterQueueUrl);
    vi.stubEnv("DURABLE_DYNAMODB_ENDPOINT", inject("dynamoEndpoint"));
    vi.stubEnv("DURABLE_SQS_ENDPOINT", inject("sqsEndpoint"));
    vi.stubEnv("AWS_REGION", "us-east-1");
    vi.stubEnv("AWS_ACCESS_KEY_ID", "local");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "local");
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it("the worker runs a real wake-up and writes ExecutionsCompleted, Steps and StepLatency as EMF, and JSON logs with execution id, workflow and seq", async () => {
    const id = `obs-env-${Date.now()}`;
    await world.store.createExecution({ id, workflow: "kid", version: 1, input: 3, nowMs: Date.now() });
    await new SqsWakeupScheduler(world.clients.sqs, world.queueUrl).wakeNow([id]);
    const received = await world.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: world.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["All"] }),
    );
    const message = received.Messages?.[0];
    expect(message).toBeDefined();
    const record = sqsRecord(id, { body: message?.Body ?? "", messageId: message?.MessageId ?? "", receiptHandle: message?.ReceiptHandle ?? "" });

    const handler = workerHandlerFromEnv([kid]);
    const context = createLambdaContext({ functionName: "durable-worker", region: "us-east-1", timeoutMs: 60_000 });
    const { result, lines } = await captureOutput(() => handler({ Records: [record] }, context) as Promise<SQSBatchResponse>);

    expect(result.batchItemFailures).toEqual([]);
    expect(await world.store.getExecution(id)).toMatchObject({ status: "completed", output: 30 });

    const emf = emfLines(lines);
    expect(emf).toHaveLength(1); // one flush per invocation
    const [blob] = emf as [Emf];
    expect(blob._aws.CloudWatchMetrics[0]?.Namespace).toBe(NAMESPACE);
    expect(metricNames(blob)).toEqual(["ExecutionsCompleted", "StepLatency", "Steps"]);
    expect(blob).toMatchObject({ ExecutionsCompleted: 1, Steps: 1, service: "durable-observability-test" });
    expect(typeof blob.StepLatency).toBe("number");

    const { events } = await world.store.readHistory(id);
    const turnEnded = lines.find((l) => l.message === "turn ended");
    expect(turnEnded).toMatchObject({
      level: "INFO",
      executionId: id,
      workflow: "kid",
      seq: events[events.length - 1]?.seq,
      outcome: "completed",
      function_name: "durable-worker",
      function_request_id: context.awsRequestId,
    });
    expect(lines.filter((l) => "unparsed" in l)).toEqual([]);
  });

  it("the API counts a start and prints nothing for a request that counted nothing", async () => {
    const handler = apiHandlerFromEnv([kid]);
    const context = createLambdaContext({ functionName: "durable-api", region: "us-east-1", timeoutMs: 10_000 });

    const started = await captureOutput(
      () => handler(apiEvent("POST", "/executions", { workflow: "kid", input: 2 }), context) as Promise<APIGatewayProxyStructuredResultV2>,
    );
    expect(started.result.statusCode).toBe(201);
    expect(emfLines(started.lines).map(metricNames)).toEqual([["ExecutionsStarted"]]);
    const executionId = (JSON.parse(started.result.body ?? "{}") as { id: string }).id;
    expect(started.lines.find((l) => l.message === "execution started")).toMatchObject({ executionId, workflow: "kid" });

    const listed = await captureOutput(() => handler(apiEvent("GET", "/workflows"), context) as Promise<APIGatewayProxyStructuredResultV2>);
    expect(listed.result.statusCode).toBe(200);
    expect(listed.text).toBe(""); // no EMF and no "No application metrics to publish" warning
  });

  it("the sweeper with nothing due neither throws nor warns about empty metrics", async () => {
    const handler = sweeperHandlerFromEnv();
    const context = createLambdaContext({ functionName: "durable-sweeper", region: "us-east-1", timeoutMs: 60_000 });
    const { result, text } = await captureOutput(() => handler(undefined, context) as Promise<{ woken: string[] }>);
    expect(result.woken).toEqual([]);
    expect(text).toBe("");
  });
});

function apiEvent(method: string, path: string, body?: unknown): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: "localhost",
      domainPrefix: "localhost",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" },
      requestId: "req",
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}
