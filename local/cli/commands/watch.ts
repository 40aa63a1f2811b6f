/**
 * `durable watch <id>`: follows an execution until it ends. On a terminal, one progress line
 * rewritten in place; piped, one line per new history event (`--json`: the events as JSON Lines).
 * Exits as `result` does: 0 completed, 1 failed, canceled or terminated, 6 on `--timeout`. An
 * output too large for the API to answer inline is not fetched: its size is printed, and the
 * command that prints it (`durable value <id> output`).
 */
import type { Command } from "commander";
import type { ExecutionWithRefs, HistoryEventView } from "../../../lambdas/client/types.js";
import { durationMs } from "../ops/command-values.js";
import { connect } from "../ops/connection.js";
import { EXIT, type ExitCode } from "../ops/exit-codes.js";
import { followExecution } from "../ops/follow-execution.js";
import { operatorAction } from "../ops/operator-action.js";
import { operatorCommand, type OperatorFlags, withSharedOptions } from "../ops/operator-command.js";
import { output } from "../ops/output.js";
import { progressLine, rewriteLine } from "../ops/progress-line.js";
import { createTimeline } from "../ops/render-history.js";
import { errorText, fullJson, refText } from "../ops/render-values.js";

interface WatchFlags extends OperatorFlags {
  timeout?: number;
}

export function watchCommand(): Command {
  const command = operatorCommand("watch", "follow an execution until it ends; exit 0 if it completed, 1 if not", [
    "durable watch order-42",
    "durable watch order-42 | tee order-42.log",
    "durable start greet --input '{}' | xargs durable watch",
  ])
    .argument("<id>", "the execution's id")
    .option("--timeout <duration>", "stop following after this long (30s, 5m, 1h): exit 6, the execution goes on", durationMs);
  withSharedOptions(command, "print each new history event as one JSON line");
  return command.action(
    operatorAction(async (id: string, flags: WatchFlags): Promise<ExitCode> => {
      const client = await connect(flags);
      const live = !flags.json && output.isTTY();
      const timeline = createTimeline(id);
      let execution: ExecutionWithRefs | undefined;
      let lastEvent: HistoryEventView | undefined;
      let drawn = false;
      const redraw = () => {
        if (!live || execution === undefined) return;
        output.out(rewriteLine(progressLine({ execution, ...(lastEvent === undefined ? {} : { lastEvent }), nowMs: Date.now() }, output.columns())));
        drawn = true;
      };
      try {
        execution = await followExecution(client, id, {
          ...(flags.timeout === undefined ? {} : { timeoutMs: flags.timeout }),
          onExecution: (read) => {
            execution = read;
          },
          onEvent: (event) => {
            lastEvent = event;
            if (flags.json) output.jsonLine(event);
            else if (!live) output.line(timeline.line(event));
          },
          onPause: redraw,
        });
      } finally {
        // The line stays, ended by a newline, before what comes next (the output, or an error).
        redraw();
        if (drawn) output.out("\n");
      }
      if (live) {
        const indent = " ".repeat(8);
        const outputRef = execution.valueRefs?.output;
        if (execution.status === "completed") output.line(`output  ${outputRef === undefined ? fullJson(execution.output ?? null, indent) : refText(id, outputRef)}`);
        else if (execution.error !== undefined) output.line(`error   ${errorText(execution.error)}`);
      }
      return execution.status === "completed" ? EXIT.ok : EXIT.executionUnsuccessful;
    }),
  );
}
