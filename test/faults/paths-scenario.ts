/**
 * The scenario of paths.test.ts (and, with more executions, of the soak): the original mix plus
 * every new part, with faults on all three sides and clocks apart.
 */
import type { ScenarioOptions } from "./scenario.js";

/** FAULT_SEED, or the suite's default. */
export const seed = Number(process.env.FAULT_SEED ?? 20_260_611);

/** The paths scenario; the soak (soak.ts) runs it with more executions. */
export function pathsScenario(): ScenarioOptions {
  return {
    name: "paths",
    seed,
    flows: 40,
    doomed: 3,
    unregistered: 2,
    storm: { senders: 2, perSender: 10 },
    stallMs: 6_000,
    deadlineMs: 60_000,
    // About a third of the original suite's worker rates: the worker's faults are not what is new
    // here, and an execution must not lose `maxEngineRetries` turns in a row to them. The rarer
    // kinds a little higher, so that every kind is injected whatever FAULT_SEED is.
    profile: {
      ddbThrottle: 0.005,
      txConflict: 0.012,
      crashBeforeWrite: 0.005,
      crashAfterWrite: 0.005,
      stall: 0.005,
      stallUpdateOnly: 0.015,
      crashHoldingLease: 0.004,
      crashInStep: 0.008,
      sqsSendFail: 0.007,
      crashAfterSend: 0.008,
      duplicateSend: 0.5,
      notifyFail: 0.3,
      // Only the large values' requests roll these (about a hundred a run: big-values' steps and
      // signals, requests sent together rolling once), so they are far higher than the rest.
      s3Throttle: 0.08,
      crashAfterObjectWrite: 0.06,
    },
    // An S3 SlowDown at the API is 503 STORE_BUSY (nothing stored), which callers try again; the
    // API uploads only the few large signals, hence the rate.
    apiProfile: { ddbThrottle: 0.08, txConflict: 0.04, sqsSendFail: 0.25, s3Throttle: 0.35 },
    sweeperProfile: { ddbThrottle: 0.05, sqsSendFail: 0.3, crashMidSweep: 0.25 },
    skewMs: { api: 2_500, stacks: [2_500, -1_500] },
    // Long steps kill a turn that starts one too late; that many turns in a row is a give-up.
    maxEngineRetries: 6,
    // Long turns (long steps, races, a held burst) hold a poller loop each: more loops, one
    // message each, keep the others' wake-ups from queueing behind them (and coming back when their
    // visibility runs out, which would hide a lost wake-up).
    workerConcurrency: 4,
    workerBatchSize: 1,
    minRemainingMs: 500,
    // The sweeper takes an ended execution out of the due index within its grace and an interval.
    quietMs: 4_000,
    // The sweeper's faults must be met on every run: a busy machine (other test files) can leave
    // more than 100 wake-ups queued, and the default backlog rule would then keep the sweeper
    // from waking anything within the run. The soak covers that rule.
    load: { sweepBacklog: { messages: 1_000 } },
    paths: {
      midTurn: { executions: 10 },
      cancel: { stepping: 12, sleeping: 8 },
      continueAsNew: { executions: 6, signals: 12, every: 3, burst: 4 },
      children: { parents: 6, canceledParents: 4 },
      races: { executions: 6 },
      signalTimeouts: { early: 6, late: 12 },
      // 1.4 s steps under a 4 s worker: a turn that has run two starts a third it cannot finish.
      longSteps: { executions: 3, steps: 16, stepMs: 1_400, timeoutMs: 2_000 },
      // Step results of 9 MB: uploaded in parts (over 8 MiB), so S3's faults meet multipart uploads
      // too; then thirty steps just over the offload threshold, each its own object write.
      bigValues: { nearLimitSignals: 1, signalBursts: 1, wideSteps: 1, bigErrors: 1, offloaded: 2, offloadedBytes: 9_000_000, offloadedSteps: 30 },
    },
  };
}
