/**
 * Races between a step and a timer: `Promise.race([a step of 1.5 s, ctx.sleep 400 ms])`. The
 * timer is due long before the step can end, so the timer must win; the output says which did.
 */
import { defineWorkflow } from "../../../lambdas/core/workflow";
import type { FaultInjector } from "../../support/faults";
import { sleep } from "../api-client";
import { expectStatus } from "../invariants";
import { type CheckContext, type DriveContext, type Report, type ScenarioPart } from "../part";
import { inBatches } from "../plumbing";

export interface RacesOptions {
  executions: number;
}

const RACE = "fault-race";
const STEP_MS = 1_500;
const TIMER_MS = 400;

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
    check({ observed }: CheckContext, v: Report) {
      for (const id of ids) {
        const record = observed.get(id)?.record;
        if (!expectStatus(id, record, "completed", v) || !record) continue;
        const winner = (record.output as { winner?: string } | undefined)?.winner;
        if (winner !== "timer") v(id, `Promise.race: the ${winner} won; the ${TIMER_MS} ms timer should have, against a ${STEP_MS} ms step`);
      }
    },
    summary({ observed }: CheckContext) {
      return `${ids.length} races (timer won ${winners(observed, "timer")}, step won ${winners(observed, "step")})`;
    },
  };
}
