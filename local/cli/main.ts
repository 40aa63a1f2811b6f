/**
 * Runs the `durable` program on `argv` and turns what goes wrong into one line on stderr and an
 * exit code: 1 for an error, 2 for a command line commander refused.
 */
import { CommanderError } from "commander";
import { CliError, oneLine } from "./cli-error.js";
import { createProgram } from "./program.js";

export async function main(argv: readonly string[]): Promise<void> {
  // Errors thrown by bundled workflow code then point at the user's source (inline source maps).
  process.setSourceMapsEnabled(true);
  try {
    await createProgram().parseAsync([...argv]);
  } catch (error) {
    process.exitCode = exitCodeOf(error);
  }
}

function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version end this way too, with code 0; commander has printed its message.
    return error.exitCode === 0 ? 0 : 2;
  }
  process.stderr.write(`durable: ${error instanceof CliError ? error.message : oneLine(error)}\n`);
  if (process.env.DURABLE_LOG_LEVEL === "debug" && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return 1;
}
