/** The engine's public API: what workflow authors import. */
export { defineWorkflow, WorkflowRegistry } from "./workflow.js";
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
} from "./workflow.js";
export type { Duration } from "./duration.js";
export { toMs } from "./duration.js";
export type { RetryPolicy } from "./retry.js";
export {
  CancelledError,
  DurableError,
  NonDeterminismError,
  NonRetryableError,
  StepFailedError,
  WorkflowNotFoundError,
} from "./errors.js";
export type { ErrorInfo } from "./errors.js";
export { ChildFailedError } from "./run.js";
export { StepTimeoutError } from "./driver.js";
export type { ExecutionStatus } from "./status.js";
export type { HistoryEvent } from "./events.js";
