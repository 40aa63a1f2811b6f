/**
 * The exit codes of the operator commands (`durable start`, `get`, `watch`, ...), in one place:
 * scripts branch on them, docs/cli.md lists them, and every error is mapped here. `durable dev`
 * keeps its own (1 for an error, 2 for a command line commander refused).
 */
import {
  ApiError,
  AuthError,
  ConflictError,
  CredentialsError,
  ExecutionCanceledError,
  ExecutionFailedError,
  ExecutionTerminatedError,
  InvalidArgumentError,
  InvalidRequestError,
  NetworkError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitError,
  ResultTimeoutError,
  ServerError,
  ServiceUnavailableError,
  UnexpectedResponseError,
} from "../../../lambdas/client/errors.js";
import { OperatorError } from "./operator-error.js";

export const EXIT = {
  /** Done; for `result` and `watch`: the execution completed. */
  ok: 0,
  /** `result`, `watch`: the execution ended failed, canceled or terminated. */
  executionUnsuccessful: 1,
  /** The command line or a value in it is wrong (a flag, bad JSON, a refused field): fix the command. */
  usage: 2,
  /** No such execution (or its retention ended), or no such workflow. */
  notFound: 3,
  /** The execution is not in a state for this: it has ended, the id is taken, it has not failed. */
  conflict: 4,
  /** No API to talk to: no `durable dev` running, no answer, not the API, refused credentials. */
  unreachable: 5,
  /** `result --timeout`, `watch --timeout`: it had not ended in time (it goes on). */
  timeout: 6,
  /** The API failed or is busy (5xx, throttled): try again later. */
  serviceFailed: 7,
  /** Anything else: a bug of the CLI; the line says what. */
  unexpected: 8,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The table of docs/cli.md and of `--help`, in order: the code, a few words, what it means. */
export const EXIT_CODE_MEANINGS: readonly (readonly [ExitCode, string, string])[] = [
  [EXIT.ok, "ok", "done (result, watch: the execution completed)"],
  [EXIT.executionUnsuccessful, "execution failed", "result, watch: the execution failed, was canceled or terminated"],
  [EXIT.usage, "usage", "a bad flag or value, or the API refused the request as invalid"],
  [EXIT.notFound, "not found", "no such execution or workflow"],
  [EXIT.conflict, "conflict", "the execution has ended, the id is taken, or it has not failed (redrive)"],
  [EXIT.unreachable, "cannot connect", "no durable dev, no answer, not the API, 401/403, no credentials or region"],
  [EXIT.timeout, "timeout", "--timeout passed before the execution ended"],
  [EXIT.serviceFailed, "API failed", "the API failed or was busy (5xx, throttled): try again"],
  [EXIT.unexpected, "unexpected", "anything else (a bug)"],
];

/** One line for `--help`: `Exit codes: 0 ok, 1 execution failed, ...`. */
export function exitCodesHelp(): string {
  return `Exit codes: ${EXIT_CODE_MEANINGS.map(([code, short]) => `${code} ${short}`).join(", ")} (docs/cli.md).`;
}

const NOT_FOUND_CODES = new Set(["WORKFLOW_NOT_FOUND", "EXECUTION_NOT_FOUND", "CALLBACK_NOT_FOUND"]);

export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof OperatorError) return error.exitCode;
  if (error instanceof ExecutionFailedError || error instanceof ExecutionCanceledError || error instanceof ExecutionTerminatedError) return EXIT.executionUnsuccessful;
  if (error instanceof ResultTimeoutError) return EXIT.timeout;
  if (error instanceof ApiError) {
    // Codes first: WORKFLOW_NOT_FOUND is a 400, ROUTE_NOT_FOUND a 404 that means "not this API".
    if (NOT_FOUND_CODES.has(error.code)) return EXIT.notFound;
    if (error.code === "ROUTE_NOT_FOUND") return EXIT.unreachable;
    if (error instanceof NotFoundError) return EXIT.notFound;
    if (error instanceof ConflictError || error.status === 410) return EXIT.conflict;
    if (error instanceof AuthError) return EXIT.unreachable;
    if (error instanceof InvalidRequestError || error instanceof PayloadTooLargeError) return EXIT.usage;
    if (error instanceof RateLimitError || error instanceof ServiceUnavailableError || error instanceof ServerError) return EXIT.serviceFailed;
    return error.status >= 500 ? EXIT.serviceFailed : EXIT.usage;
  }
  if (error instanceof NetworkError || error instanceof UnexpectedResponseError || error instanceof CredentialsError) return EXIT.unreachable;
  if (error instanceof InvalidArgumentError) return EXIT.usage;
  return EXIT.unexpected;
}
