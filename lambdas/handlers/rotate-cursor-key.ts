/**
 * Rotates the cursor-signing secret (the construct's `CursorSecret`): a Secrets Manager rotation
 * function for a secret whose value is a random key, with no other system to update.
 *
 * Secrets Manager calls it four times per rotation, with the same ClientRequestToken (the new
 * version's id), and retries a step that fails; each step is safe to run again:
 *
 * - createSecret: puts a new random key as that version, staged AWSPENDING, unless it has a value;
 * - setSecret, testSecret: nothing to set; the test checks the pending key is one the API can sign with;
 * - finishSecret: moves AWSCURRENT to the new version (the service moves AWSPREVIOUS to the old one).
 *
 * The API signs with AWSCURRENT and still accepts AWSPREVIOUS (handlers/cursor-keys.ts), so a
 * cursor handed out before a rotation keeps working until the next one.
 */
import { randomInt } from "node:crypto";
import {
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";

/** What Secrets Manager sends a rotation function. */
export interface RotationEvent {
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly Step: "createSecret" | "setSecret" | "testSecret" | "finishSecret";
}

/** The commands the rotation sends (and the only actions its role is granted, with DescribeSecret). */
export type RotationCommand = DescribeSecretCommand | GetSecretValueCommand | PutSecretValueCommand | UpdateSecretVersionStageCommand;

/** The part of `SecretsManagerClient` the rotation uses; a test passes an in-process fake. */
export interface RotationClient {
  send(command: RotationCommand): Promise<unknown>;
}

/** The key's format, as the construct generates the first one: 64 characters of A–Z, a–z, 0–9 (about 381 bits). */
export const CURSOR_KEY_LENGTH = 64;
const KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const KEY_FORMAT = new RegExp(`^[A-Za-z0-9]{${CURSOR_KEY_LENGTH},}$`);

/** A new key: each character drawn uniformly (randomInt has no modulo bias). */
export function newCursorKey(): string {
  let key = "";
  for (let i = 0; i < CURSOR_KEY_LENGTH; i += 1) key += KEY_ALPHABET[randomInt(KEY_ALPHABET.length)];
  return key;
}

/** The rotation handler, for a client (a test's fake, or the SDK's); `log` gets one JSON line per step done. */
export function createCursorKeyRotationHandler({ client, log = (entry) => console.info(JSON.stringify(entry)) }: { client: RotationClient; log?: (entry: Record<string, unknown>) => void }) {
  const describe = async (secretId: string) => (await client.send(new DescribeSecretCommand({ SecretId: secretId }))) as DescribeSecretCommandOutput;
  /** The version's value, or undefined when it has none (yet) under that stage. */
  const valueOf = async (secretId: string, versionId: string, stage: string): Promise<string | undefined> => {
    try {
      const out = (await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionId: versionId, VersionStage: stage }))) as GetSecretValueCommandOutput;
      return out.SecretString;
    } catch (err) {
      if (err instanceof Error && err.name === "ResourceNotFoundException") return undefined;
      throw err;
    }
  };

  return async (event: RotationEvent): Promise<void> => {
    const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
    // The checks of AWS's rotation templates: rotation is on, and the token is the version being rotated in.
    const metadata = await describe(secretId);
    if (!metadata.RotationEnabled) throw new Error(`rotation is not enabled on secret ${secretId}`);
    const stages = metadata.VersionIdsToStages ?? {};
    const tokenStages = stages[token];
    if (tokenStages === undefined) throw new Error(`version ${token} of secret ${secretId} has no stage for rotation`);
    if (tokenStages.includes("AWSCURRENT")) {
      // Already rotated in (finishSecret ran): every step has nothing left to do.
      log({ message: "cursor key rotation: version already AWSCURRENT", step, secretId, token });
      return;
    }
    if (!tokenStages.includes("AWSPENDING")) throw new Error(`version ${token} of secret ${secretId} is not staged AWSPENDING`);

    switch (step) {
      case "createSecret": {
        if ((await valueOf(secretId, token, "AWSPENDING")) !== undefined) return; // a retry: the key is there
        // Same token, same version: a concurrent retry that lost the race gets ResourceExistsException, and is retried.
        await client.send(new PutSecretValueCommand({ SecretId: secretId, ClientRequestToken: token, SecretString: newCursorKey(), VersionStages: ["AWSPENDING"] }));
        break;
      }
      case "setSecret":
        // No other system holds the key: the API reads it from the secret.
        break;
      case "testSecret": {
        const pending = await valueOf(secretId, token, "AWSPENDING");
        if (pending === undefined || !KEY_FORMAT.test(pending)) {
          throw new Error(`the pending version ${token} of secret ${secretId} is not a key of ${CURSOR_KEY_LENGTH}+ letters and digits`);
        }
        break;
      }
      case "finishSecret": {
        const current = Object.entries(stages).find(([, s]) => s.includes("AWSCURRENT"))?.[0];
        await client.send(
          new UpdateSecretVersionStageCommand({
            SecretId: secretId,
            VersionStage: "AWSCURRENT",
            MoveToVersionId: token,
            ...(current === undefined ? {} : { RemoveFromVersionId: current }),
          }),
        );
        break;
      }
      default:
        throw new Error(`unknown rotation step ${String(step)}`);
    }
    log({ message: "cursor key rotation: step done", step, secretId, token });
  };
}

/** The deployed entry: `export const handler = cursorKeyRotationHandlerFromEnv()`. */
export function cursorKeyRotationHandlerFromEnv() {
  return createCursorKeyRotationHandler({ client: new SecretsManagerClient({}) });
}
