import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { CfnOutput, Duration, RemovalPolicy } from "aws-cdk-lib";
import { HttpApi, HttpMethod } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpIamAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { AttributeType, Billing, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction, OutputFormat, type BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

/** Props of {@link DurableWorkflows}. */
export interface DurableWorkflowsProps {
  /**
   * Absolute path of the TypeScript module that exports `workflows`, the
   * list of workflow definitions both functions serve.
   */
  readonly workflowsEntry: string;
  /**
   * How long a finished (completed, failed, canceled) execution and its
   * history stay in the table before DynamoDB TTL deletes them. Reaches the
   * functions as `DURABLE_RETENTION_SEC`.
   * @default Duration.days(30)
   */
  readonly retention?: Duration;
  /** @default 1024 */
  readonly workerMemorySize?: number;
  /**
   * The worker's Lambda timeout; the wake-up queue's visibility timeout is
   * six times this.
   * @default Duration.seconds(60)
   */
  readonly workerTimeout?: Duration;
  /**
   * Applied to the table and both queues.
   * @default the table is retained, the queues are destroyed
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Index names; the store queries them by these names. */
export const TABLE_INDEXES = {
  byWorkflow: "byWorkflow",
  byStatus: "byStatus",
  due: "due",
} as const;

/** `[method, path]` of every route the API function serves. */
export const API_ROUTES: ReadonlyArray<readonly [HttpMethod, string]> = [
  [HttpMethod.POST, "/executions"],
  [HttpMethod.GET, "/executions/{id}"],
  [HttpMethod.GET, "/executions/{id}/history"],
];

const DEFAULT_RETENTION = Duration.days(30);
const DEFAULT_WORKER_MEMORY_MB = 1024;
const DEFAULT_WORKER_TIMEOUT = Duration.seconds(60);
const API_MEMORY_MB = 1024;
// HTTP API gives up on an integration after 30 s; answer well before that.
const API_TIMEOUT = Duration.seconds(10);
// The engine marks an execution failed after 20 engine retries; redrive is
// only the backstop for a message the engine could not handle at all.
const MAX_RECEIVE_COUNT = 25;
// Lambda's guidance for SQS event sources: visibility timeout >= 6 x function timeout,
// so a message is not redelivered while a throttled batch is still being retried.
const VISIBILITY_TIMEOUT_FACTOR = 6;
// SQS keeps a redriven message's original enqueue time, so the DLQ must
// retain longer than the source queue or messages expire on arrival.
const QUEUE_RETENTION = Duration.days(4);
const DLQ_RETENTION = Duration.days(14);

/** The repository root: this file lives in `<repo>/lib/`. */
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const HANDLERS = {
  api: { file: path.join(REPO_ROOT, "lambdas/handlers/api"), factory: "apiHandlerFromEnv" },
  worker: { file: path.join(REPO_ROOT, "lambdas/handlers/worker"), factory: "workerHandlerFromEnv" },
} as const;

/**
 * The durable workflow engine on AWS: one DynamoDB table for executions and
 * history, an SQS queue of wake-ups drained by the worker function, and an
 * HTTP API (IAM-authorized) in front of the API function.
 *
 * @example
 * new DurableWorkflows(this, "Workflows", {
 *   workflowsEntry: path.join(import.meta.dirname, "../workflows/index.ts"),
 * });
 */
export class DurableWorkflows extends Construct {
  readonly table: TableV2;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly workerFunction: NodejsFunction;
  readonly apiFunction: NodejsFunction;
  readonly httpApi: HttpApi;
  /** Base URL of the HTTP API, without a trailing slash. */
  readonly apiUrl: string;

  constructor(scope: Construct, id: string, props: DurableWorkflowsProps) {
    super(scope, id);
    const workflowsEntry = checkWorkflowsEntry(props.workflowsEntry);
    const workerTimeout = props.workerTimeout ?? DEFAULT_WORKER_TIMEOUT;
    const retention = props.retention ?? DEFAULT_RETENTION;

    this.table = new TableV2(this, "Table", {
      partitionKey: { name: "PK", type: AttributeType.STRING },
      sortKey: { name: "SK", type: AttributeType.STRING },
      billing: Billing.onDemand(),
      timeToLiveAttribute: "expiresAtEpochSec",
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Projection ALL (the default): list pages are served from the index alone.
      globalSecondaryIndexes: [
        {
          indexName: TABLE_INDEXES.byWorkflow,
          partitionKey: { name: "workflow", type: AttributeType.STRING },
          sortKey: { name: "createdAtMs", type: AttributeType.NUMBER },
        },
        {
          indexName: TABLE_INDEXES.byStatus,
          partitionKey: { name: "status", type: AttributeType.STRING },
          sortKey: { name: "createdAtMs", type: AttributeType.NUMBER },
        },
        {
          // Sparse: only non-terminal executions carry `dueShard`.
          indexName: TABLE_INDEXES.due,
          partitionKey: { name: "dueShard", type: AttributeType.STRING },
          sortKey: { name: "nextWakeAtMs", type: AttributeType.NUMBER },
        },
      ],
      ...(props.removalPolicy ? { removalPolicy: props.removalPolicy } : {}),
    });

    this.deadLetterQueue = new Queue(this, "WakeUpDeadLetterQueue", {
      retentionPeriod: DLQ_RETENTION,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      ...(props.removalPolicy ? { removalPolicy: props.removalPolicy } : {}),
    });
    this.queue = new Queue(this, "WakeUpQueue", {
      visibilityTimeout: Duration.seconds(workerTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      retentionPeriod: QUEUE_RETENTION,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
      ...(props.removalPolicy ? { removalPolicy: props.removalPolicy } : {}),
    });

    const entries = writeHandlerEntries(workflowsEntry);
    const environment = {
      DURABLE_TABLE_NAME: this.table.tableName,
      DURABLE_QUEUE_URL: this.queue.queueUrl,
      DURABLE_RETENTION_SEC: String(retention.toSeconds()),
      NODE_OPTIONS: "--enable-source-maps",
    };

    this.workerFunction = new NodejsFunction(this, "Worker", {
      ...functionDefaults(entries.worker),
      description: "Durable workflows: replays executions woken by SQS",
      memorySize: props.workerMemorySize ?? DEFAULT_WORKER_MEMORY_MB,
      timeout: workerTimeout,
      environment,
    });
    this.workerFunction.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
      }),
    );
    this.table.grantReadWriteData(this.workerFunction);
    this.queue.grantSendMessages(this.workerFunction);
    // The worker backs off by changing a message's visibility itself; do not
    // rely on the event source's implicit consume grant for that.
    this.queue.grant(this.workerFunction, "sqs:ChangeMessageVisibility");

    this.apiFunction = new NodejsFunction(this, "Api", {
      ...functionDefaults(entries.api),
      description: "Durable workflows: HTTP API (start, inspect, signal executions)",
      memorySize: API_MEMORY_MB,
      timeout: API_TIMEOUT,
      environment,
    });
    this.table.grantReadWriteData(this.apiFunction);
    this.queue.grantSendMessages(this.apiFunction);

    // IAM authorization on every route by default (SigV4-signed callers
    // with execute-api:Invoke); the local stack uses a bearer token instead.
    this.httpApi = new HttpApi(this, "HttpApi", {
      description: "Durable workflows API",
      defaultAuthorizer: new HttpIamAuthorizer(),
    });
    const integration = new HttpLambdaIntegration("ApiIntegration", this.apiFunction);
    for (const [method, routePath] of API_ROUTES) {
      this.httpApi.addRoutes({ path: routePath, methods: [method], integration });
    }
    this.apiUrl = this.httpApi.apiEndpoint;

    new CfnOutput(this, "ApiUrl", { value: this.apiUrl, description: "Base URL of the workflows HTTP API" });
    new CfnOutput(this, "TableName", { value: this.table.tableName, description: "DynamoDB table of executions and history" });
    new CfnOutput(this, "QueueUrl", { value: this.queue.queueUrl, description: "SQS queue of execution wake-ups" });
  }
}

function functionDefaults(entry: string) {
  const bundling: BundlingOptions = {
    // Bundle with the project's esbuild; never fall back to Docker.
    forceDockerBundling: false,
    format: OutputFormat.ESM,
    minify: true,
    sourceMap: true,
    mainFields: ["module", "main"],
    // CommonJS dependencies call `require`, which ESM output lacks.
    banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  };
  return {
    entry,
    handler: "handler",
    runtime: Runtime.NODEJS_22_X,
    architecture: Architecture.ARM_64,
    projectRoot: REPO_ROOT,
    depsLockFilePath: path.join(REPO_ROOT, "package-lock.json"),
    bundling,
  };
}

function checkWorkflowsEntry(workflowsEntry: string): string {
  if (!path.isAbsolute(workflowsEntry)) {
    throw new Error(`DurableWorkflows: workflowsEntry must be an absolute path, got "${workflowsEntry}"`);
  }
  if (!existsSync(workflowsEntry)) {
    throw new Error(`DurableWorkflows: workflowsEntry "${workflowsEntry}" does not exist`);
  }
  return workflowsEntry;
}

/**
 * Writes one entry module per function, binding the user's `workflows` to
 * the generic handler factory. NodejsFunction needs the entry under
 * `projectRoot`, so they live in `<repo>/.cache/durable-entries/<hash>/`
 * (git-ignored); the hash of the inputs keeps the folder stable across
 * synths and apart for different `workflowsEntry` values.
 */
function writeHandlerEntries(workflowsEntry: string): { api: string; worker: string } {
  const hash = createHash("sha256")
    .update(JSON.stringify([workflowsEntry, HANDLERS.api.file, HANDLERS.worker.file]))
    .digest("hex")
    .slice(0, 16);
  const dir = path.join(REPO_ROOT, ".cache", "durable-entries", hash);
  mkdirSync(dir, { recursive: true });
  const write = (name: keyof typeof HANDLERS): string => {
    const { file, factory } = HANDLERS[name];
    const source = [
      "// Generated by lib/durable-workflows.ts; do not edit.",
      `import { workflows } from ${importSpecifier(workflowsEntry)};`,
      `import { ${factory} } from ${importSpecifier(file)};`,
      `export const handler = ${factory}(workflows);`,
      "",
    ].join("\n");
    const target = path.join(dir, `${name}.ts`);
    if (!existsSync(target) || readFileSync(target, "utf8") !== source) {
      // Write-then-rename: parallel synths (tests) never read a half-written file.
      const temp = `${target}.${process.pid}.tmp`;
      writeFileSync(temp, source);
      renameSync(temp, target);
    }
    return target;
  };
  return { api: write("api"), worker: write("worker") };
}

/** A quoted import specifier esbuild resolves on any OS. */
function importSpecifier(absolutePath: string): string {
  return JSON.stringify(absolutePath.split(path.sep).join("/"));
}
