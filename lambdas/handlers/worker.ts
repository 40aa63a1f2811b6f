/**
 * The worker Lambda (SQS event source with ReportBatchItemFailures). Each record is handled on its
 * own: one failing execution never fails the batch. A failed record reappears after its
 * visibility timeout (an engine retry).
 */
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { type AnyWorkflow, WorkflowRegistry } from "../core/workflow";
import { type EngineDeps, processWakeup, silentLogger, type WorkerOptions } from "../engine/process-wakeup";
import { InvalidWakeupMessageError, parseWakeup } from "../queue/wakeups";
import { createEngineDeps } from "./deps";

export function createWorkerHandler(deps: EngineDeps, options: WorkerOptions = {}) {
  const log = deps.logger ?? silentLogger;
  const handle = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const time = { remainingMs: () => context.getRemainingTimeInMillis() };
    const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
    // Records of one batch run one after another: they share the invocation's time budget.
    for (const record of event.Records) {
      try {
        const message = parseWakeup(record.body);
        await processWakeup(message, time, deps, options);
      } catch (err) {
        if (err instanceof InvalidWakeupMessageError) {
          // Retrying cannot fix it: drop it, loudly.
          log.error("dropping a message that is not a wake-up", { messageId: record.messageId, error: err.message });
          continue;
        }
        log.error("wake-up failed; SQS will redeliver it", {
          messageId: record.messageId,
          error: err instanceof Error ? err.message : String(err),
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  };
  return middy(handle);
}

/** The deployed entry: `export const handler = workerHandlerFromEnv(workflows)`. */
export function workerHandlerFromEnv(workflows: readonly AnyWorkflow[]) {
  return createWorkerHandler(createEngineDeps(new WorkflowRegistry(workflows)));
}
