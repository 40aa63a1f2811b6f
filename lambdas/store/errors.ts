import { DurableError } from "../core/errors.js";

/** Errors of the persistence layer. SDK errors are translated into these at the store's boundary. */
export class StoreError extends DurableError {}

/** The worker's lease expired or was taken over: it must stop writing. */
export class LeaseLostError extends StoreError {
  constructor(executionId: string) {
    super("LEASE_LOST", `the lease on execution "${executionId}" is no longer held by this worker`, { details: { executionId } });
  }
}

/** Another writer appended history at the same sequence number first. */
export class HistoryConflictError extends StoreError {
  constructor(executionId: string, seq: number) {
    super("HISTORY_CONFLICT", `history of execution "${executionId}" already has an event at seq ${seq}`, { details: { executionId, seq } });
  }
}

/** An inbox item was consumed by someone else first. */
export class InboxConflictError extends StoreError {
  constructor(executionId: string) {
    super("INBOX_CONFLICT", `an inbox item of execution "${executionId}" was already consumed`, { details: { executionId } });
  }
}

export class ExecutionNotFoundError extends StoreError {
  constructor(executionId: string) {
    super("EXECUTION_NOT_FOUND", `no execution with id "${executionId}"`, { details: { executionId } });
  }
}

/** The execution has ended; it takes no more signals or cancel requests. */
export class ExecutionEndedError extends StoreError {
  constructor(executionId: string, status: string) {
    super("EXECUTION_ENDED", `execution "${executionId}" has already ended (${status})`, { details: { executionId, status } });
  }
}

/** DynamoDB throttled or a transaction met a concurrent one: worth retrying later. */
export class StoreBusyError extends StoreError {
  constructor(message: string, cause: unknown) {
    super("STORE_BUSY", message, { cause });
  }
}

/** A value is larger than one DynamoDB item can hold. */
export class PayloadTooLargeError extends StoreError {
  constructor(what: string, bytes: number, limitBytes: number) {
    super("PAYLOAD_TOO_LARGE", `${what} is ${bytes} bytes; the limit is ${limitBytes} bytes`, { details: { bytes, limitBytes } });
  }
}

/** The execution's inbox is at its limit: the workflow has not taken in what was sent yet. */
export class InboxFullError extends StoreError {
  constructor(executionId: string, limit: { items: number; bytes: number }, current: { items: number; bytes: number }) {
    super(
      "INBOX_FULL",
      `the inbox of execution "${executionId}" is full (${current.items} items, ${current.bytes} bytes; the limits are ${limit.items} items and ${limit.bytes} bytes): try again once the workflow has taken it in`,
      { details: { executionId, ...limit, currentItems: current.items, currentBytes: current.bytes } },
    );
  }
}

/** No callback matches the token (never made, made by another execution, or a forged token). */
export class CallbackNotFoundError extends StoreError {
  constructor() {
    super("CALLBACK_NOT_FOUND", "no callback matches this token");
  }
}

/** The callback was completed or failed already: a token is good for one answer. */
export class CallbackEndedError extends StoreError {
  constructor(endedAs: string) {
    super("CALLBACK_ALREADY_COMPLETED", `the callback has already been answered (${endedAs})`, { details: { endedAs } });
  }
}

/** The callback timed out (its deadline or its heartbeat deadline passed): it takes no answer now. */
export class CallbackExpiredError extends StoreError {
  constructor(reason: "timeout" | "heartbeat") {
    super("CALLBACK_EXPIRED", reason === "timeout" ? "the callback has timed out" : "the callback missed its heartbeat and timed out", { details: { reason } });
  }
}

// Thrown by the store, handled by the driver: defined in core.
export { ChildIdInUseError } from "../core/errors.js";

/** A redrive of an execution that is not failed (or is a child, or whose retention ended). */
export class ExecutionNotFailedError extends StoreError {
  constructor(executionId: string, status: string, why?: string) {
    super("EXECUTION_NOT_FAILED", `execution "${executionId}" is ${status}${why ? ` (${why})` : ""}: only a failed execution can be redriven`, { details: { executionId, status } });
  }
}
