import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { SYNTH_TIMEOUT_MS, synthesizeAppStack, type SynthesizedStack } from "./synth-stack";

type Resource = { Type: string; Properties: Record<string, any> };

let synth: SynthesizedStack;
let ids: { table: string; queue: string; dlq: string; worker: string; api: string; httpApi: string };

beforeAll(() => {
  synth = synthesizeAppStack();
  const w = synth.stack.workflows;
  ids = {
    table: synth.logicalId(w.table),
    queue: synth.logicalId(w.queue),
    dlq: synth.logicalId(w.deadLetterQueue),
    worker: synth.logicalId(w.workerFunction),
    api: synth.logicalId(w.apiFunction),
    httpApi: synth.logicalId(w.httpApi),
  };
}, SYNTH_TIMEOUT_MS);

function resource(logicalId: string): Resource {
  const found = synth.template.toJSON().Resources[logicalId] as Resource | undefined;
  if (!found) throw new Error(`no resource ${logicalId} in the template`);
  return found;
}

/** Actions of every policy statement attached to a function's role. */
function roleActions(functionLogicalId: string): string[] {
  const roleId = resource(functionLogicalId).Properties.Role["Fn::GetAtt"][0] as string;
  const policies = synth.template.findResources("AWS::IAM::Policy", {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  });
  return Object.values(policies).flatMap((p) =>
    (p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>).flatMap((s) =>
      Array.isArray(s.Action) ? s.Action : [s.Action],
    ),
  );
}

describe("the executions table", () => {
  it("is keyed by PK/SK strings and billed per request", () => {
    const table = resource(ids.table);
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: "PK", KeyType: "HASH" },
      { AttributeName: "SK", KeyType: "RANGE" },
    ]);
    expect(table.Properties.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: "PK", AttributeType: "S" },
        { AttributeName: "SK", AttributeType: "S" },
      ]),
    );
    expect(table.Properties.BillingMode).toBe("PAY_PER_REQUEST");
  });

  it("expires finished executions through the expiresAtEpochSec TTL attribute", () => {
    expect(resource(ids.table).Properties.TimeToLiveSpecification).toEqual({
      AttributeName: "expiresAtEpochSec",
      Enabled: true,
    });
  });

  it("has point-in-time recovery on", () => {
    synth.template.hasResourceProperties("AWS::DynamoDB::GlobalTable", {
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
  });

  it("lists executions by workflow, by status and by due time through three ALL-projected indexes", () => {
    const table = resource(ids.table);
    expect(table.Properties.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: "byWorkflow",
        KeySchema: [
          { AttributeName: "workflow", KeyType: "HASH" },
          { AttributeName: "createdAtMs", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
      {
        IndexName: "byStatus",
        KeySchema: [
          { AttributeName: "status", KeyType: "HASH" },
          { AttributeName: "createdAtMs", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
      {
        IndexName: "due",
        KeySchema: [
          { AttributeName: "dueShard", KeyType: "HASH" },
          { AttributeName: "nextWakeAtMs", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
    ]);
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

  it("feeds the worker in batches of 10 whose failed records are retried alone", () => {
    synth.template.resourceCountIs("AWS::Lambda::EventSourceMapping", 1);
    synth.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [ids.queue, "Arn"] },
      FunctionName: { Ref: ids.worker },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });
});

describe("the functions", () => {
  it("run on nodejs22.x on arm64", () => {
    for (const id of [ids.worker, ids.api]) {
      expect(resource(id).Properties.Runtime).toBe("nodejs22.x");
      expect(resource(id).Properties.Architectures).toEqual(["arm64"]);
    }
  });

  it("are bundled locally as ESM with a require shim and a source map", () => {
    const assemblyDir = synth.app.synth().directory;
    for (const id of [ids.worker, ids.api]) {
      const fn = resource(id);
      expect(fn.Properties.Handler).toBe("index.handler");
      // The code asset is staged in the assembly as `asset.<hash>`, uploaded as `<hash>.zip`.
      const assetHash = path.basename(fn.Properties.Code.S3Key as string, ".zip");
      const assetDir = path.join(assemblyDir, `asset.${assetHash}`);
      const bundle = readFileSync(path.join(assetDir, "index.mjs"), "utf8");
      expect(bundle.startsWith("import { createRequire } from 'module'; const require = createRequire(import.meta.url);")).toBe(true);
      expect(bundle).toMatch(/export\s*\{\s*\w+ as handler\s*\}/);
      expect(existsSync(path.join(assetDir, "index.mjs.map"))).toBe(true);
    }
  });

  it("find the table and the queue through their environment", () => {
    for (const id of [ids.worker, ids.api]) {
      expect(resource(id).Properties.Environment.Variables).toMatchObject({
        DURABLE_TABLE_NAME: { Ref: ids.table },
        DURABLE_QUEUE_URL: { Ref: ids.queue },
        NODE_OPTIONS: "--enable-source-maps",
      });
    }
  });

  it("let the worker read and write the table, send wake-ups and change a message's visibility", () => {
    expect(roleActions(ids.worker)).toEqual(
      expect.arrayContaining([
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
      ]),
    );
  });

  it("let the API function read and write the table and send wake-ups, but not consume them", () => {
    const actions = roleActions(ids.api);
    expect(actions).toEqual(
      expect.arrayContaining(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "sqs:SendMessage"]),
    );
    expect(actions).not.toContain("sqs:ReceiveMessage");
    expect(actions).not.toContain("sqs:DeleteMessage");
    expect(actions).not.toContain("sqs:ChangeMessageVisibility");
  });
});

describe("the HTTP API", () => {
  it("routes start, get and history requests to the API function", () => {
    const routes = Object.values(synth.template.findResources("AWS::ApiGatewayV2::Route")) as Resource[];
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual([
      "GET /executions/{id}",
      "GET /executions/{id}/history",
      "POST /executions",
    ]);
    synth.template.allResourcesProperties("AWS::ApiGatewayV2::Integration", {
      IntegrationType: "AWS_PROXY",
      IntegrationUri: { "Fn::GetAtt": [ids.api, "Arn"] },
      PayloadFormatVersion: "2.0",
    });
  });

  it("requires IAM authorization on every route", () => {
    synth.template.allResourcesProperties("AWS::ApiGatewayV2::Route", { AuthorizationType: "AWS_IAM" });
  });
});

describe("the stack outputs", () => {
  it("give the API URL, the table name and the queue URL", () => {
    const values = Object.values(synth.template.toJSON().Outputs as Record<string, { Value: unknown }>).map(
      (o) => o.Value,
    );
    expect(values).toEqual(
      expect.arrayContaining([
        { "Fn::GetAtt": [ids.httpApi, "ApiEndpoint"] },
        { Ref: ids.table },
        { Ref: ids.queue },
      ]),
    );
  });
});
