/**
 * The fault suite must not be blind: for each deliberately broken variant of the engine (a knob
 * that turns one safeguard off, tests only), a small scenario that reliably leads to what the
 * safeguard prevents must report violations, with a margin, and the same scenario with the knob
 * off is the control: no violations.
 *
 * - `unsafeSkipLeaseCheck` (store): commits skip the lease condition, so zombie workers (stalled
 *   past their lease while another took over) overwrite the execution item.
 * - `unsafeUnconditionalWakeTime` (store): a turn's closing commit overwrites the wake time even
 *   when inbox items came during the turn, so a signal whose wake-up was lost is stranded.
 * - `unsafeResetRetriesOnlyAtTurnEnd` (worker): the engine-retry count is reset only by a turn's
 *   closing commit, not by progress, so turns that die after moving on (crashes, long steps under
 *   a short Lambda) fail a healthy execution.
 * - `lostObjects` (the injector, standing in for an engine that loses a value it offloaded): the
 *   first objects committed items refer to are deleted once the item landed, so references dangle.
 */
import { describe, expect, it } from "vitest";
import type { FaultProfile } from "../support/faults.js";
import { runScenario, type ScenarioOptions } from "./scenario.js";

const seed = Number(process.env.FAULT_SEED ?? 20_260_611);

interface BrokenVariant {
  /** The knob, as the engine's options (or the scenario's `unsafe`) name it. */
  knob: string;
  /** What turns it on: the store's or the worker's option by name, or the injector's mode. */
  unsafe: NonNullable<ScenarioOptions["unsafe"]>;
  /** Whether the engine has the knob yet: until it does, the variant is listed and skipped. */
  exposed: boolean;
  /** What the broken engine then does, and so what the checks must see. */
  shows: string;
  /** At least this many violations with the knob on. */
  minViolations: number;
  /** One of them must say this, when the knob has one tell-tale violation. */
  tellTale?: RegExp;
  /** The targeted scenario, without the knob. */
  scenario: (name: string) => ScenarioOptions;
}

// Zombies are what a missing lease check lets through: here a turn's closing write (which adds no
// history item, so only the lease fences it) often stalls past the lease while another worker
// takes over. Duplicated sends make many such turns. A third, not more: closing writes that are
// plain updates stall too, and at a half the control run no longer ends within its deadline.
const zombies: FaultProfile = { stallUpdateOnly: 0.3, stall: 0.02, ddbThrottle: 0.01, crashAfterWrite: 0.01, duplicateSend: 1 };

/** No core mix unless a variant asks for it. */
const empty = { flows: 0, doomed: 0, unregistered: 0, storm: { senders: 0, perSender: 0 } };

const VARIANTS: readonly BrokenVariant[] = [
  {
    knob: "unsafeSkipLeaseCheck",
    unsafe: { store: ["unsafeSkipLeaseCheck"] },
    exposed: true,
    shows: "zombie commits overwrite the execution item (two terminal events, an item that disagrees with history)",
    minViolations: 3,
    scenario: (name) => ({ name, seed, flows: 60, doomed: 0, unregistered: 0, storm: { senders: 2, perSender: 10 }, stallMs: 7_000, deadlineMs: 60_000, profile: zombies }),
  },
  {
    knob: "unsafeUnconditionalWakeTime",
    unsafe: { store: ["unsafeUnconditionalWakeTime"] },
    exposed: true, // DynamoStoreOptions.unsafeUnconditionalWakeTime (588cf44)
    shows: "signals sent mid-turn whose wake-up was lost are stranded (never consumed, the execution never ends)",
    minViolations: 3,
    // Every wake-up the API sends is lost: a signal that came mid-turn has only its due mark. One
    // message per invocation, so no turn waits behind another and its message comes back anyway.
    scenario: (name) => ({
      name,
      seed,
      ...empty,
      stallMs: 7_000,
      deadlineMs: 12_000,
      profile: {},
      apiProfile: { sqsSendFail: 1 },
      workerBatchSize: 1,
      workerConcurrency: 4,
      paths: { midTurn: { executions: 8 } },
    }),
  },
  {
    knob: "unsafeResetRetriesOnlyAtTurnEnd",
    unsafe: { worker: ["unsafeResetRetriesOnlyAtTurnEnd"] },
    exposed: true, // WorkerOptions.unsafeResetRetriesOnlyAtTurnEnd (588cf44)
    shows: "turns that die after making progress count as engine retries until the engine gives up on healthy executions (ENGINE_RETRIES_EXHAUSTED, dead-lettered)",
    minViolations: 3,
    // 25 short steps, and the first run of every fifth crashes its invocation: five turns in a
    // row die, each having moved the execution on, one more than `maxEngineRetries` allows.
    scenario: (name) => ({
      name,
      seed,
      ...empty,
      stallMs: 7_000,
      deadlineMs: 45_000,
      profile: {},
      maxEngineRetries: 3,
      // One message per invocation: a crash then kills one execution's turn, not a whole batch's
      // (records of a batch run at once, and every lease a dead invocation held must run out).
      workerBatchSize: 1,
      workerConcurrency: 4,
      paths: { longSteps: { executions: 4, steps: 25, stepMs: 20, timeoutMs: 1_000, crashEvery: 5 } },
    }),
  },
  {
    knob: "lostObjects",
    unsafe: { lostObjects: 3 },
    exposed: true,
    shows: "items refer to objects that are not in the bucket (dangling references), histories that do not read back",
    minViolations: 3,
    tellTale: /dangling reference/,
    // Three executions of offloaded step results, no faults: only the lost objects can go wrong.
    scenario: (name) => ({ name, seed, ...empty, stallMs: 7_000, deadlineMs: 20_000, profile: {}, paths: { bigValues: { offloaded: 3 } } }),
  },
];

describe("the fault suite against deliberately broken variants of the engine", () => {
  for (const variant of VARIANTS) {
    // A variant whose knob the engine lacks cannot run: it is listed with `exposed: false, //
    // enabled once the engine exposes the knob`, and skipped until the knob exists.
    it.skipIf(!variant.exposed)(`${variant.knob}: reports violations (${variant.shows}), and none without the knob`, async () => {
      const base = variant.scenario(variant.knob.replace(/^unsafe/, "").slice(0, 24));
      const broken: ScenarioOptions = { ...base, name: `b-${base.name}`, unsafe: variant.unsafe };
      const control: ScenarioOptions = { ...base, name: `c-${base.name}` };
      const [brokenRun, controlRun] = await Promise.all([runScenario(broken), runScenario(control)]);
      console.log(`${brokenRun.summary}\n  first violations:\n  ${brokenRun.violations.slice(0, 8).join("\n  ")}`);
      console.log(controlRun.summary);
      expect(controlRun.violations, `control run, seed ${seed}:\n${controlRun.violations.slice(0, 20).join("\n")}`).toEqual([]);
      expect(brokenRun.violations.length, `${variant.knob} went (nearly) unnoticed (seed ${seed})`).toBeGreaterThanOrEqual(variant.minViolations);
      if (variant.tellTale) expect(brokenRun.violations.some((line) => variant.tellTale?.test(line)), `no violation says ${variant.tellTale}`).toBe(true);
    }, 170_000);
  }
});
