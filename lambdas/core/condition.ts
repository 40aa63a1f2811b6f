/**
 * `ctx.waitForCondition`: polls a check until it says done, with durable waits between polls.
 * It is one step whose attempts are the polls: a poll that is not done ends its attempt with
 * ConditionNotMetError and the step's retry policy waits the interval (or the backoff) durably,
 * the execution sleeping in between. The check's state rides from poll to poll in the attempt's
 * heartbeat details, which history keeps with the attempt, so a crash or a new invocation
 * resumes with the state of the last poll. History grows by one StepAttemptFailed per poll that
 * was not done (not a step-and-timer pair of events), and the end is one StepCompleted.
 */
import { toMs, type Duration } from "./duration.js";
import { DurableError, StepFailedError } from "./errors.js";
import type { StepInfo, WorkflowContext } from "./workflow.js";

/** What a poll found: done (with the final state), or not yet (with the state for the next poll). */
export type ConditionCheck<S> = { done: true; state: S } | { done: false; state: S };

export interface WaitForConditionOptions<S> {
  /** The state the first poll gets. */
  initialState: S;
  /** Time between polls (default 5 s), or a backoff: `initial` × `coefficient` per poll, at most `max`. */
  interval?: Duration;
  backoff?: { initial: Duration; coefficient?: number; max?: Duration };
  /** Give up after this long since the first poll: ConditionTimeoutError. Default: never. */
  timeout?: Duration;
  /** A poll that runs longer than this fails (and counts as a poll that was not done). */
  pollTimeout?: Duration;
}

/** A poll that did not find the condition met: the next one follows after the interval. */
export class ConditionNotMetError extends DurableError {
  constructor(name: string, poll: number, state: unknown) {
    super("CONDITION_NOT_MET", `condition "${name}" not met at poll ${poll}`, { details: { name, poll, state } });
  }
}

/** The condition was not met within `timeout`. `lastState` is what the last poll left. */
export class ConditionTimeoutError extends DurableError {
  readonly lastState: unknown;

  constructor(name: string, polls: number, lastState: unknown) {
    super("CONDITION_TIMED_OUT", `condition "${name}" was not met within its timeout (${polls} poll(s))`, { details: { name, polls } });
    this.lastState = lastState;
  }
}

const DEFAULT_INTERVAL_MS = 5_000;
/** Polls without a timeout: as many as anyone waits. */
const UNBOUNDED_POLLS = 1_000_000_000;

/**
 * How many polls fit in `timeoutMs`: the first at once, each next one a delay later, the last
 * the first at or after the timeout. Decided from the options alone, so the engine's own clock
 * (the test kit's, in tests) spaces the polls and a replay decides the same.
 */
export function pollsWithin(timeoutMs: number, initialMs: number, coefficient: number, maxMs: number): number {
  let elapsed = 0;
  let polls = 1;
  for (let delay = initialMs; elapsed < timeoutMs && polls < UNBOUNDED_POLLS; polls += 1) {
    elapsed += Math.min(delay, maxMs);
    delay *= coefficient;
  }
  return polls;
}

export async function waitForCondition<S>(
  ctx: WorkflowContext,
  name: string,
  check: (state: S, info: { poll: number; signal: AbortSignal }) => Promise<ConditionCheck<S>> | ConditionCheck<S>,
  options: WaitForConditionOptions<S>,
): Promise<S> {
  if (options.interval !== undefined && options.backoff !== undefined) throw new RangeError(`waitForCondition("${name}"): give interval or backoff, not both`);
  const initialMs = options.backoff ? toMs(options.backoff.initial) : options.interval === undefined ? DEFAULT_INTERVAL_MS : toMs(options.interval);
  const coefficient = options.backoff?.coefficient ?? (options.backoff ? 2 : 1);
  const maxMs = options.backoff?.max === undefined ? (options.backoff ? Math.max(initialMs, 300_000) : initialMs) : toMs(options.backoff.max);
  if (!(initialMs > 0) || !(coefficient >= 1) || !(maxMs >= initialMs)) throw new RangeError(`waitForCondition("${name}"): the interval must be > 0, the coefficient ≥ 1 and max ≥ initial`);
  const polls = options.timeout === undefined ? UNBOUNDED_POLLS : pollsWithin(toMs(options.timeout), initialMs, coefficient, maxMs);
  try {
    return (await ctx.step(
      name,
      async (info: StepInfo) => {
        const memo = info.lastHeartbeat as { state: S } | undefined;
        const state = info.attempt === 1 || memo === undefined ? options.initialState : memo.state;
        let found: ConditionCheck<S>;
        try {
          found = await check(state, { poll: info.attempt, signal: info.signal });
        } catch (err) {
          // A poll that throws is one that was not done: the next keeps this state.
          info.heartbeat({ state });
          throw err;
        }
        if (found.done) return found.state;
        // The state for the next poll: history keeps it with this attempt.
        info.heartbeat({ state: found.state });
        throw new ConditionNotMetError(name, info.attempt, found.state);
      },
      {
        retry: { maxAttempts: polls, initialInterval: initialMs, backoffCoefficient: coefficient, maxInterval: maxMs },
        ...(options.pollTimeout === undefined ? {} : { timeout: options.pollTimeout }),
      },
    )) as S;
  } catch (err) {
    if (err instanceof StepFailedError && err.failure.code === "CONDITION_NOT_MET" && err.attempts >= polls) {
      throw new ConditionTimeoutError(name, err.attempts, err.failure.details?.state);
    }
    throw err;
  }
}
