/**
 * Large values through the real path: the HTTP API, the SQS poller's worker, DynamoDB Local and
 * the S3 emulator. A 5 MB input goes through three steps of 2 MB each and a 1 MB signal, with
 * warm workers and with a worker that has never seen the execution (a restarted stack); GET and
 * history name the large values and the values route serves them; with the envelope codec no
 * DynamoDB item and no S3 object holds a value in clear; retention removes the objects with the
 * execution.
 */
import { createHash, randomBytes } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { inject } from "vitest";
import { afterAll, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/core/workflow.js";
import { MAX_API_VALUE_BYTES } from "../../lambdas/core/limits.js";
import { createPayloadCodecs } from "../../lambdas/payloads/codec.js";
import { gzipCodec } from "../../lambdas/payloads/gzip.js";
import { localEnvelopeCodec } from "../../lambdas/payloads/local-envelope.js";
import type { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../local/stack.js";
import { call } from "../api/support.js";
import { uniqueName } from "../support/services.js";

const MB = 1_000_000;

/** `bytes` characters of JSON-safe text that does not compress to nothing, with `marker` inside. */
function blob(bytes: number, marker: string): string {
  const noise = randomBytes(Math.ceil(bytes / 2)).toString("hex");
  return `${marker}${noise}`.slice(0, bytes - marker.length) + marker;
}

function digest(...parts: string[]): string {
  const hash = createHash("sha256");
  for (const p of parts) hash.update(p);
  return hash.digest("hex");
}

const pipeline = defineWorkflow("large-pipeline", async (ctx, input: { blob: string; marker: string }) => {
  const a = await ctx.step("a", () => blob(2 * MB, `${input.marker}-a`));
  const b = await ctx.step("b", () => blob(2 * MB, `${input.marker}-b`));
  const c = await ctx.step("c", () => blob(2 * MB, `${input.marker}-c`));
  const small = await ctx.step("small", () => `${input.marker}-small`);
  const more = await ctx.waitForSignal<{ blob: string }>("more");
  return { digest: digest(input.blob, a, b, c, small, more.blob), echo: c };
});

const stacks: LocalStack[] = [];
afterAll(async () => {
  for (const stack of stacks) await stack.stop();
});

async function stackOn(tableName: string, extra: Partial<LocalStackOptions> = {}): Promise<LocalStack> {
  const stack = await startLocalStack({
    workflows: [pipeline],
    endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    tableName,
    queueName: tableName,
    visibilityTimeoutSeconds: 2,
    viewer: false,
    ...extra,
  });
  stacks.push(stack);
  return stack;
}

async function waitForStatus(stack: LocalStack, id: string, statuses: string[], timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const answer = await call(stack, "GET", `/executions/${id}`);
    if (answer.status === 200 && statuses.includes(answer.body.status)) return answer.body;
    if (Date.now() > until) throw new Error(`execution ${id} is ${JSON.stringify(answer.body.status)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The whole value `name` of execution `id`, fetched part by part from the values route. */
async function fetchValue(stack: LocalStack, id: string, name: string): Promise<{ text: string; parts: number }> {
  const first = await call(stack, "GET", `/executions/${id}/values/${name}`);
  expect(first.status).toBe(200);
  const parts = Number(first.headers.get("x-durable-value-parts"));
  let text = first.text;
  for (let part = 1; part < parts; part += 1) {
    const next = await call(stack, "GET", `/executions/${id}/values/${name}?part=${part}`);
    expect(next.status).toBe(200);
    text += next.text;
  }
  expect(Buffer.byteLength(text)).toBe(Number(first.headers.get("x-durable-value-bytes")));
  return { text, parts };
}

function storeOf(stack: LocalStack): DynamoExecutionStore {
  return stack.deps.store as DynamoExecutionStore;
}

/** Runs the pipeline to its signal wait; returns the input it was started with. */
async function startPipeline(stack: LocalStack, id: string, marker: string): Promise<{ blob: string; marker: string }> {
  const input = { blob: blob(5 * MB, `${marker}-input`), marker };
  const started = await call(stack, "POST", "/executions", { body: { workflow: "large-pipeline", id, input } });
  expect(started.status).toBe(201);
  // The answer names the input rather than carrying 5 MB back.
  expect(started.body.input).toBeUndefined();
  expect(started.body.valueRefs.input).toMatchObject({ name: "input", bytes: Buffer.byteLength(JSON.stringify(input)) });
  await waitForStatus(stack, id, ["sleeping"]);
  return input;
}

async function sendMore(stack: LocalStack, id: string, marker: string): Promise<string> {
  const more = blob(MB, `${marker}-signal`);
  const sent = await call(stack, "POST", `/executions/${id}/signals/more`, { body: { blob: more } });
  expect(sent.status).toBe(202);
  return more;
}

async function expectCompleted(stack: LocalStack, id: string, input: { blob: string; marker: string }, more: string): Promise<void> {
  const done = await waitForStatus(stack, id, ["completed", "failed"]);
  expect(done.status).toBe("completed");
  const output = JSON.parse((await fetchValue(stack, id, "output")).text) as { digest: string; echo: string };
  // The steps' results are random: the history holds them, and the digest must match them.
  const history = await call(stack, "GET", `/executions/${id}/history?limit=100`);
  expect(history.status).toBe(200);
  const results: string[] = [];
  for (const event of history.body.events as Record<string, any>[]) {
    if (event.type !== "StepCompleted") continue;
    if (event.valueRefs?.result) {
      expect(event.result).toBeUndefined();
      expect(event.valueRefs.result.href).toBe(`/executions/${id}/values/${event.seq}.result`);
      results.push(JSON.parse((await fetchValue(stack, id, `${event.seq}.result`)).text) as string);
    } else results.push(event.result as string);
  }
  expect(results).toHaveLength(4);
  expect(results[0]?.length).toBe(2 * MB);
  expect(output.echo).toBe(results[2]);
  expect(output.digest).toBe(digest(input.blob, ...results, more));
  const fetchedInput = await fetchValue(stack, id, "input");
  expect(fetchedInput.parts).toBe(3);
  expect(JSON.parse(fetchedInput.text)).toStrictEqual(input);
}

describe("large values through the API, the worker, DynamoDB Local and the S3 emulator", () => {
  const marker = `CLEAR-${randomBytes(6).toString("hex")}`;

  it("warm: 5 MB input, three 2 MB steps, a 1 MB signal, completed by workers that keep the run", async () => {
    const stack = await stackOn(uniqueName("warm"));
    const input = await startPipeline(stack, "warm-1", marker);
    const before = storeOf(stack).objectCounts;
    const more = await sendMore(stack, "warm-1", marker);
    await waitForStatus(stack, "warm-1", ["completed", "failed"]);
    // The warm run read none of its objects again (the signal's it wrote itself: the API and the
    // worker share a process here); it wrote the signal's, its history event's and the output's.
    const after = storeOf(stack).objectCounts;
    expect(after.gets - before.gets).toBe(0);
    expect(after.puts - before.puts).toBe(3);
    await expectCompleted(stack, "warm-1", input, more);
    // Objects: input, three results, the signal (inbox and history share nothing: the history event is its own object), the output.
    const listed = await stack.clients.s3.send(new ListObjectsV2Command({ Bucket: stack.payloadBucket, Prefix: "executions/warm-1/" }));
    expect(listed.KeyCount ?? 0).toBeGreaterThanOrEqual(6);
    // Without a codec the objects hold the values as JSON: the marker is there in clear.
    const object = await stack.clients.s3.send(new GetObjectCommand({ Bucket: stack.payloadBucket, Key: listed.Contents?.[0]?.Key }));
    expect(Buffer.from(await object.Body!.transformToByteArray()).toString("utf8")).toContain(marker);
  });

  it("cold: a restarted stack replays from DynamoDB and S3 and completes", async () => {
    // Its own table and queue: no other stack's worker takes its wake-ups.
    const tableName = uniqueName("cold");
    const first = await stackOn(tableName);
    const input = await startPipeline(first, "cold-1", marker);
    await first.stop();
    const second = await stackOn(tableName);
    const before = storeOf(second).objectCounts;
    const more = await sendMore(second, "cold-1", marker);
    await waitForStatus(second, "cold-1", ["completed", "failed"]);
    const after = storeOf(second).objectCounts;
    // The cold worker read the input and the three results from S3 to replay.
    expect(after.gets - before.gets).toBeGreaterThanOrEqual(4);
    await expectCompleted(second, "cold-1", input, more);
  });

  it("refuses a value over the API's limit with 413 naming it, and stores nothing", async () => {
    const stack = await stackOn(uniqueName("too-large"));
    const input = "x".repeat(MAX_API_VALUE_BYTES - 1); // with its quotes, one byte over
    const answer = await call(stack, "POST", "/executions", { body: { workflow: "large-pipeline", id: "too-large", input } });
    expect(answer.status).toBe(413);
    expect(answer.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(answer.body.error.message).toContain(String(MAX_API_VALUE_BYTES));
    expect((await call(stack, "GET", "/executions/too-large")).status).toBe(404);
    const listed = await stack.clients.s3.send(new ListObjectsV2Command({ Bucket: stack.payloadBucket, Prefix: "executions/too-large/" }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });
});

describe("with the envelope codec (gzip, then AES-256-GCM data keys under a local master key)", () => {
  const tableName = uniqueName("sealed");
  const marker = `CLEAR-${randomBytes(6).toString("hex")}`;
  const codecs = createPayloadCodecs({ codecs: [gzipCodec(), localEnvelopeCodec({ masterKey: randomBytes(32), keyId: "test" })] });

  it("completes warm and cold, and no DynamoDB item or S3 object holds a value in clear", async () => {
    const first = await stackOn(tableName, { payloads: { codecs } });
    const warmInput = await startPipeline(first, "sealed-warm", marker);
    const warmMore = await sendMore(first, "sealed-warm", marker);
    await expectCompleted(first, "sealed-warm", warmInput, warmMore);
    const coldInput = await startPipeline(first, "sealed-cold", marker);
    await first.stop();
    const second = await stackOn(tableName, { payloads: { codecs } });
    const coldMore = await sendMore(second, "sealed-cold", marker);
    await expectCompleted(second, "sealed-cold", coldInput, coldMore);

    const items = await second.clients.dynamo.send(new ScanCommand({ TableName: tableName }));
    expect(items.Items?.length ?? 0).toBeGreaterThan(10);
    for (const item of items.Items ?? []) expect(clearText(item)).not.toContain(marker);
    const objects = await second.clients.s3.send(new ListObjectsV2Command({ Bucket: second.payloadBucket }));
    expect(objects.KeyCount ?? 0).toBeGreaterThanOrEqual(10);
    for (const { Key } of objects.Contents ?? []) {
      const object = await second.clients.s3.send(new GetObjectCommand({ Bucket: second.payloadBucket, Key }));
      const bytes = Buffer.from(await object.Body!.transformToByteArray());
      expect(bytes.includes(Buffer.from(marker))).toBe(false);
      // Compressed before it was sealed: random hex halves.
      expect(bytes.length).toBeLessThan(4 * MB);
    }
  });
});

describe("retention", () => {
  it("removes an ended execution's objects with its items", async () => {
    const tableName = uniqueName("retained");
    // Objects are deleted if written before the middle of the retention, by S3's clock in whole
    // seconds: a retention of 3 s puts that a second or more after the last object.
    const stack = await stackOn(tableName, { storeOptions: { retentionSeconds: 3 } });
    const marker = "retained";
    const input = await startPipeline(stack, "retained-1", marker);
    const more = await sendMore(stack, "retained-1", marker);
    await expectCompleted(stack, "retained-1", input, more);
    const prefix = "executions/retained-1/";
    const before = await stack.clients.s3.send(new ListObjectsV2Command({ Bucket: stack.payloadBucket, Prefix: prefix }));
    expect(before.KeyCount ?? 0).toBeGreaterThanOrEqual(6);
    await new Promise((r) => setTimeout(r, 3_500));
    // This purge, or the stack's own sweeper if it came first.
    await storeOf(stack).purgeExpired({ nowMs: Date.now(), limit: 10 });
    const items = await stack.clients.dynamo.send(new ScanCommand({ TableName: tableName }));
    expect((items.Items ?? []).filter((item) => item.PK?.S === "EXEC#retained-1")).toEqual([]);
    const after = await stack.clients.s3.send(new ListObjectsV2Command({ Bucket: stack.payloadBucket, Prefix: prefix }));
    expect(after.KeyCount ?? 0).toBe(0);
    expect((await call(stack, "GET", "/executions/retained-1")).status).toBe(404);
  });
});

/** Every string and binary attribute of a raw DynamoDB item, as text. */
function clearText(item: Record<string, unknown>): string {
  return JSON.stringify(item, (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString("latin1") : value));
}
