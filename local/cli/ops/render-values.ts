/** How the operator commands show durations and JSON values to a person. */

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
