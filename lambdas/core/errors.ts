/**
 * Errors of the engine. Every error has a stable `code` callers can switch on and a message a
 * person can act on. The API maps codes to HTTP statuses in one place (handlers/http.ts).
 */

import { jsonBytes } from "./limits.js";

/** Serialised form of an error, as stored in history and returned by the API. */
export interface ErrorInfo {
  name: string;
  message: string;
  code?: string;
  /** First lines of the stack, for debugging; never returned by the API. */
  stack?: string;
  /** True when the error said it must not be retried. */
  nonRetryable?: boolean;
  /** Extra data an error carries (e.g. the failed step's name). */
  details?: Record<string, unknown>;
}

/**
 * Every class in an error's chain, by name, under a key shared by every copy of this package in a
 * process (`Symbol.for`): `instanceof` then holds for an error made by another copy (a bundle, a
 * second install), as long as class names survive bundling (the construct keeps them).
 */
const BRANDS = Symbol.for("durable-aws.errorClasses");

/**
 * Root of every error the package throws on purpose: a stable `code` to switch on, a message a
 * person can act on, and the data behind it in `details`.
 */
export class DurableError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(code: string, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
    const names: string[] = [];
    for (let c: unknown = new.target; typeof c === "function" && c !== Error; c = Object.getPrototypeOf(c)) names.push((c as { name: string }).name);
    Object.defineProperty(this, BRANDS, { value: names, enumerable: false });
  }

  /** `err instanceof StepFailedError` for an error of any copy of this package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== "object" || value === null) return false;
    const names = (value as { [BRANDS]?: unknown })[BRANDS];
    if (Array.isArray(names)) return names.includes(this.name);
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

/** Thrown into the workflow when a step failed for good (last attempt, or a non-retryable error). */
export class StepFailedError extends DurableError {
  readonly stepName: string;
  readonly attempts: number;
  /** The error of the last attempt, as recorded in history. */
  readonly failure: ErrorInfo;
  constructor(stepName: string, attempts: number, failure: ErrorInfo) {
    super("STEP_FAILED", `step "${stepName}" failed after ${attempts} attempt(s): ${failure.message}`, {
      details: { stepName, attempts, failure: { name: failure.name, message: failure.message, code: failure.code } },
    });
    this.stepName = stepName;
    this.attempts = attempts;
    this.failure = failure;
  }
}

/**
 * Throw from a step body to fail the step at once, without further attempts
 * (like Restate's TerminalError or Temporal's non-retryable ApplicationFailure).
 */
export class NonRetryableError extends DurableError {
  constructor(message: string, options: { code?: string; cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(options.code ?? "NON_RETRYABLE", message, options);
  }
}

/** Thrown into the workflow at its next durable call once the execution was asked to cancel. */
export class CancelledError extends DurableError {
  constructor(reason?: string) {
    super("CANCELLED", reason ? `execution was canceled: ${reason}` : "execution was canceled", {
      details: reason ? { reason } : {},
    });
  }
}

/** Replay met a durable call that differs from what history recorded at the same position. */
export class NonDeterminismError extends DurableError {
  constructor(position: number, expected: string, found: string) {
    super(
      "NON_DETERMINISM",
      `non-determinism at position ${position}: history has ${expected}, the workflow code called ${found}. ` +
        "The workflow code changed in a way that is not compatible with running executions: register it as a new version.",
      { details: { position, expected, found } },
    );
  }
}

/**
 * The workflow waited on something that is not a durable call (a bare timer, fetch, ...): either
 * it waits with no durable call open, or it went on (made a call, returned) when something other
 * than the engine resumed it, which a replay would not reproduce.
 */
export class WorkflowBlockedError extends DurableError {
  constructor(resumedBy?: string) {
    super(
      "UNSUPPORTED_AWAIT",
      (resumedBy === undefined
        ? "the workflow is waiting on something that is not a durable call"
        : `the workflow went on after awaiting something that is not a durable call (${resumedBy} outside a replay)`) +
        ": wrap I/O in ctx.step() and waits in ctx.sleep() or ctx.waitForSignal()",
    );
  }
}

export class WorkflowNotFoundError extends DurableError {
  constructor(workflow: string, version?: number) {
    super(
      "WORKFLOW_NOT_FOUND",
      version === undefined ? `no workflow named "${workflow}" is registered` : `workflow "${workflow}" has no version ${version}`,
      { details: version === undefined ? { workflow } : { workflow, version } },
    );
  }
}

export class InvalidTransitionError extends DurableError {
  constructor(from: string, to: string) {
    super("INVALID_TRANSITION", `an execution cannot go from "${from}" to "${to}"`, { details: { from, to } });
  }
}

export class InvalidDurationError extends DurableError {
  constructor(value: unknown) {
    super("INVALID_DURATION", `not a duration: ${JSON.stringify(value)} (use milliseconds or a string like "90s", "5 minutes", "3 days")`);
  }
}

export class ValueNotSerializableError extends DurableError {
  constructor(what: string, cause: unknown) {
    super("NOT_SERIALIZABLE", `${what} must be JSON-serialisable`, { cause });
  }
}

/**
 * Bounds on what an error records: an error is stored in history (and repeated in the execution
 * item once it ends it), so a 200 KB message, a long stack or large details must not make the
 * event too big to commit. Longer text is cut and marked.
 */
export const ERROR_LIMITS = { messageChars: 4_000, stackLines: 12, stackLineChars: 300, detailsBytes: 16_000 } as const;

/** Turns anything thrown into the stored form, within ERROR_LIMITS. */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof Error) {
    const info: ErrorInfo = { name: clip(String(err.name), 200), message: clip(String(err.message), ERROR_LIMITS.messageChars) };
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string") info.code = clip(code, 200);
    if (err.stack) {
      info.stack = err.stack
        .split("\n")
        .slice(0, ERROR_LIMITS.stackLines)
        .map((line) => clip(line, ERROR_LIMITS.stackLineChars))
        .join("\n");
    }
    if (err instanceof NonRetryableError) info.nonRetryable = true;
    if (err instanceof DurableError && Object.keys(err.details).length > 0) info.details = boundedDetails(err.details);
    return info;
  }
  return { name: "Error", message: clip(typeof err === "string" ? err : safeJson(err), ERROR_LIMITS.messageChars) };
}

/** An ErrorInfo from elsewhere (a child's failure, a stored one) brought within ERROR_LIMITS. */
export function boundErrorInfo(info: ErrorInfo): ErrorInfo {
  const bounded: ErrorInfo = { ...info, name: clip(info.name, 200), message: clip(info.message, ERROR_LIMITS.messageChars) };
  if (info.stack !== undefined) bounded.stack = clip(info.stack, ERROR_LIMITS.stackLines * (ERROR_LIMITS.stackLineChars + 1));
  if (info.details !== undefined) bounded.details = boundedDetails(info.details);
  return bounded;
}

function clip(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}… [${text.length - maxChars} more characters cut]`;
}

function boundedDetails(details: Record<string, unknown>): Record<string, unknown> {
  const text = safeJson(details);
  if (jsonBytes(text) <= ERROR_LIMITS.detailsBytes) {
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      return { unserializable: true };
    }
  }
  return { truncated: true, bytes: jsonBytes(text) };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The commit that would end a turn found inbox items it has not seen (a signal, a cancel or a
 * child's result arrived during the turn): the worker reads the inbox and goes on instead.
 */
export class InboxChangedError extends DurableError {
  constructor(executionId: string) {
    super("INBOX_CHANGED", `the inbox of execution "${executionId}" changed during the turn`, { details: { executionId } });
  }
}

/** A durable call's name is empty or too long to record. */
export class InvalidNameError extends DurableError {
  constructor(kind: string, name: unknown) {
    super("INVALID_NAME", `${kind} name must be a string of 1 to ${MAX_CALL_NAME_CHARS} characters, got ${clip(JSON.stringify(name) ?? String(name), 80)}`, {
      details: { kind },
    });
  }
}

/** A child could not start: an execution with its id exists and is not this parent's child. */
export class ChildIdInUseError extends DurableError {
  constructor(
    readonly executionId: string,
    readonly childIds: readonly string[],
  ) {
    super(
      "CHILD_ID_IN_USE",
      `child execution id(s) ${childIds.map((id) => `"${id}"`).join(", ")} of "${executionId}" are taken by other executions; give the child another id`,
      { details: { executionId, childIds: [...childIds] } },
    );
  }
}

/** Longest name of a step, timer, signal wait or child call. */
export const MAX_CALL_NAME_CHARS = 256;
