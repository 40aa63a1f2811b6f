/** SDK errors → our errors, at the store's boundary. */
import { StoreBusyError } from "./errors.js";
import { TransactionConflict } from "./transaction.js";

const BUSY = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TransactionConflictException",
  "TransactionInProgressException",
  "InternalServerError",
]);

/** SDK errors → our errors; anything we do not know passes through unchanged. */
export function translate(err: unknown, executionId: string): unknown {
  if (err instanceof TransactionConflict) {
    if (err.reasons.some((r) => r === "TransactionConflict" || r === "ThrottlingError" || r === "ProvisionedThroughputExceeded")) {
      return new StoreBusyError(`DynamoDB is busy for execution "${executionId}": ${err.reasons.join(", ")}`, err);
    }
    return err;
  }
  if (err instanceof Error && BUSY.has(err.name)) {
    return new StoreBusyError(`DynamoDB is busy for execution "${executionId}": ${err.name}`, err);
  }
  return err;
}
