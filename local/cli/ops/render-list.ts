/** `durable list`: executions as a table, columns as wide as their widest cell. */
import type { ExecutionSummary } from "../../../lambdas/client/types.js";

const HEADER = ["ID", "WORKFLOW", "STATUS", "CREATED", "UPDATED"] as const;

export function renderExecutionTable(executions: readonly ExecutionSummary[]): string {
  const rows = executions.map((e) => [e.id, e.version === 1 ? e.workflow : `${e.workflow} v${e.version}`, e.status, e.createdAt, e.updatedAt]);
  const widths = HEADER.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  return [HEADER, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd()).join("\n");
}
