import { request } from "node:http";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { MAX_REQUEST_BODY_BYTES, serveHttpApi, type HttpApiServer } from "../../local/http-api.js";

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

// One server for the file; each test swaps the handler behind it.
let handler: Handler;
let api: HttpApiServer;

const echo: Handler = async (event, context) => ({
  statusCode: 200,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({
    event,
    context: {
      functionName: context.functionName,
      awsRequestId: context.awsRequestId,
      remainingMs: context.getRemainingTimeInMillis(),
    },
  }),
});

interface Echo {
  event: APIGatewayProxyEventV2;
  context: { functionName: string; awsRequestId: string; remainingMs: number };
}

async function echoed(res: Response): Promise<Echo> {
  expect(res.status).toBe(200);
  return (await res.json()) as Echo;
}

beforeAll(async () => {
  api = await serveHttpApi({ handler: (event, context) => handler(event, context), timeoutMs: 5_000 });
});

afterAll(async () => {
  await api.close();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("serveHttpApi", () => {
  it("listens on 127.0.0.1 on a free port", () => {
    expect(api.port).toBeGreaterThan(0);
    expect(api.url).toBe(`http://127.0.0.1:${api.port}`);
  });

  it("hands the handler an APIGatewayProxyEventV2 with method, path, query and lower-cased headers", async () => {
    handler = echo;
    const res = await fetch(`${api.url}/executions/abc/history?limit=5&tag=a&tag=b&q=hello%20world`, {
      headers: { "X-Custom-Header": "Value", Authorization: "Bearer t0k3n", "User-Agent": "test-agent/1.0" },
    });
    const { event, context } = await echoed(res);

    expect(event.version).toBe("2.0");
    expect(event.routeKey).toBe("$default");
    expect(event.rawPath).toBe("/executions/abc/history");
    expect(event.rawQueryString).toBe("limit=5&tag=a&tag=b&q=hello%20world");
    expect(event.queryStringParameters).toEqual({ limit: "5", tag: "a,b", q: "hello world" });
    expect(event.headers["x-custom-header"]).toBe("Value");
    expect(event.headers.authorization).toBe("Bearer t0k3n");
    expect(Object.keys(event.headers).every((name) => name === name.toLowerCase())).toBe(true);
    expect(event.pathParameters).toBeUndefined();
    expect(event.body).toBeUndefined();
    expect(event.isBase64Encoded).toBe(false);

    const rc = event.requestContext;
    expect(rc.http).toMatchObject({
      method: "GET",
      path: "/executions/abc/history",
      sourceIp: "127.0.0.1",
      userAgent: "test-agent/1.0",
    });
    expect(rc.requestId).toMatch(/\S+/);
    expect(rc.stage).toBe("$default");
    expect(rc.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(Math.abs(rc.timeEpoch - Date.now())).toBeLessThan(10_000);

    expect(context.functionName).toBe("api");
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(context.remainingMs).toBeGreaterThan(0);
    expect(context.remainingMs).toBeLessThanOrEqual(5_000);
  });

  it("gives each request its own requestId and awsRequestId", async () => {
    handler = echo;
    const a = await echoed(await fetch(`${api.url}/a`));
    const b = await echoed(await fetch(`${api.url}/b`));
    expect(a.event.requestContext.requestId).not.toBe(b.event.requestContext.requestId);
    expect(a.context.awsRequestId).not.toBe(b.context.awsRequestId);
  });

  it("leaves queryStringParameters and cookies undefined when the request has none", async () => {
    handler = echo;
    const { event } = await echoed(await fetch(`${api.url}/plain`));
    expect(event.rawQueryString).toBe("");
    expect(event.queryStringParameters).toBeUndefined();
    expect(event.cookies).toBeUndefined();
  });

  it("moves request cookies from the headers into event.cookies", async () => {
    handler = echo;
    const { event } = await echoed(await fetch(`${api.url}/`, { headers: { Cookie: "session=abc; theme=dark" } }));
    expect(event.cookies).toEqual(["session=abc", "theme=dark"]);
    expect(event.headers.cookie).toBeUndefined();
  });

  it("round-trips a JSON body as a plain string and a JSON response", async () => {
    handler = async (event) => {
      const input = JSON.parse(event.body ?? "null") as { workflow: string; input: unknown };
      return {
        statusCode: 201,
        headers: { "content-type": "application/json", "x-execution-id": "exec-1" },
        body: JSON.stringify({ received: input, isBase64Encoded: event.isBase64Encoded, method: event.requestContext.http.method }),
      };
    };
    const payload = { workflow: "onboarding", input: { email: "a@example.com", tags: ["ü", "✓"] } };
    const res = await fetch(`${api.url}/executions`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify(payload),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-execution-id")).toBe("exec-1");
    expect(await res.json()).toEqual({ received: payload, isBase64Encoded: false, method: "POST" });
  });

  it("passes a binary request body base64-encoded with isBase64Encoded true", async () => {
    handler = echo;
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255, 0x80, 0x81]);
    const res = await fetch(`${api.url}/upload`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
    });
    const { event } = await echoed(res);
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? "", "base64").equals(bytes)).toBe(true);
  });

  it("sends a base64-encoded handler result back as raw bytes", async () => {
    const bytes = Buffer.from([255, 216, 255, 224, 0, 16]);
    handler = async () => ({
      statusCode: 200,
      headers: { "content-type": "image/jpeg" },
      body: bytes.toString("base64"),
      isBase64Encoded: true,
    });
    const res = await fetch(`${api.url}/image`);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("answers 500 with the error shape and no stack trace when the handler throws, and logs the error to stderr", async () => {
    const stderr = vi.spyOn(console, "error").mockImplementation(() => {});
    handler = async () => {
      throw new Error("secret internal detail");
    };
    const res = await fetch(`${api.url}/boom`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "INTERNAL", message: "Internal Server Error" } });
    expect(text).not.toContain("secret internal detail");
    expect(text).not.toMatch(/\bat\s/);
    expect(stderr).toHaveBeenCalled();
    expect(stderr.mock.calls.flat().some((arg) => arg instanceof Error && arg.message === "secret internal detail")).toBe(
      true,
    );
  });

  it("rejects a body over 10 MB with 413 PAYLOAD_TOO_LARGE without calling the handler", async () => {
    const called = vi.fn(echo);
    handler = called;
    const res = await fetch(`${api.url}/executions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: Buffer.alloc(MAX_REQUEST_BODY_BYTES + 1, 0x61),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(body.error.message).toEqual(expect.any(String));
    expect(called).not.toHaveBeenCalled();
  });

  it("rejects an oversize chunked body (no content-length) with 413 too", async () => {
    const called = vi.fn(echo);
    handler = called;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${api.url}/executions`, { method: "POST", headers: { "content-type": "text/plain" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      const chunk = Buffer.alloc(1024 * 1024, 0x62);
      for (let i = 0; i <= 10; i++) req.write(chunk);
      req.end();
    });
    expect(status).toBe(413);
    expect(called).not.toHaveBeenCalled();
  });

  it("accepts a body of exactly 10 MB", async () => {
    handler = async (event) => ({ statusCode: 200, body: String(event.body?.length) });
    const res = await fetch(`${api.url}/big`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: Buffer.alloc(MAX_REQUEST_BODY_BYTES, 0x61),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(String(MAX_REQUEST_BODY_BYTES));
  });

  it("turns result cookies into separate set-cookie headers", async () => {
    handler = async () => ({
      statusCode: 204,
      cookies: ["session=abc; HttpOnly; Path=/", "theme=dark; Max-Age=60"],
    });
    const res = await fetch(`${api.url}/login`, { method: "POST" });
    expect(res.status).toBe(204);
    expect(res.headers.getSetCookie()).toEqual(["session=abc; HttpOnly; Path=/", "theme=dark; Max-Age=60"]);
  });

  it("treats a string result as a 200 JSON response with that body", async () => {
    handler = async () => '{"ok":true}';
    const res = await fetch(`${api.url}/string`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.text()).toBe('{"ok":true}');
  });

  it("serializes an object result without statusCode as a 200 JSON body", async () => {
    handler = async () => ({ hello: "world" }) as unknown as APIGatewayProxyResultV2;
    const res = await fetch(`${api.url}/object`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hello: "world" });
  });

  it("close() resolves promptly while a client holds an idle keep-alive connection", async () => {
    const server = await serveHttpApi({ handler: async () => "ok" });
    // fetch keeps its connection alive after the response.
    const res = await fetch(`${server.url}/`);
    expect(await res.text()).toBe("ok");
    const started = Date.now();
    await server.close();
    // Below Node's 5 s keep-alive timeout, which a close that waited for the socket would take.
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
