/** What the engine reports; the handlers plug in Powertools, tests and the local stack their own. */

export interface EngineLogger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export const silentLogger: EngineLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Counted once per fact, where it became durable: a start when its execution was created (the
 * API's start, a parent's commit for a child), an end when the ending commit landed, a step
 * attempt when it returned or threw.
 */
export interface EngineMetrics {
  executionStarted(workflow: string): void;
  executionEnded(status: "completed" | "failed" | "canceled", workflow: string): void;
  stepAttempt(ok: boolean, durationMs: number, workflow: string): void;
  /** The engine failed the execution because its engine retries were spent (also counted as ended "failed"). */
  engineGaveUp(workflow: string): void;
}

export const noMetrics: EngineMetrics = { executionStarted() {}, executionEnded() {}, stepAttempt() {}, engineGaveUp() {} };
