/**
 * History paging with big events, against DynamoDB Local: a query stops at 1 MB, and a Lambda
 * answers at most 6 MB, so a page of `limit` events can hold fewer; paging must still walk the
 * whole history, in order, with nothing lost or repeated.
 */
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiHandler } from "../../lambdas/handlers/api.js";
import { createLambdaContext } from "../../local/http-api.js";
import { WorkflowRegistry } from "../../lambdas/core/workflow.js";
import { type ApiDeps, getHistory, MAX_PAGE_BYTES } from "../../lambdas/engine/executions.js";
import { createCursorCodec } from "../../lambdas/store/cursor.js";
import { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { executionPk, historySk } from "../../lambdas/store/keys.js";
import { createTable } from "../../lambdas/store/table.js";
import { testClients, uniqueName } from "../support/services.js";

const clients = testClients();
const tableName = uniqueName("api-history");
const store = new DynamoExecutionStore({ client: clients.doc, tableName });
const deps: ApiDeps = {
  store,
  scheduler: { schedule: async () => undefined, wakeNow: async () => undefined },
  registry: new WorkflowRegistry([]),
  clock: Date.now,
  cursors: createCursorCodec("a test secret of at least 16 bytes"),
};
const BIG_EVENTS = 24;
const RESULT_BYTES = 300_000;

beforeAll(async () => {
  await createTable(clients.dynamo, tableName);
  await store.createExecution({ id: "big", workflow: "w", version: 1, input: null, nowMs: Date.now() });
  await store.createExecution({ id: "small", workflow: "w", version: 1, input: null, nowMs: Date.now() });
  await store.createExecution({ id: "quotes", workflow: "w", version: 1, input: null, nowMs: Date.now() });
  for (let seq = 2; seq <= BIG_EVENTS + 1; seq += 1) {
    const event = { seq, atMs: Date.now(), type: "StepCompleted", position: seq, name: `s${seq}`, attempt: 1, result: "x".repeat(RESULT_BYTES) };
    await clients.doc.send(new PutCommand({ TableName: tableName, Item: { PK: executionPk("big"), SK: historySk(seq), type: event.type, data: JSON.stringify(event) } }));
    // The worst case for escaping: a result of quotes is 340 KB of JSON, 4 bytes a quote once the
    // page travels as a string in Lambda's response.
    const quotes = { ...event, result: '"'.repeat(170_000) };
    await clients.doc.send(new PutCommand({ TableName: tableName, Item: { PK: executionPk("quotes"), SK: historySk(seq), type: event.type, data: JSON.stringify(quotes) } }));
  }
});

/** Lambda's limit for a synchronous response: the whole envelope API Gateway gets, as JSON. */
const LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024;

afterAll(async () => {
  await clients.dynamo.send(new DeleteTableCommand({ TableName: tableName }));
});

async function pageThrough(id: string, limit: number): Promise<{ seqs: number[]; pages: number[] }> {
  const seqs: number[] = [];
  const pages: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await getHistory(deps, id, { limit, ...(cursor ? { cursor } : {}) });
    expect(page.events.length).toBeLessThanOrEqual(limit);
    expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThan(MAX_PAGE_BYTES + RESULT_BYTES);
    seqs.push(...page.events.map((e) => e.seq as number));
    pages.push(page.events.length);
    cursor = page.cursor;
  } while (cursor);
  return { seqs, pages };
}

describe("history pages", () => {
  const all = Array.from({ length: BIG_EVENTS + 1 }, (_, i) => i + 1);

  it("walk a history of 7 MB in pages under the Lambda response limit, though each query stops at 1 MB", async () => {
    const { seqs, pages } = await pageThrough("big", 1000);
    expect(seqs).toEqual(all);
    expect(pages.length).toBeGreaterThan(1);
  });

  it.each([1, 2, 5, 7])("walk it with limit %i too", async (limit) => {
    expect((await pageThrough("big", limit)).seqs).toEqual(all);
  });

  it("end without a cursor on the last page, and a one-event history fits one page", async () => {
    const page = await getHistory(deps, "small", { limit: 100 });
    expect(page.events.map((e) => e.type)).toEqual(["ExecutionStarted"]);
    expect(page.cursor).toBeUndefined();
  });

  it("keep every response, as Lambda sends it, under 6 MB, even for events that are all quotes", async () => {
    const handler = createApiHandler(deps);
    const context = createLambdaContext({ functionName: "api", region: "us-east-1", timeoutMs: 10_000 });
    const seqs: number[] = [];
    let cursor: string | undefined;
    do {
      const query = new URLSearchParams({ limit: "1000", ...(cursor ? { cursor } : {}) }).toString();
      const event = {
        version: "2.0",
        routeKey: "$default",
        rawPath: "/executions/quotes/history",
        rawQueryString: query,
        queryStringParameters: Object.fromEntries(new URLSearchParams(query)),
        headers: {},
        isBase64Encoded: false,
        requestContext: { http: { method: "GET", path: "/executions/quotes/history", protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" } },
      } as unknown as APIGatewayProxyEventV2;
      const response = (await handler(event, context)) as APIGatewayProxyStructuredResultV2;
      expect(response.statusCode).toBe(200);
      expect(Buffer.byteLength(JSON.stringify(response))).toBeLessThanOrEqual(LAMBDA_RESPONSE_BYTES);
      const page = JSON.parse(response.body as string) as { events: { seq: number }[]; cursor?: string };
      seqs.push(...page.events.map((e) => e.seq));
      cursor = page.cursor;
    } while (cursor);
    expect(seqs).toEqual(Array.from({ length: BIG_EVENTS + 1 }, (_, i) => i + 1));
  });

  it("refuse a cursor made for another execution's history", async () => {
    const first = await getHistory(deps, "big", { limit: 1 });
    await expect(getHistory(deps, "small", { limit: 1, cursor: first.cursor as string })).rejects.toMatchObject({ code: "INVALID_CURSOR" });
  });
});
