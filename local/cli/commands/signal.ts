/** `durable signal <id> <name>`: sends a signal, with `--data` as its payload. */
import type { Command } from "commander";
import { jsonValue } from "../ops/command-values.js";
import { connect } from "../ops/connection.js";
import { operatorAction } from "../ops/operator-action.js";
import { operatorCommand, type OperatorFlags, withSharedOptions } from "../ops/operator-command.js";
import { output } from "../ops/output.js";

interface SignalFlags extends OperatorFlags {
  data?: string;
}

export function signalCommand(): Command {
  const command = operatorCommand("signal", "send a signal to an execution (what ctx.waitForSignal(name) resolves with)", [
    `durable signal order-42 approve --data '{"approved":true}'`,
    "durable signal order-42 approve --data @decision.json",
    "durable signal order-42 nudge",
  ])
    .argument("<id>", "the execution's id")
    .argument("<name>", "the signal's name")
    .option("--data <json>", "the payload: JSON, or @file (@- for stdin); default null");
  withSharedOptions(command, "print the receipt as JSON ({ signalId })");
  return command.action(
    operatorAction(async (id: string, name: string, flags: SignalFlags) => {
      const payload = flags.data === undefined ? undefined : await jsonValue("--data", flags.data, process.cwd());
      const receipt = await (await connect(flags)).signal(id, name, payload);
      if (flags.json) output.json(receipt);
      else output.line(`sent ${JSON.stringify(name)} to ${id} (signal ${receipt.signalId})`);
    }),
  );
}
