/**
 * The audit trail: every request to a state-changing route (start, signal, cancel, terminate,
 * redrive, callback answers, bulk) gives one entry saying who did what to which execution and how
 * it was answered, refusals included, and never a payload, an input or a token.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type AuditEntry, createApiHandler } from "../../lambdas/handlers/api.js";
import { defineWorkflow } from "../../lambdas/index.js";
import { createTestEnvironment, type TestEnvironment } from "../../lambdas/testing/index.js";
import { apiEvent, callHandler } from "../support/api-events.js";

const waiter = defineWorkflow("audit-waiter", async (ctx) => ctx.waitForSignal<string>("go"));
const SECRET_INPUT = "card-4111-1111-1111-1111";

let env: TestEnvironment;
const entries: AuditEntry[] = [];
let handler: ReturnType<typeof createApiHandler>;

beforeAll(async () => {
  env = await createTestEnvironment({ workflows: [waiter] });
  handler = createApiHandler(env.deps, { audit: (entry) => entries.push(entry) });
});

async function request(method: string, path: string, body?: unknown, principal?: string): Promise<number> {
  const event = apiEvent(method, path, { body, requestId: `req-${entries.length}`, sourceIp: "203.0.113.7", ...(principal === undefined ? {} : { principal }) });
  return (await callHandler(handler, event)).statusCode ?? 200;
}

describe("the audit trail", () => {
  it("has one entry per state-changing request, with who, what, which execution and the answer, and no payloads", async () => {
    const ops = "arn:aws:sts::123456789012:assumed-role/ops/ana";
    expect(await request("POST", "/executions", { workflow: "audit-waiter", id: "a-1", input: { card: SECRET_INPUT } }, ops)).toBe(201);
    expect(await request("POST", "/executions/a-1/signals/go", { secret: SECRET_INPUT }, ops)).toBe(202);
    expect(await request("POST", "/executions/nobody/cancel", { reason: "x" }, ops)).toBe(404);
    expect(await request("POST", "/executions/a-1/terminate", {}, ops)).toBe(202);
    expect(await request("POST", "/executions/a-1/terminate", {}, ops)).toBe(409);
    expect(await request("POST", "/callbacks/not-a-token", { secret: SECRET_INPUT })).toBe(400);
    expect(await request("GET", "/executions/a-1")).toBe(200); // reads are not audited
    expect(await request("POST", "/bulk", { action: "cancel", filter: { workflow: "audit-waiter" } }, ops)).toBe(202);

    expect(entries.map((e) => [e.action, e.executionId, e.status, e.code])).toEqual([
      ["start", "a-1", 201, undefined],
      ["signal", "a-1", 202, undefined],
      ["cancel", "nobody", 404, "EXECUTION_NOT_FOUND"],
      ["terminate", "a-1", 202, undefined],
      ["terminate", "a-1", 409, "EXECUTION_ENDED"],
      ["callback.complete", undefined, 400, "INVALID_CALLBACK_TOKEN"],
      ["bulk", expect.any(String), 202, undefined],
    ]);
    expect(entries[0]).toMatchObject({ principal: ops, sourceIp: "203.0.113.7", requestId: "req-0" });
    expect(entries[5]?.principal).toBeUndefined();
    expect(JSON.stringify(entries)).not.toContain(SECRET_INPUT);
    expect(JSON.stringify(entries)).not.toContain("not-a-token");
  });
});

describe("the audit trail with tenants", () => {
  it("names the tenant and the stored execution id, and logs refusals of permission and of a missing tenant", async () => {
    const tenantEntries: AuditEntry[] = [];
    const role = "arn:aws:iam::123456789012:role/acme-app";
    const tenanted = createApiHandler(env.deps, {
      authorization: { tenants: {}, principals: { [role]: { tenant: "acme", actions: ["start", "read"] } } },
      audit: (entry) => tenantEntries.push(entry),
    });
    const session = "arn:aws:sts::123456789012:assumed-role/acme-app/s1";
    const send = async (method: string, path: string, body: unknown, principal: string) => (await callHandler(tenanted, apiEvent(method, path, { body, principal }))).statusCode;
    expect(await send("POST", "/executions", { workflow: "audit-waiter", id: "t-1" }, session)).toBe(201);
    expect(await send("POST", "/executions/t-1/signals/go", "x", session)).toBe(403);
    expect(await send("POST", "/executions/t-1/cancel", {}, "arn:aws:iam::123456789012:user/stranger")).toBe(403);
    expect(tenantEntries.map((e) => [e.action, e.executionId, e.tenant, e.status, e.code, e.principal])).toEqual([
      ["start", "acme/t-1", "acme", 201, undefined, session],
      ["signal", "acme/t-1", "acme", 403, "PERMISSION_DENIED", session],
      ["cancel", "t-1", undefined, 403, "TENANT_REQUIRED", "arn:aws:iam::123456789012:user/stranger"],
    ]);
  });
});
