/**
 * `durable viewer`'s proxy against a local stack behind a SigV4-checking front (signed-front.ts):
 * every call the page makes reaches the API signed, its answer comes back as the API gave it,
 * nothing goes out without the proxy's own token, and the credentials come from the standard
 * chain (here its first link, the AWS_* variables).
 */
import { inject } from "vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthorizer } from "../../lambdas/client/auth.js";
import { defineWorkflow } from "../../lambdas/core/workflow.js";
import { startViewer } from "../../local/cli/commands/viewer.js";
import { CliError } from "../../local/cli/cli-error.js";
import { type LocalStack, startLocalStack } from "../../local/stack.js";
import { startViewerProxy, type ViewerProxy } from "../../local/viewer/proxy.js";
import { uniqueName } from "../support/services.js";
import { type SignedFront, startSignedFront } from "./signed-front.js";

const REGION = "eu-central-1";
const CREDENTIALS = { accessKeyId: "AKIDVIEWEREXAMPLE", secretAccessKey: "viewer/secret+key/EXAMPLE", sessionToken: "viewer-session-token//EXAMPLE=" };

const hello = defineWorkflow("viewer-proxy-hello", async (ctx, input: { name: string }) => ctx.step("greet", () => `Hello, ${input.name}!`));

let stack: LocalStack;
let front: SignedFront;
let proxy: ViewerProxy;

beforeAll(async () => {
  stack = await startLocalStack({
    workflows: [hello],
    endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    tableName: uniqueName("viewer-proxy"),
    queueName: uniqueName("viewer-proxy"),
    visibilityTimeoutSeconds: 2,
  });
  front = await startSignedFront({ apiUrl: stack.apiUrl, bearerToken: stack.bearerToken, region: REGION, credentials: CREDENTIALS });
  proxy = await startViewerProxy({
    apiUrl: new URL(front.url),
    authorize: createAuthorizer({ type: "iam", region: REGION, credentials: CREDENTIALS }, new URL(front.url)),
  });
});

afterAll(async () => {
  await proxy?.close();
  await front?.close();
  await stack?.stop();
});

function viaProxy(path: string, init: { method?: string; body?: unknown; token?: string | null } = {}): Promise<Response> {
  const token = init.token === undefined ? proxy.token : init.token;
  return fetch(`${proxy.url}${path}`, {
    method: init.method ?? "GET",
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
}

describe("durable viewer's proxy", () => {
  it("passes the page's calls on signed with SigV4 and gives back the API's answers", async () => {
    const before = front.seen.length;
    const id = uniqueName("hello");
    const started = await viaProxy("/executions", { method: "POST", body: { workflow: hello.name, id, input: { name: "Ada" }, tags: { team: "a b/c" } } });
    expect(started.status).toBe(201);
    expect(started.headers.get("location")).toBe(`/executions/${id}`);
    expect(await started.json()).toMatchObject({ id, workflow: hello.name, status: "running" });

    const workflows = await viaProxy("/workflows");
    expect(await workflows.json()).toEqual({ workflows: [{ name: hello.name, versions: [1], latest: 1 }] });

    // A query string with encoded characters is signed as sent.
    const listed = await viaProxy(`/executions?workflow=${hello.name}&tag.team=${encodeURIComponent("a b/c")}&limit=5`);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { executions: { id: string }[] }).executions.map((e) => e.id)).toEqual([id]);

    const seen = front.seen.slice(before);
    expect(seen.map((r) => `${r.method} ${r.rawUrl.split("?")[0]}`)).toEqual(["POST /executions", "GET /workflows", "GET /executions"]);
    expect(seen.filter((r) => !r.verified).map((r) => r.refusal)).toEqual([]);
    // The proxy's own bearer token stays on this side: the front only sees the signature.
    for (const r of seen) expect(r.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
  });

  it("passes a value's part back with the headers that say which value it is part of", async () => {
    const id = uniqueName("hello");
    expect((await viaProxy("/executions", { method: "POST", body: { workflow: hello.name, id, input: { name: "Ada" } } })).status).toBe(201);
    const part = await viaProxy(`/executions/${id}/values/input?part=0`);
    expect(part.status).toBe(200);
    expect(await part.json()).toEqual({ name: "Ada" });
    const direct = await fetch(`${stack.apiUrl}/executions/${id}/values/input?part=0`, { headers: { authorization: `Bearer ${stack.bearerToken}` } });
    const headers = ["x-durable-value-bytes", "x-durable-value-part", "x-durable-value-parts", "etag"];
    expect(headers.map((name) => part.headers.get(name))).toEqual(headers.map((name) => direct.headers.get(name)));
    expect(part.headers.get("x-durable-value-parts")).toBe("1");
    expect(part.headers.get("etag")).toMatch(/^"[0-9a-f]{64}"$/);
  });

  it("passes the API's refusals back unchanged, with their code and message", async () => {
    const missing = await viaProxy("/executions/nobody-here");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: "EXECUTION_NOT_FOUND", message: expect.any(String) } });

    const badQuery = await viaProxy("/executions?stauts=failed");
    expect(badQuery.status).toBe(400);
    expect(((await badQuery.json()) as { error: { code: string } }).error.code).toBe("INVALID_INPUT");
  });

  it("passes API Gateway's own 403 back when the signature is refused", async () => {
    const other = { ...CREDENTIALS, secretAccessKey: "another/secret" };
    const wrong = await startViewerProxy({ apiUrl: new URL(front.url), authorize: createAuthorizer({ type: "iam", region: REGION, credentials: other }, new URL(front.url)) });
    try {
      const before = front.seen.length;
      const answer = await fetch(`${wrong.url}/workflows`, { headers: { authorization: `Bearer ${wrong.token}` } });
      expect(answer.status).toBe(403);
      expect(await answer.json()).toEqual({ message: "Forbidden" });
      expect(front.seen.slice(before).map((r) => r.refusal)).toEqual(["the signature does not match"]);
    } finally {
      await wrong.close();
    }
  });

  it("forwards nothing without its own token", async () => {
    const before = front.seen.length;
    for (const token of [null, "wrong", `${proxy.token}x`]) {
      const answer = await viaProxy("/workflows", { token });
      expect(answer.status, String(token)).toBe(401);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
    }
    expect(front.seen.length).toBe(before);
  });

  it("serves the viewer's page itself, without a token, and forwards none of it", async () => {
    const before = front.seen.length;
    const page = await fetch(`${proxy.url}/viewer`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<script type="module" src="/viewer/viewer.js">');
    expect((await fetch(`${proxy.url}/viewer/viewer.js`)).headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(front.seen.length).toBe(before);
    expect(proxy.viewerUrl).toBe(`${proxy.url}/viewer#token=${encodeURIComponent(proxy.token)}`);
  });

  it("says why when the API cannot be reached", async () => {
    const dead = await startViewerProxy({ apiUrl: new URL("http://127.0.0.1:9"), authorize: createAuthorizer({ type: "iam", region: REGION, credentials: CREDENTIALS }, new URL("http://127.0.0.1:9")) });
    try {
      const answer = await fetch(`${dead.url}/workflows`, { headers: { authorization: `Bearer ${dead.token}` } });
      expect(answer.status).toBe(502);
      expect(((await answer.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "UPSTREAM_UNREACHABLE", message: expect.stringContaining("127.0.0.1:9") });
    } finally {
      await dead.close();
    }
  });
});

describe("durable viewer --url", () => {
  it("signs with credentials from the standard chain and the region given", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, AWS_SESSION_TOKEN: CREDENTIALS.sessionToken });
    const viewer = await startViewer({ url: front.url, port: 0, region: REGION }, process.env);
    try {
      const before = front.seen.length;
      const answer = await fetch(`${viewer.url}/workflows`, { headers: { authorization: `Bearer ${viewer.token}` } });
      expect(answer.status).toBe(200);
      expect(front.seen.slice(before).map((r) => r.verified)).toEqual([true]);
    } finally {
      await viewer.close();
      for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });

  it("asks for --region when the URL does not name one", async () => {
    const refused = startViewer({ url: "https://workflows.example.com", port: 0 }, {});
    await expect(refused).rejects.toBeInstanceOf(CliError);
    await expect(refused).rejects.toMatchObject({ code: "REGION_NEEDED", message: expect.stringContaining("--region") });
    await expect(startViewer({ url: "not a url", port: 0 }, {})).rejects.toMatchObject({ code: "INVALID_URL" });
  });
});
