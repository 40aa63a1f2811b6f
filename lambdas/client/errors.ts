/**
 * Errors of the client, all under `DurableClientError` (itself a `DurableError`, the engine's
 * root), each with a stable `code`:
 *
 *   DurableClientError
 *   ├─ ApiError                      an HTTP answer other than 2xx; `status`, `code`, `origin`
 *   │  ├─ InvalidRequestError        400, 405, 415: INVALID_INPUT, INVALID_JSON, INVALID_CURSOR, WORKFLOW_NOT_FOUND, ...
 *   │  ├─ AuthError                  401, 403: UNAUTHORIZED, or API Gateway refusing a signature or a JWT
 *   │  ├─ NotFoundError              404: EXECUTION_NOT_FOUND, VALUE_NOT_FOUND, ROUTE_NOT_FOUND
 *   │  ├─ ConflictError              409: EXECUTION_EXISTS, EXECUTION_ENDED, EXECUTION_NOT_FAILED
 *   │  ├─ PayloadTooLargeError       413: PAYLOAD_TOO_LARGE
 *   │  ├─ RateLimitError             429: INBOX_FULL, or API Gateway throttling
 *   │  ├─ ServiceUnavailableError    503, 504: STORE_BUSY, or API Gateway when the function failed or timed out
 *   │  └─ ServerError                500 and other 5xx: INTERNAL
 *   ├─ UnexpectedResponseError       a 2xx answer that is not the JSON this route returns
 *   ├─ ValueChangedError             value(): the parts of a value did not add up to one value
 *   ├─ NetworkError                  no answer at all (refused, reset, DNS)
 *   ├─ InvalidArgumentError          refused before sending (an empty id, a bad URL, no region)
 *   ├─ CredentialsError              IAM auth: no AWS credentials could be had to sign with
 *   ├─ ExecutionFailedError          result(): the execution failed; carries its error
 *   ├─ ExecutionCanceledError        result(): the execution was canceled
 *   ├─ ExecutionTerminatedError      result(): the execution was terminated
 *   └─ ResultTimeoutError            result(): it had not ended within `timeoutMs`
 */
import { DurableError } from "../core/errors.js";
import type { ExecutionFailure, ExecutionWithRefs } from "./types.js";

/** Root of every error the client throws on purpose: `instanceof DurableClientError` catches them all. */
export class DurableClientError extends DurableError {}

/**
 * Who wrote the error answer: `api` when the body is this API's `{ error: { code, message } }`;
 * `gateway` when something in front of it answered (API Gateway's `{"message":"Forbidden"}`, a
 * proxy's HTML page). A gateway answer's `code` is `HTTP_<status>`.
 */
export type ErrorOrigin = "api" | "gateway";

export interface ApiErrorInit {
  status: number;
  code: string;
  message: string;
  origin: ErrorOrigin;
  method: string;
  url: string;
}

/** The API (or what is in front of it) answered with an error status. */
export class ApiError extends DurableClientError {
  readonly status: number;
  readonly origin: ErrorOrigin;
  readonly method: string;
  readonly url: string;
  constructor(init: ApiErrorInit) {
    super(init.code, init.message, { details: { status: init.status, origin: init.origin, method: init.method, url: init.url } });
    this.status = init.status;
    this.origin = init.origin;
    this.method = init.method;
    this.url = init.url;
  }
}

/** 400, 405, 415: the request is wrong (a field, an id, a cursor, an unregistered workflow). Do not retry as is. */
export class InvalidRequestError extends ApiError {}
/** 401, 403: missing or wrong bearer token, or a request API Gateway did not accept as signed or authorized. */
export class AuthError extends ApiError {}
/** 404: no such execution (or its retention ended), no such value of it, or no such route. */
export class NotFoundError extends ApiError {}
/** 409: the id is taken by another workflow or input (EXECUTION_EXISTS), or the execution has ended (EXECUTION_ENDED). */
export class ConflictError extends ApiError {}
/** 413: a value over the API's limit (the message says the size and the limit). */
export class PayloadTooLargeError extends ApiError {}
/** 429: the execution's inbox is full (INBOX_FULL, retried by the client), or API Gateway throttled. */
export class RateLimitError extends ApiError {}
/** 503, 504: the store is busy (STORE_BUSY, retried by the client), or the API function failed or timed out. */
export class ServiceUnavailableError extends ApiError {}
/** 500 and other 5xx: a failure on the server's side. */
export class ServerError extends ApiError {}

/** A 2xx answer that is not what the route returns: the URL probably points at something else. */
export class UnexpectedResponseError extends DurableClientError {
  readonly status: number;
  constructor(method: string, url: string, status: number, problem: string, bodyExcerpt: string) {
    super("UNEXPECTED_RESPONSE", `${method} ${url} answered ${status} with ${problem}; is the client's url the API's base URL? Body: ${bodyExcerpt}`, {
      details: { method, url, status, bodyExcerpt },
    });
    this.status = status;
  }
}

/**
 * `value()`: the parts read do not make one value: an answer said another number of parts or
 * bytes than the first (or than the reference given), or the parts add up to another length. The
 * value changed while it was read (an execution's `input` at a continue-as-new), or an answer was
 * altered on the way. Reading it again gets the value as it is now.
 */
export class ValueChangedError extends DurableClientError {
  readonly executionId: string;
  readonly valueName: string;
  constructor(executionId: string, valueName: string, problem: string) {
    super("VALUE_CHANGED", `value "${valueName}" of execution "${executionId}" did not read whole: ${problem}; it changed while it was read, or an answer was altered on the way`, {
      details: { executionId, name: valueName },
    });
    this.executionId = executionId;
    this.valueName = valueName;
  }
}

/**
 * No answer came: the connection was refused or reset, the name did not resolve. A start, signal
 * or cancel may or may not have been taken; a start with an `id` can be sent again safely.
 */
export class NetworkError extends DurableClientError {
  constructor(method: string, url: string, cause: unknown) {
    super("NETWORK_ERROR", `${method} ${url} got no answer: ${describeCause(cause)}`, { cause, details: { method, url } });
  }
}

/** The client refused a call before sending it. */
export class InvalidArgumentError extends DurableClientError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
  }
}

/**
 * IAM auth: the credentials could not be had (the default chain found none, a provider threw, or
 * returned something that is not credentials). Nothing was sent. `cause` is the provider's error.
 */
export class CredentialsError extends DurableClientError {
  constructor(cause: unknown) {
    super(
      "CREDENTIALS_UNAVAILABLE",
      `no AWS credentials to sign the request with: ${cause instanceof Error ? cause.message : String(cause)} (set auth.credentials, or configure the standard chain: AWS_* variables, a profile, a role)`,
      { cause },
    );
  }
}

/** `result()`: the execution ended `failed`. `failure` is its error as the API reports it (no stack). */
export class ExecutionFailedError extends DurableClientError {
  readonly executionId: string;
  readonly failure: ExecutionFailure;
  readonly execution: ExecutionWithRefs;
  constructor(execution: ExecutionWithRefs) {
    const failure: ExecutionFailure = execution.error ?? { name: "Error", message: "the execution failed without a recorded error" };
    super("EXECUTION_FAILED", `execution "${execution.id}" failed: ${failure.code === undefined ? "" : `${failure.code}: `}${failure.message}`, {
      details: { executionId: execution.id, failure },
    });
    this.executionId = execution.id;
    this.failure = failure;
    this.execution = execution;
  }
}

/** `result()`: the execution ended `canceled`. */
export class ExecutionCanceledError extends DurableClientError {
  readonly executionId: string;
  readonly execution: ExecutionWithRefs;
  constructor(execution: ExecutionWithRefs) {
    super("EXECUTION_CANCELED", `execution "${execution.id}" was canceled`, { details: { executionId: execution.id } });
    this.executionId = execution.id;
    this.execution = execution;
  }
}

/** `result()`: the execution was terminated (`terminate()`): it ended at once, without cleanup. */
export class ExecutionTerminatedError extends DurableClientError {
  readonly executionId: string;
  readonly execution: ExecutionWithRefs;
  constructor(execution: ExecutionWithRefs) {
    super("EXECUTION_TERMINATED", `execution "${execution.id}" was terminated${execution.error?.message ? ` (${execution.error.message})` : ""}`, { details: { executionId: execution.id } });
    this.executionId = execution.id;
    this.execution = execution;
  }
}

/** `result()`: the execution had not ended within `timeoutMs`. It goes on running; wait again or cancel it. */
export class ResultTimeoutError extends DurableClientError {
  readonly executionId: string;
  readonly timeoutMs: number;
  /** The status last read, if any read answered in time. */
  readonly lastStatus: string | undefined;
  constructor(executionId: string, timeoutMs: number, lastStatus: string | undefined) {
    super(
      "RESULT_TIMEOUT",
      `execution "${executionId}" had not ended after ${timeoutMs} ms${lastStatus === undefined ? "" : ` (last seen ${lastStatus})`}; it is still running`,
      { details: { executionId, timeoutMs, ...(lastStatus === undefined ? {} : { lastStatus }) } },
    );
    this.executionId = executionId;
    this.timeoutMs = timeoutMs;
    this.lastStatus = lastStatus;
  }
}

/** fetch's "fetch failed" says nothing; the reason is in its cause (ECONNREFUSED, ENOTFOUND, ...). */
function describeCause(cause: unknown): string {
  const parts: string[] = [];
  let current: unknown = cause;
  for (let depth = 0; depth < 3 && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    parts.push(typeof code === "string" && !current.message.includes(code) ? `${current.message} (${code})` : current.message);
    current = current.cause;
  }
  return parts.length > 0 ? parts.join(": ") : String(cause);
}
