/**
 * Fuzzing the API over HTTP: malformed bodies, paths, ids, cursors, query strings and headers.
 * Every answer must be a 2xx or a 4xx with the error shape (never a 5xx), and afterwards the
 * table may hold only executions that a 201 reported (and items of those executions).
 *
 * Fixed seed, printed; to replay a failure, fast-check prints the path to pass as `path`.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approval, greet } from "../../examples/index.js";
import { MAX_VALUE_BYTES } from "../../lambdas/store/dynamo-store.js";
import type { LocalStack } from "../../local/stack.js";
import { call, expectErrorShape, snapshotTable, startApiStack, waitForStatus } from "./support.js";

const SEED = 424_242;
const NUM_RUNS = 300;
const ANSWERS = new Set([200, 201, 202, 400, 401, 404, 405, 409, 413, 415]);

let stack: LocalStack;
/** Executions the API reported as created (201), plus the fixtures. */
const created = new Set<string>();
const cursors: string[] = [];

beforeAll(async () => {
  stack = await startApiStack("api-fuzz", [greet, approval]);
  for (const [id, body] of [
    ["fuzz-waiting", { workflow: "approval", input: { request: "r" } }],
    ["fuzz-done", { workflow: "greet", input: { name: "Ada" } }],
  ] as const) {
    expect((await call(stack, "POST", "/executions", { body: { ...body, id } })).status).toBe(201);
    created.add(id);
  }
  await waitForStatus(stack, "fuzz-waiting", ["sleeping"]);
  await waitForStatus(stack, "fuzz-done", ["completed"]);
  cursors.push((await call(stack, "GET", "/executions?limit=1")).body.cursor);
  cursors.push((await call(stack, "GET", "/executions/fuzz-done/history?limit=2")).body.cursor);
  expect(cursors.every((c) => typeof c === "string")).toBe(true);
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

// ---- what gets thrown at the API ---------------------------------------------------------------

const printable = fc.string({ unit: "grapheme-ascii", maxLength: 40 });
const anyText = fc.string({ unit: "binary", maxLength: 40 });

/** Path segments: valid, existing, and hostile ids, sent raw or percent-encoded. */
const segment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("fuzz-waiting", "fuzz-done") },
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/) },
  { weight: 2, arbitrary: fc.constantFrom("..", ".", "%", "%zz", "%00", "%E0%A4%A", "%2F", "a%20b", "x".repeat(129), "a.b", "~", "0", "-", "_") },
  { weight: 2, arbitrary: anyText.filter((s) => s.length > 0).map(encodeURIComponent) },
);

const signalName = fc.oneof(fc.constantFrom("decision", "go", "a.b:c", "has%20space", "%zz", ""), printable.map(encodeURIComponent));

const path = fc.oneof(
  { weight: 2, arbitrary: fc.constant("/executions") },
  { weight: 3, arbitrary: segment.map((id) => `/executions/${id}`) },
  { weight: 2, arbitrary: segment.map((id) => `/executions/${id}/history`) },
  { weight: 2, arbitrary: fc.tuple(segment, signalName).map(([id, name]) => `/executions/${id}/signals/${name}`) },
  { weight: 2, arbitrary: segment.map((id) => `/executions/${id}/cancel`) },
  { weight: 1, arbitrary: fc.constant("/workflows") },
  { weight: 2, arbitrary: fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => `/${parts.join("/")}`) },
  { weight: 1, arbitrary: fc.constantFrom("/", "/executions/", "/executions//cancel", "/EXECUTIONS", "/executions/a/signals/", "/workflows/greet") },
);

function tamper(cursor: string, at: number): string {
  const i = at % cursor.length;
  return cursor.slice(0, i) + (cursor[i] === "A" ? "B" : "A") + cursor.slice(i + 1);
}

const cursor = fc.oneof(
  fc.nat().map((i) => cursors[i % cursors.length] as string),
  fc.tuple(fc.nat(), fc.nat()).map(([i, at]) => tamper(cursors[i % cursors.length] as string, at)),
  fc.nat().map((i) => (cursors[i % cursors.length] as string).slice(0, -3)),
  fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v) ?? "").toString("base64url")),
  fc.jsonValue({ maxDepth: 2 }).map((v) => `${Buffer.from(JSON.stringify({ v: 1, q: "x", p: v })).toString("base64url")}.c2lnbmF0dXJl`),
  anyText,
);

const queryString = fc
  .record(
    {
      workflow: fc.oneof(fc.constantFrom("greet", "approval", "nope", ""), printable),
      status: fc.oneof(fc.constantFrom("running", "sleeping", "completed", "failed", "canceled", "done", "", "running,failed"), printable),
      limit: fc.oneof(fc.integer({ min: -5, max: 1200 }).map(String), fc.constantFrom("", "1e2", "0x10", " 5", "5.0", "NaN", "99999999999"), printable),
      cursor,
      extra: printable,
    },
    { requiredKeys: [] },
  )
  .map((params) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value !== undefined) search.append(key === "extra" ? "x-extra" : key, value);
    return search.toString();
  });

const startBody = fc.record(
  {
    workflow: fc.oneof(fc.constantFrom("greet", "approval", "nope"), printable, fc.integer()),
    id: fc.oneof(fc.stringMatching(/^fz-[A-Za-z0-9_-]{1,8}$/), fc.constantFrom("fuzz-waiting", "fuzz-done"), segment, fc.integer()),
    input: fc.jsonValue({ maxDepth: 3 }),
    version: fc.oneof(fc.constantFrom(1, 2, 0, -1, 1.5), fc.jsonValue({ maxDepth: 1 })),
    extra: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: ["workflow"] },
);

type Body = string | Uint8Array | undefined;
const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: startBody.map((b) => JSON.stringify(b)) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? "null") },
  { weight: 2, arbitrary: startBody.chain((b) => fc.nat().map((n) => JSON.stringify(b).slice(0, n % 40))) },
  { weight: 2, arbitrary: anyText },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 150_000 }).map((depth) => `{"workflow":"approval","input":${"[".repeat(depth)}${"]".repeat(depth)}}`) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.constant(JSON.stringify({ workflow: "approval", input: "x".repeat(MAX_VALUE_BYTES) })) },
);

const contentType = fc.oneof(
  { weight: 5, arbitrary: fc.constant("application/json") },
  { weight: 2, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "application/vnd.x+json",
      "application/json; charset=utf-8",
      "application/json; charset=latin1",
      "text/plain",
      "application/x-www-form-urlencoded",
      "application/xml",
      "json",
      "application/json;;",
    ),
  },
  { weight: 1, arbitrary: printable },
);

const authorization = fc.oneof(
  { weight: 8, arbitrary: fc.constant("valid") },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.oneof(printable, printable.map((t) => `Bearer ${t}`), fc.constantFrom("Bearer", "Bearer ", "Basic dXNlcjpwYXNz")) },
);

interface FuzzRequest {
  method: string;
  path: string;
  query: string | undefined;
  body: Body;
  contentType: string | undefined;
  authorization: string | undefined;
  extraHeader: string | undefined;
}

/** Anything at all. */
const anyRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.oneof({ weight: 5, arbitrary: fc.constantFrom("GET", "POST") }, { weight: 1, arbitrary: fc.constantFrom("PUT", "DELETE", "PATCH", "OPTIONS", "HEAD") }),
  path,
  query: fc.option(queryString, { nil: undefined }),
  body,
  contentType,
  authorization,
  extraHeader: fc.option(printable, { nil: undefined }),
});

/** Well-formed starts with few ids, so some succeed (201), some repeat (200) and some collide (409). */
const wellFormedStart: fc.Arbitrary<FuzzRequest> = fc
  .record({
    workflow: fc.constantFrom("approval", "approval", "greet"),
    id: fc.option(fc.stringMatching(/^fz-[a-c0-2]{1,2}$/), { nil: undefined }),
    input: fc.oneof(
      { weight: 4, arbitrary: fc.oneof(fc.constant({ request: "r", name: "n" }), fc.jsonValue({ maxDepth: 3 })).map((v) => JSON.stringify(v)) },
      // Nested deep enough to overflow a recursive JSON.stringify.
      { weight: 1, arbitrary: fc.integer({ min: 60, max: 150_000 }).map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`) },
    ),
  })
  .map(({ input, ...start }) => ({
    method: "POST",
    path: "/executions",
    query: undefined,
    body: `${JSON.stringify(start).slice(0, -1)},"input":${input}}`,
    contentType: "application/json",
    authorization: "valid",
    extraHeader: undefined,
  }));

/** Well-formed requests on the other routes, with hostile parts. */
const otherRoutes: fc.Arbitrary<FuzzRequest> = fc
  .record({
    route: fc.constantFrom("list", "history", "signal", "cancel"),
    id: segment,
    query: queryString,
    payload: fc.oneof(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? "null"), anyText),
  })
  .map(({ route, id, query, payload }) => ({
    method: route === "list" || route === "history" ? "GET" : "POST",
    path: route === "list" ? "/executions" : route === "history" ? `/executions/${id}/history` : route === "signal" ? `/executions/${id}/signals/decision` : `/executions/${id}/cancel`,
    query: route === "list" || route === "history" ? query : undefined,
    body: route === "signal" || route === "cancel" ? payload : undefined,
    contentType: "application/json",
    authorization: "valid",
    extraHeader: undefined,
  }));

const request = fc.oneof({ weight: 6, arbitrary: anyRequest }, { weight: 2, arbitrary: wellFormedStart }, { weight: 2, arbitrary: otherRoutes });

// ---- the property -------------------------------------------------------------------------------

describe("fuzzing the API", () => {
  it(`answers ${NUM_RUNS} malformed requests with a 2xx or a shaped 4xx, never a 5xx, and writes only what a 201 reported`, async () => {
    console.info(`api fuzz seed: ${SEED}, runs: ${NUM_RUNS}`);
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.contentType !== undefined) headers["content-type"] = r.contentType;
        if (r.extraHeader !== undefined) headers["x-fuzz"] = r.extraHeader;
        if (r.authorization !== undefined) headers.authorization = r.authorization === "valid" ? `Bearer ${stack.bearerToken}` : r.authorization;
        const sendsBody = r.body !== undefined && r.method !== "GET" && r.method !== "HEAD";
        const answer = await call(stack, r.method, `${r.path}${r.query ? `?${r.query}` : ""}`, {
          token: null,
          headers,
          ...(sendsBody ? { body: r.body } : {}),
        });
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const what = `${r.method} ${r.path} → ${answer.status} ${answer.text.slice(0, 200)}`;
        expect(ANSWERS.has(answer.status), what).toBe(true);
        if (r.method === "HEAD") return; // no body to look at
        if (answer.status >= 400) expectErrorShape(answer);
        else expect(typeof answer.body, what).toBe("object");
        if (answer.status === 201) created.add(answer.body.id);
        if (answer.status === 200 && r.method === "POST") expect(created.has(answer.body.id), what).toBe(true);
      }),
      { seed: SEED, numRuns: NUM_RUNS },
    );
    console.info(`api fuzz answers by status: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);

    const items = await snapshotTable(stack);
    const stored = new Set(items.filter((i) => i.SK === "META").map((i) => String(i.id)));
    expect([...stored].filter((id) => !created.has(id)), "executions no 201 reported").toEqual([]);
    expect([...created].filter((id) => !stored.has(id)), "reported but missing").toEqual([]);
    const owners = new Set(items.map((i) => String(i.PK).slice("EXEC#".length)));
    expect([...owners].filter((id) => !created.has(id)), "items of unknown executions").toEqual([]);
  }, 60_000);
});
