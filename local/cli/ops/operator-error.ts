import { CliError } from "../cli-error.js";
import type { ExitCode } from "./exit-codes.js";

/**
 * An error of an operator command found on this side (no dev server, bad JSON in --input), with
 * the exit code it ends the command with. Printed as `durable: CODE: problem; remedy`.
 */
export class OperatorError extends CliError {
  constructor(
    readonly exitCode: ExitCode,
    code: string,
    problem: string,
    remedy: string,
    options?: { cause?: unknown },
  ) {
    super(code, problem, remedy, options);
  }
}
