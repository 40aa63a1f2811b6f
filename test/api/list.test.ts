/**
 * GET /executions: newest first, filters, paging through everything with cursors, and refused
 * cursors. The first part runs over HTTP against the local stack; the second drives the store's
 * listing directly with random executions (many sharing a millisecond) and small read budgets, so
 * the merge of the five status partitions and the short pages of a selective filter get exercised.
 */
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXECUTION_STATUSES, type ExecutionStatus } from "../../lambdas/core/status.js";
import { InvalidCursorError } from "../../lambdas/store/cursor.js";
import { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { executionPk, META_SK } from "../../lambdas/store/keys.js";
import { createTable } from "../../lambdas/store/table.js";
import { approval, greet } from "../../examples/index.js";
import type { LocalStack } from "../../local/stack.js";
import { testClients, uniqueName } from "../support/services.js";
import { call, expectErrorShape, startApiStack, waitForStatus } from "./support.js";

interface Started {
  id: string;
  workflow: "greet" | "approval";
  status: ExecutionStatus;
}

let stack: LocalStack;
/** In creation order, oldest first. */
const started: Started[] = [];

beforeAll(async () => {
  stack = await startApiStack("api-list", [greet, approval]);
  const plan: Started["workflow"][] = [];
  for (let i = 0; i < 22; i += 1) plan.push(i % 3 === 0 ? "greet" : "approval");
  for (const [i, workflow] of plan.entries()) {
    const id = `list-${String(i).padStart(2, "0")}`;
    const input = workflow === "greet" ? { name: `n${i}` } : { request: `r${i}` };
    const answer = await call(stack, "POST", "/executions", { body: { workflow, id, input } });
    expect(answer.status).toBe(201);
    const status: ExecutionStatus = workflow === "greet" ? "completed" : i % 4 === 1 ? "canceled" : "sleeping";
    started.push({ id, workflow, status });
    await new Promise((r) => setTimeout(r, 3)); // distinct createdAtMs, so "newest first" has one answer
  }
  for (const e of started.filter((s) => s.workflow === "approval")) await waitForStatus(stack, e.id, ["sleeping"]);
  for (const e of started.filter((s) => s.status === "canceled")) {
    expect((await call(stack, "POST", `/executions/${e.id}/cancel`)).status).toBe(202);
  }
  await Promise.all(started.map((e) => waitForStatus(stack, e.id, [e.status], 20_000)));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

function expected(filter: { workflow?: string; status?: string }): string[] {
  return started
    .filter((e) => (filter.workflow === undefined || e.workflow === filter.workflow) && (filter.status === undefined || e.status === filter.status))
    .map((e) => e.id)
    .reverse();
}

async function listAll(query: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const answer = await call(stack, "GET", `/executions?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.executions.length).toBeLessThanOrEqual(limit);
    ids.push(...answer.body.executions.map((e: { id: string }) => e.id));
    cursor = answer.body.cursor;
    pages += 1;
    expect(pages).toBeLessThan(100);
  } while (cursor);
  return { ids, pages };
}

const filters: { workflow?: string; status?: string }[] = [
  {},
  { workflow: "approval" },
  { workflow: "greet" },
  { status: "sleeping" },
  { status: "completed" },
  { status: "canceled" },
  { status: "failed" },
  { workflow: "approval", status: "canceled" },
  { workflow: "approval", status: "sleeping" },
  { workflow: "greet", status: "sleeping" },
];

function queryOf(filter: { workflow?: string; status?: string }): string {
  return new URLSearchParams(filter as Record<string, string>).toString();
}

describe("GET /executions over HTTP", () => {
  it.each(filters.map((f) => [queryOf(f) || "(no filter)", f] as const))("%s: one page of 100 holds them all, newest first", async (_name, filter) => {
    const answer = await call(stack, "GET", `/executions?${queryOf(filter)}&limit=100`);
    expect(answer.status).toBe(200);
    expect(answer.body.executions.map((e: { id: string }) => e.id)).toEqual(expected(filter));
    expect(answer.body.cursor).toBeUndefined();
    for (const e of answer.body.executions) {
      const mine = started.find((s) => s.id === e.id);
      expect(e).toMatchObject({ workflow: mine?.workflow, status: mine?.status });
      expect(Object.keys(e).sort()).toEqual(expect.arrayContaining(["createdAt", "id", "run", "status", "updatedAt", "version", "workflow"]));
      expect(e).not.toHaveProperty("input");
    }
  });

  it.each(filters.map((f) => [queryOf(f) || "(no filter)", f] as const))("%s: paging with limits 1, 3 and 7 gives the same list", async (_name, filter) => {
    for (const limit of [1, 3, 7]) {
      const { ids, pages } = await listAll(queryOf(filter), limit);
      expect(ids, `limit ${limit}`).toEqual(expected(filter));
      expect(pages).toBeGreaterThanOrEqual(Math.ceil(ids.length / limit));
    }
  });

  it("defaults to 20 per page", async () => {
    const first = await call(stack, "GET", "/executions");
    expect(first.body.executions).toHaveLength(20);
    expect(first.body.cursor).toEqual(expect.any(String));
    const rest = await call(stack, "GET", `/executions?cursor=${first.body.cursor}`);
    expect([...first.body.executions, ...rest.body.executions].map((e: { id: string }) => e.id)).toEqual(expected({}));
  });

  it("takes another limit with the same cursor", async () => {
    const first = await call(stack, "GET", "/executions?workflow=approval&limit=2");
    const next = await call(stack, "GET", `/executions?workflow=approval&limit=5&cursor=${first.body.cursor}`);
    expect(next.body.executions.map((e: { id: string }) => e.id)).toEqual(expected({ workflow: "approval" }).slice(2, 7));
  });

  it("refuses forged, tampered, truncated and other queries' cursors with 400 INVALID_CURSOR", async () => {
    const page = await call(stack, "GET", "/executions?status=sleeping&limit=2");
    const cursor = page.body.cursor as string;
    const [body, signature] = cursor.split(".") as [string, string];
    const payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
    const moved = Buffer.from(JSON.stringify({ ...payload, p: { sleeping: { at: 0, id: "list-00" } } })).toString("base64url");
    const history = (await call(stack, "GET", `/executions/${started[1]?.id}/history?limit=1`)).body.cursor as string;
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
    const refused: [string, string][] = [
      ["not base64", "status=sleeping&cursor=%%%"],
      ["random", "status=sleeping&cursor=bm90IGEgY3Vyc29y"],
      ["unsigned JSON", `status=sleeping&cursor=${body}`],
      ["edited position, old signature", `status=sleeping&cursor=${moved}.${signature}`],
      ["one character of the signature changed", `status=sleeping&cursor=${body}.${flip(signature, 3)}`],
      ["one character of the body changed", `status=sleeping&cursor=${flip(body, 5)}.${signature}`],
      ["truncated", `status=sleeping&cursor=${cursor.slice(0, -4)}`],
      ["empty", "status=sleeping&cursor="],
      ["another status", `status=completed&cursor=${cursor}`],
      ["no filter", `cursor=${cursor}`],
      ["a workflow filter too", `workflow=approval&status=sleeping&cursor=${cursor}`],
      ["a history cursor", `status=sleeping&cursor=${history}`],
      ["very long", `status=sleeping&cursor=${"a".repeat(5000)}.${signature}`],
    ];
    for (const [what, query] of refused) {
      const answer = await call(stack, "GET", `/executions?${query}`);
      expect(answer.status, what).toBe(400);
      expectErrorShape(answer, "INVALID_CURSOR");
    }
    // The real one still works.
    expect((await call(stack, "GET", `/executions?status=sleeping&cursor=${cursor}`)).status).toBe(200);
  });
});

describe("the store's listing (random executions, many in the same millisecond)", () => {
  const SEED = 20_261_126;
  const clients = testClients();

  it("pages through exactly the matching executions, newest first, whatever the page size and read budget", async () => {
    console.info(`list property seed: ${SEED}`);
    const execution = fc.record({
      workflow: fc.constantFrom("a", "b", "c"),
      status: fc.constantFrom(...EXECUTION_STATUSES),
      atMs: fc.integer({ min: 0, max: 12 }),
    });
    // Each shape as often as the others: the unfiltered one merges five index partitions.
    const query = fc
      .record({
        shape: fc.constantFrom("all", "workflow", "status", "workflow+status"),
        workflow: fc.constantFrom("a", "b", "c"),
        status: fc.constantFrom(...EXECUTION_STATUSES),
        limit: fc.integer({ min: 1, max: 8 }),
        readBudget: fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 4 })),
      })
      .map(({ shape, workflow, status, ...rest }) => ({
        ...rest,
        workflow: shape.startsWith("workflow") ? workflow : undefined,
        status: shape.endsWith("status") ? status : undefined,
      }));
    await fc.assert(
      fc.asyncProperty(fc.array(execution, { minLength: 8, maxLength: 30 }), fc.array(query, { minLength: 2, maxLength: 6 }), async (executions, queries) => {
        const tableName = uniqueName("list-prop");
        await createTable(clients.dynamo, tableName);
        try {
          const store = new DynamoExecutionStore({ client: clients.doc, tableName });
          const baseMs = 1_700_000_000_000;
          await Promise.all(
            executions.map(async (e, i) => {
              const id = `e${i}`;
              await store.createExecution({ id, workflow: e.workflow, version: 1, input: null, nowMs: baseMs + e.atMs });
              if (e.status !== "running") {
                await clients.doc.send(
                  new UpdateCommand({
                    TableName: tableName,
                    Key: { PK: executionPk(id), SK: META_SK },
                    UpdateExpression: "SET #status = :status",
                    ExpressionAttributeNames: { "#status": "status" },
                    ExpressionAttributeValues: { ":status": e.status },
                  }),
                );
              }
            }),
          );
          for (const q of queries) {
            const want = executions
              .map((e, i) => ({ ...e, id: `e${i}` }))
              .filter((e) => (q.workflow === undefined || e.workflow === q.workflow) && (q.status === undefined || e.status === q.status));
            const got: { id: string; createdAtMs: number; status: string; workflow: string }[] = [];
            let after: unknown;
            for (let pages = 0; ; pages += 1) {
              expect(pages, "pages").toBeLessThan(400);
              const page = await store.listExecutions({
                limit: q.limit,
                ...(q.workflow === undefined ? {} : { workflow: q.workflow }),
                ...(q.status === undefined ? {} : { status: q.status }),
                ...(q.readBudget === undefined ? {} : { readBudget: q.readBudget }),
                ...(after === undefined ? {} : { after }),
              });
              expect(page.executions.length).toBeLessThanOrEqual(q.limit);
              got.push(...page.executions);
              if (page.next === undefined) break;
              after = JSON.parse(JSON.stringify(page.next)); // a position survives the cursor's JSON
            }
            const ids = got.map((e) => e.id);
            expect(new Set(ids).size, "no execution twice").toBe(ids.length);
            expect([...ids].sort()).toEqual(want.map((e) => e.id).sort());
            const times = got.map((e) => e.createdAtMs);
            expect(times, "newest first").toEqual([...times].sort((x, y) => y - x));
            for (const e of got) {
              if (q.status) expect(e.status).toBe(q.status);
              if (q.workflow) expect(e.workflow).toBe(q.workflow);
            }
          }
        } finally {
          await clients.dynamo.send(new DeleteTableCommand({ TableName: tableName }));
        }
      }),
      { seed: SEED, numRuns: 25 },
    );
  }, 60_000);

  it("refuses a position it did not make", async () => {
    const tableName = uniqueName("list-bad-pos");
    await createTable(clients.dynamo, tableName);
    const store = new DynamoExecutionStore({ client: clients.doc, tableName });
    for (const after of [null, 5, "x", [], { running: 1 }, { nope: null }, { running: { at: "1", id: "x" } }, { running: { at: 1, id: "" } }]) {
      await expect(store.listExecutions({ limit: 5, after }), JSON.stringify(after)).rejects.toBeInstanceOf(InvalidCursorError);
    }
    await clients.dynamo.send(new DeleteTableCommand({ TableName: tableName }));
  });
});
