/**
 * `durable result <id>`: waits until the execution ends and prints its output as JSON; exits 1
 * when it failed, was canceled or terminated, 6 when `--timeout` passed first.
 */
import type { Command } from "commander";
import { ExecutionCanceledError, ExecutionFailedError, ExecutionTerminatedError } from "../../../lambdas/client/errors.js";
import { durationMs } from "../ops/command-values.js";
import { connect } from "../ops/connection.js";
import { operatorAction } from "../ops/operator-action.js";
import { operatorCommand, type OperatorFlags, withSharedOptions } from "../ops/operator-command.js";
import { output } from "../ops/output.js";

interface ResultFlags extends OperatorFlags {
  timeout?: number;
}

export function resultCommand(): Command {
  const command = operatorCommand("result", "wait for an execution to end and print its output as JSON", [
    "durable result order-42",
    "durable result order-42 --timeout 5m > output.json || echo \"exit $?\"",
  ])
    .argument("<id>", "the execution's id")
    .option("--timeout <duration>", "give up after this long (30s, 5m, 1h): exit 6, the execution goes on", durationMs);
  withSharedOptions(command, "on failure, also print the ended execution (with its error) as JSON on stdout");
  return command.action(
    operatorAction(async (id: string, flags: ResultFlags) => {
      const client = await connect(flags);
      try {
        const value = await client.result(id, flags.timeout === undefined ? {} : { timeoutMs: flags.timeout });
        // A workflow that returned undefined has no output: JSON has no undefined, null stands in.
        output.json(value ?? null);
      } catch (error) {
        const ended = error instanceof ExecutionFailedError || error instanceof ExecutionCanceledError || error instanceof ExecutionTerminatedError;
        if (ended && flags.json) output.json(error.execution);
        throw error;
      }
    }),
  );
}
