/** `durable history <id>`: the whole history as a timeline, page after page (`--json`: JSON Lines). */
import type { Command } from "commander";
import { connect } from "../ops/connection.js";
import { operatorAction } from "../ops/operator-action.js";
import { operatorCommand, type OperatorFlags, withSharedOptions } from "../ops/operator-command.js";
import { output } from "../ops/output.js";
import { createTimeline, TIMELINE_HEADER } from "../ops/render-history.js";

/** Events asked for per page (the API takes 1-1000; a page of big events is cut at about 5 MB anyway). */
export const HISTORY_PAGE_SIZE = 250;

export function historyCommand(): Command {
  const command = operatorCommand("history", "show an execution's history: one line per event, with durations", [
    "durable history order-42",
    "durable history order-42 --json | jq -c 'select(.type == \"StepAttemptFailed\")'",
  ]).argument("<id>", "the execution's id");
  withSharedOptions(command, "print each event as one JSON line, as the API gives it (jq -s makes an array)");
  return command.action(
    operatorAction(async (id: string, flags: OperatorFlags) => {
      const client = await connect(flags);
      const timeline = createTimeline(id);
      let first = true;
      for await (const event of client.iterateHistory(id, { limit: HISTORY_PAGE_SIZE })) {
        if (flags.json) {
          output.jsonLine(event);
          continue;
        }
        if (first) output.line(TIMELINE_HEADER);
        first = false;
        output.line(timeline.line(event));
      }
    }),
  );
}
