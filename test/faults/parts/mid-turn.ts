/**
 * A signal that arrives while a turn is running: the workflow runs a string of short steps (one
 * turn of about a second) and then waits for a signal, which the scenario sends in the middle of
 * that turn. The turn took its inbox before the signal came, so when it ends, waiting, the
 * signal's "due" mark is all that wakes the execution if its wake-up was lost: the closing commit
 * must not erase it.
 */
import { defineWorkflow } from "../../../lambdas/core/workflow";
import type { FaultInjector } from "../../support/faults";
import { sleep } from "../api-client";
import { checkSignalsOnce, expectStatus } from "../invariants";
import { type CheckContext, countStatus, type DriveContext, type Report, type ScenarioPart, until } from "../part";
import { inBatches } from "../plumbing";

export interface MidTurnOptions {
  executions: number;
}

const BUSY = "fault-mid-turn";
const STEPS = 20;
const STEP_MS = 50;

export function midTurnPart(faults: FaultInjector, options: MidTurnOptions): ScenarioPart {
  const busy = defineWorkflow(BUSY, async (ctx) => {
    for (let i = 0; i < STEPS; i += 1) await ctx.step(`s${i}`, (info) => faults.stepAsync(info, () => sleep(STEP_MS).then(() => i)));
    return { got: await ctx.waitForSignal<number>("late") };
  });
  const ids = Array.from({ length: options.executions }, (_, i) => `mid-turn-${i}`);

  return {
    name: "mid-turn",
    workflows: [busy],
    executions: () => ids,
    engineFailures: () => [],
    async start({ api }: DriveContext) {
      await inBatches(ids, 10, (id) => api.start(BUSY, id, {}));
    },
    async drive({ api, faults: injector, random }: DriveContext) {
      await inBatches(ids, ids.length, async (id, i) => {
        // Once the turn is under way (a few step bodies started), before it ends.
        await until(() => injector.runsOf(id).length >= 3, 20_000);
        await sleep(Math.floor(random() * STEPS * STEP_MS * 0.4));
        await api.signal(id, "late", i);
      });
    },
    check({ observed, api }: CheckContext, v: Report) {
      for (const [i, id] of ids.entries()) {
        const { record, history } = observed.get(id) ?? { record: undefined, history: [] };
        if (!expectStatus(id, record, "completed", v) || !record) continue;
        const got = (record.output as { got?: number } | undefined)?.got;
        if (got !== i) v(id, `output got ${got}, expected ${i}`);
        checkSignalsOnce(id, history, api.signals.get(id) ?? [], v);
      }
    },
    summary({ observed }: CheckContext) {
      return `${ids.length} signaled mid-turn (${countStatus(observed, ids, "completed")} completed)`;
    },
  };
}
