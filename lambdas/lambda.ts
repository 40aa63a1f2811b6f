/**
 * `durable-aws/lambda`: the Lambda handlers, for the entry files the `DurableWorkflows` construct
 * generates in your project (or you write yourself). Each reads its configuration from the
 * environment the construct sets (`DURABLE_TABLE_NAME`, `DURABLE_QUEUE_URL`, ...).
 *
 * @example
 * // worker.ts
 * import { workerHandler } from "durable-aws/lambda";
 * import { workflows } from "./workflows";
 * export const handler = workerHandler(workflows);
 */
import type { AnyWorkflow } from "./core/workflow.js";
import { apiHandlerFromEnv } from "./handlers/api.js";
import { cursorKeyRotationHandlerFromEnv } from "./handlers/rotate-cursor-key.js";
import { starterHandlerFromEnv } from "./handlers/starter.js";
import { sweeperHandlerFromEnv } from "./handlers/sweeper.js";
import { workerHandlerFromEnv } from "./handlers/worker.js";

/** The SQS-triggered worker that runs `workflows` (ReportBatchItemFailures on). */
export function workerHandler(workflows: readonly AnyWorkflow[]): ReturnType<typeof workerHandlerFromEnv> {
  return workerHandlerFromEnv(workflows);
}

/** The API Gateway (HTTP API, payload v2) handler: start, inspect, signal and cancel `workflows`. */
export function apiHandler(workflows: readonly AnyWorkflow[]): ReturnType<typeof apiHandlerFromEnv> {
  return apiHandlerFromEnv(workflows);
}

/** The scheduled sweeper: wakes executions whose wake-up was lost, removes expired ones. */
export function sweeperHandler(): ReturnType<typeof sweeperHandlerFromEnv> {
  return sweeperHandlerFromEnv();
}

/**
 * Starts `workflows` from schedules (EventBridge Scheduler), EventBridge rules and SQS queues, as
 * the construct's `schedules` and `eventStarts` wire them (DURABLE_EVENT_QUEUES names the queues).
 */
export function starterHandler(workflows: readonly AnyWorkflow[]): ReturnType<typeof starterHandlerFromEnv> {
  return starterHandlerFromEnv(workflows);
}

/**
 * The Secrets Manager rotation function of the API's cursor-signing secret: a new random key each
 * rotation; cursors signed with the key rotated out keep working until the next rotation.
 */
export function cursorKeyRotationHandler(): ReturnType<typeof cursorKeyRotationHandlerFromEnv> {
  return cursorKeyRotationHandlerFromEnv();
}
