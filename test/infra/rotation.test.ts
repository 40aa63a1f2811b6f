/**
 * The cursor secret rotates on a schedule, through the construct's own rotation function
 * (lambdas/handlers/rotate-cursor-key.ts), whose role may touch that secret only, with the four
 * actions the function calls; and cdk-nag has no rotation finding left to acknowledge.
 */
import { App, Duration, Stack } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_HANDLERS_MODULE } from "../../bin/app-stack.js";
import { DurableWorkflows } from "../../lib/durable-workflows.js";
import { EXAMPLE_WORKFLOWS, grantsOf, SYNTH_TIMEOUT_MS, synthesizeConstruct, type SynthesizedConstruct } from "./synth-stack.js";

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };

let byDefault: SynthesizedConstruct;
let weekly: SynthesizedConstruct;

beforeAll(() => {
  byDefault = synthesizeConstruct(() => ({}));
  weekly = synthesizeConstruct(() => ({ cursorKeyRotation: Duration.days(7) }));
}, SYNTH_TIMEOUT_MS);

function resourcesOf(synth: SynthesizedConstruct, type: string): Record<string, Resource> {
  const all = synth.template.toJSON().Resources as Record<string, Resource>;
  return Object.fromEntries(Object.entries(all).filter(([, r]) => r.Type === type));
}

describe("the cursor secret's rotation", () => {
  it("is scheduled every 30 days by default, with the rotation function", () => {
    const w = byDefault.workflows;
    const schedules = Object.values(resourcesOf(byDefault, "AWS::SecretsManager::RotationSchedule"));
    expect(schedules.map((s) => s.Properties)).toEqual([
      {
        SecretId: { Ref: byDefault.logicalId(w.cursorSecret) },
        RotationLambdaARN: { "Fn::GetAtt": [byDefault.logicalId(w.cursorKeyRotationFunction), "Arn"] },
        RotationRules: { ScheduleExpression: "rate(30 days)" },
      },
    ]);
  });

  it("follows cursorKeyRotation, and refuses less than a day", () => {
    const [schedule] = Object.values(resourcesOf(weekly, "AWS::SecretsManager::RotationSchedule"));
    expect(schedule?.Properties.RotationRules).toEqual({ ScheduleExpression: "rate(7 days)" });
    const stack = new Stack(new App({ context: { "aws:cdk:bundling-stacks": [] } }), "TooOften");
    expect(
      () => new DurableWorkflows(stack, "Workflows", { workflowsEntry: EXAMPLE_WORKFLOWS, handlersModule: REPO_HANDLERS_MODULE, cursorKeyRotation: Duration.hours(12) }),
    ).toThrow(/cursorKeyRotation must be from one day/);
  });

  it("runs a function whose role may only describe, read, put and restage the cursor secret (and write its logs)", () => {
    const w = byDefault.workflows;
    const fnId = byDefault.logicalId(w.cursorKeyRotationFunction);
    const fn = resourcesOf(byDefault, "AWS::Lambda::Function")[fnId]!;
    const names = {
      [byDefault.logicalId(w.cursorSecret)]: "cursor secret",
      [fn.Properties.LoggingConfig.LogGroup.Ref as string]: "rotation logs",
    };
    expect(grantsOf(byDefault.template, fnId, names)).toEqual([
      "logs:CreateLogStream on rotation logs",
      "logs:PutLogEvents on rotation logs",
      "secretsmanager:DescribeSecret on cursor secret",
      "secretsmanager:GetSecretValue on cursor secret",
      "secretsmanager:PutSecretValue on cursor secret",
      "secretsmanager:UpdateSecretVersionStage on cursor secret",
    ]);
    // Nothing of the engine's: no table, no queue in its environment.
    expect(Object.keys(fn.Properties.Environment.Variables).sort()).toEqual(["NODE_OPTIONS", "POWERTOOLS_SERVICE_NAME"]);
  });

  it("may be invoked by Secrets Manager for this secret only, before the schedule exists", () => {
    const w = byDefault.workflows;
    const fnId = byDefault.logicalId(w.cursorKeyRotationFunction);
    const permissions = Object.entries(resourcesOf(byDefault, "AWS::Lambda::Permission")).filter(
      ([, p]) => p.Properties.Principal === "secretsmanager.amazonaws.com",
    );
    expect(permissions.map(([, p]) => p.Properties)).toEqual([
      {
        Action: "lambda:InvokeFunction",
        FunctionName: { "Fn::GetAtt": [fnId, "Arn"] },
        Principal: "secretsmanager.amazonaws.com",
        SourceArn: { Ref: byDefault.logicalId(w.cursorSecret) },
        SourceAccount: { Ref: "AWS::AccountId" },
      },
    ]);
    const [schedule] = Object.values(resourcesOf(byDefault, "AWS::SecretsManager::RotationSchedule"));
    expect(schedule?.DependsOn).toContain(permissions[0]![0]);
  });

  it("leaves cdk-nag nothing to report, with nothing acknowledged but the payload bucket's object prefix", () => {
    const report = new AwsSolutionsChecks().validateScope(byDefault.stack);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(", ")}`)).toEqual([]);
    // test/infra/payloads.test.ts holds those to the executions/ prefix of the payload bucket.
    const objectsFinding = /^(annotation::)?AwsSolutions-IAM5\[Resource::<\w+\.Arn>\/executions\/\*\]$/i;
    const acknowledged = byDefault.stack.node.findAll().flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === "aws:cdk:acknowledged-rules")
        .flatMap((m) => Object.keys(m.data as Record<string, string>).filter((id) => !objectsFinding.test(id)).map((id) => `${c.node.path} ${id}`)),
    );
    expect(acknowledged).toEqual([]);
  });
});
