/**
 * The IAM grants of the synthesized app stack against what each function's code really calls.
 *
 * DynamoDB Local and the SQS emulator check no permissions, so a new SDK call without a grant
 * passes every local test and fails only in AWS. Here each function (API, worker, sweeper: three
 * Lambda functions with three roles) runs through a broad scenario on clients of its own, with a
 * recorder (test/support/iam-recorder.ts) noting the IAM action and resource of every request;
 * each recorded pair must be allowed by that function's role in the template `cdk synth` builds.
 *
 * What the local SQS poller does in place of Lambda's event source mapping (receive, delete) is
 * done here on separate, unrecorded clients: in AWS the event source does it, with the grants
 * `addEventSource` adds, not the handler's code.
 */
import { randomBytes } from "node:crypto";
import { CreateQueueCommand, DeleteMessageBatchCommand, type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSBatchResponse } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isTerminal, type ExecutionStatus } from "../../lambdas/core/status.js";
import { defineWorkflow, WorkflowRegistry } from "../../lambdas/core/workflow.js";
import { createApiHandler } from "../../lambdas/handlers/api.js";
import { createSweeperHandler } from "../../lambdas/handlers/sweeper.js";
import { createWorkerHandler } from "../../lambdas/handlers/worker.js";
import { SqsRedelivery } from "../../lambdas/queue/redelivery.js";
import { SqsWakeupScheduler } from "../../lambdas/queue/wakeups.js";
import { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { executionPk, META_SK } from "../../lambdas/store/keys.js";
import { createTable } from "../../lambdas/store/table.js";
import type { LocalClients } from "../../local/aws-clients.js";
import { createLambdaContext, type HttpApiServer, serveHttpApi } from "../../local/http-api.js";
import { authorizationsOf, IamRecorder, type RecordedAuthorization, type RecorderResources } from "../support/iam-recorder.js";
import { testClients, uniqueName } from "../support/services.js";
import { sqsRecord } from "../worker/harness.js";
import { type Grant, grantedTo, grantResourceNames, isAllowed, SYNTH_TIMEOUT_MS, synthesizeAppStack, type SynthesizedStack } from "./synth-stack.js";

// ---- workflows: one for each kind of durable call the worker handles ----

const approval = defineWorkflow("grants-approval", async (ctx, input: { name: string }) => {
  const greeting = await ctx.step("greet", () => `hello ${input.name}`);
  await ctx.sleep("pause", "1s");
  const approved = await ctx.waitForSignal<boolean>("approve");
  return ctx.step("finish", () => ({ greeting, approved }));
});
/** Input over 1 KB and output over 64 KB: both live only in history, so GET reads them from there. */
const large = defineWorkflow("grants-large", async (ctx, input: { pad: string }) => ctx.step("inflate", () => input.pad.repeat(40)));
const child = defineWorkflow("grants-child", async (ctx, n: number) => ctx.step("double", () => n * 2));
const waiter = defineWorkflow("grants-waiter", async (ctx) => ctx.waitForSignal("never-sent"));
const parent = defineWorkflow("grants-parent", async (ctx) => {
  const doubled = await ctx.child(child, 21, { id: `${ctx.executionId}-child` });
  await ctx.child(waiter, null, { id: `${ctx.executionId}-waiter` });
  return doubled;
});
const looping = defineWorkflow("grants-continue", async (ctx, round: number): Promise<number> => {
  await ctx.step("tick", () => round);
  if (round < 2) return ctx.continueAsNew(round + 1);
  return round;
});
const failing = defineWorkflow("grants-failing", async (ctx) =>
  ctx.step(
    "doomed",
    (): string => {
      throw new Error("this step always fails");
    },
    { retry: { maxAttempts: 2, initialInterval: "200ms" } },
  ),
);
/** Never registered: no worker can run it, so the engine gives up on its executions. */
const unregistered = defineWorkflow("grants-unregistered", { version: 9 }, async () => "never runs");
const orphanParent = defineWorkflow("grants-orphan-parent", async (ctx) => {
  try {
    await ctx.child(unregistered, null, { id: `${ctx.executionId}-lost` });
    return "child completed";
  } catch {
    return "child failed";
  }
});
/** Steps for more than a second: the turn looks at the inbox on the way (a small GetItem). */
const busy = defineWorkflow("grants-busy", async (ctx) => {
  for (let i = 0; i < 12; i += 1) await ctx.step(`s${i}`, () => new Promise((resolve) => setTimeout(resolve, 120)));
  return "done";
});
/** Two signals in one burst, one consumed per run: the second run, started cold, reads the carried one back. */
const carrying = defineWorkflow("grants-carry", async (ctx, input: { seen: number[] }): Promise<number[]> => {
  const n = await ctx.waitForSignal<number>("n");
  await ctx.sleep("pause", 100);
  const seen = [...input.seen, n];
  return seen.length === 2 ? seen : ctx.continueAsNew({ seen });
});
const registry = new WorkflowRegistry([approval, large, child, waiter, parent, looping, failing, orphanParent, busy, carrying]);

// ---- the three functions, each with clients and a recorder of its own ----

type FunctionName = "api" | "worker" | "sweeper";

interface FunctionUnderTest {
  clients: LocalClients;
  recorder: IamRecorder;
}

/**
 * Grants the Lambda platform uses rather than the handler's code: every role writes its own logs,
 * and the worker's event source mapping receives, deletes and inspects messages on its queue.
 * Not reported as unexercised.
 */
const PLATFORM_GRANTS: Readonly<Record<FunctionName, readonly Grant[]>> = {
  api: [],
  worker: ["ReceiveMessage", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl", "ChangeMessageVisibility"].map((a) => ({ action: `sqs:${a}`, resource: "queue" })),
  sweeper: [],
};

let synth: SynthesizedStack;
let functionIds: Record<FunctionName, string>;
let resourceNames: Record<string, string>;

/** The test's own clients: setup, reads of the outcome, and the event source's part. Unrecorded. */
let setup: LocalClients;
let setupStore: DynamoExecutionStore;
let tableName: string;
let queueUrl: string;
let deadLetterQueueUrl: string;
let fns: Record<FunctionName, FunctionUnderTest>;

let api: HttpApiServer;
const bearerToken = randomBytes(18).toString("base64url");
const unexpectedApiErrors: unknown[] = [];
let worker: ReturnType<typeof createWorkerHandler>;
let sweeper: ReturnType<typeof createSweeperHandler>;
/** Sends of the sweeper's SQS client still to refuse (an injected failure). */
let sweeperSendsToRefuse = 0;

beforeAll(async () => {
  // Synchronous and slow (esbuild bundles the three functions): once for the whole file.
  synth = synthesizeAppStack();
  const w = synth.stack.workflows;
  functionIds = { api: synth.logicalId(w.apiFunction), worker: synth.logicalId(w.workerFunction), sweeper: synth.logicalId(w.sweeperFunction) };
  resourceNames = grantResourceNames(synth);

  setup = testClients();
  tableName = uniqueName("grants");
  await createTable(setup.dynamo, tableName);
  setupStore = new DynamoExecutionStore({ client: setup.doc, tableName });
  const queueName = uniqueName("grants");
  // A short visibility timeout: a message a turn failed on comes back soon.
  queueUrl = (await setup.sqs.send(new CreateQueueCommand({ QueueName: queueName, Attributes: { VisibilityTimeout: "2" } }))).QueueUrl as string;
  deadLetterQueueUrl = (await setup.sqs.send(new CreateQueueCommand({ QueueName: `${queueName}-dlq` }))).QueueUrl as string;

  const resources: RecorderResources = { tables: { [tableName]: "table" }, queues: { [queueUrl]: "queue", [deadLetterQueueUrl]: "dlq" } };
  const functionUnderTest = (): FunctionUnderTest => {
    const clients = testClients();
    return { clients, recorder: new IamRecorder(resources).attach(clients.dynamo, "dynamodb").attach(clients.sqs, "sqs") };
  };
  fns = { api: functionUnderTest(), worker: functionUnderTest(), sweeper: functionUnderTest() };

  // Wired as lambdas/handlers/deps.ts wires the deployed functions, on each function's clients.
  const depsOf = (fn: FunctionUnderTest, workerId: string) => ({
    store: new DynamoExecutionStore({ client: fn.clients.dynamo, tableName }),
    scheduler: new SqsWakeupScheduler(fn.clients.sqs, queueUrl),
    registry,
    clock: Date.now,
    random: Math.random,
    workerId,
  });
  api = await serveHttpApi({
    handler: createApiHandler(depsOf(fns.api, "api"), { bearerToken, onError: (err) => unexpectedApiErrors.push(err) }),
  });
  // Cold (no warm runs kept): every turn reads what it needs from DynamoDB, as a new Lambda
  // instance does.
  worker = createWorkerHandler(
    { ...depsOf(fns.worker, "worker/grants"), redelivery: new SqsRedelivery(fns.worker.clients.sqs, queueUrl, deadLetterQueueUrl) },
    // Give up after one engine retry, and retry at once: the give-up path runs in a second.
    { minRemainingMs: 1_000, engineRetries: { maxRetries: 1, delaySeconds: () => 0 } },
  );
  sweeper = createSweeperHandler(depsOf(fns.sweeper, "sweeper"), { graceMs: 30_000 });
  // After the recorder (initialize step), before the SDK's retries (finalize step): the send is
  // recorded as attempted, then fails as a refused request would.
  fns.sweeper.clients.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (sweeperSendsToRefuse > 0 && /^SendMessage/.test(context.commandName ?? "")) {
        sweeperSendsToRefuse -= 1;
        throw new Error("SQS refused the send (injected)");
      }
      return next(args);
    },
    { step: "build", name: "refuseSweeperSends" },
  );
}, SYNTH_TIMEOUT_MS);

afterAll(async () => {
  await api?.close();
});

// ---- driving the functions ----

interface ApiAnswer {
  status: number;
  /** Parsed JSON body. */
  body: Record<string, unknown>;
}

async function callApi(method: string, path: string, body?: unknown, token: string | null = bearerToken): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${api.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function errorCode(answer: ApiAnswer): unknown {
  return (answer.body.error as { code?: unknown } | undefined)?.code;
}

async function statusOf(id: string): Promise<ExecutionStatus | undefined> {
  return (await setupStore.getExecution(id))?.status;
}

/** `id: status (error code: message)` for each, to say where executions stand when a wait gives up. */
async function whereTheyStand(ids: readonly string[]): Promise<string> {
  const records = await Promise.all(ids.map((id) => setupStore.getExecution(id)));
  return records
    .map((r, i) => `${ids[i]}: ${r?.status ?? "absent"}${r?.error ? ` (${r.error.code ?? r.error.name}: ${r.error.message})` : ""}`)
    .join("; ");
}

/**
 * Feeds the wake-up queue to the worker handler, as the event source mapping does (receive, hand
 * over the batch, delete what did not fail), until every execution of `ids` satisfies `done`
 * (default: has ended). The receive and the delete go through the test's clients: they are the
 * event source's grants, not the role's code.
 */
async function runWorkerUntil(
  ids: readonly string[],
  done: (status: ExecutionStatus | undefined, id: string) => boolean = (status) => status !== undefined && isTerminal(status),
  timeoutMs = 40_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(ids.map(statusOf));
    if (ids.every((id, i) => done(statuses[i], id))) return;
    if (Date.now() > deadline) throw new Error(`the worker did not get there in ${timeoutMs} ms; ${await whereTheyStand(ids)}`);
    const received = await setup.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["ApproximateReceiveCount"] }),
    );
    const messages: Message[] = received.Messages ?? [];
    if (messages.length === 0) continue;
    const records = messages.map((m) =>
      sqsRecord("", { body: m.Body ?? "", messageId: m.MessageId ?? "", receiptHandle: m.ReceiptHandle ?? "", receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1) }),
    );
    const result = (await worker({ Records: records }, createLambdaContext({ functionName: "worker", region: "us-east-1", timeoutMs: 60_000 }))) as SQSBatchResponse;
    const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
    const handled = messages.filter((m) => !failed.has(m.MessageId ?? ""));
    if (handled.length > 0) {
      await setup.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: handled.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
      );
    }
  }
}

async function sweep(): Promise<{ woken: string[]; failed: string[] }> {
  return (await sweeper(undefined, createLambdaContext({ functionName: "sweeper", region: "us-east-1", timeoutMs: 60_000 }))) as { woken: string[]; failed: string[] };
}

// ---- the check ----

function describeAuthorization(a: RecordedAuthorization): string {
  return `${a.action} on ${a.resource} (${a.operations.join(", ")})`;
}

/**
 * Holds what `fn` called against its role's grants: prints the recorded set, notes grants the
 * scenario never used, and fails on any call the role does not allow.
 */
function expectCallsWithinGrants(fn: FunctionName): void {
  const grants = grantedTo(synth.template, functionIds[fn], resourceNames);
  const recorded = fns[fn].recorder.authorizations();
  const missing = recorded.filter((r) => !isAllowed(grants, r));
  const distinctGrants = [...new Map(grants.map((g) => [`${g.action} on ${g.resource}`, g])).values()];
  const unexercised = distinctGrants
    .filter((g) => !g.action.startsWith("logs:") && !isAllowed(PLATFORM_GRANTS[fn], g))
    .filter((g) => !recorded.some((r) => isAllowed([g], r)));
  const lines = [
    `${fn}: ${recorded.length} (action, resource) pairs called, ${fns[fn].recorder.requests.length} authorizations in all`,
    ...recorded.map((r) => `  ${isAllowed(grants, r) ? "ok     " : "MISSING"} ${describeAuthorization(r)}`),
    ...(unexercised.length === 0 ? [] : [`  note: granted but never called in this scenario: ${unexercised.map((g) => `${g.action} on ${g.resource}`).join(", ")}`]),
  ];
  console.info(lines.join("\n"));
  // The recorder really saw this function's traffic: it reached the table and the queue.
  expect(recorded.some((r) => r.resource.startsWith("table"))).toBe(true);
  expect(recorded.some((r) => r.resource === "queue")).toBe(true);
  expect(missing.map(describeAuthorization), `${fn} calls what its role in the synthesized template does not allow`).toEqual([]);
}

// ---- the tests ----

describe("the recorder", () => {
  const resources: RecorderResources = { tables: { t1: "table" }, queues: { "http://q/main": "queue", "http://q/dlq": "dlq" } };

  it("authorizes a transaction item by item, as the single-item actions on their tables", () => {
    const transaction = {
      TransactItems: [
        { ConditionCheck: { TableName: "t1" } },
        { Put: { TableName: "t1" } },
        { Update: { TableName: "t1" } },
        { Delete: { TableName: "t1" } },
      ],
    };
    expect(authorizationsOf("dynamodb", "TransactWriteItems", transaction, resources)).toEqual(
      ["ConditionCheckItem", "PutItem", "UpdateItem", "DeleteItem"].map((a) => ({ action: `dynamodb:${a}`, resource: "table" })),
    );
  });

  it("authorizes batches as their own actions, and a query on an index on that index", () => {
    const batch = { RequestItems: { t1: [{ PutRequest: {} }, { DeleteRequest: {} }] } };
    expect(authorizationsOf("dynamodb", "BatchWriteItem", batch, resources)).toEqual([{ action: "dynamodb:BatchWriteItem", resource: "table" }]);
    expect(authorizationsOf("dynamodb", "BatchGetItem", { RequestItems: { t1: { Keys: [] } } }, resources)).toEqual([{ action: "dynamodb:BatchGetItem", resource: "table" }]);
    expect(authorizationsOf("dynamodb", "Query", { TableName: "t1", IndexName: "due" }, resources)).toEqual([{ action: "dynamodb:Query", resource: "table/index/due" }]);
    expect(authorizationsOf("dynamodb", "Query", { TableName: "t1" }, resources)).toEqual([{ action: "dynamodb:Query", resource: "table" }]);
  });

  it("authorizes an SQS batch as the single-message action, on the queue its URL names", () => {
    expect(authorizationsOf("sqs", "SendMessageBatch", { QueueUrl: "http://q/main" }, resources)).toEqual([{ action: "sqs:SendMessage", resource: "queue" }]);
    expect(authorizationsOf("sqs", "SendMessage", { QueueUrl: "http://q/dlq" }, resources)).toEqual([{ action: "sqs:SendMessage", resource: "dlq" }]);
    expect(authorizationsOf("sqs", "ChangeMessageVisibility", { QueueUrl: "http://q/other" }, resources)).toEqual([
      { action: "sqs:ChangeMessageVisibility", resource: "unknown queue http://q/other" },
    ]);
  });

  it("finds a call missing from grants that lack its action, and accepts IAM wildcards", () => {
    const grants: Grant[] = [
      { action: "dynamodb:PutItem", resource: "table" },
      { action: "dynamodb:Query", resource: "table/index/*" },
    ];
    expect(isAllowed(grants, { action: "dynamodb:PutItem", resource: "table" })).toBe(true);
    expect(isAllowed(grants, { action: "dynamodb:UpdateItem", resource: "table" })).toBe(false);
    expect(isAllowed(grants, { action: "dynamodb:Query", resource: "table/index/byStatus" })).toBe(true);
    expect(isAllowed(grants, { action: "dynamodb:Query", resource: "table" })).toBe(false);
    expect(isAllowed([{ action: "dynamodb:*", resource: "table" }], { action: "dynamodb:DeleteItem", resource: "table" })).toBe(true);
  });
});

describe("each function's role allows every call its code makes", () => {
  it("the API function, on every route and its error paths", { timeout: 60_000 }, async () => {
    const request = { workflow: approval.name, id: "approve-1", input: { name: "ada" } };
    expect((await callApi("POST", "/executions", request)).status).toBe(201);
    expect((await callApi("POST", "/executions", request)).status).toBe(200); // idempotent repeat
    const conflicting = await callApi("POST", "/executions", { ...request, input: { name: "bob" } });
    expect([conflicting.status, errorCode(conflicting)]).toEqual([409, "EXECUTION_EXISTS"]);
    expect((await callApi("POST", "/executions", { workflow: approval.name, id: "approve-2", input: { name: "cy" }, tags: { team: "t1" } })).status).toBe(201);
    expect((await callApi("POST", "/executions", { workflow: approval.name, id: "delayed-1", input: { name: "di" }, tags: { team: "t1" }, startAt: new Date(Date.now() + 3_600_000).toISOString() })).status).toBe(201);
    expect((await callApi("POST", "/executions", { workflow: large.name, id: "large-1", input: { pad: "x".repeat(2_000) } })).status).toBe(201);
    expect((await callApi("POST", "/executions/approve-1/signals/approve", true)).status).toBe(202);
    expect((await callApi("POST", "/executions/approve-2/cancel", { reason: "not needed" })).status).toBe(202);
    const started = ["approve-1", "approve-2", "large-1"];
    await runWorkerUntil(started);
    expect(await Promise.all(started.map(statusOf)), await whereTheyStand(started)).toEqual(["completed", "canceled", "completed"]);

    expect((await callApi("GET", "/executions/approve-1")).body).toMatchObject({ status: "completed", output: { greeting: "hello ada", approved: true } });
    expect((await callApi("GET", "/executions/approve-2")).body).toMatchObject({ status: "canceled" });
    const big = await callApi("GET", "/executions/large-1");
    expect([big.body.status, String(big.body.output).length, (big.body.input as { pad: string }).pad.length]).toEqual(["completed", 80_000, 2_000]);

    const firstPage = await callApi("GET", "/executions/approve-1/history?limit=3");
    expect(firstPage.body.cursor).toEqual(expect.any(String));
    const nextPage = await callApi("GET", `/executions/approve-1/history?limit=3&cursor=${encodeURIComponent(String(firstPage.body.cursor))}`);
    expect((nextPage.body.events as unknown[]).length).toBeGreaterThan(0);

    expect((await callApi("POST", "/executions/delayed-1/terminate", { reason: "not needed" })).status).toBe(202);
    expect(errorCode(await callApi("POST", "/executions/approve-1/redrive", {}))).toBe("EXECUTION_NOT_FAILED");
    for (const filter of [`workflow=${approval.name}`, "status=completed", "", "tag.team=t1"]) {
      const page = await callApi("GET", `/executions?limit=1&${filter}`);
      expect([page.status, (page.body.executions as unknown[]).length, typeof page.body.cursor]).toEqual([200, 1, "string"]);
      const next = await callApi("GET", `/executions?limit=1&${filter}&cursor=${encodeURIComponent(String(page.body.cursor))}`);
      expect(next.status).toBe(200);
    }

    // A start under the id of an execution whose retention has ended removes it first.
    await setupStore.createExecution({ id: "reused-1", workflow: approval.name, version: 1, input: { name: "old" }, nowMs: Date.now() - 60_000 });
    await setup.doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { PK: executionPk("reused-1"), SK: META_SK },
        UpdateExpression: "SET #status = :completed, purgeAtMs = :past, purgeShard = :purge, updatedAtMs = :ended REMOVE dueShard, nextWakeAtMs",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":completed": "completed", ":past": Date.now() - 1_000, ":purge": "PURGE", ":ended": Date.now() - 60_000 },
      }),
    );
    expect((await callApi("POST", "/executions", { workflow: approval.name, id: "reused-1", input: { name: "new" } })).status).toBe(201);

    const lateSignal = await callApi("POST", "/executions/approve-1/signals/approve", true);
    expect([lateSignal.status, errorCode(lateSignal)]).toEqual([409, "EXECUTION_ENDED"]);
    const lateCancel = await callApi("POST", "/executions/approve-1/cancel", {});
    expect([lateCancel.status, errorCode(lateCancel)]).toEqual([409, "EXECUTION_ENDED"]);
    for (const [method, path] of [
      ["GET", "/executions/nobody"],
      ["GET", "/executions/nobody/history"],
      ["POST", "/executions/nobody/signals/approve"],
      ["POST", "/executions/nobody/cancel"],
    ] as const) {
      const answer = await callApi(method, path, method === "POST" ? {} : undefined);
      expect([path, answer.status, errorCode(answer)]).toEqual([path, 404, "EXECUTION_NOT_FOUND"]);
    }
    // Refused before the engine, so no AWS call: here for completeness of the routes.
    expect((await callApi("GET", "/workflows")).status).toBe(200);
    expect((await callApi("GET", "/executions", undefined, null)).status).toBe(401);
    expect((await callApi("DELETE", "/executions")).status).toBe(405);

    expect(unexpectedApiErrors).toEqual([]);
    expectCallsWithinGrants("api");
  });

  it("the worker, through steps, a sleep, a signal, children, cancel propagation, continue-as-new, a failed step and an engine give-up", { timeout: 60_000 }, async () => {
    const start = async (workflow: string, id: string, input: unknown) =>
      expect((await callApi("POST", "/executions", { workflow, id, input })).status).toBe(201);
    await start(approval.name, "approve-3", { name: "dee" });
    await start(parent.name, "family-1", null);
    await start(looping.name, "loop-1", 0);
    await start(failing.name, "fail-1", null);
    await start(orphanParent.name, "orphan-1", null);
    await start(busy.name, "busy-1", null);
    await start(carrying.name, "carry-1", { seen: [] });
    expect((await callApi("POST", "/executions/carry-1/signals/n", 1)).status).toBe(202);
    expect((await callApi("POST", "/executions/carry-1/signals/n", 2)).status).toBe(202);
    expect((await callApi("POST", "/executions/approve-3/signals/approve", false)).status).toBe(202);
    // Cancel the parent only once its second child waits: the cancel must travel to the child.
    await runWorkerUntil(["family-1-waiter"], (status) => status === "sleeping");
    expect((await callApi("POST", "/executions/family-1/cancel", {})).status).toBe(202);
    const everything = ["approve-3", "family-1", "family-1-child", "family-1-waiter", "loop-1", "fail-1", "orphan-1", "orphan-1-lost", "busy-1", "carry-1"];
    await runWorkerUntil(everything);

    const outcome = async (id: string) => {
      const e = await setupStore.getExecution(id);
      return [id, e?.status, e?.error?.code ?? null];
    };
    expect(await Promise.all(everything.map(outcome))).toEqual([
      ["approve-3", "completed", null],
      ["family-1", "canceled", expect.anything()],
      ["family-1-child", "completed", null],
      ["family-1-waiter", "canceled", expect.anything()],
      ["loop-1", "completed", null],
      ["fail-1", "failed", "STEP_FAILED"],
      ["orphan-1", "completed", null],
      ["orphan-1-lost", "failed", "ENGINE_RETRIES_EXHAUSTED"],
      ["busy-1", "completed", null],
      ["carry-1", "completed", null],
    ]);
    expect(await setupStore.getExecution("carry-1")).toMatchObject({ run: 2, output: [1, 2] });
    expect(await setupStore.getExecution("loop-1")).toMatchObject({ run: 3, output: 2 });
    expect((await setupStore.getExecution("orphan-1"))?.output).toBe("child failed");
    const dead = await setup.sqs.send(new ReceiveMessageCommand({ QueueUrl: deadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(dead.Messages?.map((m) => (JSON.parse(m.Body ?? "{}") as { executionId?: string }).executionId)).toEqual(["orphan-1-lost"]);

    expectCallsWithinGrants("worker");
  });

  it("the sweeper, claiming a due execution, clearing an ended one from the due index, giving a claim back after a failed send, and removing an expired one", { timeout: 30_000 }, async () => {
    const longAgoMs = Date.now() - 120_000;
    // Started two minutes ago and its wake-up lost: due, and past the sweeper's grace.
    await setupStore.createExecution({ id: "overdue-1", workflow: approval.name, version: 1, input: { name: "eve" }, nowMs: longAgoMs });
    // Ended, yet still in the due index (as a late notification can leave an item).
    await setupStore.createExecution({ id: "ended-1", workflow: approval.name, version: 1, input: { name: "fay" }, nowMs: longAgoMs });
    const endedKey = { PK: executionPk("ended-1"), SK: META_SK };
    await setup.doc.send(
      new UpdateCommand({ TableName: tableName, Key: endedKey, UpdateExpression: "SET #status = :completed", ExpressionAttributeNames: { "#status": "status" }, ExpressionAttributeValues: { ":completed": "completed" } }),
    );

    // Ended long ago and past its retention: the sweep removes it, items and all.
    await setupStore.createExecution({ id: "expired-1", workflow: approval.name, version: 1, input: { name: "gus" }, nowMs: longAgoMs });
    await setup.doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { PK: executionPk("expired-1"), SK: META_SK },
        UpdateExpression: "SET #status = :completed, purgeAtMs = :past, purgeShard = :purge, updatedAtMs = :ended REMOVE dueShard, nextWakeAtMs",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":completed": "completed", ":past": Date.now() - 1_000, ":purge": "PURGE", ":ended": longAgoMs },
      }),
    );

    sweeperSendsToRefuse = 1;
    const refused = await sweep();
    expect(refused).toMatchObject({ purged: ["expired-1"] });
    expect(await setupStore.getExecution("expired-1")).toBeUndefined();
    expect(refused.failed).toContain("overdue-1");
    expect(refused.woken).not.toContain("overdue-1");
    // The claim was given back: the next sweep finds the execution at once.
    expect((await sweep()).woken).toContain("overdue-1");
    const ended = await setup.doc.send(new GetCommand({ TableName: tableName, Key: endedKey, ConsistentRead: true }));
    expect(ended.Item?.dueShard).toBeUndefined();

    expectCallsWithinGrants("sweeper");
  });
});
