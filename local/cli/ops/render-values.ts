/** How the operator commands show durations, sizes and JSON values to a person. */
import type { ValueRef } from "../../../lambdas/client/types.js";

/** `850ms`, `4.2s`, `3m 05s`, `2h 10m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "";
  const value = Math.max(0, Math.round(ms));
  if (value < 1_000) return `${value}ms`;
  if (value < 60_000) return `${(Math.floor(value / 100) / 10).toFixed(1)}s`;
  const seconds = Math.floor(value / 1_000);
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, "0")}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 1_440) return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
  const hours = Math.floor(minutes / 60);
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** A JSON value on one line, cut at `max` characters (`…` marks the cut). */
export function shortJson(value: unknown, max = 60): string {
  const text = value === undefined ? "undefined" : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A JSON value whole: on one line when short, else indented (each line after the first by `indent`). */
export function fullJson(value: unknown, indent: string, max = 72): string {
  const line = value === undefined ? "undefined" : JSON.stringify(value);
  if (line.length <= max) return line;
  return JSON.stringify(value, null, 2).split("\n").join(`\n${indent}`);
}

/** An error as history and the API give it: `CODE: message` (the name when there is no code). */
export function errorText(error: { name?: string; message?: string; code?: string } | undefined): string {
  if (error === undefined) return "";
  const label = error.code ?? (error.name && error.name !== "Error" ? error.name : undefined);
  return label === undefined ? (error.message ?? "") : `${label}: ${error.message ?? ""}`;
}

/** `850 bytes`, `12.3 KB`, `2.0 MB` (powers of 1 000, as the API's limits are given). */
export function formatBytes(bytes: number): string {
  if (bytes < 1_000) return `${bytes} bytes`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1_000;
  let unit = 0;
  // 999 999 bytes is 1.0 MB, not 1000.0 KB.
  while (unit < units.length - 1 && Math.round(value * 10) >= 10_000) {
    value /= 1_000;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * A value the API answered by reference (over 1 000 000 bytes of JSON), which a line does not
 * hold: its size and the command that prints it. `2.0 MB (durable value order-42 7.result to print it)`.
 */
export function refText(executionId: string, ref: Pick<ValueRef, "name" | "bytes">): string {
  return `${formatBytes(ref.bytes)} (durable value ${executionId} ${ref.name} to print it)`;
}
