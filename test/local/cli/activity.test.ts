/** What `durable dev` prints about executions: one line per start and end, a few a second at most. */
import { describe, expect, it } from "vitest";
import { createActivityLog } from "../../../local/cli/dev/activity.js";

function recorder(startMs = Date.UTC(2026, 0, 1, 12, 0, 0)) {
  const lines: string[] = [];
  let nowMs = startMs;
  const log = createActivityLog({ print: (line) => lines.push(line.replace(/^\d\d:\d\d:\d\d {2}/, "")), clock: () => nowMs, maxLinesPerSecond: 3 });
  return { log, lines, advance: (ms: number) => (nowMs += ms) };
}

describe("the activity log", () => {
  it("prints a line per execution that starts and ends, with id, workflow and status", () => {
    const { log, lines } = recorder();
    log.logger.info("execution started", { executionId: "e1", workflow: "greet", version: 1 });
    log.logger.info("turn ended", { executionId: "e1", workflow: "greet", outcome: "sleeping" });
    log.logger.info("turn ended", { executionId: "e1", workflow: "greet", outcome: "completed" });
    log.logger.warn("execution failed", { executionId: "e2", workflow: "order", error: "card declined" });
    log.logger.info("turn ended", { executionId: "e2", workflow: "order", outcome: "failed" });
    expect(lines).toEqual(["started    e1  greet", "completed  e1  greet", "failed     e2  order: card declined"]);
  });

  it("prints at most the limit a second and then says how many lines it left out", () => {
    const { log, lines, advance } = recorder();
    for (let i = 0; i < 10; i++) log.logger.info("execution started", { executionId: `e${i}`, workflow: "w" });
    expect(lines).toHaveLength(3);
    advance(1_000);
    log.logger.info("execution started", { executionId: "late", workflow: "w" });
    expect(lines.slice(3)).toEqual(["… 7 more lines left out (GET /executions lists every execution)", "started    late  w"]);
  });

  it("prints nothing of the engine once muted (shutting down)", () => {
    const { log, lines } = recorder();
    log.mute();
    log.logger.warn("poller", { error: "connect ECONNREFUSED" });
    expect(lines).toEqual([]);
  });
});
