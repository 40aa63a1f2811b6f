/**
 * Logs and metrics for the deployed handlers: Powertools for AWS Lambda. JSON logs carry the
 * execution id, workflow and seq as keys; metrics go out as CloudWatch EMF (no API calls).
 *
 * Only the deployed entries (`...FromEnv`) wear the middlewares (`withPowertools`): the local
 * stack and the tests build their handlers with `create...Handler` and print no EMF.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { MiddyfiedHandler } from "@middy/core";
import type { Context } from "aws-lambda";
import type { EngineLogger, EngineMetrics } from "../engine/observability.js";

const SERVICE = process.env.POWERTOOLS_SERVICE_NAME ?? "durable-workflows";

export const logger = new Logger({ serviceName: SERVICE });

/**
 * Powertools Metrics warns on every flush that has no data point; most API requests and sweeps
 * have none, and a warning per invocation is noise. Its other warnings go to the logger.
 */
const EMPTY_FLUSH_WARNING = "No application metrics to publish";
const metricsDiagnostics = {
  debug: (message: unknown) => logger.debug(String(message)),
  info: (message: unknown) => logger.info(String(message)),
  warn: (message: unknown) => {
    if (!String(message).startsWith(EMPTY_FLUSH_WARNING)) logger.warn(String(message));
  },
  error: (message: unknown) => logger.error(String(message)),
};

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "DurableWorkflows",
  serviceName: SERVICE,
  logger: metricsDiagnostics,
});

/** EMF metric names, in the `POWERTOOLS_METRICS_NAMESPACE` namespace with the `service` dimension. */
export const METRIC = {
  executionsStarted: "ExecutionsStarted",
  executionsCompleted: "ExecutionsCompleted",
  executionsFailed: "ExecutionsFailed",
  executionsCanceled: "ExecutionsCanceled",
  /** Step attempts that returned. */
  steps: "Steps",
  /** Step attempts that threw (retried or not). */
  stepAttemptsFailed: "StepAttemptsFailed",
  /** Milliseconds per step attempt, either way. */
  stepLatency: "StepLatency",
  /** Executions the engine failed after its engine retries ran out (also in ExecutionsFailed). */
  engineGiveUps: "EngineGiveUps",
} as const;

/** The engine's logger interface over Powertools Logger: `data` becomes top-level JSON keys. */
export const powertoolsLogger: EngineLogger = {
  debug: (message, data) => logger.debug(message, data ?? {}),
  info: (message, data) => logger.info(message, data ?? {}),
  warn: (message, data) => logger.warn(message, data ?? {}),
  error: (message, data) => logger.error(message, data ?? {}),
};

/** The engine's metrics interface over Powertools Metrics (published by the middy middleware). */
export const powertoolsMetrics: EngineMetrics = {
  executionStarted: () => metrics.addMetric(METRIC.executionsStarted, MetricUnit.Count, 1),
  executionEnded: (status) => {
    const name = status === "completed" ? METRIC.executionsCompleted : status === "failed" ? METRIC.executionsFailed : METRIC.executionsCanceled;
    metrics.addMetric(name, MetricUnit.Count, 1);
  },
  stepAttempt: (ok, durationMs) => {
    metrics.addMetric(ok ? METRIC.steps : METRIC.stepAttemptsFailed, MetricUnit.Count, 1);
    metrics.addMetric(METRIC.stepLatency, MetricUnit.Milliseconds, durationMs);
  },
  engineGaveUp: () => metrics.addMetric(METRIC.engineGiveUps, MetricUnit.Count, 1),
};

/**
 * Wraps a deployed handler: Lambda context on every log line (request id, cold start), keys
 * reset between invocations, and the invocation's metrics flushed as one EMF line at its end
 * (also when it throws).
 */
export function withPowertools<TEvent, TResult>(handler: MiddyfiedHandler<TEvent, TResult, Error, Context>): MiddyfiedHandler<TEvent, TResult, Error, Context> {
  return handler.use(injectLambdaContext(logger, { resetKeys: true })).use(logMetrics(metrics));
}
