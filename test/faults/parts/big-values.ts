/**
 * Values near every limit the API and the engine state: a signal payload just under the API's
 * limit (MAX_VALUE_BYTES of JSON for the inbox event); a burst of signals of `burstBytes` each to
 * one execution (together far over a transaction's 4 MB, all in the inbox at once: they come while
 * a step holds the turn); a Promise.all of steps each returning
 * `burstBytes`; a step that throws an error with a 200 KB message, which must fail that step (the
 * workflow catches StepFailedError), not the execution's infrastructure. Whatever the API accepted
 * the engine must carry: every one of these completes, with digests of what it got, in order.
 */
import { createHash, randomUUID } from "node:crypto";
import { NonRetryableError, StepFailedError } from "../../../lambdas/core/errors.js";
import { MAX_VALUE_BYTES } from "../../../lambdas/core/limits.js";
import { defineWorkflow } from "../../../lambdas/core/workflow.js";
import type { FaultInjector } from "../../support/faults.js";
import { checkSignalsOnce, expectStatus } from "../invariants.js";
import { type CheckContext, countStatus, type DriveContext, type Report, type ScenarioPart, until } from "../part.js";
import { sleep } from "../api-client.js";
import { inBatches } from "../plumbing.js";

export interface BigValuesOptions {
  /** Executions that get one signal just under the API's limit. */
  nearLimitSignals: number;
  /** Executions that get a burst of `burst` signals of `burstBytes`. */
  signalBursts: number;
  /** Executions that run `burst` steps at once, each returning `burstBytes`. */
  wideSteps: number;
  /** Executions whose step throws an error with a `errorBytes` message. */
  bigErrors: number;
  burst?: number;
  burstBytes?: number;
  errorBytes?: number;
}

const NEAR = "fault-big-signal";
const BURST = "fault-big-burst";
const WIDE = "fault-big-wide";
const ERROR = "fault-big-error";
/** The step that holds the turn while a burst arrives: most of a 4 s worker turn. */
const HOLD_MS = 2_500;

/** Short, stable digest of a value, so outputs stay small. */
const digest = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 16);

/** A string of exactly `chars` ASCII characters, different for each `tag`. */
const filler = (tag: string, chars: number) => `${tag}:`.padEnd(chars, "x");

/**
 * The largest string payload whose inbox event (`{"type":"Signal","name":…,"signalId":<uuid>,
 * "payload":…}`) stays within MAX_VALUE_BYTES, less a few bytes: the API must accept it.
 */
function nearLimitChars(name: string): number {
  const overhead = JSON.stringify({ type: "Signal", name, signalId: randomUUID(), payload: "" }).length;
  return MAX_VALUE_BYTES - overhead - 16;
}

export function bigValuesPart(faults: FaultInjector, options: BigValuesOptions): ScenarioPart {
  const burst = options.burst ?? 13;
  const burstBytes = options.burstBytes ?? 330_000;
  const errorBytes = options.errorBytes ?? 200_000;

  const near = defineWorkflow(NEAR, async (ctx) => {
    const got = await ctx.waitForSignal<string>("big");
    return { got: [digest(got)] };
  });
  // The burst comes while a step holds the turn, so the next turn finds all of it in the inbox.
  const signalBurst = defineWorkflow(BURST, async (ctx) => {
    await ctx.step("hold", (info) => faults.stepAsync(info, () => sleep(HOLD_MS).then(() => HOLD_MS)));
    const got: string[] = [];
    for (let i = 0; i < burst; i += 1) got.push(digest(await ctx.waitForSignal<string>("chunk")));
    return { got };
  });
  const wide = defineWorkflow(WIDE, async (ctx) => {
    const results = await Promise.all(Array.from({ length: burst }, (_, i) => ctx.step(`w${i}`, (info) => faults.step(info, () => filler(`w${i}`, burstBytes)))));
    return { got: results.map((r) => digest(r.v)) };
  });
  const error = defineWorkflow(ERROR, async (ctx) => {
    try {
      await ctx.step("boom", (info) =>
        faults.step(info, () => {
          throw new NonRetryableError(filler("boom", errorBytes));
        }),
      );
      return { caught: "nothing" };
    } catch (err) {
      return { caught: err instanceof StepFailedError ? "StepFailedError" : String(err) };
    }
  });

  const nearIds = Array.from({ length: options.nearLimitSignals }, (_, i) => `big-signal-${i}`);
  const burstIds = Array.from({ length: options.signalBursts }, (_, i) => `big-burst-${i}`);
  const wideIds = Array.from({ length: options.wideSteps }, (_, i) => `big-wide-${i}`);
  const errorIds = Array.from({ length: options.bigErrors }, (_, i) => `big-error-${i}`);
  const all = [...nearIds, ...burstIds, ...wideIds, ...errorIds];

  return {
    name: "big-values",
    workflows: [near, signalBurst, wide, error],
    executions: () => all,
    engineFailures: () => [],

    async start({ api }: DriveContext) {
      await inBatches(nearIds, 5, (id) => api.start(NEAR, id, {}));
      await inBatches(burstIds, 5, (id) => api.start(BURST, id, {}));
      await inBatches(wideIds, 5, (id) => api.start(WIDE, id, {}));
      await inBatches(errorIds, 5, (id) => api.start(ERROR, id, {}));
    },

    async drive({ api, faults: injector }: DriveContext) {
      await Promise.all([
        inBatches(nearIds, 5, (id) => api.signal(id, "big", filler(id, nearLimitChars("big")))),
        // Back to back, while the step holds the turn: the whole burst is in the inbox at the next.
        inBatches(burstIds, 5, async (id) => {
          await until(() => injector.runsOf(id).length > 0, 20_000);
          for (let i = 0; i < burst; i += 1) await api.signal(id, "chunk", filler(`${id}/${i}`, burstBytes));
        }),
      ]);
    },

    check({ observed, api }: CheckContext, v: Report) {
      const expectOutput = (id: string, expected: unknown) => {
        const { record, history } = observed.get(id) ?? { record: undefined, history: [] };
        if (!expectStatus(id, record, "completed", v) || !record) return;
        if (JSON.stringify(record.output) !== JSON.stringify(expected)) v(id, `output ${JSON.stringify(record.output)}, expected ${JSON.stringify(expected)}`);
        const sent = api.signals.get(id) ?? [];
        if (sent.length > 0) checkSignalsOnce(id, history, sent, v);
      };
      const sentDigests = (id: string) => (api.signals.get(id) ?? []).map((s) => digest(String(s.payload)));
      for (const id of [...nearIds, ...burstIds]) expectOutput(id, { got: sentDigests(id) });
      for (const id of wideIds) expectOutput(id, { got: Array.from({ length: burst }, (_, i) => digest(filler(`w${i}`, burstBytes))) });
      for (const id of errorIds) {
        expectOutput(id, { caught: "StepFailedError" });
        if (!observed.get(id)?.history.some((e) => e.type === "StepFailed" && e.name === "boom")) v(id, "no StepFailed for the step that threw");
      }
    },

    summary({ observed }: CheckContext) {
      return `${all.length} near the limits (${countStatus(observed, all, "completed")} completed: a ${nearLimitChars("big")}-char signal, ${burst} × ${burstBytes} B signals, ${burst} × ${burstBytes} B steps, a ${errorBytes} B error)`;
    },
  };
}
