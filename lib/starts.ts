import { Duration, RemovalPolicy, Stack, TimeZone } from "aws-cdk-lib";
import { EventField, type EventPattern, type IEventBus, Rule, RuleTargetInput } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { ContextAttribute, Schedule, ScheduleExpression, ScheduleGroup, ScheduleTargetInput, TimeWindow } from "aws-cdk-lib/aws-scheduler";
import { LambdaInvoke } from "aws-cdk-lib/aws-scheduler-targets";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { checkStartNames, InvalidStartDefinitionError, type ScheduleDefinition } from "../lambdas/starts/definitions.js";
import { schedulerExpression, validateSchedules } from "../lambdas/starts/expression.js";

/**
 * A workflow started by events rather than by a caller: each event that matches `eventPattern`
 * on `eventBus`, or each message on `queue`, starts one execution whose input is the event (the
 * whole EventBridge event, or the message body parsed as JSON). The execution id is
 * `<name>-<event id>` (`<name>-<message id>` for SQS), so a redelivered event never starts twice.
 * Exactly one of `eventPattern` and `queue`.
 *
 * @example
 * { name: "order-placed", workflow: "fulfil", eventPattern: { source: ["shop"], detailType: ["OrderPlaced"] } }
 * { name: "imports", workflow: "import", queue: importQueue, batchSize: 5 }
 */
export interface DurableEventStart {
  /** Names the start and every execution it starts. Unique, 1–48 characters of A–Z, a–z, 0–9, _ or -. */
  readonly name: string;
  /** The workflow to start. */
  readonly workflow: string;
  /** @default the newest version registered */
  readonly version?: number;
  /** The events that start it, as an EventBridge rule matches them. */
  readonly eventPattern?: EventPattern;
  /** The bus the rule listens on; only with `eventPattern`. @default the account's default bus */
  readonly eventBus?: IEventBus;
  /**
   * The queue whose messages start it. Its visibility timeout must be at least the starter's
   * timeout (30 s); give it a redrive policy of its own for messages that can never start
   * anything. One queue feeds one start.
   */
  readonly queue?: IQueue;
  /** Messages per starter invocation, 1 to 10; only with `queue`. @default 10 */
  readonly batchSize?: number;
}

/** What a fire or an event names as the execution to start (in the event, or in DURABLE_EVENT_QUEUES). */
type StartTarget = { readonly name: string; readonly workflow: string; readonly version?: number };

/**
 * A fire must not be lost, and a repeated one is harmless (the execution id is derived from the
 * fire time or the event id, so a retry finds the execution it started). So Scheduler and
 * EventBridge retry as long as they allow: 185 attempts, over up to 24 hours, then the starts DLQ.
 * They invoke the starter asynchronously: their retries cover a refused hand-over (throttling,
 * a service error); once Lambda has the event, its own async retries and the function's DLQ do.
 */
const DELIVERY_RETRY_ATTEMPTS = 185;
const DELIVERY_MAX_EVENT_AGE = Duration.hours(24);
/** SQS's most messages per Lambda batch without a batching window. */
const MAX_QUEUE_BATCH_SIZE = 10;

/**
 * Refuses starts that cannot work, before anything is created, with the message of
 * InvalidStartDefinitionError prefixed the way the construct's other refusals are.
 */
export function checkStarts(schedules: readonly ScheduleDefinition[], eventStarts: readonly DurableEventStart[]): void {
  try {
    validateSchedules(schedules);
    checkEventStarts(eventStarts);
  } catch (error) {
    if (error instanceof InvalidStartDefinitionError) throw new Error(`DurableWorkflows: ${error.message}`, { cause: error });
    throw error;
  }
}

function checkEventStarts(starts: readonly DurableEventStart[]): void {
  checkStartNames(
    "event start",
    starts.map((start) => start.name),
  );
  const queueArns = new Map<string, string>();
  for (const start of starts) {
    const refuse = (problem: string): never => {
      throw new InvalidStartDefinitionError(`event start "${start.name}": ${problem}`);
    };
    if (typeof start.workflow !== "string" || start.workflow.trim() === "") refuse("workflow must name the workflow to start");
    if (start.version !== undefined && !(Number.isInteger(start.version) && start.version > 0)) {
      refuse(`version ${String(start.version)} must be a positive whole number (or left out for the newest)`);
    }
    if (start.eventPattern !== undefined && start.queue !== undefined) refuse("give exactly one of eventPattern and queue, not both");
    if (start.eventPattern === undefined && start.queue === undefined) refuse("give exactly one of eventPattern (an EventBridge rule's pattern) and queue (an SQS queue)");
    if (start.eventPattern !== undefined) {
      if (Object.keys(start.eventPattern).length === 0) refuse("eventPattern must match on at least one field (an empty pattern matches nothing)");
      if (start.batchSize !== undefined) refuse("batchSize applies only to a queue start");
    }
    if (start.queue !== undefined) {
      if (start.eventBus !== undefined) refuse("eventBus applies only to an eventPattern start");
      const { batchSize } = start;
      if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= MAX_QUEUE_BATCH_SIZE)) {
        refuse(`batchSize must be a whole number from 1 to ${MAX_QUEUE_BATCH_SIZE}, got ${batchSize}`);
      }
      // The same queue object, or two imports of one ARN, give the same string.
      const other = queueArns.get(start.queue.queueArn);
      if (other !== undefined) refuse(`its queue already feeds event start "${other}"; one queue feeds one start`);
      queueArns.set(start.queue.queueArn, start.name);
    }
  }
}

/**
 * `DURABLE_EVENT_QUEUES`: which start each queue feeds, keyed by queue ARN (an SQS record names
 * its queue by ARN), resolved at deploy time.
 */
export function eventQueuesJson(scope: Construct, starts: readonly DurableEventStart[]): string {
  const byQueueArn: Record<string, StartTarget> = {};
  for (const start of starts) {
    if (start.queue !== undefined) byQueueArn[start.queue.queueArn] = startTarget(start);
  }
  return Stack.of(scope).toJsonString(byQueueArn);
}

/** The resources that fire the starter. */
export interface StartTriggers {
  /** Holds every schedule, so the stack's schedules are listed (and deleted) together. */
  readonly scheduleGroup?: ScheduleGroup;
  readonly schedules: Readonly<Record<string, Schedule>>;
  readonly rules: Readonly<Record<string, Rule>>;
}

/**
 * Wires schedules and event starts (checked by `checkStarts`) to `starter`: a Scheduler schedule
 * per schedule, an EventBridge rule per pattern, an SQS event source per queue. What none of them
 * can deliver goes to `deadLetterQueue`.
 */
export function createStartTriggers(
  scope: Construct,
  parts: { starter: IFunction; deadLetterQueue: IQueue },
  schedules: readonly ScheduleDefinition[],
  eventStarts: readonly DurableEventStart[],
): StartTriggers {
  const { starter, deadLetterQueue } = parts;
  const triggers: { scheduleGroup?: ScheduleGroup; schedules: Record<string, Schedule>; rules: Record<string, Rule> } = {
    schedules: {},
    rules: {},
  };

  if (schedules.length > 0) {
    const scheduleGroup = new ScheduleGroup(scope, "StartSchedules", {
      // Whatever removalPolicy says: schedules are configuration, not data, and a retained group
      // would keep firing at a starter deleted with the stack. Deleting it deletes its schedules.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const schedulerRole = new Role(scope, "StartSchedulerRole", {
      description: "Durable workflows: EventBridge Scheduler invoking the starter",
      // Only schedules of this group, in this account, may use the role (confused deputy).
      assumedBy: new ServicePrincipal("scheduler.amazonaws.com", {
        conditions: { StringEquals: { "aws:SourceAccount": Stack.of(scope).account, "aws:SourceArn": scheduleGroup.scheduleGroupArn } },
      }),
    });
    // Exactly these two: LambdaInvoke's own grant adds `<function arn>:*` (every version and
    // alias), so it gets the role without policy updates.
    schedulerRole.addToPrincipalPolicy(new PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [starter.functionArn] }));
    schedulerRole.addToPrincipalPolicy(new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [deadLetterQueue.queueArn] }));
    for (const def of schedules) {
      const schedule = new Schedule(scope, `StartSchedule-${def.name}`, {
        description: `Durable workflows: starts ${def.workflow} on schedule ${def.name}`,
        scheduleGroup,
        schedule: ScheduleExpression.expression(schedulerExpression(def), def.timezone === undefined ? TimeZone.ETC_UTC : TimeZone.of(def.timezone)),
        // Fire on time: the execution id is the fire time, which the starter reads from the event.
        timeWindow: TimeWindow.off(),
        target: new LambdaInvoke(starter, {
          role: schedulerRole.withoutPolicyUpdates(),
          input: ScheduleTargetInput.fromObject({
            durableStart: "schedule",
            schedule: JSON.parse(JSON.stringify(def)) as unknown,
            scheduledTime: ContextAttribute.scheduledTime,
          }),
          retryAttempts: DELIVERY_RETRY_ATTEMPTS,
          maxEventAge: DELIVERY_MAX_EVENT_AGE,
          deadLetterQueue,
        }),
      });
      // The schedule names its group by a literal name, not a reference: say it needs the group.
      // And the role's policy lands before any schedule can fire with it.
      schedule.node.addDependency(scheduleGroup, schedulerRole);
      triggers.schedules[def.name] = schedule;
    }
    triggers.scheduleGroup = scheduleGroup;
  }

  for (const start of eventStarts) {
    if (start.eventPattern !== undefined) {
      triggers.rules[start.name] = new Rule(scope, `EventStart-${start.name}`, {
        description: `Durable workflows: starts ${start.workflow} on event start ${start.name}`,
        eventPattern: start.eventPattern,
        ...(start.eventBus ? { eventBus: start.eventBus } : {}),
        targets: [
          new LambdaFunction(starter, {
            event: RuleTargetInput.fromObject({ durableStart: "event", start: startTarget(start), event: EventField.fromPath("$") }),
            retryAttempts: DELIVERY_RETRY_ATTEMPTS,
            maxEventAge: DELIVERY_MAX_EVENT_AGE,
            deadLetterQueue,
          }),
        ],
      });
    } else if (start.queue !== undefined) {
      // Grants the starter's role what consuming takes on this queue; the queue's own redrive
      // policy (the user's) catches messages that keep failing.
      starter.addEventSource(
        new SqsEventSource(start.queue, { batchSize: start.batchSize ?? MAX_QUEUE_BATCH_SIZE, reportBatchItemFailures: true }),
      );
    }
  }
  return triggers;
}

function startTarget(start: DurableEventStart): StartTarget {
  return { name: start.name, workflow: start.workflow, ...(start.version === undefined ? {} : { version: start.version }) };
}
