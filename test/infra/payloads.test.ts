/**
 * The payload bucket and the payload key: the bucket's settings, what each engine function is
 * told about them, what its role may do to them, and cdk-nag under each encryption setting.
 * Synthesized without bundling: these tests read the template only.
 */
import { App, type CfnElement, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { Key } from "aws-cdk-lib/aws-kms";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { REPO_HANDLERS_MODULE } from "../../bin/app-stack.js";
import { KMS_EXECUTION_CONTEXT_KEY } from "../../lambdas/payloads/kms.js";
import { PAYLOAD_ENCRYPTION_CONTEXT_KEY } from "../../lib/access.js";
import { DurableWorkflows, type DurableWorkflowsProps } from "../../lib/durable-workflows.js";
import { EXAMPLE_WORKFLOWS, SYNTH_TIMEOUT_MS, synthesizeConstruct, type SynthesizedConstruct } from "./synth-stack.js";

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const IMPORTED_KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const NIGHTLY = { name: "nightly", workflow: "report", rate: "1 day" } as const;

/** Without encryption, a starter included (a schedule), every default otherwise. */
let plain: SynthesizedConstruct;
/** `encryptionKey: true`: the construct's own key. */
let keyed: SynthesizedConstruct;
/** `encryptionKey`: a key of the caller's, by ARN. */
let imported: SynthesizedConstruct;
/** A threshold, an expiration and a retention of its own, destroyed with the stack. */
let tuned: SynthesizedConstruct;

beforeAll(() => {
  plain = synthesizeConstruct(() => ({ schedules: [NIGHTLY] }));
  keyed = synthesizeConstruct(() => ({ schedules: [NIGHTLY], payloads: { encryptionKey: true } }));
  imported = synthesizeConstruct((stack) => ({
    schedules: [NIGHTLY],
    payloads: { encryptionKey: Key.fromKeyArn(stack, "ImportedKey", IMPORTED_KEY_ARN) },
  }));
  tuned = synthesizeConstruct(() => ({
    retention: Duration.days(7),
    removalPolicy: RemovalPolicy.DESTROY,
    payloads: { offloadThresholdBytes: 100_000, objectExpiration: Duration.days(90), encryptionKey: false },
  }));
}, SYNTH_TIMEOUT_MS);

function resourceOf(synth: SynthesizedConstruct, logicalId: string): Resource {
  const found = synth.template.toJSON().Resources[logicalId] as Resource | undefined;
  if (!found) throw new Error(`no resource ${logicalId} in the template`);
  return found;
}

function resourcesOf(synth: SynthesizedConstruct, type: string): Record<string, Resource> {
  return synth.template.findResources(type) as Record<string, Resource>;
}

/** The bucket the payload bucket's server access logs go to. */
function accessLogsBucketId(synth: SynthesizedConstruct): string {
  const ref = resourceOf(synth, synth.logicalId(synth.workflows.payloadBucket)).Properties.LoggingConfiguration?.DestinationBucketName?.Ref;
  if (typeof ref !== "string") throw new Error("the payload bucket logs to no bucket of the stack");
  return ref;
}

/** The engine's functions that touch values, by name. */
function valueFunctions(synth: SynthesizedConstruct): Record<string, IConstruct> {
  const w = synth.workflows;
  return {
    api: w.apiFunction,
    worker: w.workerFunction,
    sweeper: w.sweeperFunction,
    ...(w.starterFunction ? { starter: w.starterFunction } : {}),
  };
}

function environmentOf(synth: SynthesizedConstruct, fn: IConstruct): Record<string, unknown> {
  return resourceOf(synth, synth.logicalId(fn)).Properties.Environment?.Variables ?? {};
}

/** The S3 and KMS statements of the policies attached to `fn`'s role, actions as sorted lists. */
function payloadStatementsOf(synth: SynthesizedConstruct, fn: IConstruct): Statement[] {
  const roleId = resourceOf(synth, synth.logicalId(fn)).Properties.Role["Fn::GetAtt"][0] as string;
  return Object.values(resourcesOf(synth, "AWS::IAM::Policy"))
    .filter((p) => (p.Properties.Roles as Array<{ Ref?: string }>).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
    .map((s) => ({ ...s, Action: (Array.isArray(s.Action) ? s.Action : [s.Action]).sort() }))
    .filter((s) => (s.Action as string[]).some((a) => a.startsWith("s3:") || a.startsWith("kms:")));
}

function bucketArn(synth: SynthesizedConstruct): unknown {
  return { "Fn::GetAtt": [synth.logicalId(synth.workflows.payloadBucket), "Arn"] };
}

function objectsArn(synth: SynthesizedConstruct): unknown {
  return { "Fn::Join": ["", [bucketArn(synth), "/executions/*"]] };
}

const KEY_CONDITION = {
  "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["durable:execution"] },
  Null: { "kms:EncryptionContextKeys": "false" },
};

/** What each function's role may do to the bucket and the key (`keyArn`: none without encryption). */
function expectedStatements(synth: SynthesizedConstruct, keyArn: unknown): Record<string, Statement[]> {
  const kms: Statement[] =
    keyArn === undefined ? [] : [{ Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: keyArn, Condition: KEY_CONDITION }];
  // The same for all four: each reads and writes values, and each may purge an execution whose
  // retention ended (the sweeper, and a start or a child start under that execution's id), so
  // each lists under executions/ and deletes what it finds.
  const statements: Statement[] = [
    { Effect: "Allow", Action: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"], Resource: objectsArn(synth) },
    { Effect: "Allow", Action: ["s3:ListBucket"], Resource: bucketArn(synth), Condition: { StringLike: { "s3:prefix": "executions/*" } } },
    ...kms,
  ];
  return { api: statements, worker: statements, sweeper: statements, starter: statements };
}

/** Every acknowledged rule under `scope`, as `[construct path, rule id]`. */
function acknowledgedIn(scope: IConstruct): Array<[string, string]> {
  return scope.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === "aws:cdk:acknowledged-rules")
      .flatMap((m) => Object.keys(m.data as Record<string, string>).map((id): [string, string] => [c.node.path, id.replace(/^annotation::/i, "")])),
  );
}

describe("the payload bucket", () => {
  function bucket(synth: SynthesizedConstruct): Resource {
    return resourceOf(synth, synth.logicalId(synth.workflows.payloadBucket));
  }

  it("blocks all public access, is encrypted with S3-managed keys and keeps no versions", () => {
    for (const synth of [plain, keyed, imported]) {
      const props = bucket(synth).Properties;
      expect(props.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      // Also with a payload key: the engine has sealed the bytes before S3 sees them.
      expect(props.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] });
      expect(props.VersioningConfiguration).toBeUndefined();
    }
  });

  it("refuses every request not made over TLS", () => {
    const bucketId = plain.logicalId(plain.workflows.payloadBucket);
    const policies = Object.values(resourcesOf(plain, "AWS::S3::BucketPolicy")).filter((p) => p.Properties.Bucket.Ref === bucketId);
    expect(policies).toHaveLength(1);
    expect(policies[0]!.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: "Deny",
        Principal: { AWS: "*" },
        Action: "s3:*",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
        Resource: [bucketArn(plain), { "Fn::Join": ["", [bucketArn(plain), "/*"]] }],
      },
    ]);
  });

  it("aborts incomplete uploads after a day and expires objects a year past the retention", () => {
    expect(bucket(plain).Properties.LifecycleConfiguration.Rules).toEqual([
      { Id: "AbortIncompleteUploads", Status: "Enabled", AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
      // retention 30 days + 365
      { Id: "ExpireOrphans", Status: "Enabled", ExpirationInDays: 395 },
    ]);
    expect(bucket(tuned).Properties.LifecycleConfiguration.Rules).toEqual([
      { Id: "AbortIncompleteUploads", Status: "Enabled", AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
      { Id: "ExpireOrphans", Status: "Enabled", ExpirationInDays: 90 },
    ]);
    const shortRetention = synthesizeConstruct(() => ({ retention: Duration.hours(36) }));
    // A part of a day counts as a day.
    expect(bucket(shortRetention).Properties.LifecycleConfiguration.Rules[1]).toMatchObject({ ExpirationInDays: 367 });
  });

  it("logs server access to a bucket of its own: private, TLS only, S3-managed keys, written by S3's log delivery for this bucket alone", () => {
    const logsId = accessLogsBucketId(plain);
    expect(logsId).not.toBe(plain.logicalId(plain.workflows.payloadBucket));
    const logs = resourceOf(plain, logsId);
    expect(logs.Type).toBe("AWS::S3::Bucket");
    expect(logs.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(logs.Properties.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] });
    expect(logs.Properties.LoggingConfiguration).toBeUndefined();
    const [policy] = Object.values(resourcesOf(plain, "AWS::S3::BucketPolicy")).filter((p) => p.Properties.Bucket.Ref === logsId);
    const statements = policy!.Properties.PolicyDocument.Statement as Array<Record<string, any>>;
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: "Deny", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: "Allow",
        Principal: { Service: "logging.s3.amazonaws.com" },
        Action: "s3:PutObject",
        Condition: expect.objectContaining({ ArnLike: { "aws:SourceArn": bucketArn(plain) } }),
      }),
    );
  });

  it("is retained with the table by default, and destroyed (emptied first) with it under removalPolicy DESTROY", () => {
    for (const id of [plain.logicalId(plain.workflows.payloadBucket), accessLogsBucketId(plain)]) {
      expect(resourceOf(plain, id).DeletionPolicy).toBe("Retain");
      expect(resourceOf(plain, id).DeletionPolicy).toBe(resourceOf(plain, plain.logicalId(plain.workflows.table)).DeletionPolicy);
    }
    expect(Object.keys(resourcesOf(plain, "Custom::S3AutoDeleteObjects"))).toEqual([]);

    const destroyedIds = [tuned.logicalId(tuned.workflows.payloadBucket), accessLogsBucketId(tuned)];
    for (const id of destroyedIds) expect(resourceOf(tuned, id).DeletionPolicy).toBe("Delete");
    expect(resourceOf(tuned, tuned.logicalId(tuned.workflows.table)).DeletionPolicy).toBe("Delete");
    const emptied = Object.values(resourcesOf(tuned, "Custom::S3AutoDeleteObjects")).map((r) => r.Properties.BucketName.Ref as string);
    expect(emptied.sort()).toEqual([...destroyedIds].sort());
  });

  it("is named in the stack outputs", () => {
    const outputs = plain.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const [name] = Object.entries(outputs).filter(([id]) => id.includes("PayloadBucketName"));
    expect(name?.[1].Value).toEqual({ Ref: plain.logicalId(plain.workflows.payloadBucket) });
  });
});

describe("the functions that touch values", () => {
  it("are told the bucket and the threshold, as decimal bytes", () => {
    for (const [synth, threshold] of [
      [plain, "32768"],
      [tuned, "100000"],
    ] as const) {
      const functions = valueFunctions(synth);
      expect(Object.keys(functions).length).toBeGreaterThanOrEqual(3);
      for (const [name, fn] of Object.entries(functions)) {
        expect(environmentOf(synth, fn), name).toMatchObject({
          DURABLE_PAYLOAD_BUCKET: { Ref: synth.logicalId(synth.workflows.payloadBucket) },
          DURABLE_PAYLOAD_THRESHOLD_BYTES: threshold,
        });
      }
    }
    expect(Object.keys(valueFunctions(plain)).sort()).toEqual(["api", "starter", "sweeper", "worker"]);
  });

  it("are told no key when values are not encrypted", () => {
    for (const synth of [plain, tuned]) {
      for (const [name, fn] of Object.entries(valueFunctions(synth))) expect(environmentOf(synth, fn), name).not.toHaveProperty("DURABLE_PAYLOAD_KMS_KEY");
    }
  });

  it("are told the key's ARN when values are encrypted", () => {
    const createdKeyArn = { "Fn::GetAtt": [keyed.logicalId(keyed.workflows.payloadKey!), "Arn"] };
    for (const [synth, arn] of [
      [keyed, createdKeyArn],
      [imported, IMPORTED_KEY_ARN],
    ] as const) {
      for (const [name, fn] of Object.entries(valueFunctions(synth))) expect(environmentOf(synth, fn).DURABLE_PAYLOAD_KMS_KEY, name).toEqual(arn);
    }
  });

  it("but the cursor key's rotation is told nothing of them", () => {
    for (const synth of [plain, keyed]) {
      const env = environmentOf(synth, synth.workflows.cursorKeyRotationFunction);
      expect(Object.keys(env).filter((name) => name.startsWith("DURABLE_PAYLOAD_"))).toEqual([]);
    }
  });
});

describe("what each role may do to the bucket and the key", () => {
  it("without encryption: objects under executions/ only, listing under executions/ alone, for each function that touches values, no KMS", () => {
    for (const synth of [plain, tuned]) {
      const expected = expectedStatements(synth, undefined);
      for (const [name, fn] of Object.entries(valueFunctions(synth))) expect(payloadStatementsOf(synth, fn), name).toEqual(expected[name]);
    }
  });

  it("with the construct's key: the two key actions on that key, only under the engine's encryption context", () => {
    const expected = expectedStatements(keyed, { "Fn::GetAtt": [keyed.logicalId(keyed.workflows.payloadKey!), "Arn"] });
    for (const [name, fn] of Object.entries(valueFunctions(keyed))) expect(payloadStatementsOf(keyed, fn), name).toEqual(expected[name]);
  });

  it("the encryption context the grants allow is the one the engine's KMS codec sends", () => {
    expect(PAYLOAD_ENCRYPTION_CONTEXT_KEY).toBe(KMS_EXECUTION_CONTEXT_KEY);
    expect(KEY_CONDITION["ForAllValues:StringEquals"]["kms:EncryptionContextKeys"]).toEqual([KMS_EXECUTION_CONTEXT_KEY]);
  });

  it("with a key of the caller's: the same, on its ARN", () => {
    const expected = expectedStatements(imported, IMPORTED_KEY_ARN);
    for (const [name, fn] of Object.entries(valueFunctions(imported))) expect(payloadStatementsOf(imported, fn), name).toEqual(expected[name]);
  });

  it("the cursor key's rotation may do nothing to either", () => {
    for (const synth of [plain, keyed, imported]) expect(payloadStatementsOf(synth, synth.workflows.cursorKeyRotationFunction)).toEqual([]);
  });

  it("no role anywhere holds an S3 or KMS action beyond these", () => {
    for (const synth of [keyed, imported]) {
      const roleIds = new Set(
        [...Object.values(valueFunctions(synth)), synth.workflows.cursorKeyRotationFunction].map(
          (fn) => resourceOf(synth, synth.logicalId(fn)).Properties.Role["Fn::GetAtt"][0] as string,
        ),
      );
      for (const policy of Object.values(resourcesOf(synth, "AWS::IAM::Policy"))) {
        const ofEngine = (policy.Properties.Roles as Array<{ Ref?: string }>).some((r) => r.Ref !== undefined && roleIds.has(r.Ref));
        if (ofEngine) continue;
        const actions = (policy.Properties.PolicyDocument.Statement as Statement[]).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
        expect(actions.filter((a) => a.startsWith("s3:") || a.startsWith("kms:"))).toEqual([]);
      }
    }
  });
});

describe("the payload key", () => {
  it("with encryptionKey true, is a key of the construct's, rotated", () => {
    const keys = Object.entries(resourcesOf(keyed, "AWS::KMS::Key"));
    expect(keys).toHaveLength(1);
    expect(keys[0]![0]).toBe(keyed.logicalId(keyed.workflows.payloadKey!));
    expect(keys[0]![1].Properties.EnableKeyRotation).toBe(true);
    // Retained, as the table is: without the key, retained values cannot be read.
    expect(keys[0]![1].DeletionPolicy).toBe("Retain");
  });

  it("with a key of the caller's, is that key, and the construct makes none", () => {
    expect(imported.workflows.payloadKey?.keyArn).toBe(IMPORTED_KEY_ARN);
    expect(Object.keys(resourcesOf(imported, "AWS::KMS::Key"))).toEqual([]);
  });

  it("without encryption, does not exist", () => {
    for (const synth of [plain, tuned]) {
      expect(synth.workflows.payloadKey).toBeUndefined();
      expect(Object.keys(resourcesOf(synth, "AWS::KMS::Key"))).toEqual([]);
      expect(JSON.stringify(synth.template.toJSON())).not.toMatch(/"kms:/);
    }
  });
});

describe("payload props that cannot work are refused at synth, naming the prop", () => {
  function build(payloads: DurableWorkflowsProps["payloads"], props: Partial<DurableWorkflowsProps> = {}): () => DurableWorkflows {
    return () => {
      const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
      return new DurableWorkflows(new Stack(app, "S"), "W", { workflowsEntry: EXAMPLE_WORKFLOWS, handlersModule: REPO_HANDLERS_MODULE, payloads, ...props });
    };
  }

  it("a threshold outside 1,024..300,000 bytes, or not whole", () => {
    for (const offloadThresholdBytes of [1_023, 300_001, 0, -1, 4_096.5, Number.NaN]) {
      expect(build({ offloadThresholdBytes }), String(offloadThresholdBytes)).toThrow(
        /payloads\.offloadThresholdBytes must be a whole number from 1024 to 300000 .*got /,
      );
    }
    expect(build({ offloadThresholdBytes: 1_024 })).not.toThrow();
    expect(build({ offloadThresholdBytes: 300_000 })).not.toThrow();
  });

  it("an objectExpiration that is not whole days, or not longer than the retention", () => {
    expect(build({ objectExpiration: Duration.hours(36) })).toThrow(/payloads\.objectExpiration must be whole days/);
    expect(build({ objectExpiration: Duration.days(30) })).toThrow(/payloads\.objectExpiration \(30 days\) must be longer than retention \(30 days\)/);
    expect(build({ objectExpiration: Duration.days(10) }, { retention: Duration.days(14) })).toThrow(/must be longer than retention/);
    expect(build({ objectExpiration: Duration.days(31) })).not.toThrow();
  });
});

describe("cdk-nag", () => {
  it("finds nothing to report under each encryption setting and removal policy", () => {
    for (const synth of [plain, keyed, imported, tuned]) {
      const report = new AwsSolutionsChecks().validateScope(synth.stack);
      expect(report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(", ")}`)).toEqual([]);
    }
  });

  it("is told to accept only the executions/ prefix of the payload bucket, on each role granted objects", () => {
    for (const synth of [plain, keyed, imported]) {
      const bucketId = synth.logicalId(synth.workflows.payloadBucket);
      const finding = `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/executions/*]`;
      expect(acknowledgedIn(synth.stack).sort()).toEqual(
        ["ApiRole", "WorkerRole", "SweeperRole", "StarterRole"].map((role): [string, string] => [`Configured/Workflows/${role}`, finding]).sort(),
      );
    }
  });

  it("would report that prefix, unacknowledged (the acknowledgement is not vacuous)", () => {
    const stack = new Stack(new App({ context: { "aws:cdk:bundling-stacks": [] } }), "Unacknowledged");
    const acknowledge = vi.spyOn(Validations.prototype, "acknowledge").mockImplementation(() => undefined);
    let workflows: DurableWorkflows;
    try {
      workflows = new DurableWorkflows(stack, "Workflows", { workflowsEntry: EXAMPLE_WORKFLOWS, handlersModule: REPO_HANDLERS_MODULE });
    } finally {
      acknowledge.mockRestore();
    }
    expect(acknowledgedIn(stack)).toEqual([]);
    const report = new AwsSolutionsChecks().validateScope(stack);
    const bucketId = stack.getLogicalId(workflows.payloadBucket.node.defaultChild as CfnElement);
    expect(report.violations.map((v) => v.ruleName)).toEqual([`AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/executions/*]`]);
    expect(report.violations[0]!.violatingResources.map((r) => r.constructPath).sort()).toEqual(
      ["Api", "Sweeper", "Worker"].map((role) => `Unacknowledged/Workflows/${role}Role/DefaultPolicy/Resource`).sort(),
    );
  });
});
