/**
 * Permissions by action. Over HTTP against the local stack, with tokens granted every action but
 * one: each action is refused (403 PERMISSION_DENIED naming it, nothing written) without its
 * permission and carried out with it. Then the API handler on the same store, called with the
 * events API Gateway hands it: JWT scopes (`durable:<action>`, `<workflow>:<action>`, `*`, the
 * "[a b]" form of a list claim) and a tenant claim; IAM principals mapped to actions and tenants
 * (a role's sessions included); and the policy the function reads from its environment.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { approval, greet } from "../../examples/index.js";
import { type Action, ACTIONS, type AuthorizationPolicy } from "../../lambdas/core/permissions.js";
import { createApiHandler } from "../../lambdas/handlers/api.js";
import { parseAuthorizationPolicy, principalGrant, scopeGrants, scopesOf } from "../../lambdas/handlers/authorization.js";
import type { LocalStack } from "../../local/stack.js";
import { apiEvent, callHandler } from "../support/api-events.js";
import { call, expectErrorShape, expectNothingWritten, quiesce, snapshotTable, startApiStack, waitForStatus } from "./support.js";

const asker = defineWorkflow("perm-asker", async (ctx) => {
  const callback = ctx.createCallback<{ answer: string }>("reply", { timeout: "1 hour" });
  ctx.setState({ token: callback.token });
  return callback.result;
});

const allBut = (missing: Action) => `all-but-${missing}`;
const only = (action: Action) => `only-${action}`;

let stack: LocalStack;

beforeAll(async () => {
  const tokens = Object.fromEntries(
    ACTIONS.flatMap((action) => [
      [allBut(action), { actions: ACTIONS.filter((a) => a !== action) }],
      [only(action), { actions: [action] }],
    ]),
  );
  stack = await startApiStack("api-permissions", [greet, approval, asker], { tokens });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

async function sleepingApproval(id: string): Promise<void> {
  expect((await call(stack, "POST", "/executions", { body: { workflow: "approval", id, input: { request: id } } })).status).toBe(201);
  await waitForStatus(stack, id, ["sleeping"]);
}

describe("permissions by action, over HTTP", () => {
  it("refuses each action without its permission (403 naming it, nothing written) and carries it out with it", async () => {
    for (const id of ["p-signal", "p-cancel", "p-terminate", "p-redrive"]) await sleepingApproval(id);
    expect((await call(stack, "POST", "/executions", { body: { workflow: "perm-asker", id: "p-callback" } })).status).toBe(201);
    const token = (await waitForStatus(stack, "p-callback", ["sleeping"])).body.state.token as string;
    await quiesce(stack);

    const requests: Record<Action, { method: string; path: string; body?: unknown; allowed: number; code?: string }> = {
      start: { method: "POST", path: "/executions", body: { workflow: "greet", id: "p-started", input: { name: "p" } }, allowed: 201 },
      read: { method: "GET", path: "/executions/p-signal", allowed: 200 },
      signal: { method: "POST", path: "/executions/p-signal/signals/decision", body: { approved: true }, allowed: 202 },
      cancel: { method: "POST", path: "/executions/p-cancel/cancel", body: {}, allowed: 202 },
      terminate: { method: "POST", path: "/executions/p-terminate/terminate", body: {}, allowed: 202 },
      // Reaching the engine is what the permission allows: it is not failed, so 409.
      redrive: { method: "POST", path: "/executions/p-redrive/redrive", body: {}, allowed: 409, code: "EXECUTION_NOT_FAILED" },
      callback: { method: "POST", path: `/callbacks/${token}`, body: { answer: "yes" }, allowed: 202 },
    };
    for (const action of ACTIONS) {
      const request = requests[action];
      const send = (token: string) => call(stack, request.method, request.path, { token, ...(request.body === undefined ? {} : { body: request.body }) });
      const before = JSON.stringify(await quiesce(stack));
      for (const token of [allBut(action), ...ACTIONS.filter((a) => a !== action).map(only)]) {
        const refused = await send(token);
        expect(refused.status, `${action} with ${token}: ${refused.text}`).toBe(403);
        expectErrorShape(refused, "PERMISSION_DENIED");
        expect(refused.body.error.permission, action).toBe(action);
        expect(refused.body.error.message).toContain(`"${action}"`);
      }
      expect(JSON.stringify(await snapshotTable(stack)), `a refused ${action} wrote something`).toBe(before);
      const allowed = await send(only(action));
      expect(allowed.status, `${action}: ${allowed.text}`).toBe(request.allowed);
      if (request.code) expectErrorShape(allowed, request.code);
    }
    await waitForStatus(stack, "p-signal", ["completed"]);
    await waitForStatus(stack, "p-cancel", ["canceled"]);
    await waitForStatus(stack, "p-callback", ["completed"]);
    expect((await call(stack, "GET", "/executions/p-terminate")).body.status).toBe("terminated");
  });

  it("needs read for lists, history and the workflow list, and an action of a bulk job for the job", async () => {
    for (const path of ["/executions", "/executions/p-signal/history", "/workflows"]) {
      const refused = await call(stack, "GET", path, { token: allBut("read") });
      expect(refused.status, path).toBe(403);
      expect(refused.body.error.permission).toBe("read");
      expect((await call(stack, "GET", path, { token: only("read") })).status, path).toBe(200);
    }
    const bulk = { action: "terminate", filter: { workflow: "approval", status: "sleeping" }, id: "p-bulk" };
    const refused = await expectNothingWritten(stack, () => call(stack, "POST", "/bulk", { token: only("cancel"), body: bulk }));
    expect(refused.status).toBe(403);
    expect(refused.body.error.permission).toBe("terminate");
    expect((await call(stack, "POST", "/bulk", { token: only("terminate"), body: bulk })).status).toBe(202);
  });
});

describe("permissions from what API Gateway authorized", () => {
  const handlerWith = (authorization: AuthorizationPolicy) => createApiHandler(stack.apiDeps, { authorization });
  const jwt = (scope: string, extra: Record<string, string> = {}) => ({ sub: "user-1", iss: "https://issuer.example", scope, ...extra });

  it("JWT: durable:<action> grants it everywhere, <workflow>:<action> on that workflow, * every action", async () => {
    await sleepingApproval("j-approval");
    expect((await call(stack, "POST", "/executions", { body: { workflow: "greet", id: "j-greet", input: { name: "j" } } })).status).toBe(201);
    await waitForStatus(stack, "j-greet", ["completed"]);
    const handler = handlerWith({});
    const send = (method: string, path: string, claims: Record<string, string>, body?: unknown, query?: string) =>
      callHandler(handler, apiEvent(method, path, { claims, ...(body === undefined ? {} : { body }), ...(query === undefined ? {} : { query }) }));
    const error = (answer: { body?: string }) => (JSON.parse(answer.body ?? "{}") as { error?: { code?: string; permission?: string; message?: string } }).error;

    expect((await send("GET", "/executions/j-greet", jwt("durable:read"))).statusCode).toBe(200);
    const noScope = await send("GET", "/executions/j-greet", jwt("openid profile"));
    expect(noScope.statusCode).toBe(403);
    expect(error(noScope)).toMatchObject({ code: "PERMISSION_DENIED", permission: "read" });
    expect(error(noScope)?.message).toContain("durable:read");

    // One workflow's scope: its executions, not another's; a list only with that workflow named.
    const approvalOnly = jwt("approval:read approval:signal");
    expect((await send("GET", "/executions/j-approval", approvalOnly)).statusCode).toBe(200);
    expect((await send("GET", "/executions/j-approval/history", approvalOnly)).statusCode).toBe(200);
    const other = await send("GET", "/executions/j-greet", approvalOnly);
    expect(other.statusCode).toBe(403);
    expect(error(other)?.message).toContain('on workflow "greet"');
    expect((await send("GET", "/executions/j-greet/history", approvalOnly)).statusCode).toBe(403);
    expect((await send("GET", "/executions", approvalOnly)).statusCode).toBe(403);
    expect((await send("GET", "/executions", approvalOnly, undefined, "workflow=approval")).statusCode).toBe(200);
    const workflows = JSON.parse((await send("GET", "/workflows", approvalOnly)).body ?? "{}") as { workflows: { name: string }[] };
    expect(workflows.workflows.map((w) => w.name)).toEqual(["approval"]);
    const before = JSON.stringify(await quiesce(stack));
    expect((await send("POST", "/executions/j-greet/signals/decision", approvalOnly, { approved: true })).statusCode).toBe(403);
    expect((await send("POST", "/executions", approvalOnly, { workflow: "approval", input: { request: "x" } })).statusCode).toBe(403);
    expect((await send("POST", "/executions/j-approval/cancel", approvalOnly, {})).statusCode).toBe(403);
    expect(JSON.stringify(await snapshotTable(stack))).toBe(before);
    expect((await send("POST", "/executions/j-approval/signals/decision", approvalOnly, { approved: false })).statusCode).toBe(202);
    await waitForStatus(stack, "j-approval", ["completed"]);

    // `*` and the list form API Gateway gives a list claim.
    expect((await send("POST", "/executions", { sub: "u", scp: "[greet:* durable:read]" }, { workflow: "greet", id: "j-star", input: { name: "s" } })).statusCode).toBe(201);
    expect((await send("POST", "/executions", { sub: "u", scp: "[greet:* durable:read]" }, { workflow: "approval", id: "j-star2", input: { request: "s" } })).statusCode).toBe(403);
    // Scopes off: any token the authorizer accepted may do everything.
    expect((await callHandler(handlerWith({ scopes: false }), apiEvent("GET", "/executions/j-greet", { claims: jwt("") }))).statusCode).toBe(200);
  });

  it("JWT: a tenant claim confines the caller; a token without one is refused", async () => {
    const handler = handlerWith({ tenants: { claim: "org" } });
    const started = await callHandler(handler, apiEvent("POST", "/executions", { claims: jwt("durable:*", { org: "acme" }), body: { workflow: "greet", id: "t-1", input: { name: "t" } } }));
    expect(started.statusCode, started.body).toBe(201);
    expect(JSON.parse(started.body ?? "{}").id).toBe("t-1");
    expect((await call(stack, "GET", "/executions/t-1")).status).toBe(404); // no tenant: not the same execution
    expect((await callHandler(handler, apiEvent("GET", "/executions/t-1", { claims: jwt("durable:*", { org: "acme" }) }))).statusCode).toBe(200);
    expect((await callHandler(handler, apiEvent("GET", "/executions/t-1", { claims: jwt("durable:*", { org: "other" }) }))).statusCode).toBe(404);
    for (const claims of [jwt("durable:*"), jwt("durable:*", { org: "bad/tenant" })]) {
      const refused = await callHandler(handler, apiEvent("GET", "/executions/t-1", { claims }));
      expect(refused.statusCode).toBe(403);
      expect(JSON.parse(refused.body ?? "{}").error.code).toBe("TENANT_REQUIRED");
    }
  });

  it("IAM: listed principals get their actions and tenant, a role's sessions included; others need a tenant when tenants are on", async () => {
    const role = "arn:aws:iam::123456789012:role/ops/reader";
    const handler = handlerWith({ principals: { [role]: { tenant: "acme", actions: ["read"] } }, tenants: {} });
    const session = "arn:aws:sts::123456789012:assumed-role/reader/session-1";
    expect((await callHandler(handler, apiEvent("GET", "/executions/t-1", { principal: session }))).statusCode).toBe(200);
    const start = await callHandler(handler, apiEvent("POST", "/executions", { principal: session, body: { workflow: "greet", input: { name: "x" } } }));
    expect(start.statusCode).toBe(403);
    expect(JSON.parse(start.body ?? "{}").error).toMatchObject({ code: "PERMISSION_DENIED", permission: "start" });
    const stranger = await callHandler(handler, apiEvent("GET", "/executions/t-1", { principal: "arn:aws:sts::123456789012:assumed-role/writer/s" }));
    expect(JSON.parse(stranger.body ?? "{}").error.code).toBe("TENANT_REQUIRED");
    // Without tenants, an unlisted principal has what API Gateway let through.
    expect((await callHandler(handlerWith({ principals: { [role]: { actions: ["read"] } } }), apiEvent("GET", "/executions/j-greet", { principal: "arn:aws:iam::123456789012:user/admin" }))).statusCode).toBe(200);
  });

  it("reads the policy strictly, and reads scopes and principals as documented", () => {
    expect(parseAuthorizationPolicy(undefined)).toBeUndefined();
    expect(parseAuthorizationPolicy('{"scopes":{"prefix":"wf"},"tenants":{"claim":"org"}}')).toEqual({ scopes: { prefix: "wf" }, tenants: { claim: "org" } });
    for (const bad of ["{", "[]", '{"scope":false}', '{"scopes":{"prefix":"a b"}}', '{"scopes":true}', '{"principals":{"arn:x":{"actions":["fly"]}}}', '{"principals":{"arn:x":{"tenant":"a/b"}}}', '{"tenants":{"claim":5}}']) {
      expect(() => parseAuthorizationPolicy(bad), bad).toThrow(/DURABLE_AUTHORIZATION/);
    }
    expect(scopesOf({ scope: "a:read b:signal" })).toEqual(["a:read", "b:signal"]);
    expect(scopesOf({ scp: "[a:read b:signal]" })).toEqual(["a:read", "b:signal"]);
    expect(scopesOf({ scp: ["a:read"] })).toEqual(["a:read"]);
    const grants = scopeGrants(["durable:read", "approval:*", "greet:fly", "nonsense"], "durable");
    expect([...grants.everywhere]).toEqual(["read"]);
    expect([...(grants.byWorkflow.get("approval") ?? [])]).toEqual([...ACTIONS]);
    expect(grants.byWorkflow.has("greet")).toBe(false);
    expect(principalGrant("arn:aws:sts::111111111111:assumed-role/reader/s", { "arn:aws:iam::222222222222:role/reader": { tenant: "x" } })).toBeUndefined();
  });
});
