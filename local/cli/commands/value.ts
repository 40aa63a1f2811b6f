/**
 * `durable value <id> <name>`: one of an execution's values as JSON, whole: its `input`, its
 * `output`, or a history event's (`7.result`), however large. `durable get` and `durable history`
 * name a value too large to show (over 1 000 000 bytes of JSON) and this command; the client reads
 * it part by part (`GET /executions/{id}/values/{name}`).
 */
import type { Command } from "commander";
import { ValueChangedError } from "../../../lambdas/client/errors.js";
import { connect } from "../ops/connection.js";
import { operatorAction } from "../ops/operator-action.js";
import { operatorCommand, type OperatorFlags, withSharedOptions } from "../ops/operator-command.js";
import { output } from "../ops/output.js";

/** Reads of a value that changed while its parts were read (an input at a continue-as-new), before giving up. */
const VALUE_READS = 3;

export function valueCommand(): Command {
  const command = operatorCommand("value", "print one of an execution's values as JSON: its input, its output, or a history event's", [
    "durable value order-42 output",
    "durable value order-42 7.result > result.json",
    "durable value order-42 input | jq '.items | length'",
  ])
    .argument("<id>", "the execution's id")
    .argument("<name>", "input, output, or <seq>.<field> of a history event (7.result, 12.payload), as durable history names it");
  withSharedOptions(command, "print the value on one line, not indented");
  return command.action(
    operatorAction(async (id: string, name: string, flags: OperatorFlags) => {
      const client = await connect(flags);
      for (let read = 1; ; read += 1) {
        let value: unknown;
        try {
          value = await client.value(id, name);
        } catch (error) {
          if (error instanceof ValueChangedError && read < VALUE_READS) continue;
          throw error;
        }
        if (flags.json) output.jsonLine(value);
        else output.json(value);
        return;
      }
    }),
  );
}
