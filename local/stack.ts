/**
 * The local stack: DynamoDB Local + the SQS and S3 emulator + the deployed handlers, wired the way AWS
 * wires them (API Gateway → api handler; SQS event source mapping → worker handler; a schedule →
 * sweeper). Used by `durable dev` (and so `npm start`) and by the end-to-end tests.
 */
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { PayloadCodecs } from "../lambdas/payloads/codec.js";
import { join } from "node:path";
import { s3BlobStore } from "../lambdas/payloads/blob-store.js";
import type { PayloadOptions } from "../lambdas/store/stored-values.js";
import type { AnyWorkflow } from "../lambdas/core/workflow.js";
import { WorkflowRegistry } from "../lambdas/core/workflow.js";
import type { EngineDeps, EngineLogger, WorkerOptions } from "../lambdas/engine/process-wakeup.js";
import { silentLogger } from "../lambdas/engine/process-wakeup.js";
import { RunCache, type WarmRun } from "../lambdas/engine/run-cache.js";
import { sweepDue } from "../lambdas/engine/sweeper.js";
import { createApiHandler } from "../lambdas/handlers/api.js";
import type { LocalCaller } from "../lambdas/handlers/authorization.js";
import type { AuthorizationPolicy } from "../lambdas/core/permissions.js";
import { createWorkerHandler } from "../lambdas/handlers/worker.js";
import { SqsRedelivery } from "../lambdas/queue/redelivery.js";
import { SqsWakeupScheduler } from "../lambdas/queue/wakeups.js";
import type { WakeupScheduler } from "../lambdas/ports/queue.js";
import { DynamoExecutionStore, type DynamoStoreOptions } from "../lambdas/store/dynamo-store.js";
import { createTable } from "../lambdas/store/table.js";
import { localClients, type LocalClients } from "./aws-clients.js";
import { startDynamoDBLocal } from "./dynamodb-local.js";
import { mirroredBlobStore } from "./payload-mirror.js";
import { serveHttpApi } from "./http-api.js";
import { startSqsEmulator } from "./sqs-emulator.js";
import { type SqsHandler, startSqsPoller } from "./sqs-poller.js";
import { viewerPageRoute, viewerUrl } from "./viewer/page-route.js";

export interface LocalStackOptions {
  workflows: readonly AnyWorkflow[];
  /** Keep DynamoDB data in this folder across restarts; in memory when absent. */
  dataDir?: string;
  /** API port; a free one when absent. */
  port?: number;
  /** Bearer token the API requires; random when absent. */
  bearerToken?: string;
  /**
   * Keep executions per tenant, one random token each (`tenantTokens`): a tenant's token sees
   * that tenant's executions alone, and `bearerToken` (of no tenant) is refused with 403.
   */
  tenants?: readonly string[];
  /** More tokens, each with its tenant and actions (tests of permissions). */
  tokens?: Readonly<Record<string, LocalCaller>>;
  /** The API's authorization policy; `tenants` sets `{ tenants: {} }` when this is absent. */
  authorization?: AuthorizationPolicy;
  /** Serve the execution viewer's page at `/viewer` beside the API (docs/viewer.md). Default true. */
  viewer?: boolean;
  /** Use already-running services instead of starting them (tests share one per run). */
  endpoints?: { dynamoEndpoint: string; sqsEndpoint: string };
  tableName?: string;
  queueName?: string;
  /** How often the sweeper runs. Default 5 s locally (1 minute in AWS). */
  sweepIntervalMs?: number;
  sweepGraceMs?: number;
  /** Worker Lambda timeout the poller simulates. Default 60 s. */
  workerTimeoutMs?: number;
  /** Visibility timeout of the wake-up queue: how soon a failed message comes back. Default 10 s locally. */
  visibilityTimeoutSeconds?: number;
  workerOptions?: WorkerOptions;
  /** Clock of the workers, the sweeper and (unless `apiClock` is given) the API. Default Date.now. */
  clock?: () => number;
  /** The API's own clock (tests: an API host whose clock is off from the workers'). Default `clock`. */
  apiClock?: () => number;
  logger?: EngineLogger;
  /** Wraps the scheduler (fault injection, counting). */
  wrapScheduler?: (scheduler: WakeupScheduler) => WakeupScheduler;
  /** Fault injection and metering: called with the SDK clients before anything uses them (e.g. to add middleware). */
  instrumentClients?: (clients: LocalClients) => void;
  /** Wraps the worker handler the poller invokes (fault injection: a crashed invocation). */
  wrapWorkerHandler?: (handler: SqsHandler) => SqsHandler;
  /** Parallel poller loops (the event source mapping's concurrency). Default 2. */
  workerConcurrency?: number;
  /** Messages per worker invocation (the event source mapping's batch size), 1..10. Default 10. */
  workerBatchSize?: number;
  /** How long a sweep's claim keeps other sweepers off an execution. Default 60 s. */
  sweepLockMs?: number;
  /** When the sweeper counts the queue as backlogged and how much longer it then waits (SweepOptions.backlog). */
  sweepBacklog?: { messages?: number; graceMs?: number };
  /**
   * Where large values go and how values are sealed. Default: values above 32 KB in a bucket of
   * the S3 emulator (as the deployed engine keeps them), no codec. `false`: every value in its
   * DynamoDB item, at most MAX_VALUE_BYTES.
   */
  payloads?: LocalPayloadOptions | false;
  /** Store options for tests (e.g. the deliberately broken `unsafeSkipLeaseCheck` variant). */
  storeOptions?: Omit<DynamoStoreOptions, "tableName" | "client">;
  /** Wraps each scheduled run of the sweeper, and `sweep()` (fault injection: a sweep that dies). Not the run on start. */
  wrapSweep?: (sweep: () => Promise<SweepResult>) => () => Promise<SweepResult>;
}

export interface LocalPayloadOptions {
  /** The emulator's bucket (created when missing). Default `durable-payloads-<hash of the table name>`. */
  bucket?: string;
  /** Values whose stored form is larger go to the bucket. Default 32 KB (as deployed). */
  offloadThresholdBytes?: number;
  /** Applied to every value stored: e.g. `createPayloadCodecs({ codecs: [localEnvelopeCodec(...)] })`. */
  codecs?: PayloadCodecs;
}

/** The bucket a local stack keeps large values in: one per table, so stacks sharing an emulator stay apart. */
export function localPayloadBucket(tableName: string): string {
  return `durable-payloads-${createHash("sha256").update(tableName).digest("hex").slice(0, 16)}`;
}

/**
 * Warm runs (see RunCache) hold the definition they were replayed with. After
 * `replaceWorkflows` a warm run of replaced code must not carry on: it is dropped when taken, so
 * the turn replays the history with the code the registry holds now (and fails with
 * NON_DETERMINISM if that code no longer fits). Checked at take time, so a turn still running
 * the old code when the swap happens cannot slip its run back in.
 */
class RegistryCheckedRunCache extends RunCache {
  constructor(private readonly registry: WorkflowRegistry) {
    super();
  }

  override take(executionId: string): WarmRun | undefined {
    const entry = super.take(executionId);
    if (!entry) return undefined;
    const { name, version } = entry.run.definition;
    if (this.registry.has(name, version) && this.registry.get(name, version) === entry.run.definition) return entry;
    this.hits -= 1;
    this.misses += 1;
    return undefined;
  }
}

/** What one run of the sweeper did. */
export type SweepResult = Awaited<ReturnType<typeof sweepDue>>;

export interface LocalStack {
  apiUrl: string;
  bearerToken: string;
  /** With `tenants`: each tenant's token. */
  tenantTokens: Record<string, string>;
  /** The viewer's page with the token in its fragment (`<apiUrl>/viewer#token=...`); absent with `viewer: false`. */
  viewerUrl?: string;
  tableName: string;
  /** The emulator's bucket large values go to; absent with `payloads: false`. */
  payloadBucket?: string;
  queueUrl: string;
  deadLetterQueueUrl: string;
  endpoints: { dynamoEndpoint: string; sqsEndpoint: string };
  clients: LocalClients;
  deps: EngineDeps;
  /** What the API runs with: `deps` with the API's clock. */
  apiDeps: EngineDeps;
  /** Runs the sweeper once now. */
  sweep(): Promise<string[]>;
  /**
   * Serves `workflows` from now on instead of what it served (the API and the workers): the hook
   * `durable dev` reloads through. Executions keep their name and version and replay with the
   * new code of that name and version; warm runs of the old code are not reused. Throws, and
   * keeps the old workflows, if `workflows` holds a name and version twice.
   */
  replaceWorkflows(workflows: readonly AnyWorkflow[]): void;
  /** Things worth telling a person about the services this stack started (e.g. DynamoDB Local reachable beyond loopback). */
  warnings: string[];
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.logger ?? silentLogger;
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops.length = 0;
  };
  try {
    let endpoints = options.endpoints;
    const warnings: string[] = [];
    if (!endpoints) {
      const [dynamo, sqs] = await Promise.all([
        startDynamoDBLocal(options.dataDir === undefined ? {} : { dbPath: options.dataDir }),
        startSqsEmulator(),
      ]);
      stops.push(() => dynamo.stop(), () => sqs.stop());
      if (dynamo.bindNote) warnings.push(dynamo.bindNote);
      endpoints = { dynamoEndpoint: dynamo.endpoint, sqsEndpoint: sqs.endpoint };
    }
    const clients = localClients(endpoints);
    options.instrumentClients?.(clients);
    const tableName = options.tableName ?? "durable-workflows";
    await createTable(clients.dynamo, tableName);

    const queueName = options.queueName ?? "durable-wakeups";
    const dlq = await clients.sqs.send(new CreateQueueCommand({ QueueName: `${queueName}-dlq`, Attributes: { MessageRetentionPeriod: String(14 * 86_400) } }));
    const dlqUrl = dlq.QueueUrl as string;
    const dlqAttrs = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }));
    const main = await clients.sqs.send(
      new CreateQueueCommand({
        QueueName: queueName,
        Attributes: {
          VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 10),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqAttrs.Attributes?.QueueArn, maxReceiveCount: 25 }),
        },
      }),
    );
    const queueUrl = main.QueueUrl as string;

    let payloads: PayloadOptions | undefined;
    let payloadBucket: string | undefined;
    if (options.payloads !== false) {
      payloadBucket = options.payloads?.bucket ?? localPayloadBucket(tableName);
      await clients.s3.send(new CreateBucketCommand({ Bucket: payloadBucket }));
      const bucketStore = s3BlobStore({ client: clients.s3, bucket: payloadBucket });
      payloads = {
        // The emulator keeps nothing across restarts: with a data folder, objects are kept there too.
        blobs: options.dataDir === undefined ? bucketStore : await mirroredBlobStore(bucketStore, join(options.dataDir, "objects")),
        ...(options.payloads?.codecs === undefined ? {} : { codecs: options.payloads.codecs }),
        ...(options.payloads?.offloadThresholdBytes === undefined ? {} : { offloadThresholdBytes: options.payloads.offloadThresholdBytes }),
      };
    }

    const clock = options.clock ?? Date.now;
    const baseScheduler = new SqsWakeupScheduler(clients.sqs, queueUrl);
    const registry = new WorkflowRegistry(options.workflows);
    const deps: EngineDeps = {
      store: new DynamoExecutionStore({ client: clients.doc, tableName, ...(payloads === undefined ? {} : { payloads }), ...options.storeOptions }),
      scheduler: options.wrapScheduler ? options.wrapScheduler(baseScheduler) : baseScheduler,
      registry,
      clock,
      random: Math.random,
      workerId: `local/${randomUUID()}`,
      logger: log,
      runCache: new RegistryCheckedRunCache(registry),
      redelivery: new SqsRedelivery(clients.sqs, queueUrl, dlqUrl),
    };

    const apiDeps: EngineDeps = options.apiClock ? { ...deps, clock: options.apiClock } : deps;
    const bearerToken = options.bearerToken ?? randomBytes(18).toString("base64url");
    const tenantTokens = Object.fromEntries((options.tenants ?? []).map((tenant) => [tenant, `${tenant}.${randomBytes(18).toString("base64url")}`]));
    const authorization = options.authorization ?? (options.tenants?.length ? { tenants: {} } : undefined);
    const tokens: Record<string, LocalCaller> = { ...options.tokens, ...Object.fromEntries(Object.entries(tenantTokens).map(([tenant, token]) => [token, { tenant }])) };
    // The viewer opens with a token that may read: the first tenant's when executions are per tenant.
    const viewerToken = Object.values(tenantTokens)[0] ?? bearerToken;
    const api = await serveHttpApi({
      handler: createApiHandler(apiDeps, {
        bearerToken,
        tokens,
        ...(authorization === undefined ? {} : { authorization }),
        onError: (err) => log.error("api error", { error: String(err instanceof Error ? err.stack : err) }),
      }),
      ...(options.port === undefined ? {} : { port: options.port }),
      ...(options.viewer === false ? {} : { localRoutes: [viewerPageRoute] }),
    });
    stops.push(() => api.close());

    const workerTimeoutMs = options.workerTimeoutMs ?? 60_000;
    const worker: SqsHandler = createWorkerHandler(deps, options.workerOptions ?? {});
    const poller = startSqsPoller({
      sqs: clients.sqs,
      queueUrl,
      handler: options.wrapWorkerHandler ? options.wrapWorkerHandler(worker) : worker,
      functionTimeoutMs: workerTimeoutMs,
      concurrency: options.workerConcurrency ?? 2,
      ...(options.workerBatchSize === undefined ? {} : { batchSize: options.workerBatchSize }),
      onError: (err) => log.warn("poller", { error: err instanceof Error ? err.message : String(err) }),
    });
    stops.push(() => poller.stop());

    const lockTimeMs = options.sweepLockMs ?? 60_000;
    const sweepOnce = () => sweepDue(deps, { graceMs: options.sweepGraceMs ?? 5_000, lockTimeMs, ...(options.sweepBacklog ? { backlog: options.sweepBacklog } : {}) });
    const wrappedSweep = options.wrapSweep ? options.wrapSweep(sweepOnce) : sweepOnce;
    const sweep = async () => (await wrappedSweep()).woken;
    // On start, re-enqueue whatever DynamoDB says is due: the emulator keeps no messages across restarts.
    await sweepDue(deps, { graceMs: 0, lockTimeMs });
    const timer = setInterval(() => {
      sweep().catch((err: unknown) => log.warn("sweep failed", { error: err instanceof Error ? err.message : String(err) }));
    }, options.sweepIntervalMs ?? 5_000);
    timer.unref();
    stops.push(async () => clearInterval(timer));

    return {
      apiUrl: api.url,
      bearerToken,
      tenantTokens,
      ...(options.viewer === false ? {} : { viewerUrl: viewerUrl(api.url, viewerToken) }),
      tableName,
      ...(payloadBucket === undefined ? {} : { payloadBucket }),
      queueUrl,
      deadLetterQueueUrl: dlqUrl,
      endpoints,
      clients,
      deps,
      apiDeps,
      sweep,
      replaceWorkflows: (workflows) => {
        // The API's deps share this registry object (apiDeps copies deps), so both see the swap.
        registry.replaceAll(workflows);
      },
      warnings,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
