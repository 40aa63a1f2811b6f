import type { AnyWorkflow } from "../core/workflow.js";
/**
 * What the worker does with one wake-up message: take the lease, load what is new, replay, drive
 * the workflow forward, commit, and schedule the next wake-up. The SQS handler only wires this.
 */
import { BULK_WORKFLOW, bulkWorkflow } from "./bulk.js";
import { ATTR, contextFromTraceparent, inSpan } from "./tracing.js";
import { type CommitBatch, drive } from "../core/driver.js";
import { DurableError, toErrorInfo } from "../core/errors.js";
import type { ExecutionStarted, HistoryEvent, SignalReceived } from "../core/events.js";
import { MAX_VALUE_BYTES, WAKE_TOLERANCE_MS } from "../core/limits.js";
import { isTerminal } from "../core/status.js";
import { WorkflowRun } from "../core/run.js";
import { HistoryConflictError, LeaseLostError, InboxConflictError } from "../store/errors.js";
import type { LeaseResult } from "../ports/store.js";
import type { WakeupMessage } from "../ports/queue.js";
import type { Delivery, EngineDeps, InvocationTime, WakeupResult, WorkerOptions } from "./deps.js";
import { engineRetryPolicy, giveUp } from "./engine-retries.js";
import { type EngineLogger, type EngineMetrics, noMetrics, silentLogger } from "./observability.js";

// Other modules and the local stack import these from here.
export { type EngineLogger, type EngineMetrics, noMetrics, silentLogger };

// The engine's ports and options live in deps.ts; re-exported for the modules that import them from here.
export type { Delivery, EngineDeps, InvocationTime, WakeupResult, WorkerOptions } from "./deps.js";

/**
 * Handles one wake-up. Never throws: a failure worth an engine retry comes back as `retry` (the
 * handler makes the message reappear after `delaySeconds`), and as `gave-up` once retries are
 * spent (see engine-retries.ts).
 */
export async function processWakeup(
  message: WakeupMessage,
  time: InvocationTime,
  deps: EngineDeps,
  options: WorkerOptions = {},
  delivery: Delivery = {},
): Promise<WakeupResult> {
  try {
    return await takeTurn(message, time, deps, options, delivery);
  } catch (err) {
    // Failed with no lease held (DynamoDB refused the acquire, a re-send was refused): nothing of
    // the execution changed and its count did not move, so back off by the deliveries so far.
    return retryLater(message.executionId, err, Math.max(1, delivery.receiveCount ?? 1), deps, options);
  }
}

function retryLater(executionId: string, err: unknown, retryCount: number, deps: EngineDeps, options: WorkerOptions): Extract<WakeupResult, { kind: "retry" }> {
  const error = toErrorInfo(err);
  const delaySeconds = engineRetryPolicy(options).delaySeconds(retryCount, deps.random());
  (deps.logger ?? silentLogger).warn("turn failed; engine retry", { executionId, retryCount, delaySeconds, error: error.message, errorName: error.name });
  return { kind: "retry", retryCount, delaySeconds, error };
}

async function takeTurn(
  message: WakeupMessage,
  time: InvocationTime,
  deps: EngineDeps,
  options: WorkerOptions,
  delivery: Delivery,
): Promise<WakeupResult> {
  const log = deps.logger ?? silentLogger;
  const now = deps.clock();
  const { executionId } = message;

  // A timer's wake-up that arrives before its time (a chained long timer by design, or delays
  // rounded and clocks a little apart) is sent on, without touching DynamoDB.
  if (message.dueAtMs !== undefined && message.dueAtMs > now) {
    await deps.scheduler.schedule(executionId, { dueAtMs: message.dueAtMs, nowMs: now });
    return { kind: "rescheduled", dueAtMs: message.dueAtMs };
  }

  const leaseMs = time.remainingMs() + (options.leaseMarginMs ?? 5_000);
  // Only an execution with work takes a lease: a duplicate wake-up, or one whose work another turn
  // already did, is dropped by the acquire's own condition (one request, nothing written).
  const taken = await deps.store.acquireLease(executionId, { owner: deps.workerId, nowMs: now, leaseMs, dueByMs: now + WAKE_TOLERANCE_MS });
  if (!taken.acquired) {
    if (taken.reason === "held") {
      // Someone else is on it. Come back when their lease ends (or soon), so an event this
      // message announced is never stranded.
      const leaseEnd = taken.execution.leaseExpiresAtMs ?? now;
      const retryAtMs = Math.min(Math.max(leaseEnd, now + 1000), now + 5_000);
      await deps.scheduler.schedule(executionId, { dueAtMs: retryAtMs, nowMs: now });
      log.debug("lease held elsewhere; rescheduled", { executionId, retryAtMs });
      return { kind: "busy", retryAtMs };
    }
    log.debug("wake-up dropped", { executionId, reason: taken.reason });
    return { kind: "dropped", reason: taken.reason };
  }

  const { previous } = taken;
  const { maxRetries } = engineRetryPolicy(options);
  const turn: TurnProgress = { ended: false, failedTurnsBefore: previous.retryCount };
  try {
    const started = taken.execution;
    return await inSpan(
      "durable.turn",
      {
        attributes: { [ATTR.executionId]: executionId, [ATTR.workflow]: started.workflow, [ATTR.version]: started.version, [ATTR.run]: started.run },
        parent: contextFromTraceparent(started.traceparent),
      },
      async (span) => {
        const result = await runUnderLease(message, taken, time, deps, options, turn, delivery);
        span.setAttribute(ATTR.outcome, result.kind);
        return result;
      },
    );
  } catch (err) {
    if (err instanceof LeaseLostError) {
      log.warn("lease lost; another worker took over", { executionId });
      return { kind: "dropped", reason: "superseded" };
    }
    if (err instanceof HistoryConflictError || err instanceof InboxConflictError) {
      // A worker whose lease had expired wrote first (it made progress, so this is not counted).
      // Let go and look again soon, later with each conflict in a row.
      log.warn("history conflict; retrying", { executionId, error: (err as DurableError).message });
      await taken.unlock().catch(() => undefined);
      const receives = Math.max(1, delivery.receiveCount ?? 1);
      return { ...retryLater(executionId, err, receives, deps, options), delaySeconds: Math.min(2 ** (receives - 1) - 1, 30) };
    }
    // An infrastructure failure (store busy, a send refused, a bug, a version this deployment lacks).
    if (turn.ended) {
      // The turn's last commit landed (it reset the count and gave the lease back): only what came
      // after it failed, a send. The redelivered message re-sends it.
      return retryLater(executionId, err, 1, deps, options);
    }
    if (turn.failedTurnsBefore >= maxRetries) return await giveUp(message, taken, turn.failedTurnsBefore + 1, err, deps);
    // Let go so the retry can take the lease at once; the count taken with it stays.
    await taken.unlock().catch(() => undefined);
    return retryLater(executionId, err, turn.failedTurnsBefore + 1, deps, options);
  }
}

/** What the turn's error handling needs to know of how far it got. */
interface TurnProgress {
  /** The commit that ends the turn (and gives the lease back) has landed. */
  ended: boolean;
  /** Turns in a row before this one that made no progress. */
  failedTurnsBefore: number;
}

async function runUnderLease(
  message: WakeupMessage,
  taken: Extract<LeaseResult, { acquired: true }>,
  time: InvocationTime,
  deps: EngineDeps,
  options: WorkerOptions,
  turn: TurnProgress,
  delivery: Delivery,
): Promise<WakeupResult> {
  const { executionId } = message;
  const { lease, previous } = taken;
  const log = deps.logger ?? silentLogger;
  const metrics = deps.metrics ?? noMetrics;
  // The inbox counter as the lease saw it, before anything below was read: an item that arrives
  // after this moves the counter, and the commit that ends the turn checks it (store.commit).
  let inboxSeen = previous.inboxSeq;

  // A warm run from this worker's last turn needs only what was written since.
  const warm = deps.runCache?.take(executionId);
  let snapshot = await deps.store.loadSnapshot(executionId, { nowMs: deps.clock(), ...(warm ? { afterSeq: warm.run.lastSeq } : {}) });
  if (!snapshot) return { kind: "dropped", reason: "not-found" };
  let warmRun: WorkflowRun | undefined;
  if (warm) {
    const first = snapshot.history[0];
    // A redrive takes recorded events out of replay: a run that applied them starts over.
    const redriven = snapshot.history.some((e) => e.type === "ExecutionRedriven");
    const continues = !redriven && snapshot.execution.runStartSeq === warm.run.startedEvent.seq && (first === undefined || first.seq === warm.run.lastSeq + 1);
    if (continues) warmRun = warm.run;
    else snapshot = await deps.store.loadSnapshot(executionId, { nowMs: deps.clock() });
    if (!snapshot) return { kind: "dropped", reason: "not-found" };
  }
  const { execution } = snapshot;
  let runStart: HistoryEvent & ExecutionStarted;
  let history: HistoryEvent[];
  if (warmRun) {
    runStart = warmRun.startedEvent;
    history = snapshot.history;
  } else {
    const started = snapshot.history.find((e) => e.seq === execution.runStartSeq && e.type === "ExecutionStarted") as
      | (HistoryEvent & ExecutionStarted)
      | undefined;
    if (!started) throw new Error(`execution "${executionId}" has no ExecutionStarted at seq ${execution.runStartSeq}`);
    runStart = started;
    history = snapshot.history.filter((e) => e.seq > started.seq);
  }

  // Engine retries count turns that made no progress. Taking the lease counted this one in
  // advance; if history grew since the execution item last noted its position, the turns before
  // did advance (they committed steps and died later, e.g. at the invocation's timeout): start
  // the count again from this turn.
  const knownLastSeq = Math.max(warmRun?.lastSeq ?? 0, ...snapshot.history.map((e) => e.seq), runStart.seq);
  if (previous.retryCount > 0 && knownLastSeq > previous.lastSeq && !options.unsafeResetRetriesOnlyAtTurnEnd) {
    await deps.store.markProgress(lease, knownLastSeq);
    turn.failedTurnsBefore = 0;
  }
  const { maxRetries } = engineRetryPolicy(options);
  if (turn.failedTurnsBefore > maxRetries) {
    // The turns before this one all died without progress and without reporting (crashes, timeouts).
    return await giveUp(message, taken, turn.failedTurnsBefore, undefined, deps);
  }

  let commits = 0;
  let stepAttempts = 0;
  let currentStatus = execution.status;
  // However large the inbox, the store takes it in commits that fit a transaction.
  let inbox = snapshot.inbox;
  let fresh = delivery.firstInInvocation ?? true;

  for (;;) {
    const definition = definitionFor(deps, runStart.workflow, runStart.version);
    const run =
      warmRun ??
      new WorkflowRun({
        executionId,
        definition,
        started: runStart,
        clock: deps.clock,
        carried: await carriedSignals(deps, executionId, runStart),
        maxValueBytes: valueLimitOf(deps.store),
      });
    warmRun = undefined;
    await run.replay(history);
    const result = await drive(
      run,
      {
        clock: deps.clock,
        random: deps.random,
        remainingMs: () => time.remainingMs(),
        commit: async (batch: CommitBatch) => {
          const ends = batch.execution !== undefined && (batch.execution.releaseLease || isTerminal(batch.execution.status));
          await deps.store.commit(lease, batch, deps.clock(), ends || batch.guardInbox ? { inboxSeen } : {});
          if (batch.execution?.releaseLease) turn.ended = true;
          // Children are created by the commit, not by the API: counted here, once, as it landed.
          for (const child of batch.childStarts) metrics.executionStarted(child.workflow);
          await wakeOthers(deps, executionId, batch);
        },
        readInbox: async () => {
          // The counter first, then the items: anything that lands after the counter was read
          // moves it again, so the turn's closing commit cannot miss it.
          const seq = await deps.store.readInboxSeq(executionId);
          if (seq === undefined || seq === inboxSeen) return [];
          inboxSeen = seq;
          return deps.store.readInbox(executionId);
        },
        callbackHeartbeats: (callbackIds) => deps.store.readCallbackHeartbeats(executionId, callbackIds),
        runStepAttempt: (info, body) =>
          inSpan(
            "durable.step",
            {
              attributes: {
                [ATTR.executionId]: executionId,
                [ATTR.workflow]: runStart.workflow,
                [ATTR.run]: runStart.run,
                [ATTR.stepName]: info.name,
                [ATTR.stepPosition]: info.position,
                [ATTR.stepAttempt]: info.attempt,
              },
            },
            body,
          ),
        onStepAttempt: (info) => {
          log.debug("step attempt", { executionId, workflow: runStart.workflow, ...info });
          metrics.stepAttempt(info.ok, info.durationMs, runStart.workflow);
        },
      },
      {
        currentStatus,
        inbox,
        freshInvocation: fresh,
        maxValueBytes: valueLimitOf(deps.store),
        ...(options.minRemainingMs === undefined ? {} : { minRemainingMs: options.minRemainingMs }),
        ...(options.turnEndMarginMs === undefined ? {} : { turnEndMarginMs: options.turnEndMarginMs }),
        ...(options.inboxCheckIntervalMs === undefined ? {} : { inboxCheckIntervalMs: options.inboxCheckIntervalMs }),
      },
    );
    fresh = false;
    commits += result.commits;
    stepAttempts += result.stepAttempts;
    const outcome = result.outcome;
    // Counted as soon as the ending commit landed: a wake-up send failing below must not lose it
    // (the redelivery finds the execution ended and drops the message).
    if (outcome.kind === "completed" || outcome.kind === "failed" || outcome.kind === "canceled") metrics.executionEnded(outcome.kind, runStart.workflow);

    if (outcome.kind === "continued") {
      // The new run starts with the signals the old one had not consumed, in memory already.
      warmRun = new WorkflowRun({ executionId, definition: definitionFor(deps, outcome.started.workflow, outcome.started.version), started: outcome.started, clock: deps.clock, carried: run.unconsumedSignals(), maxValueBytes: valueLimitOf(deps.store) });
      runStart = outcome.started;
      history = [];
      inbox = [];
      currentStatus = "running";
      log.info("continued as new", { executionId, run: runStart.run });
      continue;
    }
    if (outcome.kind === "sleeping" && outcome.nextWakeAtMs !== undefined) {
      // A wake-up for this time is already on its way if nothing changed it: do not add another.
      // Unless this message is that wake-up (it came early, or late and was not due yet by this
      // clock) or a redelivery (the send after the previous turn may be what failed).
      const unchanged =
        previous.status === "sleeping" &&
        previous.nextWakeAtMs === outcome.nextWakeAtMs &&
        message.dueAtMs !== outcome.nextWakeAtMs &&
        result.commits <= 1 &&
        (delivery.receiveCount ?? 1) <= 1;
      if (!unchanged) await deps.scheduler.schedule(executionId, { dueAtMs: outcome.nextWakeAtMs, nowMs: deps.clock() });
    } else if (outcome.kind === "yielded") {
      await deps.scheduler.wakeNow([executionId]);
    } else if (outcome.kind === "failed") {
      log.warn("execution failed", { executionId, workflow: runStart.workflow, error: outcome.error.message });
    }
    if ((outcome.kind === "sleeping" || outcome.kind === "yielded") && !run.fatal) {
      deps.runCache?.put(executionId, { run });
    }
    log.info("turn ended", { executionId, workflow: runStart.workflow, seq: run.lastSeq, outcome: outcome.kind, commits, stepAttempts });
    return { kind: "ran", outcome: outcome.kind, commits, stepAttempts };
  }
}

/**
 * Wakes the executions a commit told something (children started or asked to cancel, the parent
 * told of the end) at once, while this turn goes on. The commit made each of them due, so if a
 * send fails the sweeper wakes them: a failure is logged, not a reason to fail the turn.
 */
async function wakeOthers(deps: EngineDeps, executionId: string, batch: CommitBatch): Promise<void> {
  const targets = [...batch.childStarts.map((c) => c.childId), ...batch.childCancels, ...(batch.notifyParent ? [batch.notifyParent.executionId] : [])];
  if (targets.length === 0) return;
  try {
    await deps.scheduler.wakeNow(targets);
  } catch (err) {
    (deps.logger ?? silentLogger).warn("could not wake the executions a commit told something; the sweeper will", {
      executionId,
      targets: targets.length,
      error: toErrorInfo(err).message,
    });
  }
}

/** The signals an earlier run left for this one, read from history (a cold start of a continued run). */
async function carriedSignals(deps: EngineDeps, executionId: string, started: HistoryEvent & ExecutionStarted): Promise<(HistoryEvent & SignalReceived)[]> {
  const seqs = started.carried ?? [];
  if (seqs.length === 0) return [];
  const events = await deps.store.readEvents(executionId, seqs);
  return events.map((e) => {
    if (e.type !== "SignalReceived") throw new Error(`execution "${executionId}": run ${started.run} carries seq ${e.seq}, a ${e.type}, not a signal`);
    return e;
  });
}

/** The user's workflow of this name and version, or the engine's own (bulk actions). */
function definitionFor(deps: EngineDeps, name: string, version: number): AnyWorkflow {
  return name === BULK_WORKFLOW ? (bulkWorkflow(deps) as unknown as AnyWorkflow) : deps.registry.get(name, version);
}

/** Largest value the store records, as JSON. */
export function valueLimitOf(store: { maxValueBytes?: number }): number {
  return store.maxValueBytes ?? MAX_VALUE_BYTES;
}
