/**
 * `durable dev --encrypt-values`: every value is sealed (gzip, then AES-256-GCM data keys under a
 * local master key) before DynamoDB Local or the S3 emulator sees it; the API answers with the
 * values in clear. The key lives in <project>/.durable/payload-key (owner-only), made on first
 * use and read again after a restart; `--in-memory` keeps one only while the server runs.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devCommand } from "../../../local/cli/commands/dev.js";
import { resolveDevOptions } from "../../../local/cli/dev/options.js";
import { devPayloadCodecs, type DevServer, startDevServer } from "../../../local/cli/dev/run-dev.js";

let dir: string;
let server: DevServer;
const printed: string[] = [];

const workflowsFile = `
const echo = {
  name: "echo",
  version: 1,
  fn: async (ctx: any, input: { marker: string; big: string }) => {
    const small = await ctx.step("small", () => input.marker + "-small");
    const big = await ctx.step("big", () => input.marker + "-big-" + input.big);
    return { small, bigLength: big.length, marker: input.marker };
  },
};
export const workflows = [echo];
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "durable-dev-encrypt-"));
  await writeFile(join(dir, "package.json"), '{ "name": "encrypt-app", "private": true, "type": "module" }\n');
  await writeFile(join(dir, "workflows.ts"), workflowsFile);
  const options = await resolveDevOptions({ port: 0, token: "dev-token", inMemory: true, watch: false, encryptValues: true }, { cwd: dir, env: {} });
  server = await startDevServer(options, { print: (text) => printed.push(text) });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const response = await fetch(`${server.stack.apiUrl}${path}`, {
    method,
    headers: { authorization: "Bearer dev-token", "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

describe("durable dev --encrypt-values", () => {
  it("reads the flag, and keeps the key in the project (or only in memory with --in-memory)", async () => {
    let flags: Record<string, unknown> = {};
    await devCommand()
      .action((_file: unknown, given: Record<string, unknown>) => {
        flags = given;
      })
      .parseAsync(["--encrypt-values"], { from: "user" });
    expect(flags.encryptValues).toBe(true);
    expect((await resolveDevOptions({ encryptValues: true }, { cwd: dir, env: {} })).payloadKey).toBe(join(dir, ".durable", "payload-key"));
    expect((await resolveDevOptions({}, { cwd: dir, env: {} })).payloadKey).toBeUndefined();
    expect(server.options.payloadKey).toBe("memory");
    expect(printed.join("\n")).toMatch(/values +sealed \(gzip, AES-256-GCM\) under a key kept only while this runs/);
  });

  it("stores no value in clear in DynamoDB Local or the S3 emulator, and answers in clear", async () => {
    const marker = `CLEAR-${randomBytes(6).toString("hex")}`;
    const big = randomBytes(40_000).toString("hex"); // 80 KB: offloaded
    const started = await api("POST", "/executions", { workflow: "echo", id: "sealed-1", input: { marker, big } });
    expect(started.status).toBe(201);
    let done: Record<string, any> = {};
    for (let i = 0; i < 200 && done.status !== "completed"; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      done = (await api("GET", "/executions/sealed-1")).json;
    }
    expect(done).toMatchObject({ status: "completed", input: { marker, big }, output: { small: `${marker}-small`, marker } });
    const history = await api("GET", "/executions/sealed-1/history");
    expect(history.json.events.find((e: { name?: string }) => e.name === "big")?.result).toBe(`${marker}-big-${big}`);

    const { clients, tableName, payloadBucket } = server.stack;
    const items = await clients.dynamo.send(new ScanCommand({ TableName: tableName }));
    expect(items.Items?.length ?? 0).toBeGreaterThan(3);
    for (const item of items.Items ?? []) {
      expect(JSON.stringify(item, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v))).not.toContain(marker);
    }
    const objects = await clients.s3.send(new ListObjectsV2Command({ Bucket: payloadBucket }));
    expect(objects.KeyCount ?? 0).toBeGreaterThan(0);
    for (const { Key } of objects.Contents ?? []) {
      const object = await clients.s3.send(new GetObjectCommand({ Bucket: payloadBucket, Key }));
      expect(Buffer.from(await object.Body!.transformToByteArray()).includes(Buffer.from(marker))).toBe(false);
    }
  });

  it("makes the key file owner-only on first use and seals with the same key after a restart", async () => {
    const keyFile = join(dir, ".durable", "payload-key");
    const first = await devPayloadCodecs(keyFile);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const sealed = await first.encode(new TextEncoder().encode('"kept"'), { executionId: "e-1" });
    const again = await devPayloadCodecs(keyFile);
    expect(new TextDecoder().decode(await again.decode(sealed, { executionId: "e-1" }))).toBe('"kept"');
    expect(await readFile(keyFile, "utf8")).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    await writeFile(keyFile, "not a key\n");
    await expect(devPayloadCodecs(keyFile)).rejects.toMatchObject({ code: "INVALID_PAYLOAD_KEY" });
  });
});
