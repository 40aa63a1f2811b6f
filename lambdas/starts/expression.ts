/**
 * EventBridge Scheduler's cron and rate expressions, read the way the service reads them, so the
 * schedule `durable dev` fires locally (from `nextFireAfter`) is the schedule that deploys (from
 * `schedulerExpression`). Pure: Node built-ins only (Intl for time zones), because both the CDK
 * construct and the starter Lambda load it.
 *
 * The AWS rules followed here, and where they are written:
 * - [SCHED] EventBridge Scheduler User Guide, "Schedule types on EventBridge Scheduler",
 *   https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html: the six fields
 *   `minutes hours day-of-month month day-of-week year`; the table of values and wildcards per
 *   field (minutes 0-59 `, - * /`; hours 0-23 `, - * /`; day-of-month 1-31 `, - * ? / L W`; month
 *   1-12 or JAN-DEC `, - * /`; day-of-week 1-7 or SUN-SAT `, - * ? L #`; year 1970-2199 `, - * /`);
 *   `3#2` is the second Tuesday ("the 3 refers to Tuesday because it is the third day of each
 *   week", hence 1 = Sunday); "If you use a '#' character, you can define only one expression in
 *   the day-of-week field"; `6L` in `cron(15 10 ? * 6L 2022-2023)` is the last Friday; IANA time
 *   zones; and daylight saving time: "When time shifts forward in the Spring, if a cron expression
 *   falls on a non-existent date and time, your schedule invocation is skipped. When time shifts
 *   backwards in the Fall, your schedule runs only once" — its example runs `cron(30 2 * * ? *)`
 *   "only once at 2:30 a.m. before the shift occurs". `rate(1 days)` is 24 hours, DST or not.
 * - [CRON] EventBridge User Guide, "Cron expressions reference",
 *   https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html: the same
 *   table, and "You can't specify the Day-of-month and Day-of-week fields in the same cron
 *   expression. If you specify a value or a * (asterisk) in one of the fields, you must use a ?
 *   (question mark) in the other."; its example `0/30 20-2 ? * MON-FRI *` runs "between 10:00 pm
 *   on the starting day to 2:00 am on the following day", so a range may wrap around.
 * - [RATE] EventBridge User Guide, "Rate expressions" (same page family), and the Scheduler API
 *   reference, CreateSchedule `ScheduleExpression`
 *   (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html): "a value
 *   as a positive integer, and a unit with the following options: minute | minutes | hour | hours
 *   | day | days"; "If the value is equal to 1, then the unit must be singular. If the value is
 *   greater than 1, the unit must be plural."
 *
 * One copy of [SCHED] calls the year field optional; the API reference says "six fields", as
 * does every example, so six are required here.
 *
 * Where the documentation is silent we follow Quartz, the scheduler this syntax comes from, where
 * AWS's examples or reports point the same way, and otherwise refuse (a refusal here costs an edit;
 * an acceptance the service does not share costs a failed deploy):
 * - A range whose start is above its end wraps (`FRI-MON`, `50-10`, `28-3`), in every field but
 *   year ([CRON]'s `20-2` example; Quartz wraps the same way and refuses a backwards year range).
 * - `*\/n` means `<first value>/n`; `a/n` counts from a to the field's end.
 * - Day-of-week takes no `/`: the table leaves it out.
 * - `L`, `LW`, `nW`, `nL` and `n#m` stand alone in their field (Quartz implements no lists of them;
 *   AWS says so for `#`). `L` alone in day-of-week is Saturday, the last day of an AWS week. `LW`
 *   (last weekday of the month) is accepted: it joins two documented day-of-month wildcards, and
 *   EventBridge is reported to take it (serverless/serverless-local-schedule#12,
 *   grumBit/aws_cron_expression_validator#18). `L-n` (n days before the last) is not documented:
 *   refused.
 * - `nW` never leaves its month (Quartz: `1W` on a Saturday is Monday the 3rd); a month without
 *   day n has no fire for `nW`. `n#5` fires only in months with a fifth such weekday.
 * - Names are case-insensitive (`mon`, `Jan`); the rate unit is taken in lower case only.
 * - The DST rule quoted above applies to every wall time, fixed or wildcard: `0/15 * * * ? *`
 *   fires once through a repeated hour (at its first pass) and not at all in a skipped one.
 */
import { checkStartNames, InvalidStartDefinitionError, MAX_SCHEDULE_INPUT_BYTES, type ScheduleDefinition } from "./definitions.js";

/** Which days of a month a cron fires on: from its day-of-month field or its day-of-week field. */
export type CronDays =
  /** Day-of-month values, sorted (1-31; days a month lacks are skipped). */
  | { readonly kind: "days-of-month"; readonly days: readonly number[] }
  /** `L` in day-of-month. */
  | { readonly kind: "last-day-of-month" }
  /** `LW`: the last Monday-to-Friday of the month. */
  | { readonly kind: "last-weekday-of-month" }
  /** `15W`: the Monday-to-Friday nearest day 15, within the month. */
  | { readonly kind: "nearest-weekday"; readonly day: number }
  /** Day-of-week values, sorted, in AWS's numbering: 1 = Sunday … 7 = Saturday. */
  | { readonly kind: "days-of-week"; readonly days: readonly number[] }
  /** `5L`: the last Thursday of the month (weekday in AWS's numbering). */
  | { readonly kind: "last-weekday-of-kind"; readonly weekday: number }
  /** `3#2`: the second Tuesday of the month. */
  | { readonly kind: "nth-weekday"; readonly weekday: number; readonly nth: number };

/** A cron expression, expanded: every field a sorted list of the values it matches. */
export interface ParsedCron {
  readonly kind: "cron";
  /** The six fields as given, one space apart, without the `cron(...)` wrapper. */
  readonly expression: string;
  /** The IANA zone the fields are read in. */
  readonly timezone: string;
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly days: CronDays;
  readonly months: readonly number[];
  readonly years: readonly number[];
}

/** A rate expression: a fire every `periodMs`, whatever the clock on the wall says. */
export interface ParsedRate {
  readonly kind: "rate";
  /** `"<value> <unit>"`, without the `rate(...)` wrapper. */
  readonly expression: string;
  readonly value: number;
  readonly unit: "minute" | "hour" | "day";
  readonly periodMs: number;
  /** Validated like a cron's, but a rate does not depend on it. */
  readonly timezone: string;
}

export type ParsedSchedule = ParsedCron | ParsedRate;

const MINUTE_MS = 60_000;
const UNIT_MS = { minute: MINUTE_MS, hour: 60 * MINUTE_MS, day: 24 * 60 * MINUTE_MS } as const;

/**
 * Reads a schedule's `cron` or `rate` and its `timezone`, refusing what EventBridge Scheduler
 * would refuse, with a message naming the field and what it takes.
 *
 * @example
 * parseSchedule({ cron: "0 9 ? * MON-FRI *", timezone: "Europe/Berlin" }); // kind "cron", hours [9], ...
 * parseSchedule({ rate: "rate(5 minutes)" }); // kind "rate", periodMs 300000
 * parseSchedule({ cron: "0 9 * * * *" }); // throws: day-of-month and day-of-week cannot both be given
 */
export function parseSchedule(def: Pick<ScheduleDefinition, "cron" | "rate" | "timezone">): ParsedSchedule {
  const { cron, rate } = def;
  if (cron !== undefined && rate !== undefined) {
    throw new InvalidStartDefinitionError(`give exactly one of cron and rate, not both (cron "${String(cron)}", rate "${String(rate)}")`);
  }
  if (cron === undefined && rate === undefined) {
    throw new InvalidStartDefinitionError(`give exactly one of cron (e.g. "0 9 ? * MON-FRI *") and rate (e.g. "5 minutes")`);
  }
  const timezone = checkTimeZone(def.timezone);
  if (cron !== undefined) {
    if (typeof cron !== "string") throw new InvalidStartDefinitionError(`cron must be a string such as "0 9 ? * MON-FRI *"`);
    return parseCron(cron, timezone);
  }
  if (typeof rate !== "string") throw new InvalidStartDefinitionError(`rate must be a string such as "5 minutes"`);
  return parseRate(rate, timezone);
}

/**
 * The first fire strictly after `afterMs` (epoch ms), or undefined if the schedule never fires
 * again (its years are past). A cron fires at second 0 of each matching minute of its time zone;
 * a wall time a spring-forward skips does not fire that day, and one a fall-back repeats fires once,
 * at its first pass ([SCHED], "Daylight savings time"). A rate fires at `anchorMs + k × period`
 * for whole k ≥ 1 (`anchorMs` defaults to 0).
 *
 * @example
 * const nightly = parseSchedule({ cron: "0 2 * * ? *", timezone: "Europe/Berlin" });
 * nextFireAfter(nightly, Date.parse("2026-12-01T12:00:00Z")); // Date.parse("2026-12-02T01:00:00Z")
 * nextFireAfter(parseSchedule({ rate: "1 hour" }), startedAtMs + 1, { anchorMs: startedAtMs }); // startedAtMs + 3600000
 */
export function nextFireAfter(parsed: ParsedSchedule, afterMs: number, options: { anchorMs?: number } = {}): number | undefined {
  if (!Number.isFinite(afterMs)) throw new RangeError(`afterMs must be a finite epoch time in ms, got ${afterMs}`);
  if (parsed.kind === "rate") {
    const anchorMs = options.anchorMs ?? 0;
    if (!Number.isFinite(anchorMs)) throw new RangeError(`anchorMs must be a finite epoch time in ms, got ${anchorMs}`);
    const k = Math.max(1, Math.floor((afterMs - anchorMs) / parsed.periodMs) + 1);
    return anchorMs + k * parsed.periodMs;
  }
  return nextCronFire(parsed, afterMs);
}

/**
 * The expression EventBridge Scheduler takes for a schedule: wrapped, with its whitespace collapsed.
 *
 * @example
 * schedulerExpression({ name: "n", workflow: "w", cron: " 0  9 ? * MON-FRI * " }); // "cron(0 9 ? * MON-FRI *)"
 * schedulerExpression({ name: "n", workflow: "w", rate: "5 minutes" }); // "rate(5 minutes)"
 */
export function schedulerExpression(def: ScheduleDefinition): string {
  const parsed = parseSchedule(def);
  return `${parsed.kind}(${parsed.expression})`;
}

/**
 * Checks every declared schedule before anything deploys or runs: names (unique, 1–48 of
 * A–Z a–z 0–9 _ -), workflow, version, overlap, cron or rate, time zone and input (plain JSON, at
 * most MAX_SCHEDULE_INPUT_BYTES). Throws InvalidStartDefinitionError naming the schedule.
 *
 * @example
 * validateSchedules([{ name: "nightly", workflow: "report", cron: "0 2 * * ? *", timezone: "Europe/Berlin" }]);
 */
export function validateSchedules(defs: readonly ScheduleDefinition[]): void {
  checkStartNames(
    "schedule",
    defs.map((def) => def.name),
  );
  for (const def of defs) {
    const refuse = (problem: string): never => {
      throw new InvalidStartDefinitionError(`schedule "${def.name}": ${problem}`);
    };
    if (typeof def.workflow !== "string" || def.workflow.trim() === "") refuse("workflow must name the workflow to start");
    if (def.workflow.length > 128) refuse(`workflow is ${def.workflow.length} characters; at most 128`);
    if (def.version !== undefined && !(Number.isInteger(def.version) && def.version > 0)) {
      refuse(`version ${String(def.version)} must be a positive whole number (or left out for the newest)`);
    }
    if (def.overlap !== undefined && def.overlap !== "skip" && def.overlap !== "allow") {
      refuse(`overlap "${String(def.overlap)}" must be "skip" or "allow"`);
    }
    try {
      parseSchedule(def);
    } catch (error) {
      if (error instanceof InvalidStartDefinitionError) refuse(error.message);
      throw error;
    }
    const problem = jsonProblem(def.input ?? null, "input", new Set());
    if (problem !== undefined) refuse(problem);
    const bytes = Buffer.byteLength(JSON.stringify(def.input ?? null), "utf8");
    if (bytes > MAX_SCHEDULE_INPUT_BYTES) refuse(`input is ${bytes} bytes of JSON; at most ${MAX_SCHEDULE_INPUT_BYTES}`);
  }
}

/**
 * The id of the execution a fire starts: the schedule's name and the fire time in UTC to the
 * second, so a retried fire finds the execution it started.
 *
 * @example
 * fireTimeId("nightly", Date.parse("2026-12-02T09:00:00Z")); // "nightly-20261202T090000Z"
 */
export function fireTimeId(scheduleName: string, fireAtMs: number): string {
  checkStartNames("schedule", [scheduleName]);
  if (!Number.isFinite(fireAtMs)) throw new RangeError(`fireAtMs must be a finite epoch time in ms, got ${fireAtMs}`);
  const iso = new Date(fireAtMs).toISOString(); // yyyy-MM-ddTHH:mm:ss.sssZ for years 0-9999
  const parts = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{3}Z$/.exec(iso);
  if (parts === null) throw new RangeError(`fire time ${iso} is outside the years 0000-9999`);
  const [, year, month, day, hour, minute, second] = parts;
  return `${scheduleName}-${year}${month}${day}T${hour}${minute}${second}Z`;
}

// ---------------------------------------------------------------------------------------------
// Rate

function parseRate(given: string, timezone: string): ParsedRate {
  const body = unwrap(given, "rate");
  const refuse = (problem: string): never => {
    throw new InvalidStartDefinitionError(`rate "${given}": ${problem}`);
  };
  const match = /^(\S+)\s+(\S+)$/.exec(body);
  const units = ["minute", "minutes", "hour", "hours", "day", "days"];
  if (match === null || !units.includes(match[2] ?? "")) {
    return refuse(`must be "<value> <unit>" with unit minute(s), hour(s) or day(s), e.g. "1 hour" or "5 minutes"`);
  }
  const [, valueText = "", unitText = ""] = match;
  if (!/^[1-9]\d*$/.test(valueText)) return refuse(`the value "${valueText}" must be a positive whole number, written without leading zeros`);
  const value = Number(valueText);
  const unit = (unitText.endsWith("s") ? unitText.slice(0, -1) : unitText) as ParsedRate["unit"];
  // [RATE]: rate(1 hours) and rate(5 hour) are both refused.
  if (value === 1 && unitText !== unit) refuse(`a value of 1 takes the singular unit: "1 ${unit}"`);
  if (value > 1 && unitText === unit) refuse(`a value above 1 takes the plural unit: "${value} ${unit}s"`);
  const periodMs = value * UNIT_MS[unit];
  if (!Number.isSafeInteger(periodMs)) refuse(`${valueText} ${unitText} is too long a period`);
  return { kind: "rate", expression: `${value} ${unitText}`, value, unit, periodMs, timezone };
}

// ---------------------------------------------------------------------------------------------
// Cron: reading

interface FieldSpec {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  /** Names for min, min + 1, ... (upper case). */
  readonly names?: readonly string[];
  /** What [SCHED]'s table allows, for messages. */
  readonly allowed: string;
  readonly step: boolean;
  readonly wrap: boolean;
}

const MINUTES: FieldSpec = { label: "minutes", min: 0, max: 59, allowed: "0-59 and the wildcards , - * /", step: true, wrap: true };
const HOURS: FieldSpec = { label: "hours", min: 0, max: 23, allowed: "0-23 and the wildcards , - * /", step: true, wrap: true };
const DAY_OF_MONTH: FieldSpec = { label: "day-of-month", min: 1, max: 31, allowed: "1-31 and the wildcards , - * ? / L W", step: true, wrap: true };
const MONTH: FieldSpec = {
  label: "month",
  min: 1,
  max: 12,
  names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
  allowed: "1-12 or JAN-DEC and the wildcards , - * /",
  step: true,
  wrap: true,
};
const DAY_OF_WEEK: FieldSpec = {
  label: "day-of-week",
  min: 1,
  max: 7,
  names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
  allowed: "1-7 (1 = Sunday) or SUN-SAT and the wildcards , - * ? L #",
  step: false,
  wrap: true,
};
const YEAR: FieldSpec = { label: "year", min: 1970, max: 2199, allowed: "1970-2199 and the wildcards , - * /", step: true, wrap: false };

type Refuse = (problem: string) => never;

function parseCron(given: string, timezone: string): ParsedCron {
  const body = unwrap(given, "cron");
  const refuse: Refuse = (problem) => {
    throw new InvalidStartDefinitionError(`cron "${given.trim()}": ${problem}`);
  };
  const fields = body === "" ? [] : body.split(/\s+/);
  if (fields.length !== 6) {
    return refuse(`needs 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`);
  }
  const [minutes = "", hours = "", dayOfMonth = "", month = "", dayOfWeek = "", year = ""] = fields;
  // [CRON] "Limitations": one of the two day fields is ?, and only one.
  if (dayOfMonth !== "?" && dayOfWeek !== "?") refuse("day-of-month and day-of-week cannot both be given; use ? in one of them");
  if (dayOfMonth === "?" && dayOfWeek === "?") refuse("day-of-month and day-of-week cannot both be ?; give one of them");
  for (const [text, spec] of [
    [minutes, MINUTES],
    [hours, HOURS],
    [month, MONTH],
    [year, YEAR],
  ] as const) {
    if (text.includes("?")) refuse(`${spec.label} "${text}": ? is only for day-of-month or day-of-week; ${spec.label} take ${spec.allowed}`);
  }
  return {
    kind: "cron",
    expression: fields.join(" "),
    timezone,
    minutes: parseList(minutes, MINUTES, refuse),
    hours: parseList(hours, HOURS, refuse),
    days: dayOfMonth === "?" ? parseDayOfWeek(dayOfWeek, refuse) : parseDayOfMonth(dayOfMonth, refuse),
    months: parseList(month, MONTH, refuse),
    years: parseList(year, YEAR, refuse),
  };
}

function parseDayOfMonth(text: string, refuse: Refuse): CronDays {
  const upper = text.toUpperCase();
  if (upper === "L") return { kind: "last-day-of-month" };
  if (upper === "LW") return { kind: "last-weekday-of-month" };
  if (/^L-\d+$/.test(upper)) {
    return refuse(
      `day-of-month "${text}": L-n (days before the last) is not in EventBridge Scheduler's documented syntax; use L (last day) or LW (last weekday)`,
    );
  }
  const weekday = /^(\d+)W$/.exec(upper);
  if (weekday !== null) return { kind: "nearest-weekday", day: parseValue(weekday[1] ?? "", DAY_OF_MONTH, refuse) };
  if (upper.includes("L") || upper.includes("W")) {
    return refuse(`day-of-month "${text}": L and W stand alone, as L, LW or a day with W such as 15W`);
  }
  return { kind: "days-of-month", days: parseList(text, DAY_OF_MONTH, refuse) };
}

function parseDayOfWeek(text: string, refuse: Refuse): CronDays {
  const upper = text.toUpperCase();
  if (upper.includes("#")) {
    // [SCHED]: "If you use a '#' character, you can define only one expression in the day-of-week field".
    const nth = /^([^#,\-/]+)#(\d+)$/.exec(upper);
    if (nth === null) return refuse(`day-of-week "${text}": # takes one weekday and its instance, alone in the field, e.g. 3#2 or TUE#2 (second Tuesday)`);
    const instance = Number(nth[2]);
    if (instance < 1 || instance > 5) refuse(`day-of-week "${text}": the instance after # must be 1-5`);
    return { kind: "nth-weekday", weekday: parseValue(nth[1] ?? "", DAY_OF_WEEK, refuse), nth: instance };
  }
  // L alone is the last day of an AWS week (1 = Sunday … 7 = Saturday).
  if (upper === "L") return { kind: "days-of-week", days: [7] };
  const last = /^([^,\-/]+)L$/.exec(upper);
  if (last !== null) return { kind: "last-weekday-of-kind", weekday: parseValue(last[1] ?? "", DAY_OF_WEEK, refuse) };
  if (upper.includes("L")) return refuse(`day-of-week "${text}": L stands alone, as L (Saturday) or a weekday with L such as 5L (last Thursday)`);
  if (upper.includes("/")) return refuse(`day-of-week "${text}": day-of-week does not take / (increments); it takes ${DAY_OF_WEEK.allowed}`);
  return { kind: "days-of-week", days: parseList(text, DAY_OF_WEEK, refuse) };
}

/** A field of `,`-separated items, each `*`, a value, a range `a-b`, or one of those with `/step`. */
function parseList(text: string, spec: FieldSpec, refuse: Refuse): number[] {
  const span = spec.max - spec.min + 1;
  const values = new Set<number>();
  for (const item of text.split(",")) {
    if (item === "") refuse(`${spec.label} "${text}" has an empty item; ${spec.label} take ${spec.allowed}`);
    const [range = "", stepText, extra] = item.split("/");
    if (extra !== undefined) refuse(`${spec.label} "${item}" has more than one /`);
    let step = 1;
    if (stepText !== undefined) {
      if (!spec.step) refuse(`${spec.label} "${text}": ${spec.label} does not take /; it takes ${spec.allowed}`);
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1 || Number(stepText) > span) {
        refuse(`${spec.label} "${item}": the increment after / must be a whole number 1-${span}`);
      }
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === "*") {
      from = spec.min;
      to = spec.max;
    } else if (range.includes("-")) {
      const [start = "", end = "", more] = range.split("-");
      if (more !== undefined) refuse(`${spec.label} "${item}" is not a range a-b`);
      from = parseValue(start, spec, refuse);
      to = parseValue(end, spec, refuse);
      if (to < from && !spec.wrap) refuse(`${spec.label} "${item}": a range of years must run forwards`);
    } else {
      from = parseValue(range, spec, refuse);
      to = stepText === undefined ? from : spec.max;
    }
    // A range that runs backwards wraps past the field's end ([CRON]'s hours example `20-2`).
    const end = to < from ? to + span : to;
    for (let i = from; i <= end; i += step) values.add(((i - spec.min) % span) + spec.min);
  }
  return [...values].sort((a, b) => a - b);
}

function parseValue(text: string, spec: FieldSpec, refuse: Refuse): number {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < spec.min || value > spec.max) refuse(`${spec.label} value ${text} is out of range; ${spec.label} take ${spec.allowed}`);
    return value;
  }
  const index = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (index < 0) return refuse(`${spec.label} value "${text}" is not allowed; ${spec.label} take ${spec.allowed}`);
  return spec.min + index;
}

function unwrap(given: string, kind: "cron" | "rate"): string {
  const trimmed = given.trim();
  const wrapped = new RegExp(`^${kind}\\(([\\s\\S]*)\\)$`, "i").exec(trimmed);
  if (wrapped !== null) return (wrapped[1] ?? "").trim();
  if (trimmed.toLowerCase().startsWith(`${kind}(`)) {
    throw new InvalidStartDefinitionError(`${kind} "${trimmed}": the ${kind}( wrapper is not closed with )`);
  }
  return trimmed;
}

function checkTimeZone(timezone: unknown): string {
  if (timezone === undefined) return "UTC";
  const refuse = (problem: string): never => {
    throw new InvalidStartDefinitionError(`timezone "${String(timezone)}": ${problem}`);
  };
  if (typeof timezone !== "string" || timezone === "" || /^[+-]/.test(timezone)) {
    return refuse(`must be an IANA time zone name such as "Europe/Berlin" or "UTC"`);
  }
  let resolved = "";
  try {
    resolved = new Intl.DateTimeFormat(undefined, { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    refuse(`is not an IANA time zone; give one such as "Europe/Berlin", "America/New_York" or "UTC"`);
  }
  // Intl forgives the case of a name; the deployed schedule should not have to.
  if (resolved !== timezone && resolved.toLowerCase() === timezone.toLowerCase()) refuse(`write it as "${resolved}"`);
  return timezone;
}

// ---------------------------------------------------------------------------------------------
// Cron: the next fire
//
// The search runs on wall time: a local date and time held as if it were UTC ("wall ms"), field by
// field (year → month → day → hour → minute), so a sparse cron costs a few steps per year, never
// a step per minute. Each matching wall time is then placed on the time line in the schedule's
// zone: one that does not exist (spring forward) is skipped, one that exists twice (fall back)
// counts at its first instant only ([SCHED], "Daylight savings time"). First instants rise with
// wall time, so the first match whose instant is after `afterMs` is the answer.

/** Before 1970-01-01 in any zone, and after 2199-12-31 in any zone. */
const EARLIEST_MS = Date.UTC(1969, 11, 30);
const LATEST_MS = Date.UTC(2200, 0, 2);

function nextCronFire(cron: ParsedCron, afterMs: number): number | undefined {
  if (afterMs >= LATEST_MS) return undefined;
  const fromMs = Math.max(afterMs, EARLIEST_MS);
  let wallMs = Math.floor(wallMsAt(fromMs, cron.timezone) / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  for (;;) {
    const match = nextWallMatch(cron, wallMs);
    if (match === undefined) return undefined;
    const instant = firstInstantOfWall(match, cron.timezone);
    // undefined: the wall time falls in a spring-forward gap. ≤ afterMs: `afterMs` is in the second
    // pass of a repeated hour, and this wall time had its only fire in the first.
    if (instant !== undefined && instant > afterMs) return instant;
    wallMs = match + MINUTE_MS;
  }
}

/** The first wall time at or after `fromWallMs` (a whole minute) that the cron's fields match. */
function nextWallMatch(cron: ParsedCron, fromWallMs: number): number | undefined {
  const from = new Date(fromWallMs);
  let year = from.getUTCFullYear();
  let month = from.getUTCMonth() + 1;
  let day = from.getUTCDate();
  let hour = from.getUTCHours();
  let minute = from.getUTCMinutes();
  for (;;) {
    // Carry what the previous pass pushed past a field's end.
    if (minute > 59) [minute, hour] = [0, hour + 1];
    if (hour > 23) [hour, day] = [0, day + 1];
    if (day > daysInMonth(year, month)) [day, month] = [1, month + 1];
    if (month > 12) [month, year] = [1, year + 1];

    const y = firstAtLeast(cron.years, year);
    if (y === undefined) return undefined;
    if (y > year) [year, month, day, hour, minute] = [y, 1, 1, 0, 0];

    const m = firstAtLeast(cron.months, month);
    if (m === undefined) {
      [year, month, day, hour, minute] = [year + 1, 1, 1, 0, 0];
      continue;
    }
    if (m > month) [month, day, hour, minute] = [m, 1, 0, 0];

    const d = firstDayAtLeast(cron.days, year, month, day);
    if (d === undefined) {
      [month, day, hour, minute] = [month + 1, 1, 0, 0];
      continue;
    }
    if (d > day) [day, hour, minute] = [d, 0, 0];

    const h = firstAtLeast(cron.hours, hour);
    if (h === undefined) {
      [day, hour, minute] = [day + 1, 0, 0];
      continue;
    }
    if (h > hour) [hour, minute] = [h, 0];

    const mi = firstAtLeast(cron.minutes, minute);
    if (mi === undefined) {
      [hour, minute] = [hour + 1, 0];
      continue;
    }
    return Date.UTC(year, month - 1, day, hour, mi);
  }
}

/** The first day at or after `from` in the month that the day rule matches. */
function firstDayAtLeast(days: CronDays, year: number, month: number, from: number): number | undefined {
  const last = daysInMonth(year, month);
  const atLeastFrom = (day: number): number | undefined => (day >= from && day <= last ? day : undefined);
  switch (days.kind) {
    case "days-of-month":
      return atLeastFrom(firstAtLeast(days.days, from) ?? Infinity);
    case "last-day-of-month":
      return atLeastFrom(last);
    case "last-weekday-of-month": {
      const weekday = weekdayOf(year, month, last);
      return atLeastFrom(weekday === 7 ? last - 1 : weekday === 1 ? last - 2 : last);
    }
    case "nearest-weekday": {
      const target = days.day;
      if (target > last) return undefined;
      const weekday = weekdayOf(year, month, target);
      // Saturday → Friday before, Sunday → Monday after, unless that leaves the month.
      if (weekday === 7) return atLeastFrom(target === 1 ? 3 : target - 1);
      if (weekday === 1) return atLeastFrom(target === last ? target - 2 : target + 1);
      return atLeastFrom(target);
    }
    case "days-of-week": {
      let weekday = weekdayOf(year, month, from);
      for (let day = from; day <= last; day += 1) {
        if (days.days.includes(weekday)) return day;
        weekday = (weekday % 7) + 1;
      }
      return undefined;
    }
    case "last-weekday-of-kind":
      return atLeastFrom(last - ((weekdayOf(year, month, last) - days.weekday + 7) % 7));
    case "nth-weekday": {
      const first = 1 + ((days.weekday - weekdayOf(year, month, 1) + 7) % 7);
      return atLeastFrom(first + 7 * (days.nth - 1));
    }
  }
}

function firstAtLeast(sorted: readonly number[], value: number): number | undefined {
  for (const candidate of sorted) if (candidate >= value) return candidate;
  return undefined;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** AWS's numbering: 1 = Sunday … 7 = Saturday. */
function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

// ---------------------------------------------------------------------------------------------
// Time zones, through Intl only.

const wallFormats = new Map<string, Intl.DateTimeFormat>();

/** The wall time at `instantMs` in `timeZone`, to the second, as wall ms. */
function wallMsAt(instantMs: number, timeZone: string): number {
  const secondMs = Math.floor(instantMs / 1000) * 1000;
  if (timeZone === "UTC") return secondMs;
  let format = wallFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    wallFormats.set(timeZone, format);
  }
  const field: Partial<Record<Intl.DateTimeFormatPartTypes, number>> = {};
  for (const part of format.formatToParts(secondMs)) if (part.type !== "literal") field[part.type] = Number(part.value);
  return Date.UTC(field.year ?? 0, (field.month ?? 1) - 1, field.day ?? 1, field.hour ?? 0, field.minute ?? 0, field.second ?? 0);
}

/** The earliest instant whose wall time in `timeZone` is `wallMs`, or undefined if none has it. */
function firstInstantOfWall(wallMs: number, timeZone: string): number | undefined {
  if (timeZone === "UTC") return wallMs;
  // The instant lies within a day of `wallMs`; the offsets in force across that stretch are the
  // ones in force at its ends (zones change offset at most once in such a stretch).
  const halfDayMs = 15 * 60 * MINUTE_MS;
  let first: number | undefined;
  for (const probeMs of [wallMs - halfDayMs, wallMs, wallMs + halfDayMs]) {
    const candidate = wallMs - (wallMsAt(probeMs, timeZone) - Math.floor(probeMs / 1000) * 1000);
    if (wallMsAt(candidate, timeZone) === wallMs && (first === undefined || candidate < first)) first = candidate;
  }
  return first;
}

// ---------------------------------------------------------------------------------------------
// Input

/**
 * Why `value` would not reach a workflow as it is (JSON.stringify would drop, change or refuse
 * it), or undefined. The deployed schedule sends JSON; the dev server must send the same.
 */
function jsonProblem(value: unknown, path: string, seen: Set<object>): string | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot hold`;
  if (typeof value !== "object") return `${path} is ${typeof value === "undefined" ? "undefined" : `a ${typeof value}`}, which JSON cannot hold`;
  if (seen.has(value)) return `${path} refers back to itself; JSON cannot hold a cycle`;
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i += 1) {
        const problem = jsonProblem(value[i], `${path}[${i}]`, seen);
        if (problem !== undefined) return problem;
      }
      return undefined;
    }
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
      return `${path} is a ${kind}; give plain objects, arrays, strings, numbers, booleans or null`;
    }
    for (const [key, item] of Object.entries(value)) {
      // JSON drops an undefined property, and so does reading it: the workflow sees the same.
      if (item === undefined) continue;
      const problem = jsonProblem(item, `${path}.${key}`, seen);
      if (problem !== undefined) return problem;
    }
    return undefined;
  } finally {
    seen.delete(value);
  }
}
