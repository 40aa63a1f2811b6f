/**
 * No route answers without the bearer token: every route (and unknown routes, and wrong methods)
 * gives 401 with the error shape for a missing, wrong or malformed Authorization header, and the
 * table is left exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approval, greet } from "../../examples/index.js";
import type { LocalStack } from "../../local/stack.js";
import { call, expectErrorShape, expectNothingWritten, quiesce, snapshotTable, startApiStack, waitForStatus } from "./support.js";

let stack: LocalStack;
const waitingId = "auth-waiting";

beforeAll(async () => {
  stack = await startApiStack("api-auth", [greet, approval]);
  expect((await call(stack, "POST", "/executions", { body: { workflow: "approval", id: waitingId, input: { request: "r" } } })).status).toBe(201);
  await waitForStatus(stack, waitingId, ["sleeping"]);
});

afterAll(async () => {
  await stack?.stop();
});

/** Each would succeed (or be a plain 404/405) with the token. */
const requests: { method: string; path: string; body?: unknown }[] = [
  { method: "POST", path: "/executions", body: { workflow: "greet", id: "auth-should-not-exist", input: { name: "x" } } },
  { method: "GET", path: "/executions" },
  { method: "GET", path: "/executions?status=sleeping" },
  { method: "GET", path: `/executions/${waitingId}` },
  { method: "GET", path: `/executions/${waitingId}/history` },
  { method: "POST", path: `/executions/${waitingId}/signals/decision`, body: { approved: true } },
  { method: "POST", path: `/executions/${waitingId}/cancel`, body: { reason: "no auth" } },
  { method: "GET", path: "/workflows" },
  { method: "GET", path: "/no-such-route" },
  { method: "DELETE", path: "/executions" },
];

function badHeaders(token: string): [string, Record<string, string> | null][] {
  const basic = Buffer.from(`user:${token}`).toString("base64");
  return [
    ["no Authorization header", null],
    ["a wrong token", { authorization: "Bearer not-the-token" }],
    ["the token with a character more", { authorization: `Bearer ${token}x` }],
    ["the token with a character less", { authorization: `Bearer ${token.slice(0, -1)}` }],
    ["an empty bearer", { authorization: "Bearer " }],
    ["the scheme alone", { authorization: "Bearer" }],
    ["the token without a scheme", { authorization: token }],
    ["another scheme", { authorization: `Token ${token}` }],
    ["basic auth carrying the token", { authorization: `Basic ${basic}` }],
    ["the token twice", { authorization: `Bearer ${token}, Bearer ${token}` }],
    ["junk after the token", { authorization: `Bearer ${token} extra` }],
    ["the token in another header", { "x-api-key": token }],
  ];
}

describe("requests without a valid bearer token", () => {
  it("get 401 with the error shape and a www-authenticate header on every route, and write nothing", async () => {
    const before = await quiesce(stack);
    let count = 0;
    for (const [what, headers] of badHeaders(stack.bearerToken)) {
      for (const request of requests) {
        const answer = await call(stack, request.method, request.path, {
          token: null,
          ...(headers ? { headers } : {}),
          ...(request.body === undefined ? {} : { body: request.body }),
        });
        expect(answer.status, `${what}: ${request.method} ${request.path}`).toBe(401);
        expectErrorShape(answer, "UNAUTHORIZED");
        expect(answer.headers.get("www-authenticate")).toMatch(/^Bearer /);
        expect(answer.text).not.toContain(stack.bearerToken);
        count += 1;
      }
    }
    expect(count).toBe(badHeaders("t").length * requests.length);
    expect(await snapshotTable(stack)).toEqual(before);
    expect((await call(stack, "GET", "/executions/auth-should-not-exist")).status).toBe(404);
    expect((await call(stack, "GET", `/executions/${waitingId}`)).body.status).toBe("sleeping");
  });

  it("401 comes before route, method and body checks: a bad request without a token is still 401", async () => {
    const answer = await expectNothingWritten(stack, () =>
      call(stack, "POST", "/executions", { token: null, body: "{not json", headers: { "content-type": "text/plain" } }),
    );
    expect(answer.status).toBe(401);
    expectErrorShape(answer, "UNAUTHORIZED");
  });
});

describe("requests with the token", () => {
  it("are served, with the scheme in any case", async () => {
    expect((await call(stack, "GET", "/workflows")).status).toBe(200);
    const lower = await call(stack, "GET", "/workflows", { token: null, headers: { authorization: `bearer ${stack.bearerToken}` } });
    expect(lower.status).toBe(200);
  });
});
