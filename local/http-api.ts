/**
 * A stand-in for API Gateway's HTTP API (payload format 2.0) on one machine.
 *
 * It serves the deployed API handler unchanged: each HTTP request becomes an
 * `APIGatewayProxyEventV2`, the handler's result becomes the HTTP response,
 * with the same conversions API Gateway applies (cookies split out of the
 * headers, duplicate query parameters comma-joined, non-textual bodies
 * base64-encoded, a bare string result meaning 200).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyResultV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";

/** API Gateway's payload limit for HTTP APIs. */
export const MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024;

export type HttpApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyResultV2>;

export interface ServeHttpApiOptions {
  handler: HttpApiHandler;
  /** 0 or absent: a free port. */
  port?: number;
  /** Default 127.0.0.1, so the local stack is not reachable from the network. */
  host?: string;
  /** Lambda timeout the handler's `context.getRemainingTimeInMillis()` counts down from. Default 30000. */
  timeoutMs?: number;
  /** Default "api". */
  functionName?: string;
  /** Default "us-east-1". */
  region?: string;
  /** Paths this server answers itself, outside the API (the viewer's page): the handler never sees them. */
  localRoutes?: readonly LocalRoute[];
}

/** A path prefix served by the local server itself, beside the API (no bearer token, no API routing). */
export interface LocalRoute {
  /** E.g. `/viewer`: matches `/viewer` and everything under `/viewer/`, nothing else (`/viewers` goes to the API). */
  prefix: string;
  serve(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

export interface HttpApiServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:51234`. */
  url: string;
  port: number;
  /** Stops accepting connections, lets in-flight requests finish, drops idle keep-alive sockets. */
  close(): Promise<void>;
}

const LOCAL_ACCOUNT_ID = "000000000000";

/**
 * Serves an API Gateway (HTTP API, payload 2.0) Lambda handler over plain HTTP.
 *
 * @example
 * const api = await serveHttpApi({ handler: apiHandler, port: 3000 });
 * await fetch(`${api.url}/executions`, { method: "POST", body: "{}" });
 * await api.close();
 */
export async function serveHttpApi(opts: ServeHttpApiOptions): Promise<HttpApiServer> {
  const host = opts.host ?? "127.0.0.1";
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const functionName = opts.functionName ?? "api";
  const region = opts.region ?? "us-east-1";
  let closing = false;

  const server = createServer((req, res) => {
    // Once closing, answer with `connection: close` so the socket does not
    // linger as an idle keep-alive connection that would hold close() open.
    if (closing) res.shouldKeepAlive = false;
    const local = localRouteFor(opts.localRoutes ?? [], req.url ?? "/");
    if (local) void serveLocalRoute(local, req, res);
    else void serveRequest(req, res, { handler: opts.handler, timeoutMs, functionName, region });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });

  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        closing = true;
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

interface RequestSettings {
  handler: HttpApiHandler;
  timeoutMs: number;
  functionName: string;
  region: string;
}

async function serveRequest(req: IncomingMessage, res: ServerResponse, settings: RequestSettings): Promise<void> {
  try {
    const body = await readBody(req, MAX_REQUEST_BODY_BYTES);
    if (body === "too-large") {
      sendError(res, 413, "PAYLOAD_TOO_LARGE", `Request body exceeds ${MAX_REQUEST_BODY_BYTES} bytes`);
      return;
    }
    const event = toEvent(req, body);
    const context = createLambdaContext({
      functionName: settings.functionName,
      region: settings.region,
      timeoutMs: settings.timeoutMs,
    });
    const result = await withTimeout(settings.handler(event, context), settings.timeoutMs);
    if (result === timedOut) {
      // API Gateway answers 503 when the integration does not answer in time.
      process.stderr.write(`[http-api] ${event.requestContext.requestId}: handler timed out after ${settings.timeoutMs} ms\n`);
      sendError(res, 503, "TIMEOUT", "Service Unavailable");
      return;
    }
    sendResult(res, result);
  } catch (err) {
    console.error(`[http-api] ${req.method} ${req.url}: handler failed`, err);
    if (!res.headersSent) sendError(res, 500, "INTERNAL", "Internal Server Error");
    else res.destroy();
  }
}

function localRouteFor(routes: readonly LocalRoute[], rawUrl: string): LocalRoute | undefined {
  const queryStart = rawUrl.indexOf("?");
  const path = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
  return routes.find((route) => path === route.prefix || path.startsWith(`${route.prefix}/`));
}

async function serveLocalRoute(route: LocalRoute, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    await route.serve(req, res);
  } catch (err) {
    console.error(`[http-api] ${req.method} ${req.url}: local route failed`, err);
    if (!res.headersSent) sendError(res, 500, "INTERNAL", "Internal Server Error");
    else res.destroy();
  }
}

/** Reads the whole body; past `limitBytes` it keeps draining (so the client sees the 413) but keeps nothing. */
function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer | "too-large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let tooLarge = Number(req.headers["content-length"] ?? 0) > limitBytes;
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > limitBytes) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
    });
    req.on("end", () => resolve(tooLarge ? "too-large" : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function toEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const rawUrl = req.url ?? "/";
  const queryStart = rawUrl.indexOf("?");
  const rawPath = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
  const rawQueryString = queryStart === -1 ? "" : rawUrl.slice(queryStart + 1);

  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  // rawHeaders keeps duplicates; API Gateway joins them with commas, except
  // cookies, which move from the headers to `event.cookies`.
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const value = req.rawHeaders[i + 1]!;
    if (name === "cookie") {
      cookies.push(...value.split(";").map((c) => c.trim()).filter((c) => c !== ""));
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const sourceIp = normalizeIp(req.socket.remoteAddress ?? "127.0.0.1");
  const localPort = req.socket.localPort ?? 0;
  headers["x-forwarded-for"] = headers["x-forwarded-for"] ? `${headers["x-forwarded-for"]}, ${sourceIp}` : sourceIp;
  headers["x-forwarded-port"] = String(localPort);
  headers["x-forwarded-proto"] = "http";

  const queryStringParameters: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters[key] =
      queryStringParameters[key] === undefined ? value : `${queryStringParameters[key]},${value}`;
  }

  const now = new Date();
  const domainName = headers.host ?? `localhost:${localPort}`;
  const hasBody = body.length > 0;
  const textual = isTextual(headers["content-type"]);

  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    cookies: cookies.length > 0 ? cookies : undefined,
    headers,
    queryStringParameters: Object.keys(queryStringParameters).length > 0 ? queryStringParameters : undefined,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: "local",
      domainName,
      domainPrefix: domainName.split(".")[0]!.split(":")[0]!,
      http: {
        method: req.method ?? "GET",
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomBytes(12).toString("base64url"),
      routeKey: "$default",
      stage: "$default",
      time: formatRequestTime(now),
      timeEpoch: now.getTime(),
    },
    body: hasBody ? body.toString(textual ? "utf8" : "base64") : undefined,
    pathParameters: undefined,
    isBase64Encoded: hasBody && !textual,
  };
}

/** Content types API Gateway passes through as text; everything else (or none) arrives base64-encoded. */
function isTextual(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
  return (
    mediaType.startsWith("text/") ||
    mediaType.endsWith("+json") ||
    mediaType.endsWith("+xml") ||
    [
      "application/json",
      "application/xml",
      "application/javascript",
      "application/ecmascript",
      "application/x-www-form-urlencoded",
      "application/graphql",
      "application/yaml",
      "application/x-yaml",
    ].includes(mediaType)
  );
}

function normalizeIp(address: string): string {
  return address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
}

/** API Gateway's `requestContext.time` format: `12/Mar/2020:19:03:58 +0000`. */
function formatRequestTime(date: Date): string {
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

/**
 * Payload 2.0 response rules: a structured result (one with `statusCode`) is
 * used as is; anything else is taken as the body of a 200 JSON response, a
 * string verbatim, any other value serialized.
 */
function sendResult(res: ServerResponse, result: APIGatewayProxyResultV2): void {
  if (!isStructured(result)) {
    const body = typeof result === "string" ? result : JSON.stringify(result);
    writeResponse(res, 200, { "content-type": "application/json" }, Buffer.from(body ?? "", "utf8"));
    return;
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name.toLowerCase()] = String(value);
  if (result.cookies && result.cookies.length > 0) headers["set-cookie"] = result.cookies;
  const body = Buffer.from(result.body ?? "", result.isBase64Encoded ? "base64" : "utf8");
  writeResponse(res, result.statusCode ?? 200, headers, body);
}

function isStructured(result: APIGatewayProxyResultV2): result is APIGatewayProxyStructuredResultV2 {
  return typeof result === "object" && result !== null && "statusCode" in result;
}

function sendError(res: ServerResponse, statusCode: number, code: string, message: string): void {
  const body = Buffer.from(JSON.stringify({ error: { code, message } }), "utf8");
  writeResponse(res, statusCode, { "content-type": "application/json" }, body);
}

function writeResponse(
  res: ServerResponse,
  statusCode: number,
  headers: Record<string, string | string[]>,
  body: Buffer,
): void {
  res.statusCode = statusCode;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader("content-length", body.length);
  res.end(body);
}

const timedOut: unique symbol = Symbol("timedOut");

async function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T | typeof timedOut> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof timedOut>((resolve) => {
    timer = setTimeout(() => resolve(timedOut), timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A Lambda `Context` for one invocation; `getRemainingTimeInMillis()` counts
 * down from `timeoutMs` starting now.
 */
export function createLambdaContext(opts: { functionName: string; region: string; timeoutMs: number }): Context {
  const deadlineMs = Date.now() + opts.timeoutMs;
  const day = new Date().toISOString().slice(0, 10).replaceAll("-", "/");
  const unsupported = (name: string) => () => {
    throw new Error(`context.${name}() is not supported: return or throw from the async handler`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: opts.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${opts.region}:${LOCAL_ACCOUNT_ID}:function:${opts.functionName}`,
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${opts.functionName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString("hex")}`,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: unsupported("done"),
    fail: unsupported("fail"),
    succeed: unsupported("succeed"),
  };
}
