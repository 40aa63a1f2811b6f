/**
 * `durable-aws`: what workflow code imports. Define workflows, use the context they get, and catch
 * the errors the engine throws into them. Nothing here touches AWS.
 *
 * @example
 * import { defineWorkflow } from "durable-aws";
 *
 * export const onboarding = defineWorkflow("onboarding", async (ctx, input: { email: string }) => {
 *   const user = await ctx.step("create-user", () => createUser(input.email));
 *   await ctx.sleep("grace", "3 days");
 *   return { id: user.id };
 * });
 */
export { defineWorkflow, WorkflowRegistry } from "./core/workflow.js";
export type {
  AnyWorkflow,
  ChildOptions,
  SignalWaitOptions,
  StepInfo,
  StepOptions,
  WaitForCallbackOptions,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowDefinitionOptions,
  WorkflowFunction,
} from "./core/workflow.js";
export type { BatchItem, BatchItemStatus, BatchOptions, BatchResult, CompletionPolicy, CompletionReason } from "./core/batch.js";
export { BatchFailedError, InvalidBatchOptionsError } from "./core/batch.js";
export type { Callback, CallbackOptions } from "./core/callbacks.js";
export { CallbackFailedError, CallbackTimeoutError, InvalidCallbackTokenError } from "./core/callbacks.js";
export type { ConditionCheck, WaitForConditionOptions } from "./core/condition.js";
export { ConditionNotMetError, ConditionTimeoutError } from "./core/condition.js";
export type { Duration } from "./core/duration.js";
export { toMs } from "./core/duration.js";
export type { RetryPolicy } from "./core/retry.js";
export {
  CancelledError,
  ChildIdInUseError,
  DurableError,
  InvalidDurationError,
  InvalidNameError,
  NonDeterminismError,
  NonRetryableError,
  StepFailedError,
  ValueNotSerializableError,
  WorkflowBlockedError,
  WorkflowNotFoundError,
} from "./core/errors.js";
export type { ErrorInfo } from "./core/errors.js";
export { ChildFailedError } from "./core/run.js";
export { StepInterruptedError, StepTimeoutError } from "./core/driver.js";
export type { ExecutionStatus } from "./core/status.js";
export type { HistoryEvent } from "./core/events.js";
export { MAX_VALUE_BYTES } from "./core/limits.js";
export type { Tags } from "./core/tags.js";
export { InvalidStartAtError, InvalidTagsError, MAX_TAGS } from "./core/tags.js";
export type { ScheduleDefinition } from "./starts/definitions.js";
export { InvalidStartDefinitionError } from "./starts/definitions.js";
export { nextFireAfter, parseSchedule, validateSchedules } from "./starts/expression.js";
