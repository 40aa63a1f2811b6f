/** `durable cancel <id>`: asks an execution to cancel; it sees a CancelledError at its next durable call. */
import type { Command } from "commander";
import { connect } from "../ops/connection.js";
import { operatorAction } from "../ops/operator-action.js";
import { operatorCommand, type OperatorFlags, withSharedOptions } from "../ops/operator-command.js";
import { output } from "../ops/output.js";

interface CancelFlags extends OperatorFlags {
  reason?: string;
}

export function cancelCommand(): Command {
  const command = operatorCommand("cancel", "ask an execution to cancel (its code can clean up; see terminate to end it at once)", [
    `durable cancel order-42 --reason "customer withdrew"`,
    "durable cancel order-42 && durable watch order-42",
  ])
    .argument("<id>", "the execution's id")
    .option("--reason <text>", "why (at most 1024 characters), recorded in its history");
  withSharedOptions(command, "print { id, cancelRequested } as JSON");
  return command.action(
    operatorAction(async (id: string, flags: CancelFlags) => {
      await (await connect(flags)).cancel(id, flags.reason);
      if (flags.json) output.json({ id, cancelRequested: true });
      else output.line(`cancel requested: ${id} ends canceled at its next durable call`);
    }),
  );
}
