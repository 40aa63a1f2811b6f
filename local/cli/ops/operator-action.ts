/**
 * Runs an operator command's action and turns what it throws into one line on stderr and the
 * exit code of exit-codes.ts (main.ts would make every error a 1). The line carries the error's
 * stable code: `durable: EXECUTION_NOT_FOUND: no execution with id "x"`.
 */
import { CredentialsError } from "../../../lambdas/client/errors.js";
import { DurableError } from "../../../lambdas/core/errors.js";
import { CliError, oneLine } from "../cli-error.js";
import { EXIT, type ExitCode, exitCodeOf } from "./exit-codes.js";
import { endQuietlyOnClosedPipe } from "./output.js";

/** Wraps `run` for `command.action(...)`; `run` returns the exit code (default 0). */
export function operatorAction<A extends unknown[]>(run: (...args: A) => Promise<ExitCode | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    endQuietlyOnClosedPipe();
    try {
      process.exitCode = (await run(...args)) ?? EXIT.ok;
    } catch (error) {
      process.stderr.write(`durable: ${errorLine(error)}\n`);
      if (process.env.DURABLE_LOG_LEVEL === "debug" && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
      process.exitCode = exitCodeOf(error);
    }
  };
}

/** The line for `error`, without the `durable:` prefix. */
export function errorLine(error: unknown): string {
  if (error instanceof CliError) return oneLine(`${error.code}: ${error.problem}; ${error.remedy}`);
  if (error instanceof CredentialsError) {
    // The client's message names its own options; say it in the command line's terms.
    const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
    return oneLine(`${error.code}: no AWS credentials to sign the requests with (${cause}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run aws sso login, or pass --token`);
  }
  if (error instanceof DurableError) return oneLine(`${error.code}: ${error.message}`);
  return oneLine(error);
}
