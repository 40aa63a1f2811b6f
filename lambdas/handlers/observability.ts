/**
 * Logs and metrics for the deployed handlers: Powertools for AWS Lambda. JSON logs carry the
 * execution id, workflow and seq as keys; metrics go out as CloudWatch EMF (no API calls).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { EngineLogger, EngineMetrics } from "../engine/observability";

const SERVICE = process.env.POWERTOOLS_SERVICE_NAME ?? "durable-workflows";

export const logger = new Logger({ serviceName: SERVICE });
export const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "DurableWorkflows", serviceName: SERVICE });

/** The engine's logger interface over Powertools Logger. */
export const powertoolsLogger: EngineLogger = {
  debug: (message, data) => logger.debug(message, data ?? {}),
  info: (message, data) => logger.info(message, data ?? {}),
  warn: (message, data) => logger.warn(message, data ?? {}),
  error: (message, data) => logger.error(message, data ?? {}),
};

/** The engine's metrics interface over Powertools Metrics (published by the middy middleware). */
export const powertoolsMetrics: EngineMetrics = {
  executionStarted: () => metrics.addMetric("ExecutionsStarted", MetricUnit.Count, 1),
  executionEnded: (status) => {
    const name = status === "completed" ? "ExecutionsCompleted" : status === "failed" ? "ExecutionsFailed" : "ExecutionsCanceled";
    metrics.addMetric(name, MetricUnit.Count, 1);
  },
  stepAttempt: (ok, durationMs) => {
    metrics.addMetric(ok ? "Steps" : "StepAttemptsFailed", MetricUnit.Count, 1);
    metrics.addMetric("StepLatency", MetricUnit.Milliseconds, durationMs);
  },
};
