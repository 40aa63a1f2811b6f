/** `durable-aws/client`: a typed client of the HTTP API (docs/client.md). */
export { createClient } from "./client";
export type { ClientOptions, DurableClient, ExecutionRef, HistoryOptions, ListOptions, StartOptions } from "./client";
export type { BearerAuth, ClientAuth, IamAuth } from "./auth";
export type { AwsCredentialProvider, AwsCredentials } from "./sigv4";
export type { ResultOptions } from "./result";
export type { RetryOptions } from "./retry";
export type {
  AnyWorkflowDefinition,
  Execution,
  ExecutionFailure,
  ExecutionHandle,
  ExecutionPage,
  ExecutionStatus,
  ExecutionSummary,
  HistoryEventView,
  HistoryPage,
  SignalReceipt,
  StartedExecution,
  WorkflowInfo,
  WorkflowInput,
  WorkflowOutput,
} from "./types";
export {
  ApiError,
  AuthError,
  ConflictError,
  CredentialsError,
  DurableClientError,
  ExecutionCanceledError,
  ExecutionFailedError,
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
} from "./errors";
export type { ErrorOrigin } from "./errors";
