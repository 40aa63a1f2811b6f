/**
 * `durable viewer`'s server: the viewer's page on localhost, and every other request passed on
 * to a deployed API, signed on the way out. The browser talks only to localhost and never sees
 * the AWS credentials; the proxy takes only requests that carry its own random bearer token (the
 * page has it from the URL's fragment), so another site open in the same browser cannot make it
 * sign anything.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Authorizer } from "../../lambdas/client/auth.js";
import { DurableError } from "../../lambdas/core/errors.js";
import { serveViewerPage, VIEWER_PATH, viewerUrl } from "./page-route.js";

export interface ViewerProxyOptions {
  /** The deployed API's base URL (the construct's `apiUrl`); a path in it prefixes every forwarded path. */
  apiUrl: URL;
  /** Gives the headers to send with a request, its own plus the authorization (the client's `iam` authorizer: SigV4). */
  authorize: Authorizer;
  /** 0 or absent: a free port. */
  port?: number;
  /** Default 127.0.0.1: nothing beyond this machine reaches it. */
  host?: string;
  /** The bearer token the page must send; random when absent. */
  token?: string;
  /** How long a forwarded request may take before the page gets a 504. Default 30 s (API Gateway's own limit). */
  timeoutMs?: number;
}

export interface ViewerProxy {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  token: string;
  /** The page, with the token in the fragment. */
  viewerUrl: string;
  close(): Promise<void>;
}

/** The API takes a body of up to 6 MiB (Lambda's limit); a little more passes through so the API, not the proxy, says why. */
const MAX_FORWARDED_BODY_BYTES = 7 * 1024 * 1024;

/**
 * Answer headers worth passing back to the page; the rest (connection, API Gateway's ids) stay
 * behind. A large value's part says with its `x-durable-value-*` headers and its etag which
 * value it is a part of, which the page checks its parts by.
 */
const RELAYED_HEADERS = [
  "content-type",
  "cache-control",
  "retry-after",
  "allow",
  "location",
  "www-authenticate",
  "etag",
  "x-durable-value-bytes",
  "x-durable-value-part",
  "x-durable-value-parts",
];

/**
 * @example
 * const authorize = createAuthorizer({ type: "iam" }, new URL(apiUrl));
 * const proxy = await startViewerProxy({ apiUrl: new URL(apiUrl), authorize, port: 3100 });
 * console.log(proxy.viewerUrl);
 */
export async function startViewerProxy(options: ViewerProxyOptions): Promise<ViewerProxy> {
  const host = options.host ?? "127.0.0.1";
  const token = options.token ?? randomBytes(18).toString("base64url");
  const basePath = options.apiUrl.pathname.replace(/\/+$/, "");
  const settings: ForwardSettings = { ...options, token, basePath, timeoutMs: options.timeoutMs ?? 30_000 };
  let closing = false;

  const server = createServer((req, res) => {
    if (closing) res.shouldKeepAlive = false;
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path === VIEWER_PATH || path.startsWith(`${VIEWER_PATH}/`)) serveViewerPage(req, res);
    else void forward(req, res, settings);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return {
    url,
    port,
    token,
    viewerUrl: viewerUrl(url, token),
    close: () =>
      new Promise<void>((resolve, reject) => {
        closing = true;
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

interface ForwardSettings {
  apiUrl: URL;
  basePath: string;
  authorize: Authorizer;
  token: string;
  timeoutMs: number;
}

async function forward(req: IncomingMessage, res: ServerResponse, settings: ForwardSettings): Promise<void> {
  try {
    const method = (req.method ?? "GET").toUpperCase();
    const body = await readBody(req, MAX_FORWARDED_BODY_BYTES);
    if (!hasToken(req.headers.authorization, settings.token)) {
      sendError(res, 401, "UNAUTHORIZED", "the viewer's token is missing or wrong: open the URL durable viewer printed", { "www-authenticate": 'Bearer realm="durable-viewer"' });
      return;
    }
    if (method !== "GET" && method !== "POST") {
      sendError(res, 405, "METHOD_NOT_ALLOWED", `the viewer passes on GET and POST only, not ${method.slice(0, 20)}`, { allow: "GET, POST" });
      return;
    }
    if (body === "too-large") {
      sendError(res, 413, "PAYLOAD_TOO_LARGE", `the request body is over ${MAX_FORWARDED_BODY_BYTES} bytes`);
      return;
    }
    const target = new URL(`${settings.apiUrl.origin}${settings.basePath}${req.url ?? "/"}`);
    const text = body.length === 0 ? undefined : body.toString("utf8");
    const contentType = req.headers["content-type"];
    let headers: Record<string, string>;
    try {
      headers = await settings.authorize({
        method,
        url: target,
        headers: { accept: "application/json", ...(contentType === undefined ? {} : { "content-type": contentType }) },
        ...(text === undefined ? {} : { body: text }),
      });
    } catch (err) {
      sendError(res, 502, err instanceof DurableError ? err.code : "SIGNING_FAILED", `could not sign the request: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    let answer: Response;
    try {
      answer = await fetch(target, { method, headers, redirect: "manual", signal: AbortSignal.timeout(settings.timeoutMs), ...(text === undefined ? {} : { body: text }) });
    } catch (err) {
      const timedOut = err instanceof Error && err.name === "TimeoutError";
      sendError(res, timedOut ? 504 : 502, timedOut ? "UPSTREAM_TIMEOUT" : "UPSTREAM_UNREACHABLE", timedOut ? `${settings.apiUrl.host} did not answer within ${settings.timeoutMs} ms` : `could not reach ${settings.apiUrl.host}: ${causeMessage(err)}`);
      return;
    }
    const relayed: Record<string, string> = {};
    for (const name of RELAYED_HEADERS) {
      const value = answer.headers.get(name);
      if (value !== null) relayed[name] = value;
    }
    write(res, answer.status, relayed, Buffer.from(await answer.arrayBuffer()));
  } catch (err) {
    if (!res.headersSent) sendError(res, 502, "UPSTREAM_FAILED", `the answer could not be passed on: ${causeMessage(err)}`);
    else res.destroy();
  }
}

/** `Authorization: Bearer <token>`, compared in constant time. */
function hasToken(header: string | undefined, token: string): boolean {
  const match = /^Bearer ([^\s,]+)$/i.exec(header ?? "");
  if (!match) return false;
  const given = Buffer.from(match[1]!, "utf8");
  const expected = Buffer.from(token, "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The whole body, or "too-large" once past the limit (the rest is drained so the client sees the answer). */
function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer | "too-large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received <= limitBytes) chunks.push(chunk);
    });
    req.on("end", () => resolve(received > limitBytes ? "too-large" : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** fetch's "fetch failed" hides the reason (ECONNREFUSED, ENOTFOUND) in its cause. */
function causeMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `${err.message}${cause}`;
}

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  write(res, status, { "content-type": "application/json", "cache-control": "no-store", ...headers }, Buffer.from(JSON.stringify({ error: { code, message } }), "utf8"));
}

function write(res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer): void {
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader("content-length", body.length);
  res.end(body);
}
