/**
 * `durable get <id>`: one execution, readable (`--json`: as the API gives it). The client's
 * `get()` fetches an input or output the API answers by reference (over 1 000 000 bytes of JSON),
 * so both print whole, as `durable value` would.
 */
import type { Command } from "commander";
import { connect } from "../ops/connection.js";
import { operatorAction } from "../ops/operator-action.js";
import { operatorCommand, type OperatorFlags, withSharedOptions } from "../ops/operator-command.js";
import { output } from "../ops/output.js";
import { renderExecution } from "../ops/render-execution.js";

export function getCommand(): Command {
  const command = operatorCommand("get", "show an execution: status, times, tags, state, output or error", [
    "durable get order-42",
    "durable get order-42 --json | jq .status",
  ]).argument("<id>", "the execution's id");
  withSharedOptions(command, "print the execution as JSON, as the API gives it (a large input or output fetched into its field)");
  return command.action(
    operatorAction(async (id: string, flags: OperatorFlags) => {
      const execution = await (await connect(flags)).get(id);
      if (flags.json) output.json(execution);
      else output.line(renderExecution(execution));
    }),
  );
}
