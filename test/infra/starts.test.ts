/**
 * `schedules` and `eventStarts`: the starter function and what fires it (EventBridge Scheduler
 * schedules, EventBridge rules, SQS event sources), synthesized without bundling; then the
 * starter's own code, fed the very inputs the template gives Scheduler and EventBridge, against
 * DynamoDB Local and the SQS emulator with every request held against the starter's role.
 */
import { CreateQueueCommand } from "@aws-sdk/client-sqs";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { App, Duration, Stack } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import { EventBus } from "aws-cdk-lib/aws-events";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { SQSBatchResponse } from "aws-lambda";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_HANDLERS_MODULE } from "../../bin/app-stack.js";
import { defineWorkflow, WorkflowRegistry } from "../../lambdas/core/workflow.js";
import { createStarterHandler } from "../../lambdas/handlers/starter.js";
import { SqsWakeupScheduler } from "../../lambdas/queue/wakeups.js";
import type { ScheduleDefinition } from "../../lambdas/starts/definitions.js";
import { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { executionPk, META_SK } from "../../lambdas/store/keys.js";
import { createTable } from "../../lambdas/store/table.js";
import { createLambdaContext } from "../../local/http-api.js";
import { DurableWorkflows, type DurableWorkflowsProps } from "../../lib/durable-workflows.js";
import { IamRecorder } from "../support/iam-recorder.js";
import { testClients, uniqueName } from "../support/services.js";
import { sqsRecord } from "../worker/harness.js";
import { allPolicyStatements, EXAMPLE_WORKFLOWS, grantedTo, grantsOf, isAllowed, SYNTH_TIMEOUT_MS, synthesizeConstruct, type SynthesizedConstruct } from "./synth-stack.js";

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; DependsOn?: string[] };

const WEEKDAY_REPORT: ScheduleDefinition = {
  name: "weekday-report",
  workflow: "starts-report",
  cron: "0 9 ? * MON-FRI *",
  timezone: "Europe/Berlin",
  input: { kind: "daily", recipients: ["ops@example.com"] },
};
const POLL: ScheduleDefinition = { name: "poll", workflow: "starts-poll", version: 2, rate: "5 minutes", overlap: "allow" };
const ORDER_PATTERN = { source: ["shop"], detailType: ["OrderPlaced"] };

interface Extras {
  bus: EventBus;
  imports: Queue;
}

let starts: SynthesizedConstruct & { extras: Extras | undefined };
let plain: SynthesizedConstruct;
let emptyLists: SynthesizedConstruct;
let ids: { starter: string; startsDlq: string; table: string; queue: string; imports: string; bus: string; group: string };

beforeAll(() => {
  starts = synthesizeConstruct((stack) => {
    const bus = new EventBus(stack, "ShopBus");
    // A queue as a careful user makes it: encrypted, TLS only, with a redrive policy of its own.
    const importsDlq = new Queue(stack, "ImportsDeadLetters", { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true });
    const imports = new Queue(stack, "Imports", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.minutes(3),
      deadLetterQueue: { queue: importsDlq, maxReceiveCount: 5 },
    });
    return {
      schedules: [WEEKDAY_REPORT, POLL],
      eventStarts: [
        { name: "order-placed", workflow: "starts-fulfil", eventPattern: ORDER_PATTERN, eventBus: bus },
        { name: "imports", workflow: "starts-import", version: 3, queue: imports, batchSize: 5 },
      ],
      extras: { bus, imports },
    };
  });
  plain = synthesizeConstruct(() => ({}));
  emptyLists = synthesizeConstruct(() => ({ schedules: [], eventStarts: [] }));
  const w = starts.workflows;
  ids = {
    starter: starts.logicalId(w.starterFunction!),
    startsDlq: starts.logicalId(w.startsDeadLetterQueue!),
    table: starts.logicalId(w.table),
    queue: starts.logicalId(w.queue),
    imports: starts.logicalId(starts.extras!.imports),
    bus: starts.logicalId(starts.extras!.bus),
    group: starts.logicalId(w.scheduleGroup!),
  };
}, SYNTH_TIMEOUT_MS);

function resource(logicalId: string): Resource {
  const found = starts.template.toJSON().Resources[logicalId] as Resource | undefined;
  if (!found) throw new Error(`no resource ${logicalId} in the template`);
  return found;
}

function scheduleOf(name: string): Resource {
  const schedule = starts.workflows.startSchedules[name];
  if (!schedule) throw new Error(`no schedule ${name}`);
  return resource(starts.logicalId(schedule));
}

function ruleOf(name: string): Resource {
  const rule = starts.workflows.eventStartRules[name];
  if (!rule) throw new Error(`no rule ${name}`);
  return resource(starts.logicalId(rule));
}

const arnOf = (logicalId: string) => ({ "Fn::GetAtt": [logicalId, "Arn"] });

/** A `Fn::Join` of strings and `Fn::GetAtt ... Arn`, with each ARN given by `arns` (logical id -> ARN). */
function joined(value: unknown, arns: Record<string, string>): string {
  const join = (value as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
  if (!join) throw new Error(`not a Fn::Join: ${JSON.stringify(value)}`);
  return join[1]
    .map((part) => {
      if (typeof part === "string") return part;
      const [id, attribute] = (part as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"];
      const arn = arns[id];
      if (attribute !== "Arn" || arn === undefined) throw new Error(`cannot resolve ${JSON.stringify(part)}`);
      return arn;
    })
    .join(join[0]);
}

/** The scheduler passes this, resolved, in every fire (EventBridge Scheduler's context attribute). */
const SCHEDULED_TIME = "<aws.scheduler.scheduled-time>";

describe("schedules", () => {
  it("each becomes an EventBridge Scheduler schedule in the construct's group, in its time zone, with no flexible window", () => {
    const groupName = resource(ids.group).Properties.Name as string;
    expect(resource(ids.group).DeletionPolicy).toBe("Delete");
    starts.template.resourceCountIs("AWS::Scheduler::Schedule", 2);
    expect(scheduleOf("weekday-report").Properties).toMatchObject({
      GroupName: groupName,
      ScheduleExpression: "cron(0 9 ? * MON-FRI *)",
      ScheduleExpressionTimezone: "Europe/Berlin",
      FlexibleTimeWindow: { Mode: "OFF" },
      State: "ENABLED",
      Target: { Arn: arnOf(ids.starter) },
    });
    expect(scheduleOf("poll").Properties).toMatchObject({
      GroupName: groupName,
      ScheduleExpression: "rate(5 minutes)",
      ScheduleExpressionTimezone: "Etc/UTC",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: { Arn: arnOf(ids.starter) },
    });
    // The schedule names its group by a literal: it must still be created after the group.
    expect(scheduleOf("poll").DependsOn).toContain(ids.group);
  });

  it("hand the starter the whole definition and the fire time", () => {
    for (const def of [WEEKDAY_REPORT, POLL]) {
      const input = scheduleOf(def.name).Properties.Target.Input as string;
      expect(input).toContain(SCHEDULED_TIME);
      expect(JSON.parse(input)).toEqual({ durableStart: "schedule", schedule: def, scheduledTime: SCHEDULED_TIME });
    }
  });

  it("retry a fire 185 times over up to 24 hours, then send it to the starts dead-letter queue", () => {
    for (const name of ["weekday-report", "poll"]) {
      expect(scheduleOf(name).Properties.Target).toMatchObject({
        RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
        DeadLetterConfig: { Arn: arnOf(ids.startsDlq) },
      });
    }
  });

  it("fire through a role only this group's schedules may assume, allowed to invoke the starter and dead-letter, nothing more", () => {
    const roleId = starts.logicalId(starts.workflows.node.findChild("StartSchedulerRole"));
    for (const name of ["weekday-report", "poll"]) expect(scheduleOf(name).Properties.Target.RoleArn).toEqual(arnOf(roleId));
    expect(resource(roleId).Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: "sts:AssumeRole",
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" }, "aws:SourceArn": arnOf(ids.group) } },
      },
    ]);
    const policies = Object.values(starts.template.findResources("AWS::IAM::Policy", { Properties: { Roles: [{ Ref: roleId }] } }));
    expect(policies.flatMap((p) => p.Properties.PolicyDocument.Statement)).toEqual([
      { Action: "lambda:InvokeFunction", Effect: "Allow", Resource: arnOf(ids.starter) },
      { Action: "sqs:SendMessage", Effect: "Allow", Resource: arnOf(ids.startsDlq) },
    ]);
    // Scheduler invokes with the role: no resource policy on the starter for it.
    const permissions = Object.values(starts.template.findResources("AWS::Lambda::Permission")) as Resource[];
    expect(permissions.filter((p) => p.Properties.Principal === "scheduler.amazonaws.com")).toEqual([]);
  });
});

describe("event starts", () => {
  it("a pattern start is a rule on its bus whose target gives the starter the start and the whole event", () => {
    const rule = ruleOf("order-placed");
    expect(rule.Properties).toMatchObject({
      EventBusName: { Ref: ids.bus },
      EventPattern: { source: ["shop"], "detail-type": ["OrderPlaced"] },
      State: "ENABLED",
    });
    const [target] = rule.Properties.Targets as Array<Record<string, any>>;
    expect(target).toMatchObject({
      Arn: arnOf(ids.starter),
      RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
      DeadLetterConfig: { Arn: arnOf(ids.startsDlq) },
    });
    const { InputPathsMap: paths, InputTemplate: template } = target!.InputTransformer as { InputPathsMap: Record<string, string>; InputTemplate: string };
    const [[placeholder, path]] = Object.entries(paths) as [[string, string]];
    expect(path).toBe("$");
    const event = { id: "e-1", source: "shop", "detail-type": "OrderPlaced", detail: { order: 7 } };
    expect(JSON.parse(template.replace(`<${placeholder}>`, JSON.stringify(event)))).toEqual({
      durableStart: "event",
      start: { name: "order-placed", workflow: "starts-fulfil" },
      event,
    });
  });

  it("EventBridge may invoke the starter and dead-letter to the starts queue, for this rule only", () => {
    const ruleId = starts.logicalId(starts.workflows.eventStartRules["order-placed"]!);
    starts.template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: arnOf(ids.starter),
      Principal: "events.amazonaws.com",
      SourceArn: arnOf(ruleId),
    });
    const [policy] = Object.values(starts.template.findResources("AWS::SQS::QueuePolicy", { Properties: { Queues: [{ Ref: ids.startsDlq }] } }));
    expect(policy!.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({
        Action: "sqs:SendMessage",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Condition: { ArnEquals: { "aws:SourceArn": arnOf(ruleId) } },
      }),
    );
  });

  it("a queue start is an event source on its queue that retries failed messages alone", () => {
    starts.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: arnOf(ids.imports),
      FunctionName: { Ref: ids.starter },
      BatchSize: 5,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    // The worker's on the wake-up queue, and this one.
    starts.template.resourceCountIs("AWS::Lambda::EventSourceMapping", 2);
  });

  it("tells the starter which start each queue feeds, by queue ARN", () => {
    const variables = resource(ids.starter).Properties.Environment.Variables as Record<string, unknown>;
    const importsArn = "arn:aws:sqs:eu-west-1:111122223333:imports";
    expect(JSON.parse(joined(variables.DURABLE_EVENT_QUEUES, { [ids.imports]: importsArn }))).toEqual({
      [importsArn]: { name: "imports", workflow: "starts-import", version: 3 },
    });
  });
});

describe("the starter", () => {
  it("runs on nodejs24.x on arm64 with 512 MB and 30 s, logging JSON to its own log group", () => {
    const fn = resource(ids.starter);
    expect(fn.Properties).toMatchObject({ Runtime: "nodejs24.x", Architectures: ["arm64"], MemorySize: 512, Timeout: 30, Handler: "index.handler" });
    expect(fn.Properties.LoggingConfig.LogFormat).toBe("JSON");
    expect(resource(fn.Properties.LoggingConfig.LogGroup.Ref as string).Properties.RetentionInDays).toBe(30);
  });

  it("finds the table and the queue as the other functions do", () => {
    expect(resource(ids.starter).Properties.Environment.Variables).toMatchObject({
      DURABLE_TABLE_NAME: { Ref: ids.table },
      DURABLE_QUEUE_URL: { Ref: ids.queue },
      DURABLE_RETENTION_SEC: String(30 * 86_400),
      POWERTOOLS_SERVICE_NAME: "durable-workflows",
    });
  });

  it("retries an accepted fire or event twice over up to 6 hours, then dead-letters it", () => {
    expect(resource(ids.starter).Properties.DeadLetterConfig).toEqual({ TargetArn: arnOf(ids.startsDlq) });
    starts.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: ids.starter },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
    });
  });

  it("may start executions, keep schedule state and send wake-ups, consume its queue and dead-letter, nothing more", () => {
    const logs = resource(ids.starter).Properties.LoggingConfig.LogGroup.Ref as string;
    const names = {
      [ids.table]: "table",
      [ids.queue]: "queue",
      [ids.startsDlq]: "starts dlq",
      [ids.imports]: "imports",
      [logs]: "starter logs",
      [starts.logicalId(starts.workflows.payloadBucket)]: "payload bucket",
    };
    expect(grantsOf(starts.template, ids.starter, names)).toEqual(
      [
        // ACCESS.starter
        "dynamodb:DeleteItem on table",
        "dynamodb:GetItem on table",
        "dynamodb:PutItem on table",
        "dynamodb:Query on table",
        "dynamodb:UpdateItem on table",
        // values: a large input written, an existing execution's read back; a start under the id
        // of an execution whose retention ended purges its objects (listed, then deleted)
        "s3:AbortMultipartUpload on payload bucket/executions/*",
        "s3:DeleteObject on payload bucket/executions/*",
        "s3:GetObject on payload bucket/executions/*",
        "s3:ListBucket on payload bucket",
        "s3:PutObject on payload bucket/executions/*",
        "sqs:SendMessage on queue",
        // the platform's: its logs, its async dead-letter config, the queue start's event source
        "logs:CreateLogStream on starter logs",
        "logs:PutLogEvents on starter logs",
        "sqs:SendMessage on starts dlq",
        "sqs:ChangeMessageVisibility on imports",
        "sqs:DeleteMessage on imports",
        "sqs:GetQueueAttributes on imports",
        "sqs:GetQueueUrl on imports",
        "sqs:ReceiveMessage on imports",
      ].sort(),
    );
  });

  it("no statement in the stack grants a wildcard action, nor a wildcard resource but the payload bucket's executions/ prefix", () => {
    const payloadObjects = JSON.stringify({ "Fn::Join": ["", [arnOf(starts.logicalId(starts.workflows.payloadBucket)), "/executions/*"]] });
    for (const s of allPolicyStatements(starts.template)) {
      for (const action of Array.isArray(s.Action) ? s.Action : [s.Action]) expect(action).not.toMatch(/\*/);
      for (const resource of (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map((r) => JSON.stringify(r))) {
        if (resource !== payloadObjects) expect(resource).not.toContain("*");
      }
    }
  });

  it("has a dead-letter queue kept 14 days, encrypted, TLS only, with an alarm", () => {
    const dlq = resource(ids.startsDlq);
    expect(dlq.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
    starts.template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      Queues: [{ Ref: ids.startsDlq }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })]) },
    });
    const alarm = starts.workflows.alarms.startDeadLetters;
    expect(alarm).toBeDefined();
    expect(resource(starts.logicalId(alarm!)).Properties).toMatchObject({
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [ids.startsDlq, "QueueName"] } }],
      Threshold: 0,
    });
  });

  it("is named in the stack outputs, with its dead-letter queue", () => {
    const values = Object.values(starts.template.toJSON().Outputs as Record<string, { Value: unknown }>).map((o) => o.Value);
    expect(values).toEqual(expect.arrayContaining([{ Ref: ids.starter }, { Ref: ids.startsDlq }]));
  });

  it("leaves cdk-nag nothing to report in the stack, with nothing new acknowledged", () => {
    const report = new AwsSolutionsChecks().validateScope(starts.stack);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(", ")}`)).toEqual([]);
    // The payload bucket's executions/ prefix, on every role granted objects (test/infra/payloads.test.ts), the starter's too.
    const finding = `AwsSolutions-IAM5[Resource::<${starts.logicalId(starts.workflows.payloadBucket)}.Arn>/executions/*]`;
    const acknowledged = starts.stack.node.findAll().flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === "aws:cdk:acknowledged-rules")
        .flatMap((m) => Object.keys(m.data as Record<string, string>).map((id) => [c.node.path, id.replace(/^annotation::/i, "")])),
    );
    expect(acknowledged.sort()).toEqual(["ApiRole", "StarterRole", "SweeperRole", "WorkerRole"].map((role) => [`Configured/Workflows/${role}`, finding]));
  });
});

describe("without schedules or event starts", () => {
  it("there is no starter, no Scheduler resource, and nothing else new", () => {
    const types = Object.values(plain.template.toJSON().Resources as Record<string, Resource>).map((r) => r.Type);
    expect(types.filter((t) => t.startsWith("AWS::Scheduler::"))).toEqual([]);
    // Worker, API, sweeper, and the cursor key's rotation.
    expect(types.filter((t) => t === "AWS::Lambda::Function")).toHaveLength(4);
    expect(types.filter((t) => t === "AWS::SQS::Queue")).toHaveLength(2);
    expect(types.filter((t) => t === "AWS::Events::Rule")).toHaveLength(1);
    expect(types.filter((t) => t === "AWS::CloudWatch::Alarm")).toHaveLength(4);
    const w = plain.workflows;
    expect([w.starterFunction, w.startsDeadLetterQueue, w.scheduleGroup, w.alarms.startDeadLetters]).toEqual([undefined, undefined, undefined, undefined]);
    expect(Object.keys(plain.template.toJSON().Outputs as object).some((k) => k.includes("Starter"))).toBe(false);
  });

  it("empty lists synthesize the same template as no lists", () => {
    expect(emptyLists.template.toJSON()).toEqual(plain.template.toJSON());
  });
});

describe("starts that cannot work are refused at synth, naming the start", () => {
  function build(props: (stack: Stack) => Partial<DurableWorkflowsProps>): () => DurableWorkflows {
    return () => {
      // No bundling: these tests only need the construct to refuse, or not.
      const stack = new Stack(new App({ context: { "aws:cdk:bundling-stacks": [] } }), "S");
      return new DurableWorkflows(stack, "W", { workflowsEntry: EXAMPLE_WORKFLOWS, handlersModule: REPO_HANDLERS_MODULE, ...props(stack) });
    };
  }
  const start = { name: "s", workflow: "w" };

  it("a cron EventBridge Scheduler would refuse, or a schedule with both cron and rate", () => {
    expect(build(() => ({ schedules: [{ ...start, cron: "0 9 * * * *" }] }))).toThrow(/^DurableWorkflows: schedule "s": .*day-of-month and day-of-week/);
    expect(build(() => ({ schedules: [{ ...start, cron: "61 * * * ? *" }] }))).toThrow(/^DurableWorkflows: schedule "s"/);
    expect(build(() => ({ schedules: [{ ...start, cron: "0 9 ? * MON *", rate: "1 hour" }] }))).toThrow(/^DurableWorkflows: schedule "s": give exactly one of cron and rate/);
  });

  it("two schedules, or two event starts, of one name, and a name that cannot name executions", () => {
    expect(build(() => ({ schedules: [{ ...start, rate: "1 hour" }, { ...start, rate: "2 hours" }] }))).toThrow(/^DurableWorkflows: two schedules are named "s"/);
    const pattern = { source: ["shop"] };
    expect(build(() => ({ eventStarts: [{ ...start, eventPattern: pattern }, { ...start, eventPattern: pattern }] }))).toThrow(/^DurableWorkflows: two event starts are named "s"/);
    expect(build(() => ({ eventStarts: [{ ...start, name: "has space", eventPattern: pattern }] }))).toThrow(/^DurableWorkflows: event start name "has space" must be 1–48 characters/);
    expect(build(() => ({ eventStarts: [{ ...start, name: "x".repeat(49), eventPattern: pattern }] }))).toThrow(/must be 1–48 characters/);
  });

  it("an event start with both eventPattern and queue, or neither", () => {
    expect(build((stack) => ({ eventStarts: [{ ...start, eventPattern: { source: ["shop"] }, queue: new Queue(stack, "Q") }] }))).toThrow(
      /^DurableWorkflows: event start "s": give exactly one of eventPattern and queue, not both/,
    );
    expect(build(() => ({ eventStarts: [start] }))).toThrow(/^DurableWorkflows: event start "s": give exactly one of eventPattern .* and queue/);
  });

  it("one queue feeding two starts", () => {
    expect(
      build((stack) => {
        const queue = new Queue(stack, "Q");
        return { eventStarts: [{ ...start, name: "a", queue }, { ...start, name: "b", queue }] };
      }),
    ).toThrow(/^DurableWorkflows: event start "b": its queue already feeds event start "a"; one queue feeds one start/);
    expect(
      build((stack) => {
        const arn = "arn:aws:sqs:us-east-1:111122223333:shared";
        return { eventStarts: [{ ...start, name: "a", queue: Queue.fromQueueArn(stack, "Q1", arn) }, { ...start, name: "b", queue: Queue.fromQueueArn(stack, "Q2", arn) }] };
      }),
    ).toThrow(/its queue already feeds event start "a"/);
  });

  it("an empty workflow, a bad version or batch size, and options of the other kind of start", () => {
    expect(build(() => ({ eventStarts: [{ name: "s", workflow: " ", eventPattern: { source: ["shop"] } }] }))).toThrow(/^DurableWorkflows: event start "s": workflow must name/);
    expect(build(() => ({ eventStarts: [{ ...start, version: 0, eventPattern: { source: ["shop"] } }] }))).toThrow(/version 0 must be a positive whole number/);
    expect(build(() => ({ eventStarts: [{ ...start, eventPattern: {} }] }))).toThrow(/eventPattern must match on at least one field/);
    expect(build((stack) => ({ eventStarts: [{ ...start, queue: new Queue(stack, "Q"), batchSize: 11 }] }))).toThrow(/batchSize must be a whole number from 1 to 10, got 11/);
    expect(build((stack) => ({ eventStarts: [{ ...start, queue: new Queue(stack, "Q"), eventBus: new EventBus(stack, "B") }] }))).toThrow(/eventBus applies only to an eventPattern start/);
    expect(build(() => ({ eventStarts: [{ ...start, eventPattern: { source: ["shop"] }, batchSize: 5 }] }))).toThrow(/batchSize applies only to a queue start/);
    expect(build(() => ({ schedules: [{ name: "s", workflow: "", rate: "1 hour" }] }))).toThrow(/^DurableWorkflows: schedule "s": workflow must name/);
  });

  it("and nothing is refused when the starts are sound", () => {
    expect(build((stack) => ({ schedules: [{ ...start, rate: "1 hour" }], eventStarts: [{ ...start, queue: new Queue(stack, "Q") }] }))).not.toThrow();
  });
});

describe("the starter's code, fed what the template wires, calls only what its role allows", () => {
  const report = defineWorkflow("starts-report", async (ctx, input: unknown) => ctx.step("send", () => input));
  const poll = defineWorkflow("starts-poll", { version: 2 }, async () => "polled");
  const fulfil = defineWorkflow("starts-fulfil", async (ctx) => ctx.waitForSignal<unknown>("shipped"));
  const importer = defineWorkflow("starts-import", { version: 3 }, async (_ctx, message: unknown) => message);
  const importsArn = "arn:aws:sqs:us-east-1:000000000000:imports";
  const context = () => createLambdaContext({ functionName: "starter", region: "us-east-1", timeoutMs: 30_000 });

  it("through schedule fires (new, retried, overlapping, after the last ended), event and SQS starts, and a start under an expired id", { timeout: 30_000 }, async () => {
    const setup = testClients();
    const tableName = uniqueName("starts");
    await createTable(setup.dynamo, tableName);
    const queueUrl = (await setup.sqs.send(new CreateQueueCommand({ QueueName: uniqueName("starts") }))).QueueUrl as string;
    const setupStore = new DynamoExecutionStore({ client: setup.dynamo, tableName });

    const clients = testClients();
    const recorder = new IamRecorder({ tables: { [tableName]: "table" }, queues: { [queueUrl]: "queue" } }).attach(clients.dynamo, "dynamodb").attach(clients.sqs, "sqs");
    // The queue map as the starter reads it from DURABLE_EVENT_QUEUES.
    const variables = resource(ids.starter).Properties.Environment.Variables as Record<string, unknown>;
    const eventQueues = JSON.parse(joined(variables.DURABLE_EVENT_QUEUES, { [ids.imports]: importsArn })) as Record<string, { name: string; workflow: string; version?: number }>;
    const handler = createStarterHandler(
      {
        store: new DynamoExecutionStore({ client: clients.dynamo, tableName }),
        scheduler: new SqsWakeupScheduler(clients.sqs, queueUrl),
        registry: new WorkflowRegistry([report, poll, fulfil, importer]),
        clock: Date.now,
      },
      { eventQueues },
    );

    // What Scheduler sends: the template's input with the fire time filled in.
    const fire = (name: string, scheduledTime: string) =>
      handler(JSON.parse((scheduleOf(name).Properties.Target.Input as string).replace(SCHEDULED_TIME, scheduledTime)), context());
    expect(await fire("weekday-report", "2026-12-01T08:00:00Z")).toEqual({ outcome: "started", executionId: "weekday-report-20261201T080000Z" });
    expect(await fire("weekday-report", "2026-12-01T08:00:00Z")).toEqual({ outcome: "already-started", executionId: "weekday-report-20261201T080000Z" });
    // overlap "skip": the first execution has not run yet, so the next day's fire starts nothing.
    expect(await fire("weekday-report", "2026-12-02T08:00:00Z")).toMatchObject({ outcome: "skipped", reason: "overlap", runningId: "weekday-report-20261201T080000Z" });
    await setup.doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { PK: executionPk("weekday-report-20261201T080000Z"), SK: META_SK },
        UpdateExpression: "SET #status = :completed REMOVE dueShard, nextWakeAtMs",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":completed": "completed" },
      }),
    );
    expect(await fire("weekday-report", "2026-12-03T08:00:00Z")).toEqual({ outcome: "started", executionId: "weekday-report-20261203T080000Z" });
    expect(await fire("poll", "2026-12-01T08:05:00Z")).toEqual({ outcome: "started", executionId: "poll-20261201T080500Z" });
    expect(await setupStore.getExecution("weekday-report-20261203T080000Z")).toMatchObject({ workflow: "starts-report", input: WEEKDAY_REPORT.input });
    expect(await setupStore.getExecution("poll-20261201T080500Z")).toMatchObject({ workflow: "starts-poll", version: 2, input: null });

    // What the rule sends: the template's input transformer applied to an event.
    const { InputPathsMap: paths, InputTemplate: template } = (ruleOf("order-placed").Properties.Targets as Array<{ InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string } }>)[0]!.InputTransformer;
    const [placeholder] = Object.keys(paths) as [string];
    const deliver = (event: object) => handler(JSON.parse(template.replace(`<${placeholder}>`, JSON.stringify(event))), context());
    const order = { version: "0", id: "6a7e8feb-b491-4cf7-a9f1-bf3703467718", source: "shop", "detail-type": "OrderPlaced", time: "2026-12-01T10:00:00Z", detail: { order: 7 } };
    const orderExecution = "order-placed-6a7e8feb-b491-4cf7-a9f1-bf3703467718";
    expect(await deliver(order)).toEqual({ outcome: "started", executionId: orderExecution });
    expect(await deliver(order)).toEqual({ outcome: "already-started", executionId: orderExecution });
    expect((await setupStore.getExecution(orderExecution))?.input).toEqual(order);

    // An event id reused after the execution it started passed its retention: removed, started again.
    const reused = { ...order, id: "reused-1" };
    await setupStore.createExecution({ id: "order-placed-reused-1", workflow: "starts-fulfil", version: 1, input: { old: true }, nowMs: Date.now() - 60_000 });
    await setup.doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { PK: executionPk("order-placed-reused-1"), SK: META_SK },
        UpdateExpression: "SET #status = :completed, purgeAtMs = :past, purgeShard = :purge, updatedAtMs = :ended REMOVE dueShard, nextWakeAtMs",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":completed": "completed", ":past": Date.now() - 1_000, ":purge": "PURGE", ":ended": Date.now() - 60_000 },
      }),
    );
    expect(await deliver(reused)).toEqual({ outcome: "started", executionId: "order-placed-reused-1" });
    expect(await setupStore.getExecution("order-placed-reused-1")).toMatchObject({ status: "running", input: reused });

    // What the event source sends: records of the queue the environment names.
    const record = (messageId: string, body: string) => ({ ...sqsRecord("", { messageId, body }), eventSourceARN: importsArn });
    const batch = (await handler({ Records: [record("m-1", JSON.stringify({ file: "a.csv" })), record("m-2", "not json")] }, context())) as SQSBatchResponse;
    expect(batch.batchItemFailures).toEqual([]);
    expect(await setupStore.getExecution("imports-m-1")).toMatchObject({ workflow: "starts-import", version: 3, input: { file: "a.csv" } });
    expect((await setupStore.getExecution("imports-m-2"))?.input).toBe("not json");

    const grants = grantedTo(starts.template, ids.starter, {
      [ids.table]: "table",
      [ids.queue]: "queue",
      [ids.startsDlq]: "starts dlq",
      [ids.imports]: "imports",
      [resource(ids.starter).Properties.LoggingConfig.LogGroup.Ref as string]: "logs",
      [starts.logicalId(starts.workflows.payloadBucket)]: "payload bucket",
    });
    const recorded = recorder.authorizations();
    console.info(["starter:", ...recorded.map((r) => `  ${isAllowed(grants, r) ? "ok     " : "MISSING"} ${r.action} on ${r.resource} (${r.operations.join(", ")})`)].join("\n"));
    expect(recorded.some((r) => r.resource === "table")).toBe(true);
    expect(recorded.some((r) => r.resource === "queue")).toBe(true);
    expect(recorded.filter((r) => !isAllowed(grants, r)).map((r) => `${r.action} on ${r.resource}`), "the starter calls what its role does not allow").toEqual([]);
  });
});
