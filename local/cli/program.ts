/**
 * The `durable` command line: one commander program, one file per command under commands/. A new
 * command is a function returning its Command, added in createProgram.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { devCommand } from "./commands/dev.js";
import { viewerCommand } from "./commands/viewer.js";
import { operatorCommands } from "./commands/operator.js";
import { oneLineErrors } from "./one-line-errors.js";

export function createProgram(): Command {
  const program = new Command("durable")
    .description("durable-aws: durable workflows on AWS (DynamoDB, SQS, Lambda, API Gateway)")
    .version(packageVersion(), "-v, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .showSuggestionAfterError(true)
    .addCommand(devCommand())
    .addCommand(viewerCommand());
  for (const command of operatorCommands()) program.addCommand(command);
  // Commander answers --help and --version by exiting; main decides the exit code instead.
  return oneLineErrors(program.exitOverride());
}

/** This package's version, from its package.json (two folders up from source, three from dist). */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
      if (manifest.name === "durable-aws" && typeof manifest.version === "string") return manifest.version;
    } catch {
      // no package.json here: look further up
    }
  }
  return "unknown";
}
