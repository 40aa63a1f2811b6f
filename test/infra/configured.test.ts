/**
 * `DurableWorkflows` with its props set, one synth per configuration
 * (without bundling: these tests read the template only).
 */
import { App, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Topic } from "aws-cdk-lib/aws-sns";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { DurableWorkflows, type DurableWorkflowsProps } from "../../lib/durable-workflows.js";
import { REPO_HANDLERS_MODULE } from "../../bin/app-stack.js";
import { EXAMPLE_WORKFLOWS, grantsOf, SYNTH_TIMEOUT_MS, synthesizeConstruct, type SynthesizedConstruct } from "./synth-stack.js";

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string };

let configured: SynthesizedConstruct & { extras: { topic: Topic } | undefined };
let retainedUnprotected: SynthesizedConstruct;
let destroyedProtected: SynthesizedConstruct;

beforeAll(() => {
  configured = synthesizeConstruct((stack) => {
    const topic = new Topic(stack, "OpsTopic");
    return {
      auth: { type: "jwt", issuer: "https://auth.example.com/", audience: ["workflows-api", "ops-console"] },
      alarmTopic: topic,
      workerConcurrency: 25,
      workerMemorySize: 2048,
      workerTimeout: Duration.minutes(2),
      retention: Duration.days(7),
      sweepSchedule: Duration.minutes(5),
      removalPolicy: RemovalPolicy.DESTROY,
      extras: { topic },
    };
  });
  retainedUnprotected = synthesizeConstruct(() => ({ deletionProtection: false }));
  destroyedProtected = synthesizeConstruct(() => ({ removalPolicy: RemovalPolicy.DESTROY, deletionProtection: true }));
}, SYNTH_TIMEOUT_MS);

function resourceOf(synth: SynthesizedConstruct, logicalId: string): Resource {
  const found = synth.template.toJSON().Resources[logicalId] as Resource | undefined;
  if (!found) throw new Error(`no resource ${logicalId} in the template`);
  return found;
}

describe("a configured DurableWorkflows", () => {
  it("runs at most workerConcurrency workers at once", () => {
    configured.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      ScalingConfig: { MaximumConcurrency: 25 },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("sizes the worker and derives the queue's visibility timeout from its timeout", () => {
    const w = configured.workflows;
    const worker = resourceOf(configured, configured.logicalId(w.workerFunction));
    expect(worker.Properties.MemorySize).toBe(2048);
    expect(worker.Properties.Timeout).toBe(120);
    expect(resourceOf(configured, configured.logicalId(w.queue)).Properties.VisibilityTimeout).toBe(720);
  });

  it("hands the retention to every function", () => {
    const w = configured.workflows;
    for (const fn of [w.workerFunction, w.apiFunction, w.sweeperFunction]) {
      expect(resourceOf(configured, configured.logicalId(fn)).Properties.Environment.Variables.DURABLE_RETENTION_SEC).toBe(
        String(7 * 86_400),
      );
    }
  });

  it("sweeps on the given schedule", () => {
    configured.template.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(5 minutes)" });
  });

  it("authorizes every route with a JWT from the issuer for the audiences", () => {
    configured.template.resourceCountIs("AWS::ApiGatewayV2::Authorizer", 1);
    const [authorizerId, authorizer] = Object.entries(configured.template.findResources("AWS::ApiGatewayV2::Authorizer"))[0] as [
      string,
      Resource,
    ];
    expect(authorizer.Properties).toMatchObject({
      AuthorizerType: "JWT",
      IdentitySource: ["$request.header.Authorization"],
      JwtConfiguration: { Issuer: "https://auth.example.com/", Audience: ["workflows-api", "ops-console"] },
    });
    const routes = Object.values(configured.template.findResources("AWS::ApiGatewayV2::Route")) as Resource[];
    expect(routes).toHaveLength(14);
    for (const route of routes) {
      expect(route.Properties).toMatchObject({ AuthorizationType: "JWT", AuthorizerId: { Ref: authorizerId } });
    }
  });

  it("sends every alarm's ALARM and OK notifications to the topic", () => {
    const topicRef = { Ref: configured.logicalId(configured.extras!.topic) };
    const alarms = Object.values(configured.template.findResources("AWS::CloudWatch::Alarm")) as Resource[];
    expect(alarms).toHaveLength(4);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
      expect(alarm.Properties.OKActions).toEqual([topicRef]);
    }
    expect(Object.keys(configured.workflows.alarms).sort()).toEqual(["deadLetters", "oldestWakeUp", "sweeperErrors", "workerErrors"]);
  });

  it("with removalPolicy DESTROY, deletes the table, queues and log groups with the stack, unprotected", () => {
    const w = configured.workflows;
    const table = resourceOf(configured, configured.logicalId(w.table));
    expect(table.DeletionPolicy).toBe("Delete");
    expect(table.Properties.Replicas[0].DeletionProtectionEnabled).toBe(false);
    for (const q of [w.queue, w.deadLetterQueue]) expect(resourceOf(configured, configured.logicalId(q)).DeletionPolicy).toBe("Delete");
    const logGroups = Object.values(configured.template.findResources("AWS::Logs::LogGroup")) as Resource[];
    // API access logs and the worker's, sweeper's, API's and cursor key rotation's logs.
    expect(logGroups).toHaveLength(5);
    for (const lg of logGroups) expect(lg.DeletionPolicy).toBe("Delete");
  });

  it("grants the same least privileges whatever the configuration", () => {
    const w = configured.workflows;
    const names = {
      [configured.logicalId(w.table)]: "table",
      [configured.logicalId(w.queue)]: "queue",
      [configured.logicalId(w.deadLetterQueue)]: "dlq",
      [configured.logicalId(w.payloadBucket)]: "payload bucket",
    };
    const logGroupOf = (id: string) => resourceOf(configured, id).Properties.LoggingConfig.LogGroup.Ref as string;
    const sweeperId = configured.logicalId(w.sweeperFunction);
    names[logGroupOf(sweeperId)] = "logs";
    expect(grantsOf(configured.template, sweeperId, names)).toEqual([
      "dynamodb:DeleteItem on table",
      "dynamodb:Query on table",
      "dynamodb:Query on table/index/due",
      "dynamodb:Query on table/index/purge",
      "dynamodb:UpdateItem on table",
      "logs:CreateLogStream on logs",
      "logs:PutLogEvents on logs",
      "s3:AbortMultipartUpload on payload bucket/executions/*",
      "s3:DeleteObject on payload bucket/executions/*",
      "s3:GetObject on payload bucket/executions/*",
      "s3:ListBucket on payload bucket",
      "s3:PutObject on payload bucket/executions/*",
      "sqs:GetQueueAttributes on queue",
      "sqs:SendMessage on queue",
    ]);
  });

  it("leaves cdk-nag nothing to report in the construct", () => {
    const report = new AwsSolutionsChecks().validateScope(configured.workflows);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}`)).toEqual([]);
  });
});

describe("table deletion protection", () => {
  function table(synth: SynthesizedConstruct): Resource {
    return resourceOf(synth, synth.logicalId(synth.workflows.table));
  }

  it("can be turned off while the table is still retained", () => {
    expect(table(retainedUnprotected).DeletionPolicy).toBe("Retain");
    expect(table(retainedUnprotected).Properties.Replicas[0].DeletionProtectionEnabled).toBe(false);
  });

  it("can stay on with removalPolicy DESTROY (the stack's deletion then fails until it is turned off)", () => {
    expect(table(destroyedProtected).DeletionPolicy).toBe("Delete");
    expect(table(destroyedProtected).Properties.Replicas[0].DeletionProtectionEnabled).toBe(true);
  });
});

describe("props that cannot work are refused at synth, naming the prop", () => {
  function build(props: Partial<DurableWorkflowsProps>): () => DurableWorkflows {
    return () => new DurableWorkflows(new Stack(new App(), "S"), "W", { workflowsEntry: EXAMPLE_WORKFLOWS, handlersModule: REPO_HANDLERS_MODULE, ...props });
  }

  it("workerConcurrency outside SQS's 2..1000", () => {
    expect(build({ workerConcurrency: 1 })).toThrow(/workerConcurrency must be a whole number from 2 to 1000/);
    expect(build({ workerConcurrency: 1001 })).toThrow(/workerConcurrency/);
    expect(build({ workerConcurrency: 2.5 })).toThrow(/workerConcurrency/);
  });

  it("a retention under an hour", () => {
    expect(build({ retention: Duration.minutes(59) })).toThrow(/retention must be at least one hour/);
    expect(build({ retention: Duration.hours(1) })).not.toThrow();
  });

  it("a sweepSchedule that is not whole minutes", () => {
    expect(build({ sweepSchedule: Duration.seconds(30) })).toThrow(/sweepSchedule must be whole minutes/);
    expect(build({ sweepSchedule: Duration.seconds(90) })).toThrow(/sweepSchedule/);
  });

  it("a JWT issuer that is not https, or no audience", () => {
    expect(build({ auth: { type: "jwt", issuer: "http://auth.example.com", audience: ["a"] } })).toThrow(/auth.issuer must be an https/);
    expect(build({ auth: { type: "jwt", issuer: "https://auth.example.com", audience: [] } })).toThrow(/auth.audience/);
  });

  it("a relative or missing workflowsEntry", () => {
    expect(build({ workflowsEntry: "examples/index.ts" })).toThrow(/workflowsEntry must be an absolute path/);
    expect(build({ workflowsEntry: "/nonexistent/workflows.ts" })).toThrow(/does not exist/);
  });
});
