/**
 * The worker Lambda (SQS event source with ReportBatchItemFailures). Each record is handled on its
 * own: one failing execution never fails the batch. A record whose turn failed is reported as a
 * batch item failure after its visibility is set to the engine's backoff, so it comes back then
 * (an engine retry); a record of an execution the engine gave up on was dead-lettered and is acked.
 */
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { type AnyWorkflow, WorkflowRegistry } from "../core/workflow.js";
import { type EngineDeps, processWakeup, silentLogger, type WorkerOptions } from "../engine/process-wakeup.js";
import { parseWakeup } from "../queue/wakeups.js";
import { createEngineDeps } from "./deps.js";
import { withPowertools } from "./observability.js";

export function createWorkerHandler(deps: EngineDeps, options: WorkerOptions = {}) {
  const log = deps.logger ?? silentLogger;
  const handle = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const time = { remainingMs: () => context.getRemainingTimeInMillis() };
    const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
    // Records of one batch run one after another: they share the invocation's time budget.
    let first = true;
    for (const record of event.Records) {
      let message;
      try {
        message = parseWakeup(record.body);
      } catch (err) {
        // Retrying cannot fix it: drop it, loudly.
        log.error("dropping a message that is not a wake-up", { messageId: record.messageId, error: err instanceof Error ? err.message : String(err) });
        continue;
      }
      const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? "1") || 1;
      let result;
      try {
        const firstInInvocation = first;
        first = false;
        result = await processWakeup(message, time, deps, options, { receiveCount, firstInInvocation });
      } catch (err) {
        // processWakeup reports failures as `retry`; this is a last resort so one record never
        // fails the batch. The message comes back after the queue's own visibility timeout.
        log.error("wake-up failed unexpectedly", { messageId: record.messageId, error: err instanceof Error ? err.message : String(err) });
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      if (result.kind !== "retry") continue;
      try {
        await deps.redelivery?.retryLater(record.receiptHandle, result.delaySeconds);
      } catch (err) {
        // It still comes back, after the queue's own visibility timeout.
        log.warn("could not set the retry backoff", { messageId: record.messageId, error: err instanceof Error ? err.message : String(err) });
      }
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
    return { batchItemFailures };
  };
  return middy(handle);
}

/** The deployed entry: `export const handler = workerHandlerFromEnv(workflows)`. */
export function workerHandlerFromEnv(workflows: readonly AnyWorkflow[]) {
  return withPowertools(createWorkerHandler(createEngineDeps(new WorkflowRegistry(workflows), process.env, { worker: true })));
}
