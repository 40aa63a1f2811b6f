/**
 * Starting an execution from a schedule's fire or from an event, as the starter function, the
 * dev server and the test kit all do. Each start has an id derived from what fired it (the
 * schedule's name and fire time, the event's id), so a retried fire or a redelivered event finds
 * the execution it started instead of starting a second one.
 */
import { createHash } from "node:crypto";
import { isTerminal } from "../core/status.js";
import { type ApiDeps, startExecution } from "../engine/executions.js";
import { silentLogger } from "../engine/observability.js";
import type { ScheduleState } from "../ports/store.js";
import type { ScheduleDefinition } from "./definitions.js";
import { fireTimeId } from "./expression.js";

/** The tag every execution a schedule starts carries: `GET /executions?tag.schedule=<name>`. */
export const SCHEDULE_TAG = "schedule";
/** The tag every execution an event start starts carries: `GET /executions?tag.event-start=<name>`. */
export const EVENT_START_TAG = "event-start";

export type FireOutcome =
  /** This fire started its execution now. */
  | { outcome: "started"; executionId: string }
  /** A retry of a fire whose execution exists already: nothing new. */
  | { outcome: "already-started"; executionId: string }
  /** `overlap: "skip"` and an earlier fire's execution still runs, or a later fire came first. */
  | { outcome: "skipped"; executionId: string; reason: "overlap" | "superseded"; runningId: string };

/** How many times a fire re-reads a schedule's state another fire changed meanwhile. */
const CLAIM_ATTEMPTS = 5;

/**
 * Starts the execution for the fire of `schedule` at `fireAtMs`. With `overlap: "skip"` (the
 * default), the schedule's state names the execution of the latest fire; this fire claims it
 * (a conditional write) unless that execution still runs, then starts. The claim comes first, so a
 * crash between the two is repaired by the fire's retry (which finds its own claim) and a later
 * fire never overlaps an execution that is about to start.
 */
export async function fireSchedule(deps: ApiDeps, schedule: ScheduleDefinition, fireAtMs: number): Promise<FireOutcome> {
  const executionId = fireTimeId(schedule.name, fireAtMs);
  if ((schedule.overlap ?? "skip") === "skip") {
    const skipped = await claimFire(deps, schedule.name, { executionId, fireAtMs });
    if (skipped) return skipped;
  }
  const { created } = await startExecution(deps, {
    workflow: schedule.workflow,
    ...(schedule.version === undefined ? {} : { version: schedule.version }),
    input: schedule.input ?? null,
    id: executionId,
    tags: { [SCHEDULE_TAG]: schedule.name },
  });
  (deps.logger ?? silentLogger).info(created ? "schedule fired" : "schedule fire repeated", { schedule: schedule.name, executionId, fireAt: new Date(fireAtMs).toISOString() });
  return { outcome: created ? "started" : "already-started", executionId };
}

/** Claims the schedule's state for this fire; the skip outcome if it may not start. */
async function claimFire(deps: ApiDeps, scheduleName: string, fire: ScheduleState): Promise<FireOutcome | undefined> {
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt += 1) {
    const state = await deps.store.readScheduleState(scheduleName);
    if (state?.executionId === fire.executionId) return undefined; // a retry of this fire
    if (state !== undefined) {
      if (state.fireAtMs > fire.fireAtMs) return skip(deps, scheduleName, fire, state.executionId, "superseded");
      const latest = await deps.store.getExecution(state.executionId);
      const ended = latest !== undefined && (isTerminal(latest.status) || (latest.purgeAtMs !== undefined && latest.purgeAtMs <= deps.clock()));
      // A claim whose execution does not exist: that fire crashed before starting, and its retry
      // (if any) will find it superseded. Its slot is free.
      if (latest !== undefined && !ended) return skip(deps, scheduleName, fire, state.executionId, "overlap");
    }
    if (await deps.store.claimScheduleFire(scheduleName, state, fire)) return undefined;
  }
  throw new Error(`schedule "${scheduleName}": its state kept changing while the fire at ${new Date(fire.fireAtMs).toISOString()} claimed it; the fire is retried`);
}

function skip(deps: ApiDeps, scheduleName: string, fire: ScheduleState, runningId: string, reason: "overlap" | "superseded"): FireOutcome {
  (deps.logger ?? silentLogger).info("schedule fire skipped", { schedule: scheduleName, executionId: fire.executionId, reason, runningId });
  return { outcome: "skipped", executionId: fire.executionId, reason, runningId };
}

/** An event start as the starter receives it: which workflow, under which name. */
export interface EventStartTarget {
  name: string;
  workflow: string;
  version?: number;
}

/**
 * The id of the execution an event starts: `<start name>-<event id>`; an event id that is long or
 * holds other characters than A–Z a–z 0–9 _ - is replaced by its SHA-256 (hex, 40 characters).
 */
export function eventExecutionId(startName: string, eventId: string): string {
  const plain = /^[A-Za-z0-9_-]{1,64}$/.test(eventId) ? eventId : createHash("sha256").update(eventId).digest("hex").slice(0, 40);
  return `${startName}-${plain}`;
}

/** Starts `target`'s workflow with `input` for the event `eventId`, once however often the event comes. */
export async function startFromEvent(deps: ApiDeps, target: EventStartTarget, eventId: string, input: unknown): Promise<{ outcome: "started" | "already-started"; executionId: string }> {
  const executionId = eventExecutionId(target.name, eventId);
  const { created } = await startExecution(deps, {
    workflow: target.workflow,
    ...(target.version === undefined ? {} : { version: target.version }),
    input: input ?? null,
    id: executionId,
    tags: { [EVENT_START_TAG]: target.name },
  });
  return { outcome: created ? "started" : "already-started", executionId };
}
