/** `durable start <workflow>`: starts an execution and prints its id (`--json`: the execution). */
import type { Command } from "commander";
import { collectTag, jsonValue, positiveInteger, startTime } from "../ops/command-values.js";
import { connect } from "../ops/connection.js";
import { operatorAction } from "../ops/operator-action.js";
import { operatorCommand, type OperatorFlags, withSharedOptions } from "../ops/operator-command.js";
import { output } from "../ops/output.js";

interface StartFlags extends OperatorFlags {
  input?: string;
  id?: string;
  tag?: Record<string, string>;
  startAt?: string;
  workflowVersion?: number;
}

export function startCommand(): Command {
  const command = operatorCommand("start", "start an execution of a workflow", [
    `durable start greet --input '{"name":"Ada"}'`,
    "durable start ship-order --input @order.json --id order-42 --tag customer=c-42",
    "durable start greet --input '{}' --start-at 2026-12-24T09:00:00Z --json",
    `id=$(durable start greet --input '{"name":"Bo"}') && durable result "$id"`,
  ])
    .argument("<workflow>", "the registered workflow's name (durable dev lists them)")
    .option("--input <json>", "the input: JSON, or @file (@- for stdin); default null")
    .option("--id <id>", "the execution's id (1-128 of A-Z a-z 0-9 _ -); starting the same id with the same input again is a no-op")
    .option("--tag <key=value>", "a tag to list it by (repeatable, at most 10)", collectTag)
    .option("--start-at <time>", "begin then, not now: an ISO 8601 time with a zone", startTime)
    .option("--workflow-version <n>", "the version to run (default: the latest registered)", positiveInteger);
  withSharedOptions(command, "print the execution as JSON instead of its id");
  return command.action(
    operatorAction(async (workflow: string, flags: StartFlags) => {
      const input = flags.input === undefined ? undefined : await jsonValue("--input", flags.input, process.cwd());
      const client = await connect(flags);
      const started = await client.start(workflow, input, {
        ...(flags.id === undefined ? {} : { id: flags.id }),
        ...(flags.tag === undefined ? {} : { tags: flags.tag }),
        ...(flags.startAt === undefined ? {} : { startAt: flags.startAt }),
        ...(flags.workflowVersion === undefined ? {} : { version: flags.workflowVersion }),
      });
      if (!started.created) output.note(`durable: execution ${JSON.stringify(started.id)} existed already with this workflow and input: not started again (it is ${started.execution.status})`);
      if (flags.json) output.json(started.execution);
      else output.line(started.id);
    }),
  );
}
