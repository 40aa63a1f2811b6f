/**
 * What `durable dev` prints while it serves: one line per execution that starts or ends (time,
 * status, id, workflow), the engine's warnings and errors, and nothing else unless
 * DURABLE_LOG_LEVEL=debug. It is the engine's logger (the local stack logs to it), so a line
 * costs no request. At most `maxLinesPerSecond` lines a second: beyond that, lines are counted
 * and one summary says how many were left out, so a burst of executions cannot flood the terminal.
 */
import type { EngineLogger } from "../../../lambdas/engine/process-wakeup.js";
import { timeOfDay } from "./clock-time.js";

export interface ActivityLogOptions {
  print: (line: string) => void;
  /** Default 5. */
  maxLinesPerSecond?: number;
  /** Print the engine's debug and info messages too (DURABLE_LOG_LEVEL=debug). */
  verbose?: boolean;
  clock?: () => number;
}

export interface ActivityLog {
  /** Give this to startLocalStack as `logger`. */
  logger: EngineLogger;
  /** Prints a line of the CLI's own (a reload, a wait), outside the limit: there are few, and each matters. */
  note(line: string): void;
  /** Stop printing engine messages (shutting down: requests failing as services stop are expected). */
  mute(): void;
  /** Prints the count of lines left out, if any, and stops the timer. */
  flush(): void;
}

const WINDOW_MS = 1_000;
const ENDINGS = new Set(["completed", "canceled"]);

export function createActivityLog(options: ActivityLogOptions): ActivityLog {
  const clock = options.clock ?? Date.now;
  const max = options.maxLinesPerSecond ?? 5;
  let windowStartMs = -Infinity;
  let printedInWindow = 0;
  let leftOut = 0;
  let muted = false;
  let timer: NodeJS.Timeout | undefined;

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (leftOut > 0) options.print(`${timeOfDay(clock())}  … ${leftOut} more line${leftOut === 1 ? "" : "s"} left out (GET /executions lists every execution)`);
    leftOut = 0;
  };

  const emit = (line: string) => {
    const nowMs = clock();
    if (nowMs - windowStartMs >= WINDOW_MS) {
      flush();
      windowStartMs = nowMs;
      printedInWindow = 0;
    }
    if (printedInWindow < max) {
      printedInWindow += 1;
      options.print(`${timeOfDay(nowMs)}  ${line}`);
      return;
    }
    leftOut += 1;
    // The summary comes when the window ends, even if nothing else is printed after the burst.
    timer ??= setTimeout(flush, windowStartMs + WINDOW_MS - nowMs).unref();
  };

  const execution = (status: string, data: Record<string, unknown> | undefined, detail?: string) => {
    const id = String(data?.executionId ?? "?");
    const workflow = data?.workflow === undefined ? "" : `  ${String(data.workflow)}`;
    emit(`${status.padEnd(9)}  ${id}${workflow}${detail ? `: ${detail}` : ""}`);
  };

  const logger: EngineLogger = {
    debug(message, data) {
      if (!muted && options.verbose) emit(`· ${message}${fields(data)}`);
    },
    info(message, data) {
      if (muted) return;
      if (message === "execution started") return execution("started", data);
      if (message === "turn ended" && ENDINGS.has(String(data?.outcome))) return execution(String(data?.outcome), data);
      if (message === "sweeper woke overdue executions") return emit(`sweeper woke ${String(data?.count)} overdue execution${data?.count === 1 ? "" : "s"}`);
      if (options.verbose) emit(`· ${message}${fields(data)}`);
    },
    warn(message, data) {
      if (muted) return;
      // The line of the end: "turn ended" follows with outcome "failed" and no error, so it is not printed.
      if (message === "execution failed") return execution("failed", data, String(data?.error ?? ""));
      emit(`! ${message}${fields(data)}`);
    },
    error(message, data) {
      if (muted) return;
      if (message === "execution failed: engine retries exhausted") return execution("failed", data, `engine retries exhausted: ${String(data?.error ?? "")}`);
      emit(`✗ ${message}${fields(data)}`);
    },
  };

  return {
    logger,
    note: (line) => options.print(`${timeOfDay(clock())}  ${line}`),
    mute: () => {
      muted = true;
    },
    flush,
  };
}

function fields(data: Record<string, unknown> | undefined): string {
  if (!data) return "";
  return Object.entries(data)
    .map(([key, value]) => ` ${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join("");
}
