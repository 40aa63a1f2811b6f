/**
 * Starts that nobody types: schedules and event starts, as declared by the user. The same
 * declarations reach the CDK construct (`schedules`, `eventStarts` props), the starter function
 * (inside each fire's event) and `durable dev` (which fires the schedules the workflows module
 * exports), so what runs locally is what deploys. No AWS or CDK imports: the construct loads this.
 */
import { DurableError } from "../core/errors.js";

/** A workflow started on a schedule. */
export interface ScheduleDefinition {
  /**
   * Names the schedule and every execution it starts (`<name>-<fire time>`), so a retried fire
   * finds the execution it started. 1–48 characters of A–Z, a–z, 0–9, _ or -.
   */
  readonly name: string;
  /** The workflow to start. */
  readonly workflow: string;
  /** @default the newest version registered */
  readonly version?: number;
  /**
   * An EventBridge Scheduler cron expression's six fields (minutes hours day-of-month month
   * day-of-week year), e.g. `"0 9 ? * MON-FRI *"`. Exactly one of `cron` and `rate`.
   */
  readonly cron?: string;
  /** A fixed rate: `"5 minutes"`, `"1 hour"`, `"7 days"`. Exactly one of `cron` and `rate`. */
  readonly rate?: string;
  /** The IANA time zone the cron expression is read in. @default "UTC" */
  readonly timezone?: string;
  /** The input every execution it starts gets (JSON, at most 4 KB). @default null */
  readonly input?: unknown;
  /**
   * `skip`: a fire while the execution of an earlier fire is still running starts nothing.
   * `allow`: every fire starts an execution.
   * @default "skip"
   */
  readonly overlap?: "skip" | "allow";
}

/** The most bytes of a schedule's input: the whole fire must fit in EventBridge Scheduler's target input (8 KB). */
export const MAX_SCHEDULE_INPUT_BYTES = 4_096;

const NAME = /^[A-Za-z0-9_-]{1,48}$/;

/** A declaration that cannot work, found before anything deploys or runs. */
export class InvalidStartDefinitionError extends DurableError {
  constructor(message: string) {
    super("INVALID_START_DEFINITION", message);
  }
}

/** Checks names, uniqueness and input size; `checkExpression` checks cron and rate (see expression.ts). */
export function checkStartNames(kind: "schedule" | "event start", names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (!NAME.test(name)) throw new InvalidStartDefinitionError(`${kind} name "${name}" must be 1–48 characters of A–Z, a–z, 0–9, _ or -`);
    if (seen.has(name)) throw new InvalidStartDefinitionError(`two ${kind}s are named "${name}"; names must be unique`);
    seen.add(name);
  }
}
