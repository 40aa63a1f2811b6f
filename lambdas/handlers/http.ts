/**
 * HTTP plumbing for the API handler: the bearer check, reading a JSON body (content type, size,
 * syntax, depth), schema parsing, JSON answers, and the one table that maps error codes to
 * statuses. Errors never carry stack traces out.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { timingSafeEqual } from "node:crypto";
import type { z } from "zod";
import { DurableError } from "../core/errors.js";

export class HttpError extends DurableError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** More fields of the answer's `error` object (a 403's `permission`). */
    readonly fields: Record<string, string> = {},
  ) {
    super(code, message);
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  INVALID_JSON: 400,
  INVALID_INPUT: 400,
  INVALID_CURSOR: 400,
  INVALID_CALLBACK_TOKEN: 400,
  INVALID_DURATION: 400,
  INVALID_TAGS: 400,
  INVALID_START_AT: 400,
  WORKFLOW_NOT_FOUND: 400,
  UNAUTHORIZED: 401,
  INVALID_VALUE_NAME: 400,
  INVALID_VALUE_PART: 400,
  EXECUTION_NOT_FOUND: 404,
  VALUE_NOT_FOUND: 404,
  CALLBACK_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  EXECUTION_EXISTS: 409,
  EXECUTION_ENDED: 409,
  EXECUTION_NOT_FAILED: 409,
  CALLBACK_ALREADY_COMPLETED: 409,
  CALLBACK_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INBOX_FULL: 429,
  STORE_BUSY: 503,
};

/** Answers worth retrying say when (the client still backs off with jitter). */
const RETRY_AFTER_SECONDS: Record<string, number> = { STORE_BUSY: 1, INBOX_FULL: 5 };

/** Largest request body read: what Lambda takes in one request (a value in it is held to apiValueLimit). */
export const MAX_REQUEST_BODY_BYTES = 6_291_456;

/** Deeper JSON than this is refused: serializing it again (store, replay) would overflow the stack. */
export const MAX_JSON_DEPTH = 64;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
    body: JSON.stringify(body),
  };
}

/** The error answer for anything thrown while handling a request. */
export function errorResponse(err: unknown): { response: APIGatewayProxyStructuredResultV2; unexpected: boolean } {
  if (err instanceof HttpError) {
    return { response: json(err.status, { error: { code: err.code, message: err.message, ...err.fields } }, err.headers), unexpected: false };
  }
  if (err instanceof DurableError) {
    const status = STATUS_BY_CODE[err.code];
    if (status !== undefined) {
      const retryAfter = RETRY_AFTER_SECONDS[err.code];
      return {
        response: json(status, { error: { code: err.code, message: err.message } }, retryAfter === undefined ? {} : { "retry-after": String(retryAfter) }),
        unexpected: status >= 500,
      };
    }
  }
  return { response: json(500, { error: { code: "INTERNAL", message: "Internal Server Error" } }), unexpected: true };
}

/**
 * `Authorization: Bearer <token>` (scheme case-insensitive, RFC 7235), compared in constant time.
 * Anything else, including several Authorization headers (API Gateway joins them with commas), is 401.
 */
/** The bearer token the request sent, if any. */
export function bearerTokenOf(event: APIGatewayProxyEventV2): string | undefined {
  return /^Bearer +(\S+)$/i.exec(event.headers?.authorization ?? "")?.[1];
}

/** Whether the token sent is `expected`, in time that does not depend on where they differ. */
export function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function unauthorized(): HttpError {
  return new HttpError(401, "UNAUTHORIZED", "missing or wrong bearer token (send Authorization: Bearer <token>)", {
    "www-authenticate": 'Bearer realm="durable"',
  });
}

/**
 * The request's JSON body; `undefined` when there is none (empty or only whitespace).
 *
 * Content type: `application/json` or any `application/*+json`, optionally with
 * `charset=utf-8`; a body without a content type is read as JSON too (plain `curl --data-binary`
 * from a file). Anything else is 415. Size: at most MAX_REQUEST_BODY_BYTES, else 413; the values
 * in it (an input, a signal's payload) are held to apiValueLimit as JSON by the engine.
 */
export function readJsonBody(event: APIGatewayProxyEventV2): unknown {
  const raw = event.body === undefined || event.body === null ? "" : event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
  if (raw.trim() === "") return undefined;
  requireJsonContentType(event.headers?.["content-type"]);
  const bytes = Buffer.byteLength(raw);
  if (bytes > MAX_REQUEST_BODY_BYTES) {
    throw new HttpError(
      413,
      "PAYLOAD_TOO_LARGE",
      `the request body is ${bytes} bytes; the limit is ${MAX_REQUEST_BODY_BYTES} bytes (Lambda's request limit)`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(raw) as unknown;
  } catch {
    throw new HttpError(400, "INVALID_JSON", "the request body is not valid JSON");
  }
  if (jsonDepth(value) > MAX_JSON_DEPTH) {
    throw new HttpError(400, "INVALID_INPUT", `the request body is nested more than ${MAX_JSON_DEPTH} levels deep`);
  }
  return value;
}

function requireJsonContentType(contentType: string | undefined): void {
  if (contentType === undefined) return;
  const [mediaType = "", ...params] = contentType.split(";").map((part) => part.trim().toLowerCase());
  const isJson = mediaType === "application/json" || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(mediaType);
  const charset = params.find((p) => p.startsWith("charset="))?.slice("charset=".length).replace(/"/g, "");
  if (!isJson || (charset !== undefined && charset !== "utf-8" && charset !== "utf8")) {
    throw new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", `the request body must be JSON (content-type: application/json; charset utf-8), not "${truncate(contentType, 100)}"`);
  }
}

/** Nesting depth, without recursion (the value may be deep enough to overflow the stack). */
function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== "object") continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_JSON_DEPTH) return deepest;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** `schema.parse` with the first problem as a 400 naming where it is (`body.input`, `query.limit`). */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${what}.${issue.path.join(".")}` : what;
  throw new HttpError(400, "INVALID_INPUT", `${where}: ${issue?.message ?? "invalid"}`);
}

export function truncate(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}…`;
}
