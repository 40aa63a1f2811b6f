import type { Command } from "commander";

/**
 * Commander's own errors (an unknown option, a bad value) as one line naming the help to read,
 * like every other error of the CLI. Applied to each command: addCommand does not pass it down.
 */
export function oneLineErrors(command: Command): Command {
  return command.exitOverride().configureOutput({
    outputError: (text, write) => {
      // Read when an error happens: the command has its parent by then.
      const usage = command.parent ? `durable ${command.name()} --help` : "durable --help";
      write(`durable: ${text.replace(/^error: /, "").replace(/\s+/g, " ").trim()} (see ${usage})\n`);
    },
  });
}
