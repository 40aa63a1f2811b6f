/**
 * The app stack `cdk deploy` deploys (bin/app.ts: the construct with its
 * defaults), synthesized once with bundling.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { App, Stack } from "aws-cdk-lib";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { TABLE } from "../../lambdas/store/keys.js";
import { allPolicyStatements, grantsOf, SYNTH_TIMEOUT_MS, synthesizeAppStack, type SynthesizedStack } from "./synth-stack.js";

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string };

let synth: SynthesizedStack;
let ids: {
  table: string;
  queue: string;
  dlq: string;
  worker: string;
  api: string;
  sweeper: string;
  httpApi: string;
  accessLogs: string;
};
/** Logical id -> the name `grantsOf` uses for it. */
let names: Record<string, string>;

beforeAll(() => {
  synth = synthesizeAppStack();
  const w = synth.stack.workflows;
  ids = {
    table: synth.logicalId(w.table),
    queue: synth.logicalId(w.queue),
    dlq: synth.logicalId(w.deadLetterQueue),
    worker: synth.logicalId(w.workerFunction),
    api: synth.logicalId(w.apiFunction),
    sweeper: synth.logicalId(w.sweeperFunction),
    httpApi: synth.logicalId(w.httpApi),
    accessLogs: synth.logicalId(w.accessLogGroup),
  };
  const logGroupOf = (fnId: string) => resource(fnId).Properties.LoggingConfig.LogGroup.Ref as string;
  names = {
    [ids.table]: "table",
    [ids.queue]: "queue",
    [ids.dlq]: "dlq",
    [logGroupOf(ids.worker)]: "worker logs",
    [logGroupOf(ids.api)]: "api logs",
    [logGroupOf(ids.sweeper)]: "sweeper logs",
    [synth.logicalId(synth.stack.workflows.cursorSecret)]: "cursor secret",
    [synth.logicalId(synth.stack.workflows.payloadBucket)]: "payload bucket",
  };
}, SYNTH_TIMEOUT_MS);

function resource(logicalId: string): Resource {
  const found = synth.template.toJSON().Resources[logicalId] as Resource | undefined;
  if (!found) throw new Error(`no resource ${logicalId} in the template`);
  return found;
}

/** A secret and a queue made the plain way: cdk-nag must object to both. */
function canaryStack(): Stack {
  const stack = new Stack(new App(), "Canary");
  new Secret(stack, "Secret");
  new Queue(stack, "Queue");
  return stack;
}

function functionIds(): string[] {
  return [ids.worker, ids.api, ids.sweeper];
}

describe("the executions table", () => {
  it("is keyed by PK/SK strings and billed per request", () => {
    const table = resource(ids.table);
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: TABLE.partitionKey.name, KeyType: "HASH" },
      { AttributeName: TABLE.sortKey.name, KeyType: "RANGE" },
    ]);
    expect(table.Properties.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: "PK", AttributeType: "S" },
        { AttributeName: "SK", AttributeType: "S" },
      ]),
    );
    expect(table.Properties.BillingMode).toBe("PAY_PER_REQUEST");
  });

  it("has no TTL: the sweeper removes an execution's items together once its retention ends", () => {
    expect(resource(ids.table).Properties.TimeToLiveSpecification).toBeUndefined();
  });

  it("has point-in-time recovery and deletion protection on, and is retained when the stack goes", () => {
    const table = resource(ids.table);
    expect(table.Properties.Replicas).toEqual([
      expect.objectContaining({
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      }),
    ]);
    expect(table.DeletionPolicy).toBe("Retain");
  });

  it("has the indexes the store queries, under its names and with its lean projections", () => {
    const table = resource(ids.table);
    const expected = Object.values(TABLE.indexes).map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey.name, KeyType: "HASH" },
        { AttributeName: index.sortKey.name, KeyType: "RANGE" },
      ],
      Projection:
        index.include.length === 0
          ? { ProjectionType: "KEYS_ONLY" }
          : { ProjectionType: "INCLUDE", NonKeyAttributes: [...index.include] },
    }));
    expect(table.Properties.GlobalSecondaryIndexes).toEqual(expected);
    expect(table.Properties.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: "workflow", AttributeType: "S" },
        { AttributeName: "status", AttributeType: "S" },
        { AttributeName: "dueShard", AttributeType: "S" },
        { AttributeName: "createdAtMs", AttributeType: "N" },
        { AttributeName: "nextWakeAtMs", AttributeType: "N" },
      ]),
    );
  });
});

describe("the wake-up queue", () => {
  it("moves a message to the dead-letter queue after 25 receives", () => {
    expect(resource(ids.queue).Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [ids.dlq, "Arn"] },
      maxReceiveCount: 25,
    });
  });

  it("keeps dead letters for 14 days, longer than the source queue keeps messages", () => {
    const dlqRetentionSec = resource(ids.dlq).Properties.MessageRetentionPeriod as number;
    expect(dlqRetentionSec).toBe(14 * 24 * 3600);
    expect(resource(ids.queue).Properties.MessageRetentionPeriod).toBeLessThan(dlqRetentionSec);
  });

  it("hides a received message for six times the worker's timeout", () => {
    const workerTimeoutSec = resource(ids.worker).Properties.Timeout as number;
    expect(workerTimeoutSec).toBe(60);
    expect(resource(ids.queue).Properties.VisibilityTimeout).toBe(6 * workerTimeoutSec);
  });

  it("is encrypted at rest and refuses requests without TLS", () => {
    for (const id of [ids.queue, ids.dlq]) {
      expect(resource(id).Properties.SqsManagedSseEnabled).toBe(true);
      synth.template.hasResourceProperties("AWS::SQS::QueuePolicy", {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          ]),
        },
      });
    }
  });

  it("feeds the worker in batches of 10, at most 10 instances at once, retrying failed records alone", () => {
    synth.template.resourceCountIs("AWS::Lambda::EventSourceMapping", 1);
    synth.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [ids.queue, "Arn"] },
      FunctionName: { Ref: ids.worker },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });
});

describe("the functions", () => {
  it("run on nodejs24.x on arm64", () => {
    for (const id of functionIds()) {
      expect(resource(id).Properties.Runtime).toBe("nodejs24.x");
      expect(resource(id).Properties.Architectures).toEqual(["arm64"]);
    }
  });

  it("are bundled locally as minified ESM with a require shim and a source map", () => {
    const assemblyDir = synth.app.synth().directory;
    for (const id of functionIds()) {
      const fn = resource(id);
      expect(fn.Properties.Handler).toBe("index.handler");
      // The code asset is staged in the assembly as `asset.<hash>`, uploaded as `<hash>.zip`.
      const assetHash = path.basename(fn.Properties.Code.S3Key as string, ".zip");
      const assetDir = path.join(assemblyDir, `asset.${assetHash}`);
      const bundle = readFileSync(path.join(assetDir, "index.mjs"), "utf8");
      expect(bundle.startsWith("import { createRequire } from 'module'; const require = createRequire(import.meta.url);")).toBe(true);
      expect(bundle).toMatch(/export\s*\{\s*[\w$]+ as handler\s*\}/);
      // Minified: long lines (readable code averages well under 100 characters a line).
      expect(bundle.length / bundle.split("\n").length).toBeGreaterThan(1000);
      expect(existsSync(path.join(assetDir, "index.mjs.map"))).toBe(true);
    }
  });

  it("find the table and the queue through their environment, and name their service for Powertools", () => {
    for (const id of functionIds()) {
      expect(resource(id).Properties.Environment.Variables).toMatchObject({
        DURABLE_TABLE_NAME: { Ref: ids.table },
        DURABLE_QUEUE_URL: { Ref: ids.queue },
        DURABLE_RETENTION_SEC: String(30 * 86_400),
        POWERTOOLS_SERVICE_NAME: "durable-workflows",
        POWERTOOLS_METRICS_NAMESPACE: "DurableWorkflows",
        NODE_OPTIONS: "--enable-source-maps",
      });
    }
  });

  it("tell only the worker where the dead-letter queue is", () => {
    expect(resource(ids.worker).Properties.Environment.Variables.DURABLE_DLQ_URL).toEqual({ Ref: ids.dlq });
    expect(resource(ids.api).Properties.Environment.Variables).not.toHaveProperty("DURABLE_DLQ_URL");
    expect(resource(ids.sweeper).Properties.Environment.Variables).not.toHaveProperty("DURABLE_DLQ_URL");
  });

  it("give the API, and only the API, the cursor-signing key's ARN, to read at cold start: no secret value in any environment or in the template", () => {
    const secretId = synth.logicalId(synth.stack.workflows.cursorSecret);
    expect(resource(secretId).Properties.GenerateSecretString).toMatchObject({ PasswordLength: 64, ExcludePunctuation: true });
    expect(resource(ids.api).Properties.Environment.Variables.DURABLE_CURSOR_SECRET_ARN).toEqual({ Ref: secretId });
    for (const id of functionIds()) expect(resource(id).Properties.Environment.Variables).not.toHaveProperty("DURABLE_CURSOR_SECRET");
    expect(resource(ids.worker).Properties.Environment.Variables).not.toHaveProperty("DURABLE_CURSOR_SECRET_ARN");
    expect(resource(ids.sweeper).Properties.Environment.Variables).not.toHaveProperty("DURABLE_CURSOR_SECRET_ARN");
    expect(JSON.stringify(synth.template.toJSON())).not.toContain("resolve:secretsmanager");
  });

  it("log JSON to their own log group, kept 30 days", () => {
    const logGroups = new Set<string>();
    for (const id of functionIds()) {
      const logging = resource(id).Properties.LoggingConfig;
      expect(logging.LogFormat).toBe("JSON");
      const logGroup = resource(logging.LogGroup.Ref as string);
      expect(logGroup.Type).toBe("AWS::Logs::LogGroup");
      expect(logGroup.Properties.RetentionInDays).toBe(30);
      expect(logGroup.DeletionPolicy).toBe("Retain");
      logGroups.add(logging.LogGroup.Ref as string);
    }
    expect(logGroups.size).toBe(3);
  });
});

describe("least privilege", () => {
  it("no statement grants a wildcard action, nor a wildcard resource but the payload bucket's executions/ prefix", () => {
    const statements = allPolicyStatements(synth.template);
    expect(statements.length).toBeGreaterThan(0);
    // Object keys hold the execution id and a hash: known only at run time (test/infra/payloads.test.ts).
    const payloadObjects = JSON.stringify({ "Fn::Join": ["", [{ "Fn::GetAtt": [synth.logicalId(synth.stack.workflows.payloadBucket), "Arn"] }, "/executions/*"]] });
    for (const s of statements) {
      const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
      for (const action of actions) expect(action).not.toMatch(/\*/);
      const resources = (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map((r) => JSON.stringify(r));
      for (const resource of resources) if (resource !== payloadObjects) expect(resource).not.toContain("*");
    }
  });

  it("the roles carry no managed policies and no inline policies besides the granted ones", () => {
    for (const role of Object.values(synth.template.findResources("AWS::IAM::Role"))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties.Policies).toBeUndefined();
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        { Action: "sts:AssumeRole", Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" } },
      ]);
    }
  });

  it("the worker may use the table, consume and send wake-ups, and send to the dead-letter queue, nothing more", () => {
    expect(grantsOf(synth.template, ids.worker, names)).toEqual(
      [
        "dynamodb:BatchGetItem on table",
        "dynamodb:ConditionCheckItem on table",
        "dynamodb:GetItem on table",
        "dynamodb:DeleteItem on table",
        "dynamodb:PutItem on table",
        "dynamodb:Query on table",
        "dynamodb:UpdateItem on table",
        "logs:CreateLogStream on worker logs",
        "logs:PutLogEvents on worker logs",
        // values: read and written; a child started under the id of an execution whose retention
        // ended purges that execution's objects first (listed under executions/, then deleted)
        "s3:AbortMultipartUpload on payload bucket/executions/*",
        "s3:DeleteObject on payload bucket/executions/*",
        "s3:GetObject on payload bucket/executions/*",
        "s3:ListBucket on payload bucket",
        "s3:PutObject on payload bucket/executions/*",
        "sqs:ChangeMessageVisibility on queue",
        "sqs:DeleteMessage on queue",
        "sqs:GetQueueAttributes on queue",
        "sqs:GetQueueUrl on queue",
        "sqs:ReceiveMessage on queue",
        "sqs:SendMessage on dlq",
        "sqs:SendMessage on queue",
      ].sort(),
    );
  });

  it("the API function may read and write executions, list them by workflow, status and tag, and send wake-ups, nothing more", () => {
    expect(grantsOf(synth.template, ids.api, names)).toEqual(
      [
        "dynamodb:BatchGetItem on table",
        "dynamodb:DeleteItem on table",
        "dynamodb:GetItem on table",
        "dynamodb:PutItem on table",
        "dynamodb:Query on table",
        "dynamodb:Query on table/index/byStatus",
        "dynamodb:Query on table/index/byTag",
        "dynamodb:Query on table/index/byWorkflow",
        "dynamodb:UpdateItem on table",
        "logs:CreateLogStream on api logs",
        "logs:PutLogEvents on api logs",
        // values: read and written; a start under the id of an execution whose retention ended
        // purges that execution's objects first (listed under executions/, then deleted)
        "s3:AbortMultipartUpload on payload bucket/executions/*",
        "s3:DeleteObject on payload bucket/executions/*",
        "s3:GetObject on payload bucket/executions/*",
        "s3:ListBucket on payload bucket",
        "s3:PutObject on payload bucket/executions/*",
        "secretsmanager:DescribeSecret on cursor secret",
        "secretsmanager:GetSecretValue on cursor secret",
        "sqs:SendMessage on queue",
      ].sort(),
    );
  });

  it("the sweeper may query the due and purge indexes, claim executions by a conditional update, remove expired ones, and send wake-ups, nothing more", () => {
    expect(grantsOf(synth.template, ids.sweeper, names)).toEqual(
      [
        "dynamodb:DeleteItem on table",
        "dynamodb:Query on table",
        "dynamodb:Query on table/index/due",
        "dynamodb:Query on table/index/purge",
        "dynamodb:UpdateItem on table",
        "logs:CreateLogStream on sweeper logs",
        "logs:PutLogEvents on sweeper logs",
        // values: read and written as it ends executions; purging an expired one lists its
        // objects under executions/ and deletes them
        "s3:AbortMultipartUpload on payload bucket/executions/*",
        "s3:DeleteObject on payload bucket/executions/*",
        "s3:GetObject on payload bucket/executions/*",
        "s3:ListBucket on payload bucket",
        "s3:PutObject on payload bucket/executions/*",
        "sqs:GetQueueAttributes on queue",
        "sqs:SendMessage on queue",
      ].sort(),
    );
  });
});

describe("the sweeper", () => {
  it("runs every minute from an EventBridge rule, without async retries (the next run is the retry)", () => {
    synth.template.resourceCountIs("AWS::Events::Rule", 1);
    synth.template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [ids.sweeper, "Arn"] } })],
    });
    synth.template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: { "Fn::GetAtt": [ids.sweeper, "Arn"] },
      Principal: "events.amazonaws.com",
    });
    synth.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: ids.sweeper },
      MaximumRetryAttempts: 0,
    });
  });
});

describe("the HTTP API", () => {
  it("routes every API request to the API function", () => {
    const routes = Object.values(synth.template.findResources("AWS::ApiGatewayV2::Route")) as Resource[];
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(
      [
        "POST /executions",
        "GET /executions",
        "GET /executions/{id}",
        "GET /executions/{id}/history",
        "GET /executions/{id}/values/{name}",
        "POST /executions/{id}/signals/{name}",
        "POST /executions/{id}/cancel",
        "POST /executions/{id}/terminate",
        "POST /executions/{id}/redrive",
        "POST /callbacks/{token}",
        "POST /callbacks/{token}/fail",
        "POST /callbacks/{token}/heartbeat",
        "POST /bulk",
        "GET /workflows",
      ].sort(),
    );
    synth.template.allResourcesProperties("AWS::ApiGatewayV2::Integration", {
      IntegrationType: "AWS_PROXY",
      IntegrationUri: { "Fn::GetAtt": [ids.api, "Arn"] },
      PayloadFormatVersion: "2.0",
    });
  });

  it("requires IAM authorization on every route", () => {
    synth.template.allResourcesProperties("AWS::ApiGatewayV2::Route", { AuthorizationType: "AWS_IAM" });
    synth.template.resourceCountIs("AWS::ApiGatewayV2::Authorizer", 0);
  });

  it("logs every request as JSON to an access log group kept 30 days", () => {
    synth.template.resourceCountIs("AWS::ApiGatewayV2::Stage", 1);
    const stage = Object.values(synth.template.findResources("AWS::ApiGatewayV2::Stage"))[0] as Resource;
    expect(stage.Properties).toMatchObject({ StageName: "$default", AutoDeploy: true, ApiId: { Ref: ids.httpApi } });
    expect(stage.Properties.AccessLogSettings.DestinationArn).toEqual({ "Fn::GetAtt": [ids.accessLogs, "Arn"] });
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format as string) as Record<string, string>;
    expect(format).toMatchObject({ requestId: "$context.requestId", status: "$context.status", routeKey: "$context.routeKey" });
    expect(resource(ids.accessLogs).Properties.RetentionInDays).toBe(30);
  });
});

describe("the alarms", () => {
  function alarm(construct: IConstruct): Resource {
    return resource(synth.logicalId(construct));
  }

  it("fire on a dead letter, a worker or sweeper error, and a wake-up waiting over 30 minutes", () => {
    const alarms = synth.stack.workflows.alarms;
    synth.template.resourceCountIs("AWS::CloudWatch::Alarm", 4);
    expect(alarm(alarms.deadLetters).Properties).toMatchObject({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [ids.dlq, "QueueName"] } }],
      ComparisonOperator: "GreaterThanThreshold",
      Threshold: 0,
      TreatMissingData: "notBreaching",
    });
    expect(alarm(alarms.workerErrors).Properties).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: ids.worker } }],
      Statistic: "Sum",
      ComparisonOperator: "GreaterThanThreshold",
      Threshold: 0,
    });
    expect(alarm(alarms.sweeperErrors).Properties).toMatchObject({
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: ids.sweeper } }],
      Threshold: 0,
    });
    expect(alarm(alarms.oldestWakeUp).Properties).toMatchObject({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateAgeOfOldestMessage",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [ids.queue, "QueueName"] } }],
      ComparisonOperator: "GreaterThanThreshold",
      Threshold: 30 * 60,
    });
  });

  it("notify nobody when no topic is given", () => {
    for (const a of Object.values(synth.template.findResources("AWS::CloudWatch::Alarm"))) {
      expect(a.Properties.AlarmActions).toBeUndefined();
    }
  });
});

describe("the stack outputs", () => {
  it("give the API URL, the table, both queues and the three functions", () => {
    const values = Object.values(synth.template.toJSON().Outputs as Record<string, { Value: unknown }>).map(
      (o) => o.Value,
    );
    expect(values).toEqual(
      expect.arrayContaining([
        { "Fn::GetAtt": [ids.httpApi, "ApiEndpoint"] },
        { Ref: ids.table },
        { Ref: ids.queue },
        { Ref: ids.dlq },
        { Ref: ids.worker },
        { Ref: ids.api },
        { Ref: ids.sweeper },
      ]),
    );
  });
});

describe("cdk-nag", () => {
  it("finds no AwsSolutions error or warning in the app stack", () => {
    const report = new AwsSolutionsChecks().validateScope(synth.stack);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(", ")}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it("is told to accept only the payload bucket's executions/ prefix, on the roles granted objects: the cursor secret rotates", () => {
    const acknowledged = synth.stack.node.findAll().flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === "aws:cdk:acknowledged-rules")
        .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason }))),
    );
    const finding = `AwsSolutions-IAM5[Resource::<${synth.logicalId(synth.stack.workflows.payloadBucket)}.Arn>/executions/*]`;
    expect(acknowledged.map((a) => [a.path, a.id.replace(/^annotation::/i, "")]).sort()).toEqual(
      ["ApiRole", "SweeperRole", "WorkerRole"].map((role) => [`DurableWorkflows/Workflows/${role}`, finding]),
    );
  });

  it("objects to a secret and a queue made the plain way (the check is not vacuous)", () => {
    const canary = new AwsSolutionsChecks().validateScope(canaryStack());
    expect(canary.violations.map((v) => v.ruleName).sort()).toEqual(["AwsSolutions-SMG4", "AwsSolutions-SQS3", "AwsSolutions-SQS4"]);
  });
});
