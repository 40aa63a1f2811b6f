/** What the engine reports; the handlers plug in Powertools, tests and the local stack their own. */

export interface EngineLogger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export const silentLogger: EngineLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface EngineMetrics {
  executionStarted(workflow: string): void;
  executionEnded(status: "completed" | "failed" | "canceled", workflow: string): void;
  stepAttempt(ok: boolean, durationMs: number, workflow: string): void;
}

export const noMetrics: EngineMetrics = { executionStarted() {}, executionEnded() {}, stepAttempt() {} };
