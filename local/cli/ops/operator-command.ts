/** What every operator command shares: --url/--token/--region, --json, the exit codes in --help. */
import { Command } from "commander";
import { oneLineErrors } from "../one-line-errors.js";
import { addConnectionOptions, type ConnectionFlags } from "./connection.js";
import { exitCodesHelp } from "./exit-codes.js";

export interface OperatorFlags extends ConnectionFlags {
  json?: boolean;
}

/**
 * A command named `name`; `examples` go to the end of its --help, with the connection rules and
 * the exit codes. Add its own arguments and options, then `withSharedOptions`, then the action.
 */
export function operatorCommand(name: string, summary: string, examples: readonly string[]): Command {
  const command = new Command(name).summary(summary).description(`${summary[0]?.toUpperCase() ?? ""}${summary.slice(1)}.`).helpOption("-h, --help", "show help");
  command.addHelpText(
    "after",
    [
      "",
      "Examples:",
      ...examples.map((example) => `  ${example}`),
      "",
      "Without --url (or DURABLE_URL), talks to the durable dev of this folder (.durable/dev.json, looked for upwards).",
      exitCodesHelp(),
    ].join("\n"),
  );
  return command;
}

/** Adds the shared options after the command's own, so they come last in --help. */
export function withSharedOptions(command: Command, json: string): Command {
  addConnectionOptions(command.option("--json", json));
  return oneLineErrors(command);
}
