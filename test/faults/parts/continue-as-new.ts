/**
 * Continue-as-new with buffered signals: a loop takes signals one at a time and continues as new
 * every `every` of them, with what it has seen so far. Signals come in quick bursts, so several
 * are already in history (received, not yet consumed) when a run ends: the next run must still
 * get them. The output must hold every signal exactly once, in send order; history, across runs,
 * must hold every one at least once (a signal carried into the next run may be recorded there
 * again, so exactly-once is the output's to show).
 */
import { defineWorkflow } from "../../../lambdas/core/workflow.js";
import type { FaultInjector } from "../../support/faults.js";
import { sleep } from "../api-client.js";
import { checkSignalsKept, expectStatus } from "../invariants.js";
import { type CheckContext, countStatus, type DriveContext, type Report, type ScenarioPart } from "../part.js";
import { inBatches } from "../plumbing.js";

export interface ContinueAsNewOptions {
  executions: number;
  /** Signals per execution. */
  signals: number;
  /** Continue as new after this many signals. */
  every: number;
  /** Signals sent back to back, then a pause. */
  burst: number;
}

const LOOP = "fault-continue";

interface LoopInput {
  seen: number[];
  total: number;
  every: number;
}

export function continueAsNewPart(faults: FaultInjector, options: ContinueAsNewOptions): ScenarioPart {
  const loop = defineWorkflow(LOOP, async (ctx, input: LoopInput) => {
    const seen = [...input.seen];
    // One step per run, so step records are checked across runs too.
    await ctx.step("mark", (info) => faults.step(info, () => seen.length));
    while (seen.length < input.total) {
      seen.push(await ctx.waitForSignal<number>("n"));
      if (seen.length % input.every === 0 && seen.length < input.total) return ctx.continueAsNew({ ...input, seen } satisfies LoopInput);
    }
    return { seen };
  });

  const ids = Array.from({ length: options.executions }, (_, i) => `continue-${i}`);
  const expectedRuns = Math.floor((options.signals - 1) / options.every) + 1;

  return {
    name: "continue-as-new",
    workflows: [loop],
    executions: () => ids,
    engineFailures: () => [],

    async start({ api }: DriveContext) {
      await inBatches(ids, 10, (id) => api.start(LOOP, id, { seen: [], total: options.signals, every: options.every } satisfies LoopInput));
    },

    async drive({ api, random }: DriveContext) {
      await inBatches(ids, ids.length, async (id) => {
        await sleep(Math.floor(random() * 500));
        for (let k = 0; k < options.signals; k += 1) {
          if (k > 0 && k % options.burst === 0) await sleep(200 + Math.floor(random() * 700));
          await api.signal(id, "n", k);
        }
      });
    },

    check({ observed, api }: CheckContext, v: Report) {
      for (const id of ids) {
        const { record, history } = observed.get(id) ?? { record: undefined, history: [] };
        const sent = api.signals.get(id) ?? [];
        checkSignalsKept(id, history, sent, v);
        if (!expectStatus(id, record, "completed", v) || !record) continue;
        const seen = (record.output as { seen?: unknown } | undefined)?.seen;
        const expected = sent.map((s) => s.payload);
        if (JSON.stringify(seen) !== JSON.stringify(expected)) v(id, `output ${JSON.stringify(seen)}, expected every signal once, in send order: ${JSON.stringify(expected)}`);
        if (record.run !== expectedRuns) v(id, `ended in run ${record.run}, expected ${expectedRuns}`);
      }
    },

    summary({ observed }: CheckContext) {
      return `${ids.length} continuing as new (${countStatus(observed, ids, "completed")} completed, ${options.signals} signals each in bursts of ${options.burst}, every ${options.every})`;
    },
  };
}
