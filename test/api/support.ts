/**
 * For the API tests: a local stack on this run's DynamoDB Local and SQS emulator (own table and
 * queue per file), a fetch wrapper that sends the bearer token, and a table snapshot to prove a
 * refused request wrote nothing.
 */
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import type { AnyWorkflow } from "../../lambdas/core/workflow.js";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../../local/stack.js";
import { uniqueName } from "../support/services.js";

export async function startApiStack(prefix: string, workflows: readonly AnyWorkflow[], extra: Partial<LocalStackOptions> = {}): Promise<LocalStack> {
  return startLocalStack({
    ...extra,
    workflows,
    endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    tableName: uniqueName(prefix),
    queueName: uniqueName(prefix),
    visibilityTimeoutSeconds: 2,
  });
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read whatever came back
  text: string;
}

export interface CallOptions {
  /** An object/array/number is sent as JSON; a string or bytes as they are. */
  body?: unknown;
  headers?: Record<string, string>;
  /** `null`: no Authorization header. Default: the stack's token. */
  token?: string | null;
}

/** One request over real HTTP. `application/json` is the default content type for a JSON body. */
export async function call(stack: LocalStack, method: string, path: string, options: CallOptions = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? stack.bearerToken : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | Uint8Array | undefined;
  if (typeof options.body === "string" || options.body instanceof Uint8Array) body = options.body;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] = "application/json";
  }
  Object.assign(headers, options.headers);
  const res = await fetch(`${stack.apiUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Every item in the table, sorted by key: equal snapshots mean nothing was written in between. */
export async function snapshotTable(stack: LocalStack): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await stack.clients.doc.send(
      new ScanCommand({ TableName: stack.tableName, ConsistentRead: true, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
    );
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  const key = (item: Record<string, unknown>) => `${String(item.PK)}|${String(item.SK)}`;
  return items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Ids of the execution items (META) in the table. */
export function executionIds(items: readonly Record<string, unknown>[]): string[] {
  return items.filter((i) => i.SK === "META").map((i) => String(i.id));
}

/** Polls GET /executions/{id} until `done(status)`; fails after `timeoutMs`. */
export async function waitForStatus(stack: LocalStack, id: string, statuses: readonly string[], timeoutMs = 15_000): Promise<ApiAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await call(stack, "GET", `/executions/${id}`);
    if (answer.status === 200 && statuses.includes(answer.body.status)) return answer;
    if (Date.now() > deadline) throw new Error(`execution ${id} did not reach ${statuses.join("/")} in ${timeoutMs} ms (last: ${answer.text})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What every 4xx answer looks like, and that it carries no stack trace. */
export function expectErrorShape(answer: ApiAnswer, code?: string): void {
  const error = answer.body?.error;
  if (typeof error?.code !== "string" || typeof error?.message !== "string" || Object.keys(answer.body).length !== 1) {
    throw new Error(`not an error body: ${answer.status} ${answer.text.slice(0, 300)}`);
  }
  if (code !== undefined && error.code !== code) throw new Error(`expected error code ${code}, got ${error.code}: ${error.message}`);
  if (/\n\s+at |node_modules|\.ts:\d+/.test(answer.text)) throw new Error(`error leaks a stack trace: ${answer.text.slice(0, 300)}`);
}

/** Waits until the worker has stopped writing (four snapshots 150 ms apart agree), and returns the snapshot. */
export async function quiesce(stack: LocalStack, timeoutMs = 10_000): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  let before = JSON.stringify(await snapshotTable(stack));
  // A busy machine can pause a worker between two writes for longer than one look: the table
  // counts as quiet once three looks in a row, 150 ms apart, find it unchanged.
  let quietLooks = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 150));
    const items = await snapshotTable(stack);
    const after = JSON.stringify(items);
    quietLooks = after === before ? quietLooks + 1 : 0;
    if (quietLooks >= 3) return items;
    if (Date.now() > deadline) throw new Error("the table did not stop changing");
    before = after;
  }
}

/** Runs `request` on a quiet table and checks the table is exactly as before. */
export async function expectNothingWritten(stack: LocalStack, request: () => Promise<ApiAnswer>): Promise<ApiAnswer> {
  const before = await quiesce(stack);
  const answer = await request();
  const after = await snapshotTable(stack);
  if (JSON.stringify(after) !== JSON.stringify(before)) {
    throw new Error(`the table changed on a request answered ${answer.status} ${answer.text.slice(0, 200)} (${before.length} → ${after.length} items)`);
  }
  return answer;
}
