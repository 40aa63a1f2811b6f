/**
 * The worker Lambda (SQS event source with ReportBatchItemFailures), on Powertools' batch
 * processing: each record is handled on its own and one failing execution never fails the batch.
 * A record whose turn failed gets its visibility set to the engine's backoff and is reported as a
 * batch item failure, so it comes back then (an engine retry); a record of an execution the engine
 * gave up on was dead-lettered and is acked. Records run concurrently (each takes its execution's
 * lease, so two for one execution do not collide: the second backs off).
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { DurableError } from "../core/errors.js";
import { type AnyWorkflow, WorkflowRegistry } from "../core/workflow.js";
import { type EngineDeps, processWakeup, silentLogger, type WorkerOptions } from "../engine/process-wakeup.js";
import { parseWakeup } from "../queue/wakeups.js";
import { createEngineDeps } from "./deps.js";
import { withPowertools } from "./observability.js";

/** A record that should come back after its backoff: Powertools reports it as a batch item failure. */
class RetryRecordError extends DurableError {
  constructor(messageId: string, delaySeconds: number) {
    super("RETRY_RECORD", `wake-up ${messageId} comes back in ${delaySeconds} s`, { details: { messageId, delaySeconds } });
  }
}

export function createWorkerHandler(deps: EngineDeps, options: WorkerOptions = {}) {
  const log = deps.logger ?? silentLogger;
  const processor = new BatchProcessor(EventType.SQS);
  const handle = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const time = { remainingMs: () => context.getRemainingTimeInMillis() };
    const handleRecord = async (record: SQSRecord): Promise<void> => {
      let message;
      try {
        message = parseWakeup(record.body);
      } catch (err) {
        // Retrying cannot fix it: drop it, loudly.
        log.error("dropping a message that is not a wake-up", { messageId: record.messageId, error: err instanceof Error ? err.message : String(err) });
        return;
      }
      const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? "1") || 1;
      let result;
      try {
        result = await processWakeup(message, time, deps, options, { receiveCount });
      } catch (err) {
        // processWakeup reports failures as `retry`; this is a last resort. The message comes
        // back after the queue's own visibility timeout.
        log.error("wake-up failed unexpectedly", { messageId: record.messageId, error: err instanceof Error ? err.message : String(err) });
        throw err;
      }
      if (result.kind !== "retry") return;
      try {
        await deps.redelivery?.retryLater(record.receiptHandle, result.delaySeconds);
      } catch (err) {
        // It still comes back, after the queue's own visibility timeout.
        log.warn("could not set the retry backoff", { messageId: record.messageId, error: err instanceof Error ? err.message : String(err) });
      }
      throw new RetryRecordError(record.messageId, result.delaySeconds);
    };
    return processPartialResponse(event, handleRecord, processor, { context, throwOnFullBatchFailure: false, processInParallel: true });
  };
  return middy(handle);
}

/** The deployed entry: `export const handler = workerHandlerFromEnv(workflows)`. */
export function workerHandlerFromEnv(workflows: readonly AnyWorkflow[]) {
  return withPowertools(createWorkerHandler(createEngineDeps(new WorkflowRegistry(workflows), process.env, { worker: true })));
}
