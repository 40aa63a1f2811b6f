/**
 * Races between a step and a timer: `Promise.race([a step of 1.5 s, ctx.sleep 400 ms])`. The
 * timer is due long before the step can end, so the timer must win; the output says which did.
 * With clocks apart by more than the race's 1.1 s, a worker whose clock is behind may rightly see
 * the step end first: the step may win only if its body (the run history recorded) ended before
 * the timer was due by the slowest stack's clock (fireAtMs − the smallest offset, real time).
 */
import { defineWorkflow } from "../../../lambdas/core/workflow.js";
import type { FaultInjector, Stamped } from "../../support/faults.js";
import { sleep } from "../api-client.js";
import { expectStatus, stepResults } from "../invariants.js";
import { type CheckContext, type DriveContext, type Report, type ScenarioPart } from "../part.js";
import { inBatches } from "../plumbing.js";

export interface RacesOptions {
  executions: number;
}

const RACE = "fault-race";
const STEP_MS = 1_500;
const TIMER_MS = 400;
/** Slack for the turn that fires the timer to do so. */
const MARGIN_MS = 250;

export function racesPart(faults: FaultInjector, options: RacesOptions): ScenarioPart {
  const race = defineWorkflow(RACE, async (ctx) => {
    const winner = await Promise.race([
      ctx.step("slow", (info) => faults.stepAsync(info, () => sleep(STEP_MS).then(() => "step"))).then((r) => r.v),
      ctx.sleep("short", TIMER_MS).then(() => "timer"),
    ]);
    return { winner };
  });
  const ids = Array.from({ length: options.executions }, (_, i) => `race-${i}`);
  const winners = (observed: CheckContext["observed"], who: string) =>
    ids.filter((id) => (observed.get(id)?.record?.output as { winner?: string } | undefined)?.winner === who).length;

  return {
    name: "races",
    workflows: [race],
    executions: () => ids,
    engineFailures: () => [],
    async start({ api }: DriveContext) {
      await inBatches(ids, 10, (id) => api.start(RACE, id, {}));
    },
    async drive() {},
    check({ observed, faults: injector, bounds }: CheckContext, v: Report) {
      for (const id of ids) {
        const { record, history } = observed.get(id) ?? { record: undefined, history: [] };
        if (!expectStatus(id, record, "completed", v) || !record) continue;
        const winner = (record.output as { winner?: string } | undefined)?.winner;
        if (winner === "timer") continue;
        const timer = history.find((e) => e.type === "TimerStarted");
        const step = stepResults(history).find((e) => e.name === "slow");
        const runId = (step?.result as Stamped<unknown> | undefined)?.run;
        const endedAtMs = injector.runsOf(id).find((r) => r.runId === runId)?.endedAtMs;
        if (timer?.type !== "TimerStarted" || endedAtMs === undefined) {
          v(id, `Promise.race: the ${winner} won, and history does not show when the timer was due or the step ended`);
          continue;
        }
        const lateMs = endedAtMs - (timer.fireAtMs - bounds.minStackSkewMs);
        if (lateMs > MARGIN_MS) v(id, `Promise.race: the ${winner} won, its body ending ${lateMs} ms after the ${TIMER_MS} ms timer was due by every clock (a ${STEP_MS} ms step)`);
      }
    },
    summary({ observed }: CheckContext) {
      return `${ids.length} races (timer won ${winners(observed, "timer")}, step won ${winners(observed, "step")})`;
    },
  };
}
