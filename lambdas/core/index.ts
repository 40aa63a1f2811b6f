/** The engine's public API: what workflow authors import. */
export { defineWorkflow, WorkflowRegistry } from "./workflow";
export type {
  AnyWorkflow,
  ChildOptions,
  SignalWaitOptions,
  StepInfo,
  StepOptions,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowDefinitionOptions,
  WorkflowFunction,
} from "./workflow";
export type { Duration } from "./duration";
export { toMs } from "./duration";
export type { RetryPolicy } from "./retry";
export {
  CancelledError,
  DurableError,
  NonDeterminismError,
  NonRetryableError,
  StepFailedError,
  WorkflowNotFoundError,
} from "./errors";
export type { ErrorInfo } from "./errors";
export { ChildFailedError } from "./run";
export { StepTimeoutError } from "./driver";
export type { ExecutionStatus } from "./status";
export type { HistoryEvent } from "./events";
