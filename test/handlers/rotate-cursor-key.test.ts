/**
 * The cursor key's rotation function (handlers/rotate-cursor-key.ts) against an in-process Secrets
 * Manager that keeps versions and moves staging labels as the service does: RotateSecret stages
 * AWSPENDING on a new version with no value, PutSecretValue gives it one, moving AWSCURRENT puts
 * AWSPREVIOUS on the version it left, and a rotation that finished drops AWSPENDING.
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidRequestException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { cursorCodecFrom } from "../../lambdas/handlers/cursor-keys.js";
import { createCursorKeyRotationHandler, type RotationClient, type RotationEvent } from "../../lambdas/handlers/rotate-cursor-key.js";

const ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:CursorSecret-AbCdEf";
const FIRST_KEY = "k".repeat(64);
const STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"] as const;

const notFound = (message: string) => new ResourceNotFoundException({ message, $metadata: {} });

function fakeSecretsManager(options: { rotationEnabled?: boolean } = {}) {
  const versions = new Map<string, { value?: string; stages: Set<string> }>([["v0", { value: FIRST_KEY, stages: new Set(["AWSCURRENT"]) }]]);
  const rotationEnabled = options.rotationEnabled ?? true;
  const calls: string[] = [];
  const holding = (stage: string) => [...versions.entries()].find(([, v]) => v.stages.has(stage))?.[0];
  const moveStage = (stage: string, to: string) => {
    for (const v of versions.values()) v.stages.delete(stage);
    versions.get(to)!.stages.add(stage);
  };
  const checkArn = (id: string | undefined) => {
    if (id !== ARN) throw notFound(`no secret ${id}`);
  };

  const client: RotationClient = {
    async send(command) {
      calls.push(command.constructor.name);
      if (command instanceof DescribeSecretCommand) {
        checkArn(command.input.SecretId);
        return {
          ARN,
          RotationEnabled: rotationEnabled,
          VersionIdsToStages: Object.fromEntries([...versions].filter(([, v]) => v.stages.size > 0).map(([id, v]) => [id, [...v.stages]])),
        };
      }
      if (command instanceof GetSecretValueCommand) {
        const { SecretId, VersionId, VersionStage } = command.input;
        checkArn(SecretId);
        const id = VersionId ?? holding(VersionStage ?? "AWSCURRENT");
        const version = id === undefined ? undefined : versions.get(id);
        if (!version || version.value === undefined || (VersionStage !== undefined && !version.stages.has(VersionStage))) {
          throw notFound("Secrets Manager can't find the specified secret value for staging label or version");
        }
        return { ARN, VersionId: id, SecretString: version.value, VersionStages: [...version.stages] };
      }
      if (command instanceof PutSecretValueCommand) {
        const { SecretId, ClientRequestToken, SecretString, VersionStages } = command.input;
        checkArn(SecretId);
        const id = ClientRequestToken!;
        const existing = versions.get(id);
        if (existing?.value !== undefined) {
          if (existing.value !== SecretString) throw new ResourceExistsException({ message: `version ${id} already exists with another value`, $metadata: {} });
          return { ARN, VersionId: id };
        }
        versions.set(id, { value: SecretString!, stages: existing?.stages ?? new Set() });
        for (const stage of VersionStages ?? ["AWSCURRENT"]) moveStage(stage, id);
        return { ARN, VersionId: id };
      }
      if (command instanceof UpdateSecretVersionStageCommand) {
        const { SecretId, VersionStage, MoveToVersionId, RemoveFromVersionId } = command.input;
        checkArn(SecretId);
        const holder = holding(VersionStage!);
        if (holder !== undefined && holder !== MoveToVersionId && holder !== RemoveFromVersionId) {
          throw new InvalidRequestException({ message: `${VersionStage} is attached to ${holder}; name it in RemoveFromVersionId`, $metadata: {} });
        }
        if (!versions.has(MoveToVersionId!)) throw notFound(`no version ${MoveToVersionId}`);
        moveStage(VersionStage!, MoveToVersionId!);
        if (VersionStage === "AWSCURRENT" && holder !== undefined && holder !== MoveToVersionId) moveStage("AWSPREVIOUS", holder);
        return { ARN, VersionId: MoveToVersionId };
      }
      throw new Error(`the fake does not know ${String((command as object).constructor.name)}`);
    },
  };

  return {
    client,
    calls,
    /** What RotateSecret does before calling the function: a new version id, staged AWSPENDING, no value. */
    startRotation(token: string) {
      if (!rotationEnabled) throw new InvalidRequestException({ message: "rotation is not enabled", $metadata: {} });
      versions.set(token, { stages: new Set() });
      moveStage("AWSPENDING", token);
    },
    /** What the service does once finishSecret returned with AWSCURRENT on the new version. */
    completeRotation(token: string) {
      if (versions.get(token)?.stages.has("AWSCURRENT")) versions.get(token)!.stages.delete("AWSPENDING");
    },
    stagesOf: (id: string) => [...(versions.get(id)?.stages ?? [])].sort(),
    valueOf: (id: string) => versions.get(id)?.value,
    valueAt: (stage: string) => {
      const id = holding(stage);
      return id === undefined ? undefined : versions.get(id)?.value;
    },
  };
}

const event = (token: string, step: RotationEvent["Step"]): RotationEvent => ({ SecretId: ARN, ClientRequestToken: token, Step: step });

async function rotate(sm: ReturnType<typeof fakeSecretsManager>, token: string) {
  const handler = createCursorKeyRotationHandler({ client: sm.client, log: () => {} });
  sm.startRotation(token);
  for (const step of STEPS) await handler(event(token, step));
  sm.completeRotation(token);
}

describe("the cursor key's rotation", () => {
  it("makes a new random key AWSCURRENT and leaves the old one AWSPREVIOUS", async () => {
    const sm = fakeSecretsManager();
    await rotate(sm, "t1");
    expect([sm.stagesOf("v0"), sm.stagesOf("t1")]).toEqual([["AWSPREVIOUS"], ["AWSCURRENT"]]);
    const key = sm.valueOf("t1")!;
    expect(key).toMatch(/^[A-Za-z0-9]{64}$/); // the format of the key the construct generates
    expect(key).not.toBe(FIRST_KEY);

    await rotate(sm, "t2");
    expect([sm.stagesOf("v0"), sm.stagesOf("t1"), sm.stagesOf("t2")]).toEqual([[], ["AWSPREVIOUS"], ["AWSCURRENT"]]);
    expect(sm.valueOf("t2")).not.toBe(key);
  });

  it("can run each step again (Secrets Manager retries) with the same outcome", async () => {
    const sm = fakeSecretsManager();
    const handler = createCursorKeyRotationHandler({ client: sm.client, log: () => {} });
    sm.startRotation("t1");
    await handler(event("t1", "createSecret"));
    const pending = sm.valueOf("t1");
    await handler(event("t1", "createSecret"));
    expect(sm.valueOf("t1")).toBe(pending); // the key it made is kept, not replaced
    for (const step of ["setSecret", "setSecret", "testSecret", "testSecret"] as const) await handler(event("t1", step));
    expect([sm.stagesOf("v0"), sm.stagesOf("t1")]).toEqual([["AWSCURRENT"], ["AWSPENDING"]]);
    await handler(event("t1", "finishSecret"));
    await handler(event("t1", "finishSecret"));
    expect([sm.stagesOf("v0"), sm.stagesOf("t1")]).toEqual([["AWSPREVIOUS"], ["AWSCURRENT", "AWSPENDING"]]);
    // Any step again once the version is current, even after the service dropped AWSPENDING, changes nothing.
    sm.completeRotation("t1");
    for (const step of STEPS) await handler(event("t1", step));
    expect([sm.stagesOf("v0"), sm.stagesOf("t1"), sm.valueOf("t1")]).toEqual([["AWSPREVIOUS"], ["AWSCURRENT"], pending]);
    expect(sm.calls.filter((c) => c === "PutSecretValueCommand")).toHaveLength(1);
    expect(sm.calls.filter((c) => c === "UpdateSecretVersionStageCommand")).toHaveLength(1);
  });

  it("refuses a token that is not the version being rotated in", async () => {
    const sm = fakeSecretsManager();
    const handler = createCursorKeyRotationHandler({ client: sm.client, log: () => {} });
    await expect(handler(event("unknown", "createSecret"))).rejects.toThrow(/has no stage for rotation/);
    await rotate(sm, "t1");
    // v0 is AWSPREVIOUS now: neither pending nor current.
    for (const step of STEPS) await expect(handler(event("v0", step))).rejects.toThrow(/not staged AWSPENDING/);
    expect([sm.stagesOf("v0"), sm.stagesOf("t1")]).toEqual([["AWSPREVIOUS"], ["AWSCURRENT"]]);
  });

  it("refuses a secret whose rotation is not enabled", async () => {
    const sm = fakeSecretsManager({ rotationEnabled: false });
    const handler = createCursorKeyRotationHandler({ client: sm.client, log: () => {} });
    await expect(handler(event("v0", "createSecret"))).rejects.toThrow(/rotation is not enabled/);
    expect(sm.calls).toEqual(["DescribeSecretCommand"]);
  });

  it("fails testSecret when the pending value is not a key", async () => {
    const sm = fakeSecretsManager();
    const handler = createCursorKeyRotationHandler({ client: sm.client, log: () => {} });
    sm.startRotation("t1");
    await sm.client.send(new PutSecretValueCommand({ SecretId: ARN, ClientRequestToken: "t1", SecretString: "short", VersionStages: ["AWSPENDING"] }));
    await expect(handler(event("t1", "testSecret"))).rejects.toThrow(/not a key of 64\+ letters and digits/);
  });

  it("keeps the API's cursors working: one signed before a rotation decodes after it, and so does one signed after", async () => {
    const sm = fakeSecretsManager();
    let now = 0;
    const codec = cursorCodecFrom(async (stage) => sm.valueAt(stage), { maxAgeMs: 300_000, now: () => now });
    const before = (await codec()).encode("q", { page: 1 });

    await rotate(sm, "t1");
    now += 300_001; // the API re-reads the secret
    const afterOne = await codec();
    expect(afterOne.decode("q", before)).toEqual({ page: 1 });
    const after = afterOne.encode("q", { page: 2 });
    expect(afterOne.decode("q", after)).toEqual({ page: 2 });

    // One more rotation: the cursor from before the first is refused, the one from between still works.
    await rotate(sm, "t2");
    now += 300_001;
    const afterTwo = await codec();
    expect(afterTwo.decode("q", after)).toEqual({ page: 2 });
    expect(() => afterTwo.decode("q", before)).toThrow(/bad signature/);
  });
});
