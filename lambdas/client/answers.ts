/**
 * Turns an HTTP answer into a value or an error. The API's errors are `{ error: { code, message } }`
 * and keep their code and message; anything else (API Gateway's `{"message":"Forbidden"}`, a
 * proxy's HTML) becomes the same class for its status, with code `HTTP_<status>` and a message
 * that says what probably happened.
 */
import { z } from "zod";
import {
  ApiError,
  type ApiErrorInit,
  AuthError,
  ConflictError,
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitError,
  ServerError,
  ServiceUnavailableError,
  UnexpectedResponseError,
} from "./errors.js";

const ApiErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
const GatewayErrorBody = z.object({ message: z.string() });

export interface Answer {
  method: string;
  /** The URL without its query (cursors are long and say nothing to a person). */
  url: string;
  status: number;
  headers: Headers;
  text: string;
}

/** The 2xx body, checked against what the route returns. */
export function parseSuccess<T>(answer: Answer, schema: z.ZodType<T>): T {
  const parsed = parseJson(answer.text);
  if (!parsed.ok) throw new UnexpectedResponseError(answer.method, answer.url, answer.status, "a body that is not JSON", excerpt(answer.text));
  const result = schema.safeParse(parsed.value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join(".") : "the body";
    throw new UnexpectedResponseError(answer.method, answer.url, answer.status, `JSON of another shape (${where}: ${issue?.message ?? "invalid"})`, excerpt(answer.text));
  }
  return result.data;
}

/** One part of a value (`GET /executions/{id}/values/{name}`): a slice of its JSON text, and where it stands. */
export interface ValuePart {
  text: string;
  part: number;
  parts: number;
  /** Bytes of the whole value's JSON. */
  bytes: number;
  /** The answer's `etag`, the same on every part of one value (absent from older servers). */
  etag?: string;
}

/**
 * A 2xx answer of the values route: its body as text (JSON only when the value is one part), what
 * it is told by the `x-durable-value-*` headers.
 */
export function parseValuePart(answer: Answer): ValuePart {
  const count = (name: string): number => {
    const raw = answer.headers.get(`x-durable-value-${name}`);
    return raw !== null && /^[0-9]{1,12}$/.test(raw) ? Number(raw) : Number.NaN;
  };
  const part = count("part");
  const parts = count("parts");
  const bytes = count("bytes");
  if (!(part < parts) || Number.isNaN(bytes)) {
    throw new UnexpectedResponseError(answer.method, answer.url, answer.status, "no x-durable-value-part, -parts and -bytes headers of a value's part", excerpt(answer.text));
  }
  const etag = answer.headers.get("etag");
  return { text: answer.text, part, parts, bytes, ...(etag === null ? {} : { etag }) };
}

/** The error for a non-2xx answer. */
export function errorFromAnswer(answer: Answer): ApiError {
  const parsed = parseJson(answer.text);
  const apiBody = parsed.ok ? ApiErrorBody.safeParse(parsed.value) : undefined;
  const base = { status: answer.status, method: answer.method, url: answer.url };
  if (apiBody?.success) {
    return errorFor({ ...base, origin: "api", code: apiBody.data.error.code, message: apiBody.data.error.message });
  }
  const gatewayBody = parsed.ok ? GatewayErrorBody.safeParse(parsed.value) : undefined;
  const said = gatewayBody?.success ? JSON.stringify(gatewayBody.data.message) : answer.text.trim() === "" ? "an empty body" : excerpt(answer.text);
  return errorFor({
    ...base,
    origin: "gateway",
    code: `HTTP_${answer.status}`,
    message: `${answer.method} ${answer.url} answered ${answer.status} from in front of the API (${said}): ${gatewayHint(answer.status)}`,
  });
}

function errorFor(init: ApiErrorInit): ApiError {
  const { status } = init;
  if (status === 401 || status === 403) return new AuthError(init);
  if (status === 404) return new NotFoundError(init);
  if (status === 409) return new ConflictError(init);
  if (status === 413) return new PayloadTooLargeError(init);
  if (status === 429) return new RateLimitError(init);
  if (status === 503 || status === 504) return new ServiceUnavailableError(init);
  if (status >= 500) return new ServerError(init);
  if (status >= 400) return new InvalidRequestError(init);
  return new ApiError(init);
}

/** What API Gateway means by each status it answers itself (docs/api.md, Errors). */
function gatewayHint(status: number): string {
  switch (status) {
    case 401:
      return "the JWT authorizer refused the token (missing, expired, or another issuer or audience)";
    case 403:
      return "with IAM auth, the request is unsigned, signed for another region or service, or its principal may not call execute-api:Invoke on this API";
    case 404:
      return "no API or stage answers at this URL";
    case 413:
      return "the request is over API Gateway's 10 MB limit";
    case 429:
      return "API Gateway throttled the request; slow down";
    case 503:
    case 504:
      return "the API function failed or timed out; a start, signal or cancel may or may not have taken effect (a start with an id can be sent again)";
    default:
      return status >= 500 ? "a failure in front of the API" : "not an answer of this API";
  }
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text.trim() === "") return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= 200 ? JSON.stringify(flat) : `${JSON.stringify(flat.slice(0, 200))}…`;
}
