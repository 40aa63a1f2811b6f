/**
 * Cancellation at a random moment: executions of many consecutive short steps (a turn runs them
 * back to back, so a cancel arrives mid-turn) and executions that sleep between steps. Each ends
 * `canceled`, unless it completed before the cancel could take effect; no step body starts more
 * than `bounds.cancelStepMs` after the cancel was accepted, and none completes later than that.
 */
import { defineWorkflow } from "../../../lambdas/core/workflow.js";
import type { FaultInjector } from "../../support/faults.js";
import { sleep } from "../api-client.js";
import { expectStatus } from "../invariants.js";
import { type CheckContext, countStatus, type DriveContext, type Report, type ScenarioPart, until } from "../part.js";
import { inBatches } from "../plumbing.js";

export interface CancelOptions {
  /** Executions of `steps` consecutive steps of `stepMs` each. */
  stepping: number;
  /** Executions that sleep, step, sleep, step. */
  sleeping: number;
  steps?: number;
  stepMs?: number;
}

const STEPPING = "fault-cancel-steps";
const SLEEPING = "fault-cancel-sleep";
const NAP_MS = 1_500;

export function cancelPart(faults: FaultInjector, options: CancelOptions): ScenarioPart {
  const steps = options.steps ?? 40;
  const stepMs = options.stepMs ?? 30;
  const stepping = defineWorkflow(STEPPING, async (ctx) => {
    for (let i = 0; i < steps; i += 1) await ctx.step(`s${i}`, (info) => faults.stepAsync(info, () => sleep(stepMs).then(() => i)));
    return { done: steps };
  });
  const sleeping = defineWorkflow(SLEEPING, async (ctx) => {
    await ctx.sleep("first", NAP_MS);
    await ctx.step("mid", (info) => faults.step(info, () => 1));
    await ctx.sleep("second", NAP_MS);
    await ctx.step("last", (info) => faults.step(info, () => 2));
    return { done: true };
  });

  const steppingIds = Array.from({ length: options.stepping }, (_, i) => `cancel-steps-${i}`);
  const sleepingIds = Array.from({ length: options.sleeping }, (_, i) => `cancel-sleep-${i}`);
  const all = [...steppingIds, ...sleepingIds];

  return {
    name: "cancel",
    workflows: [stepping, sleeping],
    executions: () => all,
    engineFailures: () => [],

    async start({ api }: DriveContext) {
      await inBatches(steppingIds, 10, (id) => api.start(STEPPING, id, {}));
      await inBatches(sleepingIds, 10, (id) => api.start(SLEEPING, id, {}));
    },

    // Stepping ones mid-turn: once their steps are under way, at a random point of the rest
    // (some cancels come after the end). Sleeping ones at a random point of their sleeps.
    async drive({ api, faults: injector, random }: DriveContext) {
      const stepper = new Set(steppingIds);
      const delays = all.map((id) => Math.floor(random() * (stepper.has(id) ? steps * stepMs * 1.2 : 3.5 * NAP_MS)));
      await inBatches(all, all.length, async (id, index) => {
        if (stepper.has(id)) await until(() => injector.runsOf(id).length >= 2, 20_000);
        await sleep(delays[index] as number);
        await api.cancel(id, "the scenario canceled it");
      });
    },

    check({ observed, api, faults: injector, bounds }: CheckContext, v: Report) {
      for (const id of all) {
        const record = observed.get(id)?.record;
        const history = observed.get(id)?.history ?? [];
        const outcome = api.cancels.get(id)?.[0];
        if (!outcome) {
          v(id, "no cancel was sent (scenario bug)");
          continue;
        }
        if (!outcome.accepted) {
          // Refused because it had ended: it completed before the cancel came.
          expectStatus(id, record, "completed", v);
          continue;
        }
        if (record?.status !== "canceled" && record?.status !== "completed") {
          expectStatus(id, record, "canceled", v);
          continue;
        }
        if (record.status === "canceled" && !history.some((e) => e.type === "ExecutionCanceled")) v(id, "canceled without ExecutionCanceled in history");
        // Completing is only right if the workflow's last step was recorded before the cancel could
        // take effect. The end itself may be committed later (a crash before it is recovered by a
        // later turn, which replays the steps and takes the cancel in after them, as history says).
        if (history.some((e) => e.type === "ExecutionCompleted")) {
          const lastStepAtMs = Math.max(...history.filter((e) => e.type === "StepCompleted").map((e) => e.atMs));
          const afterMs = lastStepAtMs - bounds.maxStackSkewMs - outcome.realAfterMs;
          if (afterMs > bounds.cancelStepMs) v(id, `its last step was recorded at least ${afterMs} ms after a cancel was accepted (bound ${bounds.cancelStepMs} ms): the cancel was ignored`);
          const cancelAt = history.findIndex((e) => e.type === "CancelRequested");
          const lastStep = history.map((e) => e.type).lastIndexOf("StepCompleted");
          if (cancelAt >= 0 && cancelAt < lastStep) v(id, "completed although history records the cancel before its last step");
        }
        const late = injector.runsOf(id).filter((run) => run.startedAtMs - outcome.realAfterMs > bounds.cancelStepMs);
        if (late.length > 0) {
          const lastMs = Math.max(...late.map((run) => run.startedAtMs)) - outcome.realAfterMs;
          v(id, `${late.length} step bodies started more than ${bounds.cancelStepMs} ms after the cancel was accepted (the last ${lastMs} ms after)`);
        }
      }
    },

    summary({ observed, api }: CheckContext) {
      const refused = all.filter((id) => api.cancels.get(id)?.[0]?.accepted === false).length;
      return `${all.length} canceled at random (${countStatus(observed, all, "canceled")} canceled, ${countStatus(observed, all, "completed")} completed, ${refused} of them before the cancel)`;
    },
  };
}
