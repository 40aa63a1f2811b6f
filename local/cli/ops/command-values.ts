/**
 * Values of the operator commands' flags: JSON given inline or as `@file` (`@-`: stdin), tags as
 * `key=value`, durations with a unit, counts. Commander's parsers throw its InvalidArgumentError
 * (printed in one line by oneLineErrors, exit 2); the JSON readers throw an OperatorError.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { InvalidArgumentError } from "commander";
import { toMs } from "../../../lambdas/core/duration.js";
import { EXIT } from "./exit-codes.js";
import { OperatorError } from "./operator-error.js";

/**
 * The JSON value of `--input` or `--data`: inline JSON, or `@path` (relative to `cwd`) for a
 * file's contents, or `@-` for stdin's.
 * @example await jsonValue("--input", "@order.json", process.cwd());
 */
export async function jsonValue(flag: string, given: string, cwd: string): Promise<unknown> {
  let text = given;
  let origin = flag;
  if (given.startsWith("@")) {
    const path = given.slice(1);
    if (path === "") throw new OperatorError(EXIT.usage, "INVALID_JSON", `${flag} @ names no file`, `pass ${flag} @path/to/file.json, or @- for stdin`);
    origin = path === "-" ? `${flag} @- (stdin)` : `${flag} ${given}`;
    try {
      text = path === "-" ? await readStdin() : await readFile(resolve(cwd, path), "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new OperatorError(
        EXIT.usage,
        code === "ENOENT" ? "FILE_NOT_FOUND" : "FILE_UNREADABLE",
        `${flag}: cannot read ${resolve(cwd, path)}${code === "ENOENT" ? ": no such file" : `: ${error instanceof Error ? error.message : String(error)}`}`,
        `pass the path of a JSON file (relative to ${cwd}), or the JSON itself`,
        { cause: error },
      );
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new OperatorError(
      EXIT.usage,
      "INVALID_JSON",
      `${origin} is not JSON (${error instanceof Error ? error.message : String(error)})`,
      `quote it for the shell (${flag} '{"name":"Ada"}', ${flag} '"text"'), or pass ${flag} @file.json`,
      { cause: error },
    );
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8");
}

/** Commander's parser for a repeatable `--tag key=value`: the tags so far plus this one. */
export function collectTag(value: string, tags: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf("=");
  if (at <= 0) throw new InvalidArgumentError("Give a tag as key=value (e.g. --tag customer=c-42).");
  const key = value.slice(0, at);
  if (Object.hasOwn(tags, key)) throw new InvalidArgumentError(`Tag ${key} is given twice.`);
  return { ...tags, [key]: value.slice(at + 1) };
}

/** Commander's parser for a duration with a unit: `30s`, `5m`, `1h30m`, `500ms` → milliseconds. */
export function durationMs(value: string): number {
  // A bare number would be milliseconds to the engine and seconds to most people: ask for a unit.
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) throw new InvalidArgumentError(`Give a unit: ${value.trim()}s, ${value.trim()}m, ${value.trim()}ms.`);
  try {
    return toMs(value);
  } catch {
    throw new InvalidArgumentError("Give a duration such as 30s, 5m, 1h30m or 500ms.");
  }
}

/** Commander's parser for a count from 1 up. */
export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("Give a whole number from 1 up.");
  return n;
}

/** Commander's parser for `--start-at`: an ISO 8601 time with a zone (`2026-12-24T09:00:00Z`). */
export function startTime(value: string): string {
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(value.trim()) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError("Give an ISO 8601 time with a zone, e.g. 2026-12-24T09:00:00Z.");
  }
  return value.trim();
}
