/**
 * `durable bulk <cancel|terminate|redrive>`: acts on every execution a filter matches, as a
 * background job on the engine (`durable:bulk`): it starts the job, then (unless `--no-wait`)
 * follows its progress until it has gone through the whole list.
 */
import { Argument, type Command, Option } from "commander";
import type { ExecutionStatus } from "../../../lambdas/client/types.js";
import { EXECUTION_STATUSES } from "../../../lambdas/core/status.js";
import { collectTag } from "../ops/command-values.js";
import { connect } from "../ops/connection.js";
import { operatorAction } from "../ops/operator-action.js";
import { operatorCommand, type OperatorFlags, withSharedOptions } from "../ops/operator-command.js";
import { output } from "../ops/output.js";

interface BulkFlags extends OperatorFlags {
  workflow?: string;
  status?: ExecutionStatus;
  tag?: Record<string, string>;
  createdAfter?: string;
  createdBefore?: string;
  reason?: string;
  rate?: number;
  id?: string;
  wait: boolean;
}

interface Progress {
  matched?: number;
  done?: number;
  skipped?: number;
  failed?: number;
  finished?: boolean;
}

export function bulkCommand(): Command {
  const command = operatorCommand("bulk", "cancel, terminate or redrive every execution a filter matches, as a paced background job", [
    "durable bulk terminate --workflow import --status sleeping --reason 'bad batch'",
    "durable bulk redrive --status failed --tag customer=c-42 --rate 5",
    "durable bulk cancel --workflow report --created-before 2026-12-01T00:00:00Z --no-wait",
  ])
    .addArgument(new Argument("<action>", "cancel, terminate or redrive").choices(["cancel", "terminate", "redrive"]))
    .option("--workflow <name>", "only this workflow's executions")
    .addOption(new Option("--status <status>", "only executions with this status").choices(EXECUTION_STATUSES))
    .option("--tag <key=value>", "only executions with this tag (repeatable: all must match)", collectTag)
    .option("--created-after <time>", "only executions created at or after this ISO time")
    .option("--created-before <time>", "only executions created before this ISO time")
    .option("--reason <text>", "recorded with each action")
    .addOption(new Option("--rate <n>", "executions acted on per second at most (default 10, at most 100)").argParser(Number))
    .option("--id <id>", "the job's id (a repeat with the same id and filter is the same job)")
    .option("--no-wait", "start the job and print its id, without following it");
  withSharedOptions(command, "print the job's progress as JSON");
  return command.action(
    operatorAction(async (action: "cancel" | "terminate" | "redrive", flags: BulkFlags) => {
      const client = await connect(flags);
      const { id } = await client.bulk({
        action,
        filter: {
          ...(flags.workflow === undefined ? {} : { workflow: flags.workflow }),
          ...(flags.status === undefined ? {} : { status: flags.status }),
          ...(flags.tag === undefined ? {} : { tags: flags.tag }),
          ...(flags.createdAfter === undefined ? {} : { createdAfter: flags.createdAfter }),
          ...(flags.createdBefore === undefined ? {} : { createdBefore: flags.createdBefore }),
        },
        ...(flags.reason === undefined ? {} : { reason: flags.reason }),
        ...(flags.rate === undefined ? {} : { ratePerSecond: flags.rate }),
        ...(flags.id === undefined ? {} : { id: flags.id }),
      });
      if (!flags.wait) {
        if (flags.json) output.json({ id });
        else output.line(`started bulk job ${id}: durable get ${id} shows its progress`);
        return;
      }
      await client.result(id, { timeoutMs: 24 * 3_600_000 });
      const progress = ((await client.get(id)).state ?? {}) as Progress;
      if (flags.json) output.json({ id, ...progress });
      else output.line(`bulk ${action} ${id}: ${progress.matched ?? 0} matched, ${progress.done ?? 0} done, ${progress.skipped ?? 0} skipped, ${progress.failed ?? 0} failed`);
    }),
  );
}
