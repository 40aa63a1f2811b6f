/** `durable redrive <id>`: resumes a failed execution where it failed, under the code deployed now. */
import type { Command } from "commander";
import { connect } from "../ops/connection.js";
import { operatorAction } from "../ops/operator-action.js";
import { operatorCommand, type OperatorFlags, withSharedOptions } from "../ops/operator-command.js";
import { output } from "../ops/output.js";

interface RedriveFlags extends OperatorFlags {
  reason?: string;
}

export function redriveCommand(): Command {
  const command = operatorCommand("redrive", "resume a failed execution where it failed (the failed step runs again; earlier results stay)", [
    `durable redrive order-42 --reason "fixed the parser" && durable watch order-42`,
  ])
    .argument("<id>", "the failed execution's id")
    .option("--reason <text>", "why, recorded in its history");
  withSharedOptions(command, "print { id, run, redrive } as JSON");
  return command.action(
    operatorAction(async (id: string, flags: RedriveFlags) => {
      const redriven = await (await connect(flags)).redrive(id, flags.reason === undefined ? {} : { reason: flags.reason });
      if (flags.json) output.json(redriven);
      else output.line(`redriven ${redriven.id}: it runs again from where it failed (redrive ${redriven.redrive}, run ${redriven.run})`);
    }),
  );
}
