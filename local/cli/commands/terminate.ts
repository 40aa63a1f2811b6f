/** `durable terminate <id>`: ends an execution at once, without running its cleanup. */
import type { Command } from "commander";
import { connect } from "../ops/connection.js";
import { operatorAction } from "../ops/operator-action.js";
import { operatorCommand, type OperatorFlags, withSharedOptions } from "../ops/operator-command.js";
import { output } from "../ops/output.js";

interface TerminateFlags extends OperatorFlags {
  reason?: string;
}

export function terminateCommand(): Command {
  const command = operatorCommand("terminate", "end an execution at once, without its cleanup (cancel is the cooperative way)", [
    `durable terminate order-42 --reason "stuck on a bad deploy"`,
  ])
    .argument("<id>", "the execution's id")
    .option("--reason <text>", "why, recorded in its history");
  withSharedOptions(command, "print { id, terminated } as JSON");
  return command.action(
    operatorAction(async (id: string, flags: TerminateFlags) => {
      await (await connect(flags)).terminate(id, flags.reason === undefined ? {} : { reason: flags.reason });
      if (flags.json) output.json({ id, terminated: true });
      else output.line(`terminated ${id}`);
    }),
  );
}
