import { CfnOutput, Duration, RemovalPolicy, Stack, Token } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import { HttpApi, HttpMethod, type HttpStage, type IHttpRouteAuthorizer, LogGroupLogDestination } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpIamAuthorizer, HttpJwtAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { AttributeType, Billing, ProjectionType, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { Grant, type IGrantable, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { type IKey, Key } from "aws-cdk-lib/aws-kms";
import { Architecture, Function as LambdaFunctionRef, LoggingFormat, Runtime } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ScheduleGroup, Schedule as StartSchedule } from "aws-cdk-lib/aws-scheduler";
import { BlockPublicAccess, Bucket, BucketEncryption } from "aws-cdk-lib/aws-s3";
import { RotationSchedule, Secret } from "aws-cdk-lib/aws-secretsmanager";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import {
  type Action,
  ACTIONS,
  API_ROUTE_ACTIONS,
  AUTHORIZATION_ENV,
  type AuthorizationPolicy,
  DEFAULT_SCOPE_PREFIX,
  isAction,
  type PrincipalGrant,
  routesFor,
  TENANT_ID,
} from "../lambdas/core/permissions.js";
import type { ScheduleDefinition } from "../lambdas/starts/definitions.js";
import { TABLE } from "../lambdas/store/schema.js";
import { DEFAULT_OFFLOAD_THRESHOLD_BYTES, MAX_OFFLOAD_THRESHOLD_BYTES, MIN_OFFLOAD_THRESHOLD_BYTES } from "../lambdas/store/stored-values.js";
import { type FunctionAccess, grantAccess } from "./access.js";
import { createAlarms, type DurableWorkflowsAlarms } from "./alarms.js";
import { checkWorkflowsEntry, findProject, writeHandlerEntries } from "./handler-entries.js";
import { checkStarts, createStartTriggers, type DurableEventStart, eventQueuesJson } from "./starts.js";

/**
 * IAM auth: callers sign requests with SigV4 and need `execute-api:Invoke` on the routes they
 * call (`DurableWorkflows.grantApi` grants it per action). docs/security.md describes the model.
 */
export interface DurableWorkflowsIamAuth {
  readonly type: "iam";
  /**
   * Callers by IAM ARN, each with its tenant and the actions the API lets it take (every action
   * when `actions` is absent). A role's ARN matches every session of the role. Without
   * `tenants`, a caller not listed may do whatever its `execute-api:Invoke` grants reach.
   * @example { "arn:aws:iam::123456789012:role/billing-service": { tenant: "billing", actions: ["start", "read"] } }
   * @default none
   */
  readonly principals?: Readonly<Record<string, PrincipalGrant>>;
  /**
   * Keep executions per tenant: every caller must be listed in `principals` with a `tenant`,
   * and sees and acts on its tenant's executions only; any other caller is refused
   * (403 TENANT_REQUIRED).
   * @default false
   */
  readonly tenants?: boolean;
}

/**
 * JWT auth: callers send `Authorization: Bearer <token>`, a token from `issuer` whose `aud` is
 * one of `audience`; its scopes say what it may do. docs/security.md describes the model.
 */
export interface DurableWorkflowsJwtAuth {
  readonly type: "jwt";
  /** The token's `iss`, an https:// URL serving OpenID discovery. */
  readonly issuer: string;
  readonly audience: readonly string[];
  /**
   * What a token may do, from its `scope` (or `scp`) claim: `<prefix>:<action>` on every
   * workflow (`durable:read`), `<workflow>:<action>` on one (`approval:signal`), `*` for every
   * action (`durable:*`). `false`: any token the authorizer accepts may do everything.
   * @default { prefix: "durable" }
   */
  readonly scopes?: false | { readonly prefix?: string };
  /**
   * Keep executions per tenant, the tenant read from this claim of the token (a tenant id:
   * 1–64 characters of A–Z, a–z, 0–9, _ or -). A token without it is refused (403 TENANT_REQUIRED).
   * @example "tenant_id"
   * @default no tenants
   */
  readonly tenantClaim?: string;
}

/** Who may call the HTTP API, and what each caller may do: IAM (SigV4) or JWT (bearer token). */
export type DurableWorkflowsAuth = DurableWorkflowsIamAuth | DurableWorkflowsJwtAuth;

/**
 * Where workflow values (inputs, step results, signals, outputs) go when they are large, and
 * whether the engine encrypts them.
 */
export interface DurableWorkflowsPayloads {
  /**
   * A value whose stored form is larger than this many bytes is written to the payload bucket,
   * its item keeping only a reference. A whole number from 1,024 to 300,000 (an item must hold
   * the value's envelope too, below DynamoDB's 400 KB). Reaches the functions as
   * `DURABLE_PAYLOAD_THRESHOLD_BYTES`.
   * @default 32_768
   */
  readonly offloadThresholdBytes?: number;
  /**
   * The KMS key the engine encrypts every value under (envelope encryption: a data key per value,
   * bound to its execution by the encryption context `durable:execution`), in the table and in
   * the bucket alike. `true`: the construct creates a key, rotated yearly. A key of your own: a
   * key, not an alias; from another account, its key policy must let the functions' roles use it.
   * `false`: values are stored as they are (the table and the bucket still encrypt at rest).
   * Reaches the functions as `DURABLE_PAYLOAD_KMS_KEY` (the key's ARN).
   * @default false
   */
  readonly encryptionKey?: IKey | boolean;
  /**
   * How long after its upload the bucket's lifecycle deletes an object. The engine deletes an
   * execution's objects itself when it purges the execution; this rule only removes orphans (an
   * object whose item was never written, after a crash between the two). It must exceed the
   * longest an execution runs plus `retention`, or it deletes values still in use. Whole days,
   * longer than `retention`.
   * @default `retention` plus 365 days
   */
  readonly objectExpiration?: Duration;
}

/** Props of {@link DurableWorkflows}. */
export interface DurableWorkflowsProps {
  /**
   * Absolute path of the TypeScript module that exports `workflows`, the
   * list of workflow definitions the API and the worker serve.
   */
  readonly workflowsEntry: string;
  /**
   * Your project's root, where the construct writes the functions' entry files
   * (`.durable/entries/`, git-ignore it) and bundling runs.
   * @default the folder of `depsLockFilePath`
   */
  readonly projectRoot?: string;
  /**
   * Your lock file, which bundling installs from.
   * @default the nearest package-lock.json, yarn.lock, pnpm-lock.yaml or bun.lock(b) above `workflowsEntry`
   */
  readonly depsLockFilePath?: string;
  /**
   * The module the generated entry files import the handler factories from
   * (`workerHandler`, `apiHandler`, `sweeperHandler`, `starterHandler`). Resolved from your
   * project, so it is the same copy of durable-aws your workflows import.
   * @default "durable-aws/lambda"
   */
  readonly handlersModule?: string;
  /**
   * How long a finished (completed, failed, canceled) execution and its
   * history stay in the table before the sweeper removes them, all items
   * together. At least an hour: far longer than any worker invocation, so no
   * write of a worker that outlived its lease can land after the removal.
   * Reaches the functions as `DURABLE_RETENTION_SEC`.
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
   * The most worker instances the SQS event source runs at once (its
   * `maxConcurrency`; SQS allows 2 to 1000). Bounds the load on the table
   * and on anything the steps call.
   * @default 10
   */
  readonly workerConcurrency?: number;
  /**
   * Who may call the HTTP API and what each caller may do. Checked at synth, then handed to the
   * API function as `DURABLE_AUTHORIZATION` (see `DurableWorkflows.authorizationPolicy`).
   * @default { type: "iam" }
   */
  readonly auth?: DurableWorkflowsAuth;
  /** Where the alarms send their ALARM and OK notifications. @default no notifications */
  readonly alarmTopic?: ITopic;
  /**
   * Applied to the table, the queues, the log groups, the payload buckets and the payload key the
   * construct creates (SNAPSHOT retains those last two: S3 and KMS have no snapshot). DESTROY
   * empties the buckets before deleting them.
   * @default the table, the log groups, the buckets and the key are retained, the queues are destroyed
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * The table's deletion protection: while on, neither CloudFormation nor a
   * person can delete the table.
   * @default true, unless `removalPolicy` is DESTROY
   */
  readonly deletionProtection?: boolean;
  /**
   * How often the sweeper looks for executions whose wake-up was lost. Whole
   * minutes, at least one.
   * @default Duration.minutes(1)
   */
  readonly sweepSchedule?: Duration;
  /**
   * How often Secrets Manager rotates the API's cursor-signing key (`cursorSecret`), through the
   * construct's rotation function; at least one day. The API re-reads the key every 5 minutes and
   * keeps accepting the previous one, so a cursor issued before a rotation keeps working until
   * the next rotation (a client paging slower than this starts again from the first page).
   * @default Duration.days(30)
   */
  readonly cursorKeyRotation?: Duration;
  /**
   * Workflows started on a schedule, each by an EventBridge Scheduler schedule invoking the
   * starter function. The execution a fire starts is named `<name>-<fire time>`
   * (`nightly-20261202T020000Z`), so a retried fire never starts a second one. Checked at synth.
   * @example [{ name: "nightly", workflow: "report", cron: "0 2 * * ? *", timezone: "Europe/Berlin" }]
   * @default none
   */
  readonly schedules?: readonly ScheduleDefinition[];
  /**
   * Workflows started by EventBridge events or SQS messages, through the starter function; each
   * event or message starts one execution, named `<name>-<event or message id>`. Checked at synth.
   * @default none
   */
  readonly eventStarts?: readonly DurableEventStart[];
  /**
   * The payload bucket's threshold and lifecycle, and encryption of values by the engine. The
   * bucket is always created.
   * @default values above 32 KB go to the bucket, unencrypted by the engine
   */
  readonly payloads?: DurableWorkflowsPayloads;
}

/** Names of the environment variables that tell the engine's functions where values go. */
export const PAYLOAD_ENV = {
  bucket: "DURABLE_PAYLOAD_BUCKET",
  thresholdBytes: "DURABLE_PAYLOAD_THRESHOLD_BYTES",
  kmsKey: "DURABLE_PAYLOAD_KMS_KEY",
} as const;

/** Index names; the store queries them by these names (lambdas/store/schema.ts). */
export const TABLE_INDEXES = {
  byWorkflow: TABLE.indexes.byWorkflow.name,
  byStatus: TABLE.indexes.byStatus.name,
  due: TABLE.indexes.due.name,
  purge: TABLE.indexes.purge.name,
  byTag: TABLE.indexes.byTag.name,
} as const;

function attributeType(type: "S" | "N"): AttributeType {
  return type === "S" ? AttributeType.STRING : AttributeType.NUMBER;
}

/** `[method, path]` of every route the API function serves (`API_ROUTE_ACTIONS`, without the actions). */
export const API_ROUTES: ReadonlyArray<readonly [HttpMethod, string]> = API_ROUTE_ACTIONS.map((route) => [HttpMethod[route.method], route.path] as const);

/**
 * What each function's code calls (lambdas/store/dynamo-store.ts,
 * lambdas/queue/wakeups.ts and redelivery.ts). A change that calls something new must
 * add it here: the local stack does not check IAM, AWS does.
 *
 * TransactWriteItems is authorized item by item (PutItem, UpdateItem,
 * DeleteItem, ConditionCheckItem: see access.ts); SendMessageBatch as
 * SendMessage; UpdateItem's ReturnValues and
 * ReturnValuesOnConditionCheckFailure need nothing beyond UpdateItem.
 */
const ACCESS = {
  // start: a transaction of two puts (and one per tag), then a GetItem of the existing
  // execution when the id is taken (idempotent start); get: GetItem (+
  // GetItem of a large input/output's history event); history: Query on the
  // table; list: Query on byWorkflow/byStatus/byTag, then BatchGetItem of the listed
  // items; signal and cancel: a transaction of an update and a put, and a
  // GetItem to explain a refusal. Wake-ups: SendMessage(Batch).
  // A start under the id of an execution whose retention ended removes it
  // first (UpdateItem claims it, Query lists its items, DeleteItem each).
  api: {
    table: ["GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"],
    queriedIndexes: [TABLE_INDEXES.byWorkflow, TABLE_INDEXES.byStatus, TABLE_INDEXES.byTag],
    queue: ["SendMessage"],
    deadLetterQueue: [],
    // Reads large values (a start's input, history) and writes them (a start, a signal); seals
    // and opens encrypted ones. A start under an expired id purges that execution's objects
    // (ListObjectsV2 under executions/<id>/, DeleteObjects) before its items.
    payloads: { objects: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"], list: true, kms: ["kms:GenerateDataKey", "kms:Decrypt"] },
  },
  // lease: UpdateItem (acquire, release); snapshot: Query on the table;
  // commits: a conditional PutItem, or a transaction of an UpdateItem or a
  // ConditionCheckItem on the execution, history puts, DeleteItem of consumed
  // inbox items, puts of child executions and of inbox items (a child's
  // cancel, a parent's notice) with UpdateItem marking them due; giving up:
  // the same commit, or a transaction of UpdateItem (+ PutItem, UpdateItem
  // for the parent). GetItem of the inbox counter while a turn runs (about
  // once a second), BatchGetItem of the signals a continued run carries.
  // Wake-ups and visibility back-off on the queue; given-up wake-ups to
  // the DLQ.
  worker: {
    table: ["GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "ConditionCheckItem"],
    queriedIndexes: [],
    queue: ["SendMessage", "ChangeMessageVisibility"],
    deadLetterQueue: ["SendMessage"],
    // Replays from large values and commits new ones; a child started under the id of an expired
    // execution purges that one's objects first (list and delete under executions/<id>/).
    payloads: { objects: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"], list: true, kms: ["kms:GenerateDataKey", "kms:Decrypt"] },
  },
  // claimDueExecutions: Query on the sparse due index, then per execution a
  // conditional UpdateItem claiming it (another UpdateItem takes an ended one
  // out of the index, or gives a claim back when its send failed); then
  // SendMessageBatch. No GetItem: the claim's condition failure returns the
  // old item.
  // Retention: Query on the sparse purge index, a conditional UpdateItem
  // claiming each expired execution, Query of its items, a conditional
  // DeleteItem of each, the execution item last.
  // The queue's depth (GetQueueAttributes) tells it whether wake-ups are
  // merely waiting their turn.
  sweeper: {
    table: ["UpdateItem", "DeleteItem", "Query"],
    queriedIndexes: [TABLE_INDEXES.due, TABLE_INDEXES.purge],
    queue: ["SendMessage", "GetQueueAttributes"],
    deadLetterQueue: [],
    // Ends executions (reading and writing their values) and purges expired ones: it lists an
    // execution's objects (ListObjectsV2 under executions/<id>/) and deletes them before its items.
    payloads: {
      objects: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
      list: true,
      kms: ["kms:GenerateDataKey", "kms:Decrypt"],
    },
  },
  // Starts an execution exactly as POST /executions does: a transaction of two or more puts
  // (the execution item, its first event, one item per tag); a GetItem of the existing execution
  // when the id is taken (a retried fire or a redelivered event finds the one it started); a start
  // under the id of an execution whose retention ended removes it first (UpdateItem claims it,
  // Query lists its items, DeleteItem each). Each schedule's small state item (the execution its
  // last fire started, for overlap "skip"): GetItem, then a conditional write claiming it
  // (lambdas/store/schedule-state.ts: a PutItem today; UpdateItem is granted anyway). The new
  // execution's wake-up: SendMessage. It never lists, so no index. Consuming a queue start's
  // queue is granted by its event source; the starts DLQ by the function's dead-letter config.
  starter: {
    table: ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"],
    queriedIndexes: [],
    queue: ["SendMessage"],
    deadLetterQueue: [],
    // A large start input (the event) goes to the bucket; an existing execution's is read back; a
    // start under an expired id purges that execution's objects first.
    payloads: { objects: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"], list: true, kms: ["kms:GenerateDataKey", "kms:Decrypt"] },
  },
  // The cursor key's rotation touches neither the table, the queues nor any value: its secret's
  // actions are granted next to it (ROTATION_ACTIONS).
  cursorKeyRotation: { table: [], queriedIndexes: [], queue: [], deadLetterQueue: [], payloads: { objects: [], list: false, kms: [] } },
} as const satisfies Record<string, FunctionAccess>;

const DEFAULT_RETENTION = Duration.days(30);
const DEFAULT_WORKER_MEMORY_MB = 1024;
const DEFAULT_WORKER_TIMEOUT = Duration.seconds(60);
const DEFAULT_WORKER_CONCURRENCY = 10;
const DEFAULT_SWEEP_SCHEDULE = Duration.minutes(1);
const API_MEMORY_MB = 1024;
// HTTP API gives up on an integration after 30 s; answer well before that.
const API_TIMEOUT = Duration.seconds(10);
const SWEEPER_MEMORY_MB = 256;
const SWEEPER_TIMEOUT = Duration.seconds(60);
const DEFAULT_CURSOR_KEY_ROTATION = Duration.days(30);
const ROTATION_MEMORY_MB = 256;
const ROTATION_TIMEOUT = Duration.seconds(30);
/** What the rotation function calls (lambdas/handlers/rotate-cursor-key.ts), on the cursor secret only. */
const ROTATION_ACTIONS = ["DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"].map((a) => `secretsmanager:${a}`);
const STARTER_MEMORY_MB = 512;
// A start is a few small writes; 30 s is also the visibility timeout an SQS queue has by
// default, and a queue start's queue must hide a message at least this long.
const STARTER_TIMEOUT = Duration.seconds(30);
// Lambda's most async retries and longest event age: a fire or an event Lambda accepted is
// retried for up to 6 hours (starts are idempotent), then goes to the starts DLQ.
const STARTER_ASYNC_RETRIES = 2;
const STARTER_MAX_EVENT_AGE = Duration.hours(6);
const WORKER_BATCH_SIZE = 10;
const WORKER_BATCHING_WINDOW = Duration.seconds(1);
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
const LOG_RETENTION = RetentionDays.ONE_MONTH;
/** How long past `retention` an orphan object stays, by default. */
const DEFAULT_OBJECT_EXPIRATION_BEYOND_RETENTION = Duration.days(365);
/** The parts of a multipart upload never completed (its writer ended) go after this. */
const INCOMPLETE_UPLOAD_EXPIRATION = Duration.days(1);
/**
 * nodejs24.x rather than nodejs22.x: cdk-nag's AwsSolutions-L1 wants
 * the newest Node.js runtime aws-cdk-lib knows.
 * The handlers need nothing newer than Node 20 (they run on it locally).
 */
const RUNTIME = Runtime.NODEJS_24_X;

/**
 * The durable workflow engine on AWS: one DynamoDB table for executions and
 * history, an SQS queue of wake-ups drained by the worker function, a
 * scheduled sweeper that re-sends lost wake-ups, an HTTP API (IAM or JWT
 * authorized) in front of the API function, and alarms. With `schedules` or
 * `eventStarts`, a starter function started by EventBridge Scheduler,
 * EventBridge rules and SQS queues, with a dead-letter queue of its own.
 *
 * @example
 * new DurableWorkflows(this, "Workflows", {
 *   workflowsEntry: path.join(import.meta.dirname, "../workflows/index.ts"),
 *   alarmTopic: opsTopic,
 * });
 */
export class DurableWorkflows extends Construct {
  readonly table: TableV2;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  /**
   * Values above `payloads.offloadThresholdBytes`, under `executions/<execution id>/`. Its
   * server access logs go to a bucket of their own.
   */
  readonly payloadBucket: Bucket;
  /** The key the engine encrypts values under; only with `payloads.encryptionKey`. */
  readonly payloadKey?: IKey;
  readonly workerFunction: NodejsFunction;
  readonly apiFunction: NodejsFunction;
  readonly sweeperFunction: NodejsFunction;
  /** Starts executions on `schedules` and `eventStarts`; only when there is at least one. */
  readonly starterFunction?: NodejsFunction;
  /**
   * Fires and events that started nothing: given up on by EventBridge Scheduler, by an
   * EventBridge rule, or by the starter's async invocation. Only with a starter.
   */
  readonly startsDeadLetterQueue?: Queue;
  /** Holds the schedules of `schedules`; only when there is at least one. */
  readonly scheduleGroup?: ScheduleGroup;
  /** The EventBridge Scheduler schedule of each of `schedules`, by name. */
  readonly startSchedules: Readonly<Record<string, StartSchedule>>;
  /** The EventBridge rule of each `eventPattern` start of `eventStarts`, by name. */
  readonly eventStartRules: Readonly<Record<string, Rule>>;
  /** The key the API signs pagination cursors with: it reads it at cold start (`DURABLE_CURSOR_SECRET_ARN`). */
  readonly cursorSecret: Secret;
  /** Rotates `cursorSecret` every `cursorKeyRotation` (Secrets Manager invokes it). */
  readonly cursorKeyRotationFunction: NodejsFunction;
  readonly cursorKeyRotationSchedule: RotationSchedule;
  /** Runs the sweeper every `sweepSchedule`. */
  readonly sweepRule: Rule;
  readonly httpApi: HttpApi;
  /** The API's `$default` stage, with access logging. */
  readonly httpStage: HttpStage;
  readonly accessLogGroup: LogGroup;
  /** Base URL of the HTTP API, without a trailing slash. */
  readonly apiUrl: string;
  readonly alarms: DurableWorkflowsAlarms;
  /**
   * The rules the API function enforces, made from `auth`: what it finds, as JSON, in its
   * `DURABLE_AUTHORIZATION` environment variable.
   */
  readonly authorizationPolicy: AuthorizationPolicy;
  private readonly authType: DurableWorkflowsAuth["type"];

  constructor(scope: Construct, id: string, props: DurableWorkflowsProps) {
    super(scope, id);
    const workflowsEntry = checkWorkflowsEntry(props.workflowsEntry);
    const project = findProject(workflowsEntry, props);
    const workerTimeout = props.workerTimeout ?? DEFAULT_WORKER_TIMEOUT;
    const retention = checkRetention(props.retention ?? DEFAULT_RETENTION);
    const workerConcurrency = checkWorkerConcurrency(props.workerConcurrency ?? DEFAULT_WORKER_CONCURRENCY);
    const sweepSchedule = checkSweepSchedule(props.sweepSchedule ?? DEFAULT_SWEEP_SCHEDULE);
    const cursorKeyRotation = checkCursorKeyRotation(props.cursorKeyRotation ?? DEFAULT_CURSOR_KEY_ROTATION);
    const auth = checkAuth(props.auth ?? { type: "iam" });
    this.authType = auth.type;
    this.authorizationPolicy = authorizationPolicyOf(auth);
    const schedules = props.schedules ?? [];
    const eventStarts = props.eventStarts ?? [];
    checkStarts(schedules, eventStarts);
    const removalPolicy = props.removalPolicy;
    const logRemovalPolicy = removalPolicy ?? RemovalPolicy.RETAIN;
    const payloads = props.payloads ?? {};
    const offloadThresholdBytes = checkOffloadThreshold(payloads.offloadThresholdBytes ?? DEFAULT_OFFLOAD_THRESHOLD_BYTES);
    const objectExpiration = checkObjectExpiration(payloads.objectExpiration ?? defaultObjectExpiration(retention), retention);

    this.table = new TableV2(this, "Table", {
      partitionKey: { name: TABLE.partitionKey.name, type: attributeType(TABLE.partitionKey.type) },
      sortKey: { name: TABLE.sortKey.name, type: attributeType(TABLE.sortKey.type) },
      billing: Billing.onDemand(),
      // No TTL: DynamoDB's TTL expires single items, and an execution's items must go together;
      // the sweeper removes them once its retention ends (lambdas/store/purge.ts).
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection ?? removalPolicy !== RemovalPolicy.DESTROY,
      // The schema the store uses (lambdas/store/schema.ts). Lean projections: with ALL, every
      // update of an execution item would be rewritten into every index. Listing
      // reads keys plus the other filter attribute, then fetches the items.
      globalSecondaryIndexes: Object.values(TABLE.indexes).map((index) => ({
        indexName: index.name,
        partitionKey: { name: index.partitionKey.name, type: attributeType(index.partitionKey.type) },
        sortKey: { name: index.sortKey.name, type: attributeType(index.sortKey.type) },
        ...(index.include.length === 0
          ? { projectionType: ProjectionType.KEYS_ONLY }
          : { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...index.include] }),
      })),
      ...(removalPolicy ? { removalPolicy } : {}),
    });

    this.deadLetterQueue = new Queue(this, "WakeUpDeadLetterQueue", {
      retentionPeriod: DLQ_RETENTION,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      ...(removalPolicy ? { removalPolicy } : {}),
    });
    this.queue = new Queue(this, "WakeUpQueue", {
      visibilityTimeout: Duration.seconds(workerTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      retentionPeriod: QUEUE_RETENTION,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
      ...(removalPolicy ? { removalPolicy } : {}),
    });

    const payloadKey = payloadKeyOf(this, payloads.encryptionKey, removalPolicy);
    if (payloadKey) this.payloadKey = payloadKey;
    this.payloadBucket = createPayloadBucket(this, { objectExpiration, removalPolicy });

    const entries = writeHandlerEntries(workflowsEntry, project.projectRoot, props.handlersModule, ["api", "worker", "sweeper", "cursorKeyRotation"]);
    const environment = {
      DURABLE_TABLE_NAME: this.table.tableName,
      DURABLE_QUEUE_URL: this.queue.queueUrl,
      DURABLE_RETENTION_SEC: String(retention.toSeconds()),
      [PAYLOAD_ENV.bucket]: this.payloadBucket.bucketName,
      [PAYLOAD_ENV.thresholdBytes]: Token.isUnresolved(offloadThresholdBytes) ? Token.asString(offloadThresholdBytes) : String(offloadThresholdBytes),
      ...(payloadKey ? { [PAYLOAD_ENV.kmsKey]: payloadKey.keyArn } : {}),
      POWERTOOLS_SERVICE_NAME: "durable-workflows",
      POWERTOOLS_METRICS_NAMESPACE: "DurableWorkflows",
      NODE_OPTIONS: "--enable-source-maps",
    };
    const resources = {
      table: this.table,
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      payloadBucket: this.payloadBucket,
      ...(payloadKey ? { payloadKey } : {}),
    };
    /**
     * One function with its own role and log group. The role starts empty (no
     * AWSLambdaBasicExecutionRole, whose log grant covers every log group in
     * the account): it may write to its own log group and do what `access` says.
     */
    const engineFunction = (name: string, access: FunctionAccess, options: Partial<NodejsFunctionProps> & { entry: string }) => {
      const role = new Role(this, `${name}Role`, {
        assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
        description: `Durable workflows: the ${name.toLowerCase()} function`,
      });
      const logGroup = new LogGroup(this, `${name}Logs`, { retention: LOG_RETENTION, removalPolicy: logRemovalPolicy });
      logGroup.grantWrite(role);
      grantAccess(role, resources, access);
      return new NodejsFunction(this, name, {
        handler: "handler",
        runtime: RUNTIME,
        architecture: Architecture.ARM_64,
        projectRoot: project.projectRoot,
        depsLockFilePath: project.depsLockFilePath,
        bundling: {
          // Bundle with the project's esbuild; never fall back to Docker.
          forceDockerBundling: false,
          format: OutputFormat.ESM,
          minify: true,
          sourceMap: true,
          // Error classes are told apart by name (DurableError's instanceof across copies).
          keepNames: true,
          mainFields: ["module", "main"],
          // CommonJS dependencies call `require`, which ESM output lacks.
          banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
        },
        role,
        logGroup,
        loggingFormat: LoggingFormat.JSON,
        environment,
        ...options,
      });
    };

    this.workerFunction = engineFunction("Worker", ACCESS.worker, {
      entry: entries.worker,
      description: "Durable workflows: replays executions woken by SQS",
      memorySize: props.workerMemorySize ?? DEFAULT_WORKER_MEMORY_MB,
      timeout: workerTimeout,
      environment: { ...environment, DURABLE_DLQ_URL: this.deadLetterQueue.queueUrl },
    });
    // Grants the worker's role what consuming takes (Receive, Delete,
    // ChangeMessageVisibility, GetQueueAttributes, GetQueueUrl on this queue).
    this.workerFunction.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: WORKER_BATCH_SIZE,
        maxBatchingWindow: WORKER_BATCHING_WINDOW,
        reportBatchItemFailures: true,
        maxConcurrency: workerConcurrency,
      }),
    );

    // Every API instance must sign cursors with the same key, or a page's
    // cursor is refused by the next instance (lambdas/store/cursor.ts).
    this.cursorSecret = new Secret(this, "CursorSecret", {
      description: "Durable workflows: HMAC key of the API's pagination cursors",
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      // Losing it only invalidates cursors in flight: clients page again from the start.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.cursorKeyRotationFunction = engineFunction("CursorKeyRotation", ACCESS.cursorKeyRotation, {
      entry: entries.cursorKeyRotation,
      description: "Durable workflows: rotates the API's cursor-signing key (Secrets Manager rotation)",
      memorySize: ROTATION_MEMORY_MB,
      timeout: ROTATION_TIMEOUT,
      // Neither the table nor the queues: only the secret, whose ARN comes in each event.
      environment: { POWERTOOLS_SERVICE_NAME: environment.POWERTOOLS_SERVICE_NAME, NODE_OPTIONS: environment.NODE_OPTIONS },
      // Secrets Manager retries a failed step itself.
      retryAttempts: 0,
    });
    // The grants here, not RotationSchedule's: given a function of this stack, it would also
    // grant secretsmanager:GetRandomPassword on "*", which the function never calls (node's
    // crypto makes the key). A reference to the function has no permissions node, so it grants nothing.
    this.cursorKeyRotationFunction.addToRolePolicy(new PolicyStatement({ actions: ROTATION_ACTIONS, resources: [this.cursorSecret.secretArn] }));
    this.cursorKeyRotationFunction.addPermission("InvokedBySecretsManager", {
      principal: new ServicePrincipal("secretsmanager.amazonaws.com"),
      // This secret's rotation only (no confused deputy).
      sourceArn: this.cursorSecret.secretArn,
      sourceAccount: Stack.of(this).account,
    });
    this.cursorKeyRotationSchedule = this.cursorSecret.addRotationSchedule("Rotation", {
      rotationLambda: LambdaFunctionRef.fromFunctionAttributes(this, "CursorKeyRotationRef", {
        functionArn: this.cursorKeyRotationFunction.functionArn,
        sameEnvironment: true,
      }),
      automaticallyAfter: cursorKeyRotation,
    });
    // Secrets Manager may rotate as soon as the schedule exists: it must be allowed to invoke by then.
    this.cursorKeyRotationSchedule.node.addDependency(this.cursorKeyRotationFunction.node.findChild("InvokedBySecretsManager"));
    this.apiFunction = engineFunction("Api", ACCESS.api, {
      entry: entries.api,
      description: "Durable workflows: HTTP API (start, inspect, signal, cancel executions)",
      memorySize: API_MEMORY_MB,
      timeout: API_TIMEOUT,
      environment: {
        ...environment,
        // The secret's ARN only: the function reads its versions from Secrets Manager at cold
        // start (lambdas/handlers/cursor-keys.ts), so no secret value is in its environment.
        DURABLE_CURSOR_SECRET_ARN: this.cursorSecret.secretArn,
        // Always set, so the function never guesses which rules apply. Principals' ARNs may be
        // tokens (a role made in the same app): toJsonString renders them into the JSON.
        [AUTHORIZATION_ENV]: Stack.of(this).toJsonString(this.authorizationPolicy),
      },
    });
    this.cursorSecret.grantRead(this.apiFunction);

    this.sweeperFunction = engineFunction("Sweeper", ACCESS.sweeper, {
      entry: entries.sweeper,
      description: "Durable workflows: re-sends wake-ups lost between a commit and a send",
      memorySize: SWEEPER_MEMORY_MB,
      timeout: SWEEPER_TIMEOUT,
      // The next scheduled sweep is the retry.
      retryAttempts: 0,
    });
    this.sweepRule = new Rule(this, "SweepSchedule", {
      description: "Durable workflows: runs the sweeper",
      schedule: Schedule.rate(sweepSchedule),
      targets: [new LambdaFunction(this.sweeperFunction)],
    });

    if (schedules.length > 0 || eventStarts.length > 0) {
      // A fire that cannot be handed over or handled lands here, with the reason in its attributes.
      this.startsDeadLetterQueue = new Queue(this, "StartsDeadLetterQueue", {
        retentionPeriod: DLQ_RETENTION,
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        ...(removalPolicy ? { removalPolicy } : {}),
      });
      const starterEntry = writeHandlerEntries(workflowsEntry, project.projectRoot, props.handlersModule, ["starter"]).starter;
      this.starterFunction = engineFunction("Starter", ACCESS.starter, {
        entry: starterEntry,
        description: "Durable workflows: starts executions on schedules and events",
        memorySize: STARTER_MEMORY_MB,
        timeout: STARTER_TIMEOUT,
        environment: { ...environment, DURABLE_EVENT_QUEUES: eventQueuesJson(this, eventStarts) },
        retryAttempts: STARTER_ASYNC_RETRIES,
        maxEventAge: STARTER_MAX_EVENT_AGE,
        deadLetterQueue: this.startsDeadLetterQueue,
      });
      const triggers = createStartTriggers(this, { starter: this.starterFunction, deadLetterQueue: this.startsDeadLetterQueue }, schedules, eventStarts);
      if (triggers.scheduleGroup) this.scheduleGroup = triggers.scheduleGroup;
      this.startSchedules = triggers.schedules;
      this.eventStartRules = triggers.rules;
    } else {
      this.startSchedules = {};
      this.eventStartRules = {};
    }

    this.accessLogGroup = new LogGroup(this, "ApiAccessLogs", { retention: LOG_RETENTION, removalPolicy: logRemovalPolicy });
    this.httpApi = new HttpApi(this, "HttpApi", {
      description: "Durable workflows API",
      defaultAuthorizer: authorizer(auth),
      // Created below, with access logging.
      createDefaultStage: false,
    });
    this.httpStage = this.httpApi.addStage("DefaultStage", {
      stageName: "$default",
      autoDeploy: true,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            requestTime: "$context.requestTime",
            routeKey: "$context.routeKey",
            status: "$context.status",
            sourceIp: "$context.identity.sourceIp",
            caller: "$context.identity.userArn",
            responseLength: "$context.responseLength",
            integrationLatencyMs: "$context.integrationLatency",
            integrationError: "$context.integrationErrorMessage",
            authorizerError: "$context.authorizer.error",
          }),
        ),
      },
    });
    const integration = new HttpLambdaIntegration("ApiIntegration", this.apiFunction);
    for (const [method, routePath] of API_ROUTES) {
      this.httpApi.addRoutes({ path: routePath, methods: [method], integration });
    }
    this.apiUrl = this.httpApi.apiEndpoint;

    this.alarms = createAlarms(
      this,
      {
        queue: this.queue,
        deadLetterQueue: this.deadLetterQueue,
        worker: this.workerFunction,
        sweeper: this.sweeperFunction,
        ...(this.startsDeadLetterQueue ? { startsDeadLetterQueue: this.startsDeadLetterQueue } : {}),
      },
      props.alarmTopic,
    );

    new CfnOutput(this, "ApiUrl", { value: this.apiUrl, description: "Base URL of the workflows HTTP API" });
    new CfnOutput(this, "TableName", { value: this.table.tableName, description: "DynamoDB table of executions and history" });
    new CfnOutput(this, "QueueUrl", { value: this.queue.queueUrl, description: "SQS queue of execution wake-ups" });
    new CfnOutput(this, "DeadLetterQueueUrl", {
      value: this.deadLetterQueue.queueUrl,
      description: "SQS dead-letter queue of wake-ups the engine gave up on",
    });
    new CfnOutput(this, "PayloadBucketName", { value: this.payloadBucket.bucketName, description: "S3 bucket of workflow values too large for the table" });
    new CfnOutput(this, "WorkerFunctionName", { value: this.workerFunction.functionName, description: "Worker Lambda function" });
    new CfnOutput(this, "ApiFunctionName", { value: this.apiFunction.functionName, description: "API Lambda function" });
    new CfnOutput(this, "SweeperFunctionName", { value: this.sweeperFunction.functionName, description: "Sweeper Lambda function" });
    if (this.starterFunction && this.startsDeadLetterQueue) {
      new CfnOutput(this, "StarterFunctionName", { value: this.starterFunction.functionName, description: "Starter Lambda function (schedules, event starts)" });
      new CfnOutput(this, "StartsDeadLetterQueueUrl", {
        value: this.startsDeadLetterQueue.queueUrl,
        description: "SQS dead-letter queue of schedule fires and events that started nothing",
      });
    }
  }

  /**
   * Grants `grantee` `execute-api:Invoke` on exactly the routes that take `actions`
   * (`routesFor`): `read` opens the four GET routes, `signal` the signals route, and `/bulk`
   * opens only with all of `cancel`, `terminate` and `redrive`. Each route is one ARN,
   * `arn:<partition>:execute-api:<region>:<account>:<api id>/$default/<METHOD><path>` with every
   * `{param}` as `*`. IAM auth only: a JWT caller's permissions come from its token's scopes.
   *
   * IAM's `*` also matches `/`, so the ARN a grant of `cancel` opens also matches sending a
   * signal named `cancel` (`POST /executions/{id}/signals/cancel`), and likewise for
   * `terminate` and `redrive`; list the caller in `auth.principals` with its actions to have the
   * API function hold it to exactly those.
   *
   * @example workflows.grantApi(opsRole, "read", "signal");
   */
  grantApi(grantee: IGrantable, ...actions: Action[]): Grant {
    if (this.authType !== "iam") {
      throw new Error(
        "DurableWorkflows.grantApi: this API uses JWT auth, where callers get their permissions from their token's scopes " +
          `(${scopeHint(this.authorizationPolicy)}), not from IAM; grantApi is for auth type "iam"`,
      );
    }
    if (actions.length === 0) throw new Error(`DurableWorkflows.grantApi: name at least one action (${ACTIONS.join(", ")})`);
    checkActions(actions, "DurableWorkflows.grantApi");
    const stage = this.httpStage.stageName;
    return Grant.addToPrincipal({
      grantee,
      actions: ["execute-api:Invoke"],
      resourceArns: routesFor(actions).map((route) => this.httpApi.arnForExecuteApi(route.method, route.path.replace(/\{[^}]+\}/g, "*"), stage)),
    });
  }
}

function scopeHint(policy: AuthorizationPolicy): string {
  if (policy.scopes === false) return "scopes are off: every accepted token may do everything";
  const prefix = policy.scopes?.prefix ?? DEFAULT_SCOPE_PREFIX;
  return `${prefix}:<action> or <workflow>:<action>`;
}

function authorizer(auth: DurableWorkflowsAuth): IHttpRouteAuthorizer {
  switch (auth.type) {
    case "iam":
      // SigV4-signed callers with execute-api:Invoke; the local stack uses a bearer token instead.
      return new HttpIamAuthorizer();
    case "jwt":
      return new HttpJwtAuthorizer("JwtAuthorizer", auth.issuer, { jwtAudience: [...auth.audience] });
  }
}

/** The construct's own key for `true`, the caller's key as given, none for `false` or nothing. */
function payloadKeyOf(scope: Construct, encryptionKey: IKey | boolean | undefined, removalPolicy: RemovalPolicy | undefined): IKey | undefined {
  if (encryptionKey === undefined || encryptionKey === false) return undefined;
  if (encryptionKey !== true) return encryptionKey;
  return new Key(scope, "PayloadKey", {
    description: "Durable workflows: encrypts workflow values (a data key per value)",
    // Yearly; old key material stays, so values sealed before a rotation still open.
    enableKeyRotation: true,
    removalPolicy: withoutSnapshot(removalPolicy),
  });
}

/** The table's removal policy for a resource that has no snapshot (S3, KMS): SNAPSHOT retains. */
function withoutSnapshot(removalPolicy: RemovalPolicy | undefined): RemovalPolicy {
  return removalPolicy === undefined || removalPolicy === RemovalPolicy.SNAPSHOT ? RemovalPolicy.RETAIN : removalPolicy;
}

/**
 * The payload bucket and the bucket of its server access logs. Both follow the table's removal
 * policy; destroyed buckets are emptied first, since CloudFormation cannot delete a bucket that
 * holds objects.
 *
 * S3-managed keys, even when the engine encrypts values: an object's bytes are then already
 * sealed under the payload key, and SSE-KMS with that key would have S3 call KMS on the
 * function's behalf under S3's own encryption context (`aws:s3:arn`), which the functions' key
 * grants refuse: they allow `durable:execution` alone.
 */
function createPayloadBucket(scope: Construct, options: { objectExpiration: Duration; removalPolicy: RemovalPolicy | undefined }): Bucket {
  const removalPolicy = withoutSnapshot(options.removalPolicy);
  const removal = { removalPolicy, autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY };
  // Server access logs cannot be delivered to a bucket encrypted with a KMS key.
  const accessLogs = new Bucket(scope, "PayloadAccessLogs", {
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    encryption: BucketEncryption.S3_MANAGED,
    ...removal,
  });
  return new Bucket(scope, "PayloadBucket", {
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    encryption: BucketEncryption.S3_MANAGED,
    // An object's key ends in the hash of its bytes and is never overwritten with other bytes:
    // versions would only keep deleted values past their purge.
    versioned: false,
    serverAccessLogsBucket: accessLogs,
    lifecycleRules: [
      { id: "AbortIncompleteUploads", abortIncompleteMultipartUploadAfter: INCOMPLETE_UPLOAD_EXPIRATION },
      { id: "ExpireOrphans", expiration: options.objectExpiration },
    ],
    ...removal,
  });
}

function checkWorkerConcurrency(value: number): number {
  if (!Token.isUnresolved(value) && (!Number.isInteger(value) || value < 2 || value > 1000)) {
    throw new Error(`DurableWorkflows: workerConcurrency must be a whole number from 2 to 1000 (SQS event source maxConcurrency), got ${value}`);
  }
  return value;
}

function checkRetention(retention: Duration): Duration {
  if (!retention.isUnresolved() && retention.toSeconds() < 3_600) {
    throw new Error(`DurableWorkflows: retention must be at least one hour, got ${retention.toHumanString()}`);
  }
  return retention;
}

function checkOffloadThreshold(value: number): number {
  if (!Token.isUnresolved(value) && (!Number.isInteger(value) || value < MIN_OFFLOAD_THRESHOLD_BYTES || value > MAX_OFFLOAD_THRESHOLD_BYTES)) {
    throw new Error(
      `DurableWorkflows: payloads.offloadThresholdBytes must be a whole number from ${MIN_OFFLOAD_THRESHOLD_BYTES} to ${MAX_OFFLOAD_THRESHOLD_BYTES} ` +
        `(a value above it goes to the payload bucket; an item must also hold its envelope, below DynamoDB's 400 KB), got ${value}`,
    );
  }
  return value;
}

/** `retention` in whole days, rounded up, plus a year. */
function defaultObjectExpiration(retention: Duration): Duration {
  if (retention.isUnresolved()) return Duration.days(DEFAULT_OBJECT_EXPIRATION_BEYOND_RETENTION.toDays());
  return Duration.days(Math.ceil(retention.toSeconds() / 86_400) + DEFAULT_OBJECT_EXPIRATION_BEYOND_RETENTION.toDays());
}

function checkObjectExpiration(expiration: Duration, retention: Duration): Duration {
  if (expiration.isUnresolved()) return expiration;
  const seconds = expiration.toSeconds();
  if (seconds < 86_400 || seconds % 86_400 !== 0) {
    throw new Error(`DurableWorkflows: payloads.objectExpiration must be whole days, at least one (an S3 lifecycle expiration), got ${expiration.toHumanString()}`);
  }
  if (!retention.isUnresolved() && seconds <= retention.toSeconds()) {
    throw new Error(
      `DurableWorkflows: payloads.objectExpiration (${expiration.toHumanString()}) must be longer than retention (${retention.toHumanString()}), ` +
        "and longer than an execution runs plus retention: the rule would delete values still in use",
    );
  }
  return expiration;
}

function checkCursorKeyRotation(rotation: Duration): Duration {
  if (!rotation.isUnresolved() && (rotation.toSeconds() < 86_400 || rotation.toSeconds() > 1_000 * 86_400)) {
    throw new Error(`DurableWorkflows: cursorKeyRotation must be from one day to 1000 days, got ${rotation.toHumanString()}`);
  }
  return rotation;
}

function checkSweepSchedule(schedule: Duration): Duration {
  if (!schedule.isUnresolved()) {
    const seconds = schedule.toSeconds();
    if (seconds < 60 || seconds % 60 !== 0) {
      throw new Error(`DurableWorkflows: sweepSchedule must be whole minutes, at least one (an EventBridge rate), got ${schedule.toHumanString()}`);
    }
  }
  return schedule;
}

const TENANT_ID_RULE = "1–64 characters of A–Z, a–z, 0–9, _ or -";

function checkAuth(auth: DurableWorkflowsAuth): DurableWorkflowsAuth {
  switch (auth.type) {
    case "jwt":
      checkJwtAuth(auth);
      break;
    case "iam":
      checkIamAuth(auth);
      break;
    default:
      throw new Error(`DurableWorkflows: auth.type must be "iam" or "jwt", got ${JSON.stringify((auth as { type?: unknown }).type)}`);
  }
  return auth;
}

function checkJwtAuth(auth: DurableWorkflowsJwtAuth): void {
  if (!Token.isUnresolved(auth.issuer) && !auth.issuer.startsWith("https://")) {
    throw new Error(`DurableWorkflows: auth.issuer must be an https:// URL (the token's iss), got "${auth.issuer}"`);
  }
  if (auth.audience.length === 0) {
    throw new Error("DurableWorkflows: auth.audience must name at least one audience (a token's aud must match one)");
  }
  const scopes = auth.scopes;
  if (scopes !== undefined && scopes !== false) {
    if (typeof scopes !== "object" || scopes === null) {
      throw new Error(`DurableWorkflows: auth.scopes must be false or { prefix?: string }, got ${JSON.stringify(scopes)}`);
    }
    const prefix = scopes.prefix;
    if (prefix !== undefined && !Token.isUnresolved(prefix) && !(typeof prefix === "string" && /^[^\s:]+$/.test(prefix))) {
      throw new Error(
        `DurableWorkflows: auth.scopes.prefix must be a non-empty string without spaces or colons (scopes read <prefix>:<action>), got ${JSON.stringify(prefix)}`,
      );
    }
  }
  const claim = auth.tenantClaim;
  if (claim !== undefined && !Token.isUnresolved(claim) && !(typeof claim === "string" && claim.trim().length > 0)) {
    throw new Error(`DurableWorkflows: auth.tenantClaim must name a claim of the token (such as "tenant_id"), got ${JSON.stringify(claim)}`);
  }
}

function checkIamAuth(auth: DurableWorkflowsIamAuth): void {
  const principals = Object.entries(auth.principals ?? {});
  if (auth.tenants === true && principals.length === 0) {
    throw new Error(
      "DurableWorkflows: auth.tenants is true but auth.principals lists no principal, so every caller would be refused " +
        "(403 TENANT_REQUIRED); list each caller's IAM ARN with its tenant",
    );
  }
  for (const [arn, grant] of principals) {
    const where = `auth.principals[${JSON.stringify(arn)}]`;
    if (!Token.isUnresolved(arn) && !arn.startsWith("arn:")) {
      throw new Error(`DurableWorkflows: ${where}: a principal is keyed by its IAM ARN (arn:aws:iam::123456789012:role/name), got a key that is not an ARN`);
    }
    if (typeof grant !== "object" || grant === null) throw new Error(`DurableWorkflows: ${where} must be { tenant?, actions? }`);
    const tenant = grant.tenant;
    if (tenant !== undefined && !Token.isUnresolved(tenant) && !(typeof tenant === "string" && TENANT_ID.test(tenant))) {
      throw new Error(`DurableWorkflows: ${where}.tenant must be a tenant id (${TENANT_ID_RULE}), got ${JSON.stringify(tenant)}`);
    }
    if (tenant !== undefined && auth.tenants !== true) {
      throw new Error(
        `DurableWorkflows: ${where} names tenant ${JSON.stringify(tenant)} but auth.tenants is not true, so the tenant would be ignored ` +
          "and the principal would reach every execution; set tenants: true, or drop the tenant",
      );
    }
    if (grant.actions !== undefined) {
      if (!Array.isArray(grant.actions)) throw new Error(`DurableWorkflows: ${where}.actions must be a list of actions (${ACTIONS.join(", ")})`);
      checkActions(grant.actions, `DurableWorkflows: ${where}.actions`);
    }
  }
}

function checkActions(actions: readonly unknown[], where: string): asserts actions is readonly Action[] {
  const unknown = actions.filter((action) => !isAction(action));
  if (unknown.length > 0) {
    throw new Error(`${where}: unknown action${unknown.length === 1 ? "" : "s"} ${unknown.map((a) => JSON.stringify(a)).join(", ")} (actions: ${ACTIONS.join(", ")})`);
  }
}

/**
 * The policy the API function enforces for `auth` (checked), every default written out. IAM
 * callers carry no scopes: API Gateway's per-route `execute-api:Invoke` and `principals` decide.
 * Frozen, so what the construct exposes is what the function was given.
 */
function authorizationPolicyOf(auth: DurableWorkflowsAuth): AuthorizationPolicy {
  if (auth.type === "jwt") {
    const scopes = auth.scopes === false ? false : Object.freeze({ prefix: auth.scopes?.prefix ?? DEFAULT_SCOPE_PREFIX });
    return Object.freeze({
      scopes,
      ...(auth.tenantClaim === undefined ? {} : { tenants: Object.freeze({ claim: auth.tenantClaim }) }),
    });
  }
  const principals = Object.entries(auth.principals ?? {});
  return Object.freeze({
    scopes: false,
    ...(principals.length === 0
      ? {}
      : {
          principals: Object.freeze(
            Object.fromEntries(
              principals.map(([arn, grant]) => [
                arn,
                Object.freeze({
                  ...(grant.tenant === undefined ? {} : { tenant: grant.tenant }),
                  ...(grant.actions === undefined ? {} : { actions: Object.freeze([...new Set(grant.actions)]) }),
                }),
              ]),
            ),
          ),
        }),
    ...(auth.tenants === true ? { tenants: Object.freeze({}) } : {}),
  });
}
