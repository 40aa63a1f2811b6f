/** `durable list`: executions, newest first, as a table (`--json`: JSON Lines). */
import { type Command, Option } from "commander";
import type { ExecutionStatus, ExecutionSummary } from "../../../lambdas/client/types.js";
import { EXECUTION_STATUSES } from "../../../lambdas/core/status.js";
import { collectTag, positiveInteger } from "../ops/command-values.js";
import { connect } from "../ops/connection.js";
import { operatorAction } from "../ops/operator-action.js";
import { operatorCommand, type OperatorFlags, withSharedOptions } from "../ops/operator-command.js";
import { output } from "../ops/output.js";
import { renderExecutionTable } from "../ops/render-list.js";

interface ListFlags extends OperatorFlags {
  workflow?: string;
  status?: ExecutionStatus;
  tag?: Record<string, string>;
  limit?: number;
  all?: boolean;
}

const DEFAULT_LIMIT = 20;
/** The API's largest list page. */
const MAX_PAGE = 100;

export function listCommand(): Command {
  const command = operatorCommand("list", "list executions, newest first", [
    "durable list",
    "durable list --workflow ship-order --status sleeping",
    "durable list --tag customer=c-42 --all --json | jq -r .id",
  ])
    .option("--workflow <name>", "only this workflow's executions")
    .addOption(new Option("--status <status>", "only executions with this status").choices(EXECUTION_STATUSES))
    .option("--tag <key=value>", "only executions with this tag (repeatable: all must match)", collectTag)
    .addOption(new Option("--limit <n>", `show at most this many (default ${DEFAULT_LIMIT})`).argParser(positiveInteger).conflicts("all"))
    .option("--all", "every matching execution, page after page");
  withSharedOptions(command, "print each execution as one JSON line");
  return command.action(
    operatorAction(async (flags: ListFlags) => {
      const client = await connect(flags);
      const limit = flags.all ? Number.POSITIVE_INFINITY : (flags.limit ?? DEFAULT_LIMIT);
      const shown: ExecutionSummary[] = [];
      let cursor: string | undefined;
      // Pages may be short, even empty, and still have a cursor (a selective filter): go on until there are enough.
      do {
        const page = await client.list({
          ...(flags.workflow === undefined ? {} : { workflow: flags.workflow }),
          ...(flags.status === undefined ? {} : { status: flags.status }),
          ...(flags.tag === undefined ? {} : { tags: flags.tag }),
          limit: Math.min(MAX_PAGE, limit - shown.length),
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const execution of page.executions.slice(0, limit - shown.length)) {
          shown.push(execution);
          if (flags.json) output.jsonLine(execution);
        }
        cursor = page.cursor;
      } while (cursor !== undefined && shown.length < limit);

      if (!flags.json) {
        if (shown.length === 0) output.note("no executions match");
        else output.line(renderExecutionTable(shown));
      }
      if (cursor !== undefined) output.note(`durable: showing the newest ${shown.length}; more may match (--limit <n>, or --all for every one)`);
    }),
  );
}
