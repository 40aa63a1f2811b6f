/**
 * `durable watch` on a terminal: one line, rewritten in place, with the status, the last event,
 * the time since the execution was created and the state it published (`ctx.setState`).
 */
import type { ExecutionWithRefs, HistoryEventView } from "../../../lambdas/client/types.js";
import { formatDuration, shortJson } from "./render-values.js";

export interface ProgressFacts {
  execution: ExecutionWithRefs;
  lastEvent?: HistoryEventView;
  nowMs: number;
}

export function progressLine(facts: ProgressFacts, columns: number): string {
  const { execution, lastEvent } = facts;
  const endedAtMs = ["completed", "failed", "canceled", "terminated"].includes(execution.status) ? Date.parse(execution.updatedAt) : facts.nowMs;
  const parts = [`${execution.id}  ${execution.status}`];
  if (lastEvent !== undefined) {
    const name = (lastEvent as { name?: unknown }).name;
    parts.push(`#${lastEvent.seq} ${lastEvent.type}${typeof name === "string" ? ` ${JSON.stringify(name)}` : ""}`);
  }
  parts.push(formatDuration(endedAtMs - Date.parse(execution.createdAt)));
  if (execution.state !== undefined) parts.push(`state ${shortJson(execution.state, 200)}`);
  const line = parts.join(" · ");
  // A line longer than the terminal wraps, and `\r` would then rewrite only its last part.
  const room = Math.max(10, columns - 1);
  return line.length > room ? `${line.slice(0, room - 1)}…` : line;
}

/** Rewrites the current terminal line with `line`. */
export function rewriteLine(line: string): string {
  return `\r\x1b[2K${line}`;
}
