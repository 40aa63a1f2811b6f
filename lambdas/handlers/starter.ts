/**
 * The starter Lambda: starts workflows nobody called the API for. Three kinds of event reach it
 * (the DurableWorkflows construct wires each):
 *
 *   EventBridge Scheduler   { durableStart: "schedule", schedule, scheduledTime }  → fireSchedule
 *   EventBridge rule        { durableStart: "event", start, event }               → the event as input
 *   SQS event source        { Records: [...] } from a queue in DURABLE_EVENT_QUEUES → each body as input
 *
 * A start that fails throws (Scheduler and EventBridge retry, then dead-letter) or, for SQS, is
 * reported as a batch item failure (the queue redelivers it, then its redrive policy applies).
 * The ids make every retry land on the execution the first attempt started.
 */
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";
import { DurableError } from "../core/errors.js";
import { type AnyWorkflow, WorkflowRegistry } from "../core/workflow.js";
import type { ApiDeps } from "../engine/executions.js";
import { silentLogger } from "../engine/observability.js";
import type { ScheduleDefinition } from "../starts/definitions.js";
import { type EventStartTarget, type FireOutcome, fireSchedule, startFromEvent } from "../starts/fire.js";
import { createEngineDeps } from "./deps.js";
import { withPowertools } from "./observability.js";

const Target = z.object({ name: z.string().min(1), workflow: z.string().min(1), version: z.number().int().positive().optional() });

const ScheduleFire = z.object({
  durableStart: z.literal("schedule"),
  schedule: z.looseObject({ name: z.string().min(1), workflow: z.string().min(1) }),
  scheduledTime: z.iso.datetime({ offset: true }),
});

const EventFire = z.object({
  durableStart: z.literal("event"),
  start: Target,
  event: z.looseObject({ id: z.string().min(1) }),
});

const EventQueues = z.record(z.string(), Target);

/** An event the starter cannot read: a wiring mistake, never retried into success. */
export class UnknownStartEventError extends DurableError {
  constructor(message: string) {
    super("UNKNOWN_START_EVENT", message);
  }
}

export interface StarterOptions {
  /** SQS queue ARN → the workflow its messages start (DURABLE_EVENT_QUEUES). */
  eventQueues?: Record<string, EventStartTarget>;
}

export type StarterResult = FireOutcome | { outcome: "started" | "already-started"; executionId: string } | SQSBatchResponse;

export function createStarterHandler(deps: ApiDeps, options: StarterOptions = {}) {
  const logger = deps.logger ?? silentLogger;
  const queues = options.eventQueues ?? {};

  const fromQueue = async (record: SQSRecord): Promise<void> => {
    const target = queues[record.eventSourceARN];
    if (!target) throw new UnknownStartEventError(`no event start is wired to queue ${record.eventSourceARN}`);
    const started = await startFromEvent(deps, target, record.messageId, parseBody(record.body));
    logger.info("event start", { start: target.name, ...started });
  };

  const handle = async (event: unknown, _context: Context): Promise<StarterResult> => {
    if (isSqsEvent(event)) {
      const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
      for (const record of event.Records) {
        try {
          await fromQueue(record);
        } catch (err) {
          logger.error("event start failed; the message comes back", { messageId: record.messageId, queue: record.eventSourceARN, error: describe(err) });
          batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      }
      return { batchItemFailures };
    }
    const schedule = ScheduleFire.safeParse(event);
    if (schedule.success) {
      return fireSchedule(deps, schedule.data.schedule as unknown as ScheduleDefinition, Date.parse(schedule.data.scheduledTime));
    }
    const fired = EventFire.safeParse(event);
    if (fired.success) {
      const started = await startFromEvent(deps, fired.data.start, fired.data.event.id, fired.data.event);
      logger.info("event start", { start: fired.data.start.name, ...started });
      return started;
    }
    throw new UnknownStartEventError("the starter got an event that is neither a schedule's fire, an EventBridge event start nor an SQS batch");
  };
  return middy(handle);
}

/** The deployed entry: `export const handler = starterHandlerFromEnv(workflows)`. */
export function starterHandlerFromEnv(workflows: readonly AnyWorkflow[], env: NodeJS.ProcessEnv = process.env) {
  const deps = createEngineDeps(new WorkflowRegistry(workflows), env);
  const eventQueues = env.DURABLE_EVENT_QUEUES === undefined ? {} : EventQueues.parse(JSON.parse(env.DURABLE_EVENT_QUEUES));
  return withPowertools(createStarterHandler(deps, { eventQueues }));
}

function isSqsEvent(event: unknown): event is SQSEvent {
  return typeof event === "object" && event !== null && Array.isArray((event as { Records?: unknown }).Records);
}

/** An SQS body as the workflow's input: its JSON, or the text itself when it is not JSON. */
function parseBody(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

function describe(err: unknown): string {
  return err instanceof DurableError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
}
