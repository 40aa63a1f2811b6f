/**
 * The retry policy and the mapping of answers that are not the API's, against a scripted HTTP
 * server: only the API's own `503 STORE_BUSY` and `429 INBOX_FULL` are tried again, with a
 * growing, jittered, bounded backoff; everything else reaches the caller at once as its class.
 */
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  ApiError,
  AuthError,
  ConflictError,
  createClient,
  DurableClientError,
  InvalidArgumentError,
  NetworkError,
  RateLimitError,
  type RetryOptions,
  ServerError,
  ServiceUnavailableError,
  UnexpectedResponseError,
} from "../../lambdas/client/index.js";
import { DEFAULT_RETRY, retryDelayMs } from "../../lambdas/client/retry.js";
import { DurableError } from "../../lambdas/core/errors.js";
import { executionBody, type FakeApi, type ScriptedAnswer, startFakeApi } from "./fake-api.js";

const storeBusy: ScriptedAnswer = { status: 503, body: { error: { code: "STORE_BUSY", message: "DynamoDB throttled the request; retry with backoff" } } };
const inboxFull: ScriptedAnswer = { status: 429, body: { error: { code: "INBOX_FULL", message: "the inbox is full" } } };

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

function clientOf(fake: FakeApi, retry: RetryOptions = { initialDelayMs: 20, maxDelayMs: 200 }) {
  return createClient({ url: fake.url, auth: { type: "bearer", token: "t" }, retry });
}

describe("retries", () => {
  it("a 503 STORE_BUSY twice, then 200: get() succeeds on the third request, after a backoff each time", async () => {
    api = await startFakeApi((_req, i) => (i < 2 ? storeBusy : { status: 200, body: executionBody("x") }));
    const execution = await clientOf(api).get("x");
    expect(execution.id).toBe("x");
    expect(api.requests).toHaveLength(3);
    const gaps = api.requests.slice(1).map((r, i) => r.atMs - (api?.requests[i]?.atMs ?? 0));
    // Equal jitter: at least half the backoff (20 ms, then 40 ms); timers may fire a ms early.
    expect(gaps[0]).toBeGreaterThanOrEqual(9);
    expect(gaps[1]).toBeGreaterThanOrEqual(19);
  });

  it("a 429 INBOX_FULL on a signal is sent again until it is accepted", async () => {
    api = await startFakeApi((_req, i) => (i < 3 ? inboxFull : { status: 202, body: { signalId: "s-1" } }));
    expect(await clientOf(api).signal("x", "go", { n: 1 })).toEqual({ signalId: "s-1" });
    expect(api.requests).toHaveLength(4);
    expect(new Set(api.requests.map((r) => r.body))).toEqual(new Set(['{"n":1}']));
  });

  it("is bounded: after maxRetries the last STORE_BUSY reaches the caller as ServiceUnavailableError", async () => {
    api = await startFakeApi(() => storeBusy);
    const err = await clientOf(api, { initialDelayMs: 1, maxDelayMs: 5, maxRetries: 3 }).get("x").catch((e: unknown) => e);
    expect(api.requests).toHaveLength(4);
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(err).toMatchObject({ status: 503, code: "STORE_BUSY", origin: "api", message: "DynamoDB throttled the request; retry with backoff" });
  });

  it("the default policy tries 1 + 4 times; maxRetries 0 sends once", async () => {
    api = await startFakeApi(() => storeBusy);
    await expect(createClient({ url: api.url, auth: { type: "bearer", token: "t" }, retry: { maxRetries: 0 } }).get("x")).rejects.toBeInstanceOf(
      ServiceUnavailableError,
    );
    expect(api.requests).toHaveLength(1);
    expect(DEFAULT_RETRY.maxRetries).toBe(4);
  });

  it.each<[string, ScriptedAnswer, new (...args: never[]) => ApiError, string]>([
    ["500 INTERNAL", { status: 500, body: { error: { code: "INTERNAL", message: "Internal Server Error" } } }, ServerError, "INTERNAL"],
    ["409 EXECUTION_ENDED", { status: 409, body: { error: { code: "EXECUTION_ENDED", message: "ended" } } }, ConflictError, "EXECUTION_ENDED"],
    ["API Gateway's 503 (the function may have run)", { status: 503, body: { message: "Service Unavailable" } }, ServiceUnavailableError, "HTTP_503"],
    ["API Gateway's 504", { status: 504, body: { message: "Endpoint request timed out" } }, ServiceUnavailableError, "HTTP_504"],
    ["API Gateway's 429 throttling", { status: 429, body: { message: "Too Many Requests" } }, RateLimitError, "HTTP_429"],
    ["a proxy's 502 HTML page", { status: 502, body: "<html><body>Bad Gateway</body></html>" }, ServerError, "HTTP_502"],
  ])("%s is not retried", async (_what, scripted, errorClass, code) => {
    api = await startFakeApi(() => scripted);
    const err = await clientOf(api).get("x").catch((e: unknown) => e);
    expect(api.requests).toHaveLength(1);
    expect(err).toBeInstanceOf(errorClass);
    expect(err).toMatchObject({ status: scripted.status, code });
  });

  it("a retry's backoff stops when result()'s signal aborts, with the signal's reason", async () => {
    api = await startFakeApi(() => storeBusy);
    const client = clientOf(api, { initialDelayMs: 10_000, maxDelayMs: 10_000 });
    const reason = new Error("caller gave up");
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 100);
    const startedMs = Date.now();
    await expect(client.result("x", { signal: controller.signal })).rejects.toBe(reason);
    expect(Date.now() - startedMs).toBeLessThan(3_000);
    expect(api.requests).toHaveLength(1);
  });

  it("backoff doubles from initialDelayMs up to maxDelayMs, between half and all of it", () => {
    const policy = { maxRetries: 10, initialDelayMs: 100, maxDelayMs: 1_000 };
    expect([0, 1, 2, 3, 4, 5].map((n) => retryDelayMs(n, policy, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([0, 1, 2, 3, 4, 5].map((n) => retryDelayMs(n, policy, () => 1))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(() => createClient({ url: "http://127.0.0.1:1", auth: { type: "bearer", token: "t" }, retry: { maxRetries: -1 } })).toThrow(RangeError);
  });
});

describe("answers that are not the API's", () => {
  it("API Gateway's 403 {\"message\":\"Forbidden\"} is an AuthError that says why and keeps the gateway's words", async () => {
    api = await startFakeApi(() => ({ status: 403, body: { message: "Forbidden" } }));
    const err = await clientOf(api).workflows().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toBeInstanceOf(DurableClientError);
    expect(err).toBeInstanceOf(DurableError);
    expect(err).toMatchObject({ status: 403, code: "HTTP_403", origin: "gateway", method: "GET", url: `${api.url}/workflows` });
    expect((err as Error).message).toContain('"Forbidden"');
    expect((err as Error).message).toContain("execute-api:Invoke");
    expect(api.requests).toHaveLength(1);
  });

  it("a 200 that is not JSON, or JSON of another shape, is UnexpectedResponseError", async () => {
    api = await startFakeApi((req) => (req.rawUrl === "/workflows" ? { status: 200, body: "<html>login page</html>" } : { status: 200, body: { hello: "world" } }));
    const client = clientOf(api);
    const notJson = await client.workflows().catch((e: unknown) => e);
    expect(notJson).toBeInstanceOf(UnexpectedResponseError);
    expect(notJson).toMatchObject({ code: "UNEXPECTED_RESPONSE", status: 200 });
    expect((notJson as Error).message).toContain("not JSON");
    const otherShape = await client.get("x").catch((e: unknown) => e);
    expect(otherShape).toBeInstanceOf(UnexpectedResponseError);
    expect((otherShape as Error).message).toMatch(/another shape \(id: /);
  });

  it("no server at the URL is a NetworkError naming the request and the cause", async () => {
    const port = await closedPort();
    const client = createClient({ url: `http://127.0.0.1:${port}`, auth: { type: "bearer", token: "t" } });
    const err = await client.get("x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ code: "NETWORK_ERROR" });
    expect((err as Error).message).toContain(`GET http://127.0.0.1:${port}/executions/x`);
    expect((err as Error).message).toContain("ECONNREFUSED");
  });

  it("a bearer token given as a function is asked for at every request", async () => {
    api = await startFakeApi(() => ({ status: 200, body: { workflows: [] } }));
    let n = 0;
    const client = createClient({ url: api.url, auth: { type: "bearer", token: async () => `token-${++n}` } });
    await client.workflows();
    await client.workflows();
    expect(api.requests.map((r) => r.headers.authorization)).toEqual(["Bearer token-1", "Bearer token-2"]);
  });

  it("a base URL with a path keeps it; one with a query, or not http(s), is refused up front", async () => {
    api = await startFakeApi(() => ({ status: 200, body: { workflows: [] } }));
    await createClient({ url: `${api.url}/prod/`, auth: { type: "bearer", token: "t" } }).workflows();
    expect(api.requests[0]?.rawUrl).toBe("/prod/workflows");
    expect(() => createClient({ url: `${api?.url}/?x=1`, auth: { type: "bearer", token: "t" } })).toThrow(InvalidArgumentError);
    expect(() => createClient({ url: "ftp://example.com", auth: { type: "bearer", token: "t" } })).toThrow(InvalidArgumentError);
    expect(() => createClient({ url: "not a url", auth: { type: "bearer", token: "t" } })).toThrow(InvalidArgumentError);
  });
});

/** A port nothing listens on: bind one, then free it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
