/**
 * Errors of the engine. Every error has a stable `code` callers can switch on and a message a
 * person can act on. The API maps codes to HTTP statuses in one place (handlers/http.ts).
 */

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

/** Base class of every error the engine throws on purpose. */
export class DurableError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(code: string, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
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

/** The workflow awaited something that is not a durable call (a bare timer, fetch, ...). */
export class WorkflowBlockedError extends DurableError {
  constructor() {
    super(
      "UNSUPPORTED_AWAIT",
      "the workflow is waiting on something that is not a durable call: wrap I/O in ctx.step() and waits in ctx.sleep() or ctx.waitForSignal()",
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

const STACK_LINES = 12;

/** Turns anything thrown into the stored form. */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof Error) {
    const info: ErrorInfo = { name: err.name, message: err.message };
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string") info.code = code;
    if (err.stack) info.stack = err.stack.split("\n").slice(0, STACK_LINES).join("\n");
    if (err instanceof NonRetryableError) info.nonRetryable = true;
    if (err instanceof DurableError && Object.keys(err.details).length > 0) info.details = err.details;
    return info;
  }
  return { name: "Error", message: typeof err === "string" ? err : safeJson(err) };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
