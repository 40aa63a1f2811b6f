/**
 * For the guarantee tests: a table and queue of their own, the API handler served over real HTTP
 * with deps of its own (its clock, its wake-up sends, which a test can make fail), and workers
 * with theirs, so a test can put the API and the workers on different clocks and lose the API's
 * sends the way a failed SQS call after a 202 does.
 */
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { AnyWorkflow } from "../../lambdas/core/workflow.js";
import type { EngineDeps } from "../../lambdas/engine/process-wakeup.js";
import { sweepDue } from "../../lambdas/engine/sweeper.js";
import { createApiHandler } from "../../lambdas/handlers/api.js";
import { SqsWakeupScheduler } from "../../lambdas/queue/wakeups.js";
import type { WakeupScheduler } from "../../lambdas/ports/queue.js";
import { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { serveHttpApi } from "../../local/http-api.js";
import { type WorkerWorld, workerWorld } from "../worker/harness.js";

/** Wake-up sends that can be made to fail, and are counted. */
export class FlakyScheduler implements WakeupScheduler {
  failing = false;
  sent = 0;
  lost = 0;
  constructor(private readonly inner: WakeupScheduler) {}

  async schedule(executionId: string, options: { dueAtMs?: number; nowMs: number }): Promise<void> {
    if (this.failing) {
      this.lost += 1;
      throw new Error("injected: SQS SendMessage failed");
    }
    this.sent += 1;
    await this.inner.schedule(executionId, options);
  }

  async wakeNow(executionIds: readonly string[]): Promise<void> {
    if (this.failing) {
      this.lost += executionIds.length;
      throw new Error("injected: SQS SendMessageBatch failed");
    }
    this.sent += executionIds.length;
    await this.inner.wakeNow(executionIds);
  }
}

export interface ApiAnswer {
  status: number;
  /** The `retry-after` header, if any. */
  retryAfter: string | null;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read whatever came back
}

export interface GuaranteeWorld {
  world: WorkerWorld;
  /** The API's wake-up sends. */
  apiSends: FlakyScheduler;
  /** The workers' wake-up sends. */
  workerSends: FlakyScheduler;
  apiDeps: EngineDeps;
  /** One request to the API over HTTP. */
  api(method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  /** Worker deps (a new worker id each call unless `overrides.workerId`). */
  worker(overrides?: Partial<EngineDeps>): EngineDeps;
  /** Runs the sweeper once, with no grace period. */
  sweep(): Promise<string[]>;
  close(): Promise<void>;
}

const TOKEN = "guarantee-token";

export async function guaranteeWorld(
  prefix: string,
  workflows: readonly AnyWorkflow[],
  options: { apiClock?: () => number; workerClock?: () => number; retentionSeconds?: number } = {},
): Promise<GuaranteeWorld> {
  const base = await workerWorld(prefix, { visibilityTimeoutSeconds: 2 });
  const world: WorkerWorld =
    options.retentionSeconds === undefined
      ? base
      : {
          ...base,
          store: new DynamoExecutionStore({ client: base.clients.doc, tableName: base.tableName, retentionSeconds: options.retentionSeconds }),
          deps: (workflows, overrides = {}) =>
            base.deps(workflows, { store: new DynamoExecutionStore({ client: base.clients.doc, tableName: base.tableName, retentionSeconds: options.retentionSeconds }), ...overrides }),
        };
  const apiSends = new FlakyScheduler(new SqsWakeupScheduler(world.clients.sqs, world.queueUrl));
  const workerSends = new FlakyScheduler(new SqsWakeupScheduler(world.clients.sqs, world.queueUrl));
  const apiDeps = world.deps(workflows, { scheduler: apiSends, clock: options.apiClock ?? Date.now });
  const server = await serveHttpApi({ handler: createApiHandler(apiDeps, { bearerToken: TOKEN }) });
  const worker = (overrides: Partial<EngineDeps> = {}) => world.deps(workflows, { scheduler: workerSends, clock: options.workerClock ?? Date.now, ...overrides });
  return {
    world,
    apiSends,
    workerSends,
    apiDeps,
    worker,
    async api(method, path, body) {
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: res.status, body: parsed, retryAfter: res.headers.get("retry-after") };
    },
    async sweep() {
      return (await sweepDue({ ...worker(), scheduler: new SqsWakeupScheduler(world.clients.sqs, world.queueUrl) }, { graceMs: 0 })).woken;
    },
    async close() {
      await server.close();
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(50);
  }
  return check();
}

/** Items in an execution's inbox, read straight from the table. */
export async function inboxSize(world: WorkerWorld, executionId: string): Promise<number> {
  const out = await world.clients.doc.send(
    new QueryCommand({
      TableName: world.tableName,
      KeyConditionExpression: "PK = :pk AND begins_with(SK, :p)",
      ExpressionAttributeValues: { ":pk": `EXEC#${executionId}`, ":p": "P#" },
      Select: "COUNT",
      ConsistentRead: true,
    }),
  );
  return out.Count ?? 0;
}

/** Every item of an execution's partition (history, inbox, the execution item). */
export async function partitionSize(world: WorkerWorld, executionId: string): Promise<number> {
  const out = await world.clients.doc.send(
    new QueryCommand({
      TableName: world.tableName,
      KeyConditionExpression: "PK = :pk",
      ExpressionAttributeValues: { ":pk": `EXEC#${executionId}` },
      Select: "COUNT",
      ConsistentRead: true,
    }),
  );
  return out.Count ?? 0;
}
