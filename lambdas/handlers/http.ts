/**
 * HTTP plumbing for the API handler: JSON responses, and the one table that maps error codes to
 * statuses. Errors never carry stack traces out.
 */
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { DurableError } from "../core/errors";

export class HttpError extends DurableError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  INVALID_JSON: 400,
  INVALID_INPUT: 400,
  INVALID_CURSOR: 400,
  INVALID_DURATION: 400,
  WORKFLOW_NOT_FOUND: 400,
  UNAUTHORIZED: 401,
  EXECUTION_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  EXECUTION_EXISTS: 409,
  EXECUTION_ENDED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  STORE_BUSY: 503,
};

export function json(status: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  };
}

/** The error answer for anything thrown while handling a request. */
export function errorResponse(err: unknown): { response: APIGatewayProxyStructuredResultV2; unexpected: boolean } {
  if (err instanceof HttpError) {
    return { response: json(err.status, { error: { code: err.code, message: err.message } }), unexpected: false };
  }
  if (err instanceof DurableError) {
    const status = STATUS_BY_CODE[err.code];
    if (status !== undefined) {
      return { response: json(status, { error: { code: err.code, message: err.message } }), unexpected: status >= 500 };
    }
  }
  return { response: json(500, { error: { code: "INTERNAL", message: "Internal Server Error" } }), unexpected: true };
}
