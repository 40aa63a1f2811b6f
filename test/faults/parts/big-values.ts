/**
 * Values near every limit the API and the engine state: a signal payload just under the API's
 * limit (MAX_API_VALUE_BYTES of JSON for the inbox event: the stacks offload values to S3, so the
 * API takes what Lambda takes in a request); a burst of signals of `burstBytes` each to one
 * execution (together far over a transaction's 4 MB, all in the inbox at once: they come while a
 * step holds the turn); a Promise.all of steps each returning `burstBytes`; a step that throws an
 * error with a 200 KB message, which must fail that step (the workflow catches StepFailedError),
 * not the execution's infrastructure; steps whose results are far above the offload threshold (one
 * of `offloadedBytes`, then a few just above it), so that offloaded values meet every fault the
 * run injects (throttled and crashed object writes, crashes before and after the commit that
 * refers to them, stalls, zombies, duplicated wake-ups). Whatever the API accepted the engine must
 * carry: every one of these completes, with digests of what it got, in order; and what history
 * recorded, read back through the store, is what was sent or returned.
 */
import { createHash, randomUUID } from "node:crypto";
import { NonRetryableError, StepFailedError } from "../../../lambdas/core/errors.js";
import { MAX_API_VALUE_BYTES } from "../../../lambdas/core/limits.js";
import { defineWorkflow } from "../../../lambdas/core/workflow.js";
import { DEFAULT_OFFLOAD_THRESHOLD_BYTES } from "../../../lambdas/store/stored-values.js";
import type { FaultInjector, Stamped } from "../../support/faults.js";
import { checkSignalsOnce, expectStatus } from "../invariants.js";
import { type CheckContext, countStatus, type DriveContext, type Report, type ScenarioPart, until } from "../part.js";
import { sleep } from "../api-client.js";
import { inBatches } from "../plumbing.js";

export interface BigValuesOptions {
  /** Executions that get one signal just under the API's limit. Default 0, as for every count. */
  nearLimitSignals?: number;
  /** Executions that get a burst of `burst` signals of `burstBytes`. */
  signalBursts?: number;
  /** Executions that run `burst` steps at once, each returning `burstBytes`. */
  wideSteps?: number;
  /** Executions whose step throws an error with a `errorBytes` message. */
  bigErrors?: number;
  /** Executions that run a step returning `offloadedBytes`, then `offloadedSteps` returning a little more than the offload threshold. */
  offloaded?: number;
  burst?: number;
  burstBytes?: number;
  errorBytes?: number;
  /** Default 2 MB. */
  offloadedBytes?: number;
  /** Default 4. */
  offloadedSteps?: number;
}

const NEAR = "fault-big-signal";
const BURST = "fault-big-burst";
const WIDE = "fault-big-wide";
const ERROR = "fault-big-error";
const OFFLOADED = "fault-big-offloaded";
/** A result a little above the offload threshold: one more object write (and fault) per step, cheaply. */
const JUST_OFFLOADED_BYTES = DEFAULT_OFFLOAD_THRESHOLD_BYTES + 8_192;
/** The step that holds the turn while a burst arrives: most of a 4 s worker turn. */
const HOLD_MS = 2_500;

/** Short, stable digest of a value, so outputs stay small. */
const digest = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 16);

/** A value in a violation: its length and digest when it is a string. */
const describeValue = (value: unknown) => (typeof value === "string" ? `${value.length} chars, ${digest(value)}` : String(JSON.stringify(value)).slice(0, 80));

/** A string of exactly `chars` ASCII characters, different for each `tag`. */
const filler = (tag: string, chars: number) => `${tag}:`.padEnd(chars, "x");

/**
 * The largest string payload whose inbox event (`{"type":"Signal","name":…,"signalId":<uuid>,
 * "payload":…}`) stays within MAX_API_VALUE_BYTES, less a few bytes: the API must accept it (it
 * holds the payload's JSON to `apiValueLimit`, MAX_API_VALUE_BYTES with an object store).
 */
function nearLimitChars(name: string): number {
  const overhead = JSON.stringify({ type: "Signal", name, signalId: randomUUID(), payload: "" }).length;
  return MAX_API_VALUE_BYTES - overhead - 16;
}

export function bigValuesPart(faults: FaultInjector, options: BigValuesOptions): ScenarioPart {
  const burst = options.burst ?? 13;
  const burstBytes = options.burstBytes ?? 330_000;
  const errorBytes = options.errorBytes ?? 200_000;
  const offloadedBytes = options.offloadedBytes ?? 2_000_000;
  const offloadedSteps = options.offloadedSteps ?? 4;
  /** What each step of an `offloaded` execution returns, by step name. */
  const offloadedValues = new Map<string, string>([
    ["big", filler("big", offloadedBytes)],
    ...Array.from({ length: offloadedSteps }, (_, i): [string, string] => [`o${i}`, filler(`o${i}`, JUST_OFFLOADED_BYTES)]),
  ]);

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
  const offloaded = defineWorkflow(OFFLOADED, async (ctx) => {
    const got: string[] = [];
    for (const [name, value] of offloadedValues) got.push(digest((await ctx.step(name, (info) => faults.step(info, () => value))).v));
    return { got };
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

  const ids = (count: number | undefined, prefix: string) => Array.from({ length: count ?? 0 }, (_, i) => `${prefix}-${i}`);
  const nearIds = ids(options.nearLimitSignals, "big-signal");
  const burstIds = ids(options.signalBursts, "big-burst");
  const wideIds = ids(options.wideSteps, "big-wide");
  const errorIds = ids(options.bigErrors, "big-error");
  const offloadedIds = ids(options.offloaded, "big-offloaded");
  const all = [...nearIds, ...burstIds, ...wideIds, ...errorIds, ...offloadedIds];

  return {
    name: "big-values",
    workflows: [near, signalBurst, wide, error, offloaded],
    executions: () => all,
    engineFailures: () => [],

    async start({ api }: DriveContext) {
      await inBatches(nearIds, 5, (id) => api.start(NEAR, id, {}));
      await inBatches(burstIds, 5, (id) => api.start(BURST, id, {}));
      await inBatches(wideIds, 5, (id) => api.start(WIDE, id, {}));
      await inBatches(errorIds, 5, (id) => api.start(ERROR, id, {}));
      await inBatches(offloadedIds, 5, (id) => api.start(OFFLOADED, id, {}));
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
      // What history holds, as the store reads it back (from the objects): what was sent, what the steps returned.
      const expectRecorded = (id: string, returned: (step: string) => string | undefined) => {
        const sent = new Map((api.signals.get(id) ?? []).map((s) => [s.signalId, s.payload]));
        for (const e of observed.get(id)?.history ?? []) {
          if (e.type === "SignalReceived" && sent.has(e.signalId) && e.payload !== sent.get(e.signalId)) {
            v(id, `history's signal ${e.signalId} reads back as ${describeValue(e.payload)}, not the payload sent (${describeValue(sent.get(e.signalId))})`);
          }
          if (e.type !== "StepCompleted") continue;
          const value = returned(e.name);
          const got = (e.result as Stamped<unknown> | undefined)?.v;
          if (value !== undefined && got !== value) v(id, `history's result of step "${e.name}" reads back as ${describeValue(got)}, not the value returned (${describeValue(value)})`);
        }
      };
      for (const id of [...nearIds, ...burstIds]) expectOutput(id, { got: sentDigests(id) });
      for (const id of wideIds) expectOutput(id, { got: Array.from({ length: burst }, (_, i) => digest(filler(`w${i}`, burstBytes))) });
      for (const id of offloadedIds) expectOutput(id, { got: [...offloadedValues.values()].map(digest) });
      for (const id of [...nearIds, ...burstIds]) expectRecorded(id, () => undefined);
      for (const id of wideIds) expectRecorded(id, (step) => (/^w[0-9]+$/.test(step) ? filler(step, burstBytes) : undefined));
      for (const id of offloadedIds) expectRecorded(id, (step) => offloadedValues.get(step));
      for (const id of errorIds) {
        expectOutput(id, { caught: "StepFailedError" });
        if (!observed.get(id)?.history.some((e) => e.type === "StepFailed" && e.name === "boom")) v(id, "no StepFailed for the step that threw");
      }
    },

    summary({ observed }: CheckContext) {
      const times = (ids: readonly string[], what: string) => (ids.length === 0 ? [] : [`${ids.length === 1 ? "" : `${ids.length} × `}${what}`]);
      const kinds = [
        ...times(nearIds, `a ${nearLimitChars("big")}-char signal`),
        ...times(burstIds, `${burst} × ${burstBytes} B signals`),
        ...times(wideIds, `${burst} × ${burstBytes} B steps`),
        ...times(errorIds, `a ${errorBytes} B error`),
        ...times(offloadedIds, `a ${offloadedBytes} B step and ${offloadedSteps} of ${JUST_OFFLOADED_BYTES} B`),
      ];
      return `${all.length} near the limits (${countStatus(observed, all, "completed")} completed: ${kinds.join(", ")})`;
    },
  };
}
