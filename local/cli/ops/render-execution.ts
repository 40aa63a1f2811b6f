/**
 * `durable get`: one execution as labelled lines, the JSON values indented under their label. The
 * client has fetched a large input or output already (`get()` resolves them); one still named in
 * `valueRefs` shows as its size and the command that prints it.
 */
import type { ExecutionWithRefs } from "../../../lambdas/client/types.js";
import { errorText, formatDuration, fullJson, refText } from "./render-values.js";

const LABEL_WIDTH = 10;

export function renderExecution(execution: ExecutionWithRefs): string {
  const rows: [string, string][] = [
    ["id", execution.id],
    ["workflow", `${execution.workflow} v${execution.version}`],
    ["status", execution.status],
    ["run", String(execution.run)],
  ];
  if (execution.tags !== undefined && Object.keys(execution.tags).length > 0) {
    rows.push(["tags", Object.entries(execution.tags).map(([key, value]) => `${key}=${value}`).join(" ")]);
  }
  if (execution.parentId !== undefined) rows.push(["parent", execution.parentId]);
  rows.push(["created", execution.createdAt]);
  rows.push(["updated", `${execution.updatedAt}  (${formatDuration(Date.parse(execution.updatedAt) - Date.parse(execution.createdAt))} after created)`]);
  if (execution.startAt !== undefined) rows.push(["starts at", execution.startAt]);
  if (execution.nextWakeAt !== undefined) rows.push(["next wake", execution.nextWakeAt]);
  if (execution.expiresAt !== undefined) rows.push(["expires", execution.expiresAt]);
  const indent = " ".repeat(LABEL_WIDTH + 2);
  if ("state" in execution && execution.state !== undefined) {
    rows.push(["state", `${fullJson(execution.state, indent)}${execution.stateUpdatedAt === undefined ? "" : `  (at ${execution.stateUpdatedAt})`}`]);
  }
  const refs = execution.valueRefs ?? {};
  rows.push(["input", refs.input === undefined ? fullJson(execution.input, indent) : refText(execution.id, refs.input)]);
  if (refs.output !== undefined) rows.push(["output", refText(execution.id, refs.output)]);
  else if ("output" in execution) rows.push(["output", fullJson(execution.output, indent)]);
  if (execution.error !== undefined) {
    const { details } = execution.error;
    rows.push(["error", `${errorText(execution.error)}${execution.error.name && execution.error.name !== "Error" && execution.error.code !== undefined ? `  (${execution.error.name})` : ""}`]);
    if (details !== undefined && Object.keys(details).length > 0) rows.push(["details", fullJson(details, indent)]);
  }
  return rows.map(([label, value]) => `${label.padEnd(LABEL_WIDTH)}  ${value}`).join("\n");
}
