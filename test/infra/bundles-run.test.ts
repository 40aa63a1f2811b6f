/**
 * The artifacts `cdk deploy` would upload, run for real: the bundled API and worker functions
 * (cdk.out's index.mjs, not our sources) start an execution and complete it against DynamoDB
 * Local and the SQS emulator, configured only through the environment the construct sets.
 */
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, SQSEvent } from "aws-lambda";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createTable } from "../../lambdas/store/table.js";
import { testClients, uniqueName } from "../support/services.js";
import { SYNTH_TIMEOUT_MS, synthesizeAppStack } from "./synth-stack.js";

type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
type WorkerHandler = (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

const context = {
  functionName: "fn",
  awsRequestId: "req",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:fn",
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

function httpEvent(method: string, rawPath: string, body?: unknown): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString: "",
    headers: { "content-type": "application/json" },
    requestContext: { http: { method, path: rawPath, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" }, requestId: "r", timeEpoch: Date.now() },
    isBase64Encoded: false,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  } as unknown as APIGatewayProxyEventV2;
}

let api: ApiHandler;
let worker: WorkerHandler;
let queueUrl: string;

beforeAll(async () => {
  const synth = synthesizeAppStack();
  const assemblyDir = synth.app.synth().directory;
  const bundleOf = (fn: Parameters<typeof synth.logicalId>[0]) => {
    const resource = synth.template.toJSON().Resources[synth.logicalId(fn)] as { Properties: { Code: { S3Key: string } } };
    return path.join(assemblyDir, `asset.${path.basename(resource.Properties.Code.S3Key, ".zip")}`, "index.mjs");
  };
  const clients = testClients();
  const tableName = uniqueName("bundles");
  await createTable(clients.dynamo, tableName);
  queueUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: uniqueName("bundles") }))).QueueUrl as string;
  const dlqUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: uniqueName("bundles-dlq") }))).QueueUrl as string;
  // What the construct sets, plus the local endpoints and credentials in place of AWS's.
  Object.assign(process.env, {
    DURABLE_TABLE_NAME: tableName,
    DURABLE_QUEUE_URL: queueUrl,
    DURABLE_DLQ_URL: dlqUrl,
    DURABLE_CURSOR_SECRET: "a-secret-of-at-least-thirty-two-characters",
    DURABLE_DYNAMODB_ENDPOINT: inject("dynamoEndpoint"),
    DURABLE_SQS_ENDPOINT: inject("sqsEndpoint"),
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    POWERTOOLS_DEV: "false",
    POWERTOOLS_LOG_LEVEL: "ERROR",
  });
  const w = synth.stack.workflows;
  api = ((await import(pathToFileURL(bundleOf(w.apiFunction)).href)) as { handler: ApiHandler }).handler;
  worker = ((await import(pathToFileURL(bundleOf(w.workerFunction)).href)) as { handler: WorkerHandler }).handler;
}, SYNTH_TIMEOUT_MS);

describe("the bundled functions", () => {
  it("start the demo over the API bundle and complete it through the worker bundle", async () => {
    const started = await api(httpEvent("POST", "/executions", { workflow: "greet", input: { name: "bundle" } }), context);
    expect(started.statusCode).toBe(201);
    const id = (JSON.parse(started.body as string) as { id: string }).id;

    const { sqs } = testClients();
    const deadline = Date.now() + 30_000;
    let status = "running";
    while (Date.now() < deadline && status !== "completed" && status !== "failed") {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["All"] }));
      for (const m of out.Messages ?? []) {
        const result = await worker(
          {
            Records: [
              {
                messageId: m.MessageId as string,
                receiptHandle: m.ReceiptHandle as string,
                body: m.Body as string,
                attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1", SentTimestamp: "0", SenderId: "x", ApproximateFirstReceiveTimestamp: "0" },
                messageAttributes: {},
                md5OfBody: "",
                eventSource: "aws:sqs",
                eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:q",
                awsRegion: "us-east-1",
              },
            ],
          },
          context,
        );
        if (result.batchItemFailures.length === 0) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
      const got = await api(httpEvent("GET", `/executions/${id}`), context);
      status = (JSON.parse(got.body as string) as { status: string }).status;
    }
    const final = JSON.parse((await api(httpEvent("GET", `/executions/${id}`), context)).body as string) as { status: string; output: unknown };
    expect(final.status).toBe("completed");
    expect(final.output).toMatchObject({ greeting: "Hello, bundle!", shouted: "HELLO, BUNDLE!" });
  }, 60_000);
});
