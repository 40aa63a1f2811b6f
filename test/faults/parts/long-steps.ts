/**
 * Long steps: each longer than a third of the worker's timeout, with a `timeout` that says so. A
 * turn must not start a step it cannot finish before the invocation's time runs out; a healthy
 * execution of them completes, and is never failed by engine retries. (With short steps and a
 * crash every few steps, the same part shows that turns which die after progress do not count
 * against an execution either: broken-variant.test.ts.)
 */
import { defineWorkflow, type StepInfo } from "../../../lambdas/core/workflow.js";
import type { FaultInjector } from "../../support/faults.js";
import { sleep } from "../api-client.js";
import { expectStatus, MAX_ATTEMPTS } from "../invariants.js";
import { type CheckContext, countStatus, type DriveContext, type Report, type ScenarioPart } from "../part.js";
import { inBatches } from "../plumbing.js";

export interface LongStepsOptions {
  executions: number;
  steps: number;
  stepMs: number;
  /** The steps' `timeout`: above `stepMs`. */
  timeoutMs: number;
  /** The first run of every n-th step crashes its invocation (after the steps before it landed). */
  crashEvery?: number;
}

const LONG = "fault-long-steps";

export function longStepsPart(faults: FaultInjector, options: LongStepsOptions): ScenarioPart {
  const long = defineWorkflow(LONG, async (ctx) => {
    let total = 0;
    for (let i = 0; i < options.steps; i += 1) {
      const crashes = options.crashEvery !== undefined && i > 0 && i % options.crashEvery === 0;
      const body = crashes
        ? (info: StepInfo) => sleep(options.stepMs).then(() => faults.stepCrashingFirstRun(info, () => i))
        : (info: StepInfo) => faults.stepAsync(info, () => sleep(options.stepMs).then(() => i));
      const r = await ctx.step(`long${i}`, body, {
        timeout: options.timeoutMs,
        retry: { maxAttempts: MAX_ATTEMPTS, initialInterval: 100 },
      });
      total += r.v;
    }
    return { total };
  });
  const ids = Array.from({ length: options.executions }, (_, i) => `long-${i}`);
  const expectedTotal = (options.steps * (options.steps - 1)) / 2;

  return {
    name: "long-steps",
    workflows: [long],
    executions: () => ids,
    engineFailures: () => [],
    async start({ api }: DriveContext) {
      await inBatches(ids, 10, (id) => api.start(LONG, id, {}));
    },
    async drive() {},
    check({ observed }: CheckContext, v: Report) {
      for (const id of ids) {
        const record = observed.get(id)?.record;
        if (!expectStatus(id, record, "completed", v) || !record) continue;
        const total = (record.output as { total?: number } | undefined)?.total;
        if (total !== expectedTotal) v(id, `output total ${total}, expected ${expectedTotal}`);
      }
    },
    summary({ observed }: CheckContext) {
      const crashing = options.crashEvery === undefined ? "" : `, a crash every ${options.crashEvery}`;
      return `${ids.length} of ${options.steps} steps × ${options.stepMs} ms${crashing} (${countStatus(observed, ids, "completed")} completed)`;
    },
  };
}
