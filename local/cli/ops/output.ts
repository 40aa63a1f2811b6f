/**
 * Where the operator commands write: stdout for what was asked (ids, JSON, tables), stderr for
 * notes and errors. Read from `process` at each write, so a test capturing the streams sees
 * everything.
 */
export const output = {
  out(text: string): void {
    process.stdout.write(text);
  },
  /** A line on stdout. */
  line(text = ""): void {
    process.stdout.write(`${text}\n`);
  },
  /** A note for the person (stderr), never mixed into what a script reads. */
  note(text: string): void {
    process.stderr.write(`${text}\n`);
  },
  /** A value as JSON, indented: one object a script reads whole. */
  json(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value ?? null, null, 2)}\n`);
  },
  /** A value as one JSON line (a stream of them: JSON Lines). */
  jsonLine(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value ?? null)}\n`);
  },
  isTTY(): boolean {
    return process.stdout.isTTY === true;
  },
  columns(): number {
    return process.stdout.columns > 0 ? process.stdout.columns : 80;
  },
};

let quietOnClosedPipe = false;

/**
 * `durable history x | head` closes the pipe early: the next write fails with EPIPE, which is the
 * reader saying "enough", not an error to report.
 */
export function endQuietlyOnClosedPipe(): void {
  if (quietOnClosedPipe) return;
  quietOnClosedPipe = true;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}
