/**
 * Starts nobody types: schedules fired by the time-skipping kits (in memory and on DynamoDB Local
 * with the SQS emulator) with overlap "skip" and "allow", retried, late and crashed fires; the
 * starter Lambda handler with the events EventBridge Scheduler, an EventBridge rule and an SQS
 * event source send it; and `durable dev`'s local firing on the real clock.
 */
import type { Context, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { codeOf } from "../support/codes.js";
import { type AnyWorkflow, defineWorkflow } from "../../lambdas/index.js";
import { createStarterHandler, UnknownStartEventError } from "../../lambdas/handlers/starter.js";
import type { ScheduleDefinition } from "../../lambdas/starts/definitions.js";
import { eventExecutionId } from "../../lambdas/starts/fire.js";
import { createTestEnvironment, type TestKit } from "../../lambdas/testing/index.js";
import { createDynamoDBTestEnvironment } from "../../local/testing.js";
import { startLocalSchedules } from "../../local/cli/dev/schedules.js";

/** 00:30 UTC: the hourly schedule's first fire is at 01:00. */
const T0 = Date.UTC(2026, 11, 7, 0, 30);

const report = defineWorkflow("report", async (ctx, input: { kind: string }) => {
  await ctx.step("gather", () => input.kind);
  await ctx.sleep("render", "90 minutes");
  return `${input.kind} at ${new Date(ctx.now()).toISOString()}`;
});

const onOrder = defineWorkflow("on-order", async (ctx, event: unknown) => {
  return ctx.step("handle", () => event);
});

const hourlySkip: ScheduleDefinition = { name: "hourly", workflow: "report", cron: "0 * * * ? *", input: { kind: "hourly" } };
const hourlyAllow: ScheduleDefinition = { name: "hourly-all", workflow: "report", cron: "0 * * * ? *", overlap: "allow", input: { kind: "all" } };

type Kit = TestKit & { advanceTime(duration: string): Promise<void>; now(): number; close(): Promise<void> };

const MODES: { name: string; create(workflows: AnyWorkflow[], schedules: ScheduleDefinition[]): Promise<Kit> }[] = [
  { name: "in memory", create: (workflows, schedules) => createTestEnvironment({ workflows, schedules, startTimeMs: T0 }) },
  {
    name: "DynamoDB Local",
    create: (workflows, schedules) =>
      createDynamoDBTestEnvironment({ workflows, schedules, startTimeMs: T0, endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") } }),
  },
  {
    name: "DynamoDB Local, warm runs",
    create: (workflows, schedules) =>
      createDynamoDBTestEnvironment({ workflows, schedules, warmRuns: true, startTimeMs: T0, endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") } }),
  },
];

describe.each(MODES)("schedules in the time-skipping kit, $name", (mode) => {
  let env: Kit;
  beforeAll(async () => {
    env = await mode.create([report, onOrder], [hourlySkip, hourlyAllow]);
  });
  afterAll(async () => {
    await env?.close();
  });

  it("fires on the hour; overlap skip starts nothing while the last fire's execution runs, allow starts every fire", async () => {
    await env.advanceTime("4 hours"); // fires at 01:00, 02:00, 03:00, 04:00
    const skip = env.scheduleFires.filter((f) => f.schedule === "hourly");
    expect(skip.map((f) => [f.fireAt, f.outcome])).toEqual([
      ["2026-12-07T01:00:00.000Z", "started"],
      ["2026-12-07T02:00:00.000Z", "skipped"], // 01:00's runs until 02:30
      ["2026-12-07T03:00:00.000Z", "started"],
      ["2026-12-07T04:00:00.000Z", "skipped"],
    ]);
    expect(skip[1]).toMatchObject({ reason: "overlap", runningId: "hourly-20261207T010000Z" });
    expect(await env.result("hourly-20261207T010000Z")).toBe("hourly at 2026-12-07T02:30:00.000Z");
    expect(await env.execution("hourly-20261207T010000Z")).toMatchObject({ tags: { schedule: "hourly" }, input: { kind: "hourly" } });

    const allow = env.scheduleFires.filter((f) => f.schedule === "hourly-all");
    expect(allow.map((f) => f.outcome)).toEqual(["started", "started", "started", "started"]);
    const listed = await env.list({ tags: { schedule: "hourly-all" } });
    expect(listed.executions.map((e) => e.id)).toEqual(["04", "03", "02", "01"].map((h) => `hourly-all-20261207T${h}0000Z`));
  });

  it("a retried fire finds the execution it started; a late retry after a later fire is skipped", async () => {
    const again = await env.fireSchedule("hourly", Date.UTC(2026, 11, 7, 3));
    expect(again).toEqual({ outcome: "already-started", executionId: "hourly-20261207T030000Z" });
    const late = await env.fireSchedule("hourly", Date.UTC(2026, 11, 7, 2));
    expect(late).toMatchObject({ outcome: "skipped", reason: "superseded" });
    expect(await codeOf(env.execution("hourly-20261207T020000Z"))).toBe("EXECUTION_NOT_FOUND");
    const allowAgain = await env.fireSchedule("hourly-all", Date.UTC(2026, 11, 7, 2));
    expect(allowAgain.outcome).toBe("already-started");
  });

  it("a fire that crashed after its claim and before its start: its retry starts it, and a later fire is not blocked by it", async () => {
    const schedule: ScheduleDefinition = { name: "crashy", workflow: "report", rate: "1 day", input: { kind: "crashy" } };
    const first = Date.UTC(2026, 11, 10);
    // The crashed attempt: the claim landed, the start did not.
    expect(await env.deps.store.claimScheduleFire("crashy", undefined, { executionId: "crashy-20261210T000000Z", fireAtMs: first })).toBe(true);
    expect(await env.fireSchedule(schedule, first, { run: false })).toEqual({ outcome: "started", executionId: "crashy-20261210T000000Z" });

    const other = "crashy2";
    const second = first + 86_400_000;
    expect(await env.deps.store.claimScheduleFire(other, undefined, { executionId: "crashy2-20261210T000000Z", fireAtMs: first })).toBe(true);
    expect(await env.fireSchedule({ ...schedule, name: other }, second, { run: false })).toMatchObject({ outcome: "started" });
  });

  it("an event start runs once per event id", async () => {
    const target = { name: "orders", workflow: "on-order" };
    const id = await env.startFromEvent(target, "evt-1", { order: 1 });
    expect(id).toBe("orders-evt-1");
    expect(await env.startFromEvent(target, "evt-1", { order: 1 })).toBe(id);
    expect(await env.result(id)).toEqual({ order: 1 });
    expect((await env.list({ tags: { "event-start": "orders" } })).executions.map((e) => e.id)).toEqual([id]);
  });
});

const lambdaContext = {} as Context;

describe("the starter handler, on DynamoDB Local and the SQS emulator", () => {
  let env: Awaited<ReturnType<typeof createDynamoDBTestEnvironment>>;
  let handler: ReturnType<typeof createStarterHandler>;
  const queueArn = "arn:aws:sqs:us-east-1:000000000000:orders";
  beforeAll(async () => {
    env = await createDynamoDBTestEnvironment({ workflows: [report, onOrder], startTimeMs: T0, endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") } });
    handler = createStarterHandler(env.deps, { eventQueues: { [queueArn]: { name: "queued", workflow: "on-order" } } });
  });
  afterAll(async () => {
    await env?.close();
  });

  it("starts a schedule's fire from the event EventBridge Scheduler sends, once however often it is retried", async () => {
    const fire = { durableStart: "schedule", schedule: { ...hourlySkip, name: "sched" }, scheduledTime: "2026-12-07T05:00:00Z" };
    expect(await handler(fire, lambdaContext)).toEqual({ outcome: "started", executionId: "sched-20261207T050000Z" });
    expect(await handler(fire, lambdaContext)).toEqual({ outcome: "already-started", executionId: "sched-20261207T050000Z" });
    await env.runUntilIdle();
    expect(await env.execution("sched-20261207T050000Z")).toMatchObject({ status: "sleeping", tags: { schedule: "sched" } });
    // The next hour's fire while it sleeps: skipped.
    expect(await handler({ ...fire, scheduledTime: "2026-12-07T06:00:00Z" }, lambdaContext)).toMatchObject({ outcome: "skipped", reason: "overlap" });
  });

  it("starts from an EventBridge event with the whole event as input, once per event id", async () => {
    const event = { id: "9f3c6d1e-0000-4000-8000-000000000001", source: "shop", "detail-type": "OrderPlaced", detail: { orderId: "o-1" }, time: "2026-12-07T00:31:00Z" };
    const fired = { durableStart: "event", start: { name: "placed", workflow: "on-order" }, event };
    expect(await handler(fired, lambdaContext)).toEqual({ outcome: "started", executionId: `placed-${event.id}` });
    expect(await handler(fired, lambdaContext)).toMatchObject({ outcome: "already-started" });
    await env.runUntilIdle();
    expect(await env.result(`placed-${event.id}`)).toEqual(event);
  });

  it("starts one execution per SQS message (JSON body or text), reports the failures, and a redelivery starts nothing new", async () => {
    const record = (messageId: string, body: string, eventSourceARN = queueArn) =>
      ({ messageId, body, eventSourceARN, receiptHandle: "r", attributes: {}, messageAttributes: {}, md5OfBody: "", eventSource: "aws:sqs", awsRegion: "us-east-1" }) as unknown as SQSEvent["Records"][number];
    const batch: SQSEvent = {
      Records: [record("m-1", '{"orderId":"o-2"}'), record("m-2", "plain text"), record("m-3", "{}", "arn:aws:sqs:us-east-1:000000000000:elsewhere"), record("m/4 odd id", "[1]")],
    };
    expect(await handler(batch, lambdaContext)).toEqual({ batchItemFailures: [{ itemIdentifier: "m-3" }] });
    await env.runUntilIdle();
    expect(await env.result("queued-m-1")).toEqual({ orderId: "o-2" });
    expect(await env.result("queued-m-2")).toBe("plain text");
    expect(await env.result(eventExecutionId("queued", "m/4 odd id"))).toEqual([1]);
    expect(eventExecutionId("queued", "m/4 odd id")).toMatch(/^queued-[0-9a-f]{40}$/);
    expect(await handler({ Records: [record("m-1", '{"orderId":"o-2"}')] }, lambdaContext)).toEqual({ batchItemFailures: [] });
    expect((await env.list({ tags: { "event-start": "queued" } })).executions).toHaveLength(3);
  });

  it("refuses an event it cannot read, and a fire of an unknown workflow, so they are retried and dead-lettered", async () => {
    await expect(handler({ hello: "world" }, lambdaContext)).rejects.toBeInstanceOf(UnknownStartEventError);
    await expect(handler({ durableStart: "schedule", schedule: { name: "x", workflow: "nope", rate: "1 hour" }, scheduledTime: "2026-12-07T05:00:00Z" }, lambdaContext)).rejects.toMatchObject({
      code: "WORKFLOW_NOT_FOUND",
    });
  });
});

describe("durable dev's local schedules", () => {
  it("fire on the real clock through the same fire as the starter", async () => {
    const env = await createTestEnvironment({ workflows: [report], startTimeMs: Date.now() });
    const notes: string[] = [];
    // A clock 400 ms before a whole minute, so the every-minute cron fires in well under a second.
    const realNow = Date.now();
    const offset = Math.ceil(realNow / 60_000) * 60_000 + 60_000 - 400 - realNow;
    const local = startLocalSchedules({ deps: env.deps, schedules: [{ name: "minutely", workflow: "report", cron: "* * * * ? *" }], note: (line) => notes.push(line), now: () => Date.now() + offset });
    try {
      const fireAt = local.nextFireAt();
      expect(fireAt).toBeDefined();
      for (let i = 0; i < 100 && notes.length === 0; i += 1) await new Promise((r) => setTimeout(r, 50));
      const id = `minutely-${(fireAt as Date).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "")}`;
      expect(notes).toEqual([`schedule minutely fired: started ${id}`]);
      expect((await env.execution(id)).tags).toEqual({ schedule: "minutely" });
      local.replace([]);
      expect(local.nextFireAt()).toBeUndefined();
    } finally {
      local.stop();
      await env.close();
    }
  });
});
