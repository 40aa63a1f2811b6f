/**
 * `durable dev` fires the schedules the workflows file exports (`export const schedules = [...]`,
 * the same list the construct's `schedules` prop deploys) at the times EventBridge Scheduler would,
 * on the real clock, through the same fireSchedule as the deployed starter. A reload replaces
 * them; a fire that fails is tried again a few seconds later, as Scheduler retries.
 */
import type { ApiDeps } from "../../../lambdas/engine/executions.js";
import type { ScheduleDefinition } from "../../../lambdas/starts/definitions.js";
import { type FireOutcome, fireSchedule } from "../../../lambdas/starts/fire.js";
import { ScheduleFires } from "../../../lambdas/starts/local-fires.js";

/** Longest single wait: the loop looks again at least this often (long timers drift, clocks jump). */
const MAX_WAIT_MS = 60_000;
const RETRY_MS = 5_000;

export interface LocalSchedules {
  /** Fires these from now on instead (a reload). */
  replace(schedules: readonly ScheduleDefinition[]): void;
  /** The next fire of any schedule, if one is due ever. */
  nextFireAt(): Date | undefined;
  stop(): void;
}

export interface LocalSchedulesOptions {
  deps: ApiDeps;
  schedules: readonly ScheduleDefinition[];
  /** One line per fire (started, skipped, failed). */
  note: (line: string) => void;
  /** Default Date.now: tests may pass another. */
  now?: () => number;
}

export function startLocalSchedules(options: LocalSchedulesOptions): LocalSchedules {
  const now = options.now ?? Date.now;
  let fires = new ScheduleFires(options.schedules, now());
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let busy: Promise<void> | undefined;

  const arm = (waitMs?: number) => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    const next = fires.nextAtMs();
    if (next === undefined && waitMs === undefined) return;
    const wait = waitMs ?? Math.min(MAX_WAIT_MS, Math.max(0, (next as number) - now()));
    timer = setTimeout(tick, wait);
    timer.unref?.();
  };

  const tick = () => {
    busy = (async () => {
      const current = fires;
      try {
        await current.fireDue(now(), async (schedule, fireAtMs) => {
          const outcome = await fireSchedule(options.deps, schedule, fireAtMs);
          if (current === fires) options.note(describe(schedule, outcome));
        });
        arm();
      } catch (error) {
        options.note(`schedule fire failed: ${error instanceof Error ? error.message : String(error)} (trying again in ${RETRY_MS / 1000} s)`);
        arm(RETRY_MS);
      }
    })();
  };

  arm();
  return {
    replace(schedules) {
      fires = new ScheduleFires(schedules, now());
      arm();
    },
    nextFireAt() {
      const next = fires.nextAtMs();
      return next === undefined ? undefined : new Date(next);
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      void busy;
    },
  };
}

function describe(schedule: ScheduleDefinition, outcome: FireOutcome): string {
  switch (outcome.outcome) {
    case "started":
      return `schedule ${schedule.name} fired: started ${outcome.executionId}`;
    case "already-started":
      return `schedule ${schedule.name} fired: ${outcome.executionId} was started already`;
    case "skipped":
      return `schedule ${schedule.name} fired: skipped (${outcome.reason === "overlap" ? `${outcome.runningId} still runs; overlap is "skip"` : "a later fire came first"})`;
  }
}
