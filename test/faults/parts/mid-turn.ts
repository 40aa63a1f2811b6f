/**
 * A signal that arrives while a turn is running, after the turn last looked at its inbox: the
 * workflow runs a string of short steps, the last of which asks the API to signal this very
 * execution (as a step that triggers a system which calls back at once), and then waits for that
 * signal. Nothing reads the inbox between that step and the turn's closing commit, so when the
 * turn ends, waiting, the signal's "due" mark is all that wakes the execution if its wake-up was
 * lost: the closing commit must see the signal, or at least not erase the mark.
 */
import { defineWorkflow } from "../../../lambdas/core/workflow.js";
import type { FaultInjector } from "../../support/faults.js";
import { type ScenarioApi, sleep } from "../api-client.js";
import { checkSignalsOnce, expectStatus } from "../invariants.js";
import { type CheckContext, countStatus, type DriveContext, type Report, type ScenarioPart } from "../part.js";
import { inBatches } from "../plumbing.js";

export interface MidTurnOptions {
  executions: number;
}

const BUSY = "fault-mid-turn";
const STEPS = 20;
const STEP_MS = 50;

export function midTurnPart(faults: FaultInjector, options: MidTurnOptions): ScenarioPart {
  /** Set at start: the step bodies call the API through it. */
  let api: ScenarioApi | undefined;
  /** Executions whose signal was asked for: a body run again after a crash must not send another. */
  const asked = new Set<string>();
  const busy = defineWorkflow(BUSY, async (ctx, input: { n: number }) => {
    for (let i = 0; i < STEPS; i += 1) await ctx.step(`s${i}`, (info) => faults.stepAsync(info, () => sleep(STEP_MS).then(() => i)));
    await ctx.step("call-back", (info) =>
      faults.stepAsync(info, async () => {
        if (asked.has(ctx.executionId)) return "already asked";
        asked.add(ctx.executionId);
        await (api as ScenarioApi).signal(ctx.executionId, "late", input.n);
        return "asked";
      }),
    );
    return { got: await ctx.waitForSignal<number>("late") };
  });
  const ids = Array.from({ length: options.executions }, (_, i) => `mid-turn-${i}`);

  return {
    name: "mid-turn",
    workflows: [busy],
    executions: () => ids,
    engineFailures: () => [],
    async start(ctx: DriveContext) {
      api = ctx.api;
      await inBatches(ids, 10, (id, n) => ctx.api.start(BUSY, id, { n }));
    },
    async drive() {},
    check({ observed, api: accepted }: CheckContext, v: Report) {
      for (const [n, id] of ids.entries()) {
        const { record, history } = observed.get(id) ?? { record: undefined, history: [] };
        if (!expectStatus(id, record, "completed", v) || !record) continue;
        const got = (record.output as { got?: number } | undefined)?.got;
        if (got !== n) v(id, `output got ${got}, expected ${n}`);
        checkSignalsOnce(id, history, accepted.signals.get(id) ?? [], v);
      }
    },
    summary({ observed }: CheckContext) {
      return `${ids.length} signaled mid-turn (${countStatus(observed, ids, "completed")} completed)`;
    },
  };
}
