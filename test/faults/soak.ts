/**
 * The soak: the paths scenario (paths-scenario.ts) with thousands of executions, outside the
 * default run (`npm run soak`, vitest.soak.config.ts). Prints the same one-line summary.
 *
 *   SOAK_FLOWS=2000      executions of the original flow workflow (default 2000)
 *   SOAK_SCALE=10        multiplies the other parts' counts (default SOAK_FLOWS / 200); the
 *                        values near the limits stay at one each (DynamoDB Local is slow with MBs)
 *   SOAK_PARTS=core      only the original mix (no new parts), same faults and clocks
 *   SOAK_DEADLINE_MS     how long to wait for the end once everything was sent (default 15 min)
 *   FAULT_SEED, FAULT_DUMP as for the suite.
 */
import { describe, expect, it } from "vitest";
import { pathsScenario, seed } from "./paths-scenario.js";
import { type PathsOptions, runScenario } from "./scenario.js";

const flows = Number(process.env.SOAK_FLOWS ?? 2_000);
const scale = Number(process.env.SOAK_SCALE ?? Math.max(1, Math.round(flows / 200)));
const deadlineMs = Number(process.env.SOAK_DEADLINE_MS ?? 15 * 60_000);
const times = (n: number) => Math.max(1, Math.round(n * scale));

function scaledPaths(base: PathsOptions): PathsOptions {
  if (process.env.SOAK_PARTS === "core") return {};
  const { midTurn, cancel, continueAsNew, children, races, signalTimeouts, longSteps, bigValues } = base;
  return {
    ...(midTurn ? { midTurn: { executions: times(midTurn.executions) } } : {}),
    ...(cancel ? { cancel: { ...cancel, stepping: times(cancel.stepping), sleeping: times(cancel.sleeping) } } : {}),
    ...(continueAsNew ? { continueAsNew: { ...continueAsNew, executions: times(continueAsNew.executions) } } : {}),
    ...(children ? { children: { parents: times(children.parents), canceledParents: times(children.canceledParents) } } : {}),
    ...(races ? { races: { executions: times(races.executions) } } : {}),
    ...(signalTimeouts ? { signalTimeouts: { ...signalTimeouts, early: times(signalTimeouts.early), late: times(signalTimeouts.late) } } : {}),
    ...(longSteps ? { longSteps: { ...longSteps, executions: times(longSteps.executions) } } : {}),
    ...(bigValues ? { bigValues } : {}),
  };
}

describe("soak", () => {
  it(`the paths scenario with ${flows} flows`, async () => {
    const base = pathsScenario();
    const report = await runScenario({
      ...base,
      name: "soak",
      flows,
      doomed: times(base.doomed),
      unregistered: times(base.unregistered),
      storm: { senders: base.storm.senders, perSender: times(base.storm.perSender) },
      deadlineMs,
      paths: scaledPaths(base.paths ?? {}),
      // Thousands at once keep the queue backlogged for minutes on this machine: the sweeper then
      // waits a minute more before it resends (as deployed it waits 5), and the latency bounds
      // allow for the queue's wait.
      load: { sweepBacklog: { messages: 100, graceMs: 60_000 }, dueSlackMs: 240_000, cancelReactionMs: 5_000, appearMs: 600_000 },
    });
    console.log(report.summary);
    // What kinds of violations, how many of each (ids and figures left out), for a failing soak.
    const kinds = new Map<string, number>();
    for (const v of report.violations) {
      const kind = v.replace(/^[^:]+: /, "").replace(/[0-9]+/g, "N");
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    if (kinds.size > 0) console.log([...kinds.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} × ${k}`).join("\n"));
    expect(report.violations, `seed ${seed} (rerun with FAULT_SEED=${seed}):\n${report.violations.slice(0, 60).join("\n")}`).toEqual([]);
  });
});
