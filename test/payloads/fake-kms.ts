/**
 * An in-process KMS for tests: the request handler of a real `KMSClient`, speaking KMS's JSON
 * protocol (POST /, `X-Amz-Target: TrentService.<Operation>`, `application/x-amz-json-1.1`,
 * base64 blobs) for GenerateDataKey and Decrypt. Like KMS, Decrypt opens a data key only under the
 * encryption context and key it was generated with, and answers InvalidCiphertextException or
 * IncorrectKeyException otherwise. It counts the calls it answered.
 */
import { KMSClient } from "@aws-sdk/client-kms";
import { randomBytes } from "node:crypto";

export type KmsOperation = "GenerateDataKey" | "Decrypt";

export interface FakeKmsCall {
  operation: KmsOperation;
  keyId: string | undefined;
  encryptionContext: Record<string, string> | undefined;
  keySpec?: string;
}

interface HandledRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: unknown;
}

interface IssuedKey {
  keyId: string;
  plaintext: Buffer;
  context: string;
}

const JSON_1_1 = "application/x-amz-json-1.1";

export class FakeKms {
  readonly calls: FakeKmsCall[] = [];
  /** Milliseconds each answer waits, so that concurrent requests overlap. */
  delayMs = 0;
  private readonly issued = new Map<string, IssuedKey>();
  private readonly faults: { operation: KmsOperation; type: string }[] = [];

  count(operation: KmsOperation): number {
    return this.calls.filter((call) => call.operation === operation).length;
  }

  /** The next call of `operation` is answered with the KMS error `type` (e.g. "ThrottlingException"). */
  failNext(operation: KmsOperation, type: string): void {
    this.faults.push({ operation, type });
  }

  /** A real KMSClient whose requests this fake answers; `maxAttempts: 1` unless told. */
  client(options: { maxAttempts?: number } = {}): KMSClient {
    return new KMSClient({
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: options.maxAttempts ?? 1,
      requestHandler: { handle: (request: HandledRequest) => this.handle(request) },
    });
  }

  private async handle(request: HandledRequest): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Uint8Array } }> {
    const target = header(request, "x-amz-target");
    if (request.method !== "POST" || request.path !== "/" || header(request, "content-type") !== JSON_1_1 || !target?.startsWith("TrentService.")) {
      return { response: error(400, "SerializationException", `not a KMS JSON request: ${request.method} ${request.path} ${String(target)}`) };
    }
    const operation = target.slice("TrentService.".length);
    const input = JSON.parse(bodyText(request.body)) as Record<string, unknown>;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (operation !== "GenerateDataKey" && operation !== "Decrypt") return { response: error(400, "UnknownOperationException", operation) };
    const call: FakeKmsCall = {
      operation,
      keyId: input.KeyId as string | undefined,
      encryptionContext: input.EncryptionContext as Record<string, string> | undefined,
      ...(input.KeySpec === undefined ? {} : { keySpec: input.KeySpec as string }),
    };
    this.calls.push(call);
    const fault = this.faults.findIndex((f) => f.operation === operation);
    if (fault >= 0) {
      const { type } = this.faults.splice(fault, 1)[0] as { type: string };
      return { response: error(400, type, `${type} (injected)`) };
    }
    return { response: operation === "GenerateDataKey" ? this.generateDataKey(call) : this.decrypt(call, input) };
  }

  private generateDataKey(call: FakeKmsCall) {
    if (call.keyId === undefined || call.keySpec !== "AES_256") return error(400, "ValidationException", "KeyId and KeySpec AES_256 are required");
    const plaintext = randomBytes(32);
    // Real blobs are opaque and about 180 bytes; this one is a handle into `issued`.
    const blob = randomBytes(180);
    this.issued.set(blob.toString("base64"), { keyId: call.keyId, plaintext, context: canonical(call.encryptionContext) });
    return ok({ KeyId: arnOf(call.keyId), CiphertextBlob: blob.toString("base64"), Plaintext: plaintext.toString("base64") });
  }

  private decrypt(call: FakeKmsCall, input: Record<string, unknown>) {
    const issued = typeof input.CiphertextBlob === "string" ? this.issued.get(input.CiphertextBlob) : undefined;
    if (issued === undefined || issued.context !== canonical(call.encryptionContext)) return error(400, "InvalidCiphertextException", "");
    if (call.keyId !== undefined && call.keyId !== issued.keyId) return error(400, "IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.");
    return ok({ KeyId: arnOf(issued.keyId), Plaintext: issued.plaintext.toString("base64"), EncryptionAlgorithm: "SYMMETRIC_DEFAULT" });
  }
}

function header(request: HandledRequest, name: string): string | undefined {
  const found = Object.entries(request.headers).find(([key]) => key.toLowerCase() === name);
  return found?.[1];
}

function bodyText(body: unknown): string {
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  return "{}";
}

function canonical(context: Record<string, string> | undefined): string {
  return JSON.stringify(Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function arnOf(keyId: string): string {
  return keyId.startsWith("arn:") ? keyId : `arn:aws:kms:us-east-1:111122223333:${keyId.startsWith("alias/") ? keyId : `key/${keyId}`}`;
}

function ok(answer: Record<string, unknown>) {
  return { statusCode: 200, headers: { "content-type": JSON_1_1 }, body: new TextEncoder().encode(JSON.stringify(answer)) };
}

function error(statusCode: number, type: string, message: string) {
  return {
    statusCode,
    headers: { "content-type": JSON_1_1, "x-amzn-errortype": type },
    body: new TextEncoder().encode(JSON.stringify({ __type: type, message })),
  };
}
