/**
 * Fires schedules on a clock of our own, for `durable dev` (real time) and the test kits (the
 * test's clock): the times EventBridge Scheduler would fire them, from the same expressions
 * (expression.ts), each fire through the same fireSchedule as the deployed starter.
 */
import type { ScheduleDefinition } from "./definitions.js";
import { nextFireAfter, parseSchedule, type ParsedSchedule, validateSchedules } from "./expression.js";

interface Entry {
  schedule: ScheduleDefinition;
  parsed: ParsedSchedule;
  /** Its next fire; undefined once it never fires again. */
  nextAtMs: number | undefined;
}

export class ScheduleFires {
  private readonly entries: Entry[];
  private readonly anchorMs: number;

  /** `anchorMs`: where rates count from (a deployed rate counts from the schedule's creation). */
  constructor(schedules: readonly ScheduleDefinition[], anchorMs: number) {
    validateSchedules(schedules);
    this.anchorMs = anchorMs;
    this.entries = schedules.map((schedule) => {
      const parsed = parseSchedule(schedule);
      return { schedule, parsed, nextAtMs: nextFireAfter(parsed, anchorMs, { anchorMs }) };
    });
  }

  get size(): number {
    return this.entries.length;
  }

  /** The earliest next fire of any schedule. */
  nextAtMs(): number | undefined {
    let next: number | undefined;
    for (const entry of this.entries) if (entry.nextAtMs !== undefined && (next === undefined || entry.nextAtMs < next)) next = entry.nextAtMs;
    return next;
  }

  /** The schedule named `name`. */
  schedule(name: string): ScheduleDefinition | undefined {
    return this.entries.find((e) => e.schedule.name === name)?.schedule;
  }

  /**
   * Fires, in time order, every fire due by `nowMs` (each schedule's missed fires too, as
   * Scheduler would have fired them); returns how many. A fire that throws is tried again on the
   * next call, as Scheduler retries it.
   */
  async fireDue(nowMs: number, fire: (schedule: ScheduleDefinition, fireAtMs: number) => Promise<void>): Promise<number> {
    let fired = 0;
    for (;;) {
      const entry = this.entries
        .filter((e) => e.nextAtMs !== undefined && e.nextAtMs <= nowMs)
        .sort((a, b) => (a.nextAtMs as number) - (b.nextAtMs as number))[0];
      if (!entry) return fired;
      const at = entry.nextAtMs as number;
      await fire(entry.schedule, at);
      entry.nextAtMs = nextFireAfter(entry.parsed, at, { anchorMs: this.anchorMs });
      fired += 1;
    }
  }
}
