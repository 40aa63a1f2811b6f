/**
 * The viewer's page beside the API on the local stack's server: `/viewer` and its files are
 * served without a token and never reach the API handler; every other path is the API's, as
 * before (its 401 and 404 included).
 */
import { inject } from "vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/core/workflow.js";
import { serveHttpApi, type HttpApiServer } from "../../local/http-api.js";
import { type LocalStack, startLocalStack } from "../../local/stack.js";
import { viewerPageRoute } from "../../local/viewer/page-route.js";
import { uniqueName } from "../support/services.js";

const noop = defineWorkflow("viewer-page-noop", async () => null);

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    workflows: [noop],
    endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    tableName: uniqueName("viewer-page"),
    queueName: uniqueName("viewer-page"),
  });
});

afterAll(async () => {
  await stack?.stop();
});

const withToken = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe("the viewer's page on the local stack", () => {
  it("is served at /viewer without a token, locked down to its own origin", async () => {
    expect(stack.viewerUrl).toBe(`${stack.apiUrl}/viewer#token=${encodeURIComponent(stack.bearerToken)}`);
    for (const path of ["/viewer", "/viewer/", "/viewer?execution=abc"]) {
      const page = await fetch(`${stack.apiUrl}${path}`);
      expect(page.status, path).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toContain("connect-src 'self'");
      expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(page.headers.get("x-content-type-options")).toBe("nosniff");
      expect(await page.text()).toMatch(/^<!doctype html>/);
    }
    const files = { "/viewer/viewer.js": "text/javascript", "/viewer/viewer.css": "text/css", "/viewer/icon.svg": "image/svg+xml" };
    for (const [path, type] of Object.entries(files)) {
      const answer = await fetch(`${stack.apiUrl}${path}`);
      expect(answer.status, path).toBe(200);
      expect(answer.headers.get("content-type")?.startsWith(type), path).toBe(true);
    }
    const head = await fetch(`${stack.apiUrl}/viewer`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("answers other paths under /viewer with 404 and other methods with 405", async () => {
    const missing = await fetch(`${stack.apiUrl}/viewer/nope.js`);
    expect(missing.status).toBe(404);
    const posted = await fetch(`${stack.apiUrl}/viewer`, { method: "POST", body: "{}" });
    expect(posted.status).toBe(405);
    expect(posted.headers.get("allow")).toBe("GET, HEAD");
  });

  it("leaves every other path to the API, as it was", async () => {
    expect((await fetch(`${stack.apiUrl}/executions`)).status).toBe(401);
    expect((await fetch(`${stack.apiUrl}/viewers`)).status).toBe(401);
    for (const path of ["/viewers", "/viewerx/viewer", "/", "/api/viewer"]) {
      const answer = await fetch(`${stack.apiUrl}${path}`, withToken(stack.bearerToken));
      expect(answer.status, path).toBe(404);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("ROUTE_NOT_FOUND");
    }
    const workflows = await fetch(`${stack.apiUrl}/workflows`, withToken(stack.bearerToken));
    expect(await workflows.json()).toEqual({ workflows: [{ name: noop.name, versions: [1], latest: 1 }] });
  });
});

describe("serveHttpApi's local routes", () => {
  let server: HttpApiServer;
  const seenByHandler: string[] = [];

  beforeAll(async () => {
    server = await serveHttpApi({
      handler: async (event) => {
        seenByHandler.push(event.rawPath);
        return { statusCode: 204 };
      },
      localRoutes: [viewerPageRoute],
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it("never hands a /viewer request to the handler, and hands it everything else", async () => {
    await fetch(`${server.url}/viewer`);
    await fetch(`${server.url}/viewer/viewer.js?v=1`);
    await fetch(`${server.url}/viewer/missing`);
    await fetch(`${server.url}/viewers`);
    await fetch(`${server.url}/executions?viewer=1`);
    expect(seenByHandler).toEqual(["/viewers", "/executions"]);
  });
});
