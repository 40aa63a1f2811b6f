/**
 * The fault scenario: two local stacks (two workers with two poller loops each, two sweepers) on
 * one table and one queue, optionally with clocks set apart, running every part at once (the
 * original mix of steps, a flaky step, a sleep and signals, a signal storm and executions meant to
 * fail; and, when asked, signals that arrive mid-turn, cancellation, continue-as-new, children, races, signal timeouts, long
 * steps and values near the limits: see parts/), with random faults from test/support/faults.ts in
 * the workers, the API and the sweepers. Then the invariants are checked against what DynamoDB,
 * the dead-letter queue and the step-run log say, and every breach is listed.
 *
 * Invariants (invariants.ts for those of every execution, each part's file for its own):
 * - every execution ends, by the deadline, in the state and with the output its part expects; a
 *   healthy one is never failed ENGINE_RETRIES_EXHAUSTED;
 * - history: contiguous, one terminal event, agreeing with the execution item;
 * - steps: at most one outcome per position and run, attempts within the policy, each recorded
 *   result from a real body run; a body ran again only after a disturbance;
 * - nothing left in any inbox; leases released; ended executions out of the due index (after a
 *   quiet period for the sweeper); `retryCount` 0 on every completed execution;
 * - timers never fire before their time (less the workers' clock spread), nor later than
 *   `bounds.dueMs` after it;
 * - due work is taken up in time: the start, each accepted signal, cancel and child result is in
 *   history within `bounds.dueMs` (real clock) of being accepted / of the child's end;
 * - signals consumed exactly once, in order (unordered across senders for the storm); across
 *   continue-as-new runs: none lost in history, each exactly once in order in the output;
 * - cancel: no step body starts, and no completion lands, more than `bounds.cancelStepMs` after a
 *   cancel was accepted; children of a canceled parent end canceled;
 * - Promise.race of a long step and a short timer: the timer wins, unless the step's body ended
 *   before the timer was due by the slowest clock (the clocks' spread is larger than the race's);
 * - a wait's timeout: the payload goes to the wait with the timeout iff the API accepted the
 *   signal before the deadline (by a margin of the clocks' spread);
 * - the dead-letter queue holds exactly the executions only engine retries could end;
 * - large values: every item's reference names an object that is in the bucket (no dangling
 *   reference), and every execution reads back through the store (which checks each object's
 *   bytes against the hash in its key); orphan objects are allowed and counted (objects.ts).
 */
import { inject } from "vitest";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { isTerminal } from "../../lambdas/core/status.js";
import { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { executionIdFromPk, META_SK } from "../../lambdas/store/keys.js";
import { type LocalStack, startLocalStack } from "../../local/stack.js";
import { s3BlobStore } from "../../lambdas/payloads/blob-store.js";
import {
  type ApiFaultProfile,
  type FaultInjector,
  FaultInjector as Injector,
  type FaultProfile,
  seededRandom,
  type SweeperFaultProfile,
} from "../support/faults.js";
import { testClients, uniqueName } from "../support/services.js";
import { ScenarioApi, sleep } from "./api-client.js";
import { checkExecution, checkStepRuns } from "./invariants.js";
import { checkStoredObjects, describeCensus } from "./objects.js";
import type { Bounds, CheckContext, DriveContext, ObservedExecution, ScenarioPart, Skew } from "./part.js";
import { type BigValuesOptions, bigValuesPart } from "./parts/big-values.js";
import { type CancelOptions, cancelPart } from "./parts/cancel.js";
import { type ChildrenOptions, childrenPart } from "./parts/children.js";
import { type ContinueAsNewOptions, continueAsNewPart } from "./parts/continue-as-new.js";
import { type CoreOptions, corePart } from "./parts/core.js";
import { type LongStepsOptions, longStepsPart } from "./parts/long-steps.js";
import { type MidTurnOptions, midTurnPart } from "./parts/mid-turn.js";
import { type RacesOptions, racesPart } from "./parts/races.js";
import { type SignalTimeoutOptions, signalTimeoutsPart } from "./parts/signal-timeouts.js";
import { drainQueue, inBatches, observe } from "./plumbing.js";

/** The parts beyond the original mix; each is left out when absent. */
export interface PathsOptions {
  midTurn?: MidTurnOptions;
  cancel?: CancelOptions;
  continueAsNew?: ContinueAsNewOptions;
  children?: ChildrenOptions;
  races?: RacesOptions;
  signalTimeouts?: SignalTimeoutOptions;
  longSteps?: LongStepsOptions;
  bigValues?: BigValuesOptions;
}

export interface ScenarioOptions extends CoreOptions {
  /** Prefix of the table and queue names. */
  name: string;
  seed: number;
  /** Faults in the workers. */
  profile: FaultProfile;
  /** Faults in the API's calls; none when absent. */
  apiProfile?: ApiFaultProfile;
  /** Faults in the sweepers' runs; none when absent. */
  sweeperProfile?: SweeperFaultProfile;
  /** How long a stall pauses a write: longer than a lease, so another worker takes over. */
  stallMs: number;
  /** How long to wait for every execution to end, once everything was sent. */
  deadlineMs: number;
  /**
   * Under load (the soak): how long the sweeper waits more when the queue is backlogged (its
   * `backlog` option), and the slack the latency bounds allow on top of the chain of delays. The
   * suite's defaults (its own sweeper default; 30 s) suit a few hundred executions.
   */
  load?: { sweepBacklog?: { messages?: number; graceMs?: number }; dueSlackMs?: number; cancelReactionMs?: number; appearMs?: number };
  /** Clock offsets in ms: each stack's (its workers and sweeper) and the API's (default: stack 0's). None when absent. */
  skewMs?: { api?: number; stacks: readonly [number, number] };
  paths?: PathsOptions;
  /** Engine retries before the engine gives up on an execution. Default the engine's (20). */
  maxEngineRetries?: number;
  /** Poller loops per stack (the event source mapping's concurrency). Default 2. */
  workerConcurrency?: number;
  /**
   * Messages per worker invocation. Default 10. One keeps a turn from running late behind the
   * others of its batch, whose messages then come back and mask what a lost wake-up did.
   */
  workerBatchSize?: number;
  /** No new step starts with less than this left in the invocation. Default 1 s. */
  minRemainingMs?: number;
  /** Wait this long after every execution ended (the sweeper takes ended executions out of the due index). Default 0. */
  quietMs?: number;
  /** The deliberately broken store (tests only). */
  unsafeSkipLeaseCheck?: boolean;
  /**
   * Deliberately broken engine behaviour (tests only): option names set to `true` in the store's
   * and the worker's options. By name, so a variant can be listed before the engine has its knob.
   * `lostObjects`: the injector deletes the first this many objects a worker's committed write
   * refers to (FaultInjectorOptions.loseCommittedObjects).
   */
  unsafe?: { store?: readonly string[]; worker?: readonly string[]; lostObjects?: number };
}

export interface ScenarioReport {
  violations: string[];
  summary: string;
  injected: Record<string, number>;
  durationMs: number;
}

/** The stacks' timings: short everything, so crashes and lost messages cost seconds, not minutes. */
const TIMING = { workerTimeoutMs: 4_000, visibilityTimeoutSeconds: 2, sweepIntervalMs: 1_000, sweepGraceMs: 2_000, sweepLockMs: 3_000, leaseMarginMs: 500 };
/**
 * Slack on top of the worst single chain of delays in `Bounds.dueMs`: a few faults in a row, and
 * the queue's backlog (with hundreds of executions, every wake-up sent twice and batches retried
 * whole after a crash, a wake-up was seen to wait 25 s on this 2-core machine).
 */
const DUE_SLACK_MS = 30_000;
/** How long a driver waits for a child or a wait to show up in history before it gives up on it. */
const APPEAR_MS = 60_000;
/** How soon after a cancel a turn must have stopped starting steps, before clock spread. */
const CANCEL_REACTION_MS = 1_500;

export async function runScenario(options: ScenarioOptions): Promise<ScenarioReport> {
  const startedAt = Date.now();
  const faults = new Injector(options.seed, options.profile, {
    stallMs: options.stallMs,
    ...(options.apiProfile ? { api: options.apiProfile } : {}),
    ...(options.sweeperProfile ? { sweeper: options.sweeperProfile } : {}),
    ...(options.unsafe?.lostObjects ? { loseCommittedObjects: options.unsafe.lostObjects } : {}),
  });
  const parts = buildParts(faults, options);
  const skew: Skew = { api: options.skewMs?.api ?? options.skewMs?.stacks[0] ?? 0, stacks: options.skewMs?.stacks ?? [0, 0] };
  const bounds = boundsFor(skew, options.load);
  const endpoints = { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") };
  const tableName = uniqueName(`${options.name}-t`);
  const queueName = uniqueName(`${options.name}-q`);
  const stacks: LocalStack[] = [];
  const violations: string[] = [];
  const broken = [
    ...(options.unsafeSkipLeaseCheck ? ["unsafeSkipLeaseCheck"] : []),
    ...(options.unsafe?.store ?? []),
    ...(options.unsafe?.worker ?? []),
    ...(options.unsafe?.lostObjects ? [`lostObjects=${options.unsafe.lostObjects}`] : []),
  ];
  // What the engine reported (warnings and errors), by message: diagnostics for a failing run.
  const reported = new Map<string, number>();
  const trace: string[] = [];
  const note = (level: string) => (message: string, data?: Record<string, unknown>) => {
    reported.set(`${level}: ${message}`, (reported.get(`${level}: ${message}`) ?? 0) + 1);
    if (process.env.FAULT_TRACE && (!data?.executionId || String(data.executionId).includes(process.env.FAULT_TRACE))) {
      trace.push(`${new Date().toISOString().slice(11, 23)} ${level} ${message} ${JSON.stringify(data ?? {})}`);
    }
  };
  const logger = { debug: () => undefined, info: note("info"), warn: note("warn"), error: note("error") };

  try {
    for (let i = 0; i < 2; i += 1) {
      const offset = skew.stacks[i] ?? 0;
      stacks.push(
        await startLocalStack({
          workflows: parts.flatMap((p) => p.workflows),
          endpoints,
          tableName,
          queueName,
          workerTimeoutMs: TIMING.workerTimeoutMs,
          visibilityTimeoutSeconds: TIMING.visibilityTimeoutSeconds,
          sweepIntervalMs: TIMING.sweepIntervalMs,
          sweepGraceMs: TIMING.sweepGraceMs,
          sweepLockMs: TIMING.sweepLockMs,
          ...(options.load?.sweepBacklog ? { sweepBacklog: options.load.sweepBacklog } : {}),
          workerConcurrency: options.workerConcurrency ?? 2,
          ...(options.workerBatchSize === undefined ? {} : { workerBatchSize: options.workerBatchSize }),
          workerOptions: {
            minRemainingMs: options.minRemainingMs ?? 1_000,
            leaseMarginMs: TIMING.leaseMarginMs,
            engineRetries: { delaySeconds: () => 0, ...(options.maxEngineRetries === undefined ? {} : { maxRetries: options.maxEngineRetries }) },
            ...knobs(options.unsafe?.worker),
          },
          ...(offset === 0 ? {} : { clock: () => Date.now() + offset }),
          ...(i === 0 && skew.api !== offset ? { apiClock: () => Date.now() + skew.api } : {}),
          instrumentClients: (clients) => faults.instrument(clients),
          wrapWorkerHandler: (handler) => faults.wrapHandler(handler),
          wrapSweep: (sweep) => faults.wrapSweep(sweep),
          storeOptions: knobs([...(options.unsafeSkipLeaseCheck ? ["unsafeSkipLeaseCheck"] : []), ...(options.unsafe?.store ?? [])]),
          logger,
        }),
      );
    }
    const apiDeps = (stacks[0] as LocalStack).apiDeps;
    const deadLetterQueueUrl = (stacks[0] as LocalStack).deadLetterQueueUrl;
    const clients = testClients();
    // Reads as the stacks do: large values from the stacks' bucket, through no fault injection.
    const payloadBucket = (stacks[0] as LocalStack).payloadBucket;
    const reader = new DynamoExecutionStore({
      client: clients.doc,
      tableName,
      ...(payloadBucket === undefined ? {} : { payloads: { blobs: s3BlobStore({ client: clients.s3, bucket: payloadBucket }) } }),
    });
    const api = new ScenarioApi(apiDeps, faults);
    const drive: DriveContext = { api, faults, random: seededRandom(options.seed ^ 0x5eed), reader, skew, bounds, apiClock: apiDeps.clock };

    // ---- start everything, then drive it (signals, cancels) ---------------------------------------
    // A part whose driving broke (an API error no client retries) is reported, and the rest go on.
    let lastDriven = "";
    const driving = (what: "start" | "drive") => (part: ScenarioPart) =>
      part[what](drive)
        .catch((err: unknown) => {
          violations.push(`${part.name}: ${what} failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
        })
        .finally(() => {
          lastDriven = part.name;
        });
    const phases: [string, number][] = [["stacks up", Date.now()]];
    await Promise.all(parts.map(driving("start")));
    phases.push(["started", Date.now()]);
    await Promise.all(parts.map(driving("drive")));
    phases.push([`driven (last: ${lastDriven})`, Date.now()]);

    // ---- wait for the end ------------------------------------------------------------------------
    const waitUntil = Date.now() + options.deadlineMs;
    const ended = new Set<string>();
    const waitForEnd = async (ids: readonly string[]) => {
      const remaining = new Set(ids.filter((id) => !ended.has(id)));
      while (remaining.size > 0 && Date.now() < waitUntil) {
        await sleep(500);
        await inBatches([...remaining], 50, async (id) => {
          const record = await reader.getExecution(id);
          if (record && isTerminal(record.status)) {
            remaining.delete(id);
            ended.add(id);
          }
        });
      }
      return remaining;
    };
    const known = [...new Set(parts.flatMap((p) => p.executions()))];
    let late = await waitForEnd(known);
    // Executions no part knows of (children the engine started on its own account) must end too.
    const all = [...new Set([...known, ...(await listExecutions(clients.doc, tableName))])];
    late = new Set([...late, ...(await waitForEnd(all))]);
    for (const id of late) violations.push(`${id}: did not end within ${options.deadlineMs} ms`);
    phases.push([late.size > 0 ? "deadline" : "all ended", Date.now()]);
    if (options.quietMs) await sleep(options.quietMs);

    // Stop the workers, then let stalled zombies finish: their late writes must change nothing.
    await Promise.all(stacks.splice(0).map((s) => s.stop()));
    await faults.settled();
    faults.disable();

    // ---- check --------------------------------------------------------------------------------------
    const v = (id: string, problem: string) => violations.push(`${id}: ${problem}`);
    const observed = new Map<string, ObservedExecution>();
    // An execution whose history does not read back (an object missing or altered) is reported,
    // and only its execution item is checked further (by its part).
    const unreadable = new Set<string>();
    await inBatches(all, 25, async (id) => {
      try {
        observed.set(id, await observe(reader, id));
      } catch (err) {
        unreadable.add(id);
        v(id, `does not read back through the store: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
        observed.set(id, { record: await reader.getExecution(id).catch(() => undefined), history: [], inbox: [] });
      }
    });
    const check: CheckContext = { observed, api, faults, bounds };
    for (const id of all) if (!unreadable.has(id)) checkExecution(id, observed.get(id), check, v);
    for (const part of parts) part.check(check, v);
    const { runs, reruns } = checkStepRuns(faults, v);

    // The dead-letter queue holds exactly the executions the engine gave up on.
    const meantToFail = new Set(parts.flatMap((p) => p.engineFailures()));
    const deadLettered = await drainQueue(clients.sqs, deadLetterQueueUrl);
    for (const id of meantToFail) if (!deadLettered.has(id)) v(id, "gave up but its wake-up is not in the dead-letter queue");
    for (const id of deadLettered) if (!meantToFail.has(id)) v(id, "in the dead-letter queue, but it was not meant to fail");

    const census = payloadBucket === undefined ? undefined : await checkStoredObjects(clients.doc, clients.s3, tableName, payloadBucket, v);

    const durationMs = Date.now() - startedAt;
    const completed = [...observed.values()].filter((o) => o.record?.status === "completed").length;
    const skewed = skew.stacks.some((s) => s !== 0) || skew.api !== 0 ? `clocks: api ${signed(skew.api)}, stacks ${skew.stacks.map(signed).join(" ")} ms; ` : "";
    const misreports = api.endedButRunning > 0 ? `, ${api.endedButRunning} signals refused EXECUTION_ENDED while not ended` : "";
    const apiSide = options.apiProfile ? `${faults.apiCalls} api calls (${api.busyRetries} retried after STORE_BUSY or INBOX_FULL${misreports}), ${faults.sweeps} sweeps, ` : "";
    const summary =
      `fault suite seed=${options.seed}${broken.length > 0 ? ` (BROKEN: ${broken.join(", ")})` : ""}: ` +
      `${all.length} executions (${completed} completed); ${parts.filter((p) => p.executions().length > 0).map((p) => p.summary(check)).join("; ")}; ${skewed}` +
      `${faults.invocations} invocations, ${apiSide}${runs} step runs (${reruns} re-runs after faults); ` +
      `${census ? `${describeCensus(census)}; ` : ""}` +
      `faults injected: ${faults.describeCounts()}; violations=${violations.length}; ${(durationMs / 1000).toFixed(1)} s ` +
      `(${phases.map(([what, atMs]) => `${what} ${((atMs - startedAt) / 1000).toFixed(1)}`).join(", ")})`;
    if (trace.length > 0) console.log(trace.join("\n"));
    if (process.env.FAULT_DUMP) console.log(dumpHistories(process.env.FAULT_DUMP, violations, observed));
    if (violations.length > 0 && broken.length === 0) console.log([...reported.entries()].map(([m, n]) => `${n} × ${m}`).join("\n"));
    return { violations, summary, injected: { ...faults.counts }, durationMs };
  } finally {
    await Promise.all(stacks.map((s) => s.stop()));
    faults.disable();
  }
}

function buildParts(faults: FaultInjector, options: ScenarioOptions): ScenarioPart[] {
  const paths = options.paths ?? {};
  const parts = [corePart(faults, options)];
  if (paths.midTurn) parts.push(midTurnPart(faults, paths.midTurn));
  if (paths.cancel) parts.push(cancelPart(faults, paths.cancel));
  if (paths.continueAsNew) parts.push(continueAsNewPart(faults, paths.continueAsNew));
  if (paths.children) parts.push(childrenPart(faults, paths.children));
  if (paths.races) parts.push(racesPart(faults, paths.races));
  if (paths.signalTimeouts) parts.push(signalTimeoutsPart(paths.signalTimeouts));
  if (paths.longSteps) parts.push(longStepsPart(faults, paths.longSteps));
  if (paths.bigValues) parts.push(bigValuesPart(faults, paths.bigValues));
  return parts;
}

function boundsFor(skew: Skew, load: ScenarioOptions["load"]): Bounds {
  const clocks = [skew.api, ...skew.stacks];
  const spreadMs = Math.max(...clocks) - Math.min(...clocks);
  const workerSpreadMs = Math.max(...skew.stacks) - Math.min(...skew.stacks);
  // A lost wake-up waits for the sweeper (grace, then up to an interval); a claim whose wake-up is
  // lost too holds for its lock; a turn that died holds the lease for the worker timeout plus the
  // margin. Clocks apart move every one of those.
  const chainMs = TIMING.sweepGraceMs + TIMING.sweepIntervalMs + TIMING.sweepLockMs + TIMING.workerTimeoutMs + TIMING.leaseMarginMs;
  return {
    dueMs: chainMs + spreadMs + (load?.dueSlackMs ?? DUE_SLACK_MS) + (load?.sweepBacklog?.graceMs ?? 0),
    cancelStepMs: (load?.cancelReactionMs ?? CANCEL_REACTION_MS) + spreadMs,
    appearMs: load?.appearMs ?? APPEAR_MS,
    spreadMs,
    workerSpreadMs,
    maxStackSkewMs: Math.max(...skew.stacks),
    minStackSkewMs: Math.min(...skew.stacks),
  };
}

/** Option names set to `true` (see ScenarioOptions.unsafe). */
function knobs(names: readonly string[] = []): Record<string, boolean> {
  return Object.fromEntries(names.map((name) => [name, true]));
}

/** Every execution in the scenario's table. */
async function listExecutions(doc: ReturnType<typeof testClients>["doc"], tableName: string): Promise<string[]> {
  const ids: string[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: "SK = :meta",
        ExpressionAttributeValues: { ":meta": META_SK },
        ProjectionExpression: "PK",
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of out.Items ?? []) ids.push(executionIdFromPk(String(item.PK)));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return ids;
}

/**
 * For reading a failed run: FAULT_DUMP=1 prints the history of every execution with a violation,
 * FAULT_DUMP=<text> that of every execution whose id contains the text.
 */
function dumpHistories(filter: string, violations: readonly string[], observed: ReadonlyMap<string, ObservedExecution>): string {
  const violating = new Set(violations.map((line) => line.slice(0, line.indexOf(":"))));
  const ids = [...observed.keys()].filter((id) => (filter === "1" ? violating.has(id) : id.includes(filter)));
  return ids
    .map((id) => {
      const { record, history, inbox } = observed.get(id) as ObservedExecution;
      const t0 = history[0]?.atMs ?? 0;
      const lines = history.map((e) => {
        const { seq, atMs, type, ...rest } = e;
        return `  ${String(seq).padStart(3)} +${String(atMs - t0).padStart(6)} ${type} ${JSON.stringify(rest).slice(0, 160)}`;
      });
      const pending = inbox.map((p) => `  inbox +${p.arrivedAtMs - t0} ${p.event.type}`);
      return [`${id}: ${record?.status} retryCount=${record?.retryCount} nextWake=${record?.nextWakeAtMs === undefined ? "-" : `+${record.nextWakeAtMs - t0}`}`, ...lines, ...pending].join("\n");
    })
    .join("\n");
}

function signed(ms: number): string {
  return ms > 0 ? `+${ms}` : String(ms);
}
