/**
 * An error the command line prints as one line: what went wrong, then what to do about it.
 * Anything else that reaches the top is a bug or an outside failure and is printed the same way,
 * with its stack only under DURABLE_LOG_LEVEL=debug.
 */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    readonly code: string,
    /** What went wrong, without a final period. */
    readonly problem: string,
    /** What to do about it, without a final period. */
    readonly remedy: string,
    options?: { cause?: unknown },
  ) {
    super(`${problem}: ${remedy}.`, options);
  }
}

/** The one line printed for `error` (without the `durable:` prefix). */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // Messages from elsewhere (esbuild, the SDK, Java) can span lines: joined, and cut if long.
  const line = message.split("\n").map((part) => part.trim()).filter(Boolean).join(" ");
  return line.length > 500 ? `${line.slice(0, 499)}…` : line;
}
