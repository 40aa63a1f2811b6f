/** `durable-aws/client`: a typed client of the HTTP API (docs/client.md). */
export { createClient } from "./client.js";
export type { BulkJobRequest, ClientOptions, DurableClient, ExecutionRef, GetOptions, HistoryOptions, ListOptions, StartOptions, ValueOptions } from "./client.js";
export type { BearerAuth, ClientAuth, IamAuth } from "./auth.js";
export type { AwsCredentialProvider, AwsCredentials } from "./sigv4.js";
export type { ResultOptions } from "./result.js";
export type { RetryOptions } from "./retry.js";
export type {
  AnyWorkflowDefinition,
  Execution,
  ExecutionFailure,
  ExecutionHandle,
  ExecutionPage,
  ExecutionStatus,
  ExecutionSummary,
  ExecutionWithRefs,
  HistoryEventView,
  HistoryPage,
  SignalReceipt,
  StartedExecution,
  ValueRef,
  ValueRefs,
  WorkflowInfo,
  WorkflowInput,
  WorkflowOutput,
} from "./types.js";
export {
  ApiError,
  AuthError,
  ConflictError,
  CredentialsError,
  DurableClientError,
  ExecutionCanceledError,
  ExecutionTerminatedError,
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
  ValueChangedError,
} from "./errors.js";
export type { ErrorOrigin } from "./errors.js";
