/**
 * Schedule expressions read as EventBridge Scheduler reads them: what it refuses is refused here
 * with a message that says what to write, and the fire times `durable dev` computes are the ones
 * the deployed schedule keeps, through time zones and both daylight saving changes.
 */
import { describe, expect, it } from "vitest";
import { InvalidStartDefinitionError, MAX_SCHEDULE_INPUT_BYTES, type ScheduleDefinition } from "../../lambdas/starts/definitions.js";
import { fireTimeId, nextFireAfter, parseSchedule, schedulerExpression, validateSchedules } from "../../lambdas/starts/expression.js";

/** The next `count` fires of a cron after `afterIso`, as ISO strings. */
function fires(cron: string, afterIso: string, count: number, timezone?: string): (string | undefined)[] {
  const parsed = parseSchedule({ cron, timezone });
  const out: (string | undefined)[] = [];
  let afterMs = Date.parse(afterIso);
  for (let i = 0; i < count; i += 1) {
    const next = nextFireAfter(parsed, afterMs);
    out.push(next === undefined ? undefined : new Date(next).toISOString());
    if (next === undefined) break;
    afterMs = next;
  }
  return out;
}

/** The message parseSchedule refuses a declaration with (fails the test if it accepts it). */
function refusal(def: { cron?: string; rate?: string; timezone?: string }): string {
  try {
    parseSchedule(def);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidStartDefinitionError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(def)}`);
}

describe("parseSchedule: cron syntax", () => {
  it("refuses both day fields given, and both left open", () => {
    expect(refusal({ cron: "0 9 * * * *" })).toBe('cron "0 9 * * * *": day-of-month and day-of-week cannot both be given; use ? in one of them');
    expect(refusal({ cron: "0 9 1 * MON *" })).toContain("cannot both be given; use ? in one of them");
    expect(refusal({ cron: "0 9 ? * ? *" })).toBe('cron "0 9 ? * ? *": day-of-month and day-of-week cannot both be ?; give one of them');
  });

  it("needs exactly six fields", () => {
    expect(refusal({ cron: "0 9 * * ?" })).toBe('cron "0 9 * * ?": needs 6 fields (minutes hours day-of-month month day-of-week year), got 5');
    expect(refusal({ cron: "0 0 9 * * ? *" })).toContain("needs 6 fields");
    expect(refusal({ cron: "   " })).toContain("got 0");
  });

  it("refuses values out of each field's range, naming the field and what it takes", () => {
    expect(refusal({ cron: "60 * * * ? *" })).toBe('cron "60 * * * ? *": minutes value 60 is out of range; minutes take 0-59 and the wildcards , - * /');
    expect(refusal({ cron: "0 24 * * ? *" })).toContain("hours value 24 is out of range; hours take 0-23");
    expect(refusal({ cron: "0 0 32 * ? *" })).toContain("day-of-month value 32 is out of range; day-of-month take 1-31");
    expect(refusal({ cron: "0 0 0 * ? *" })).toContain("day-of-month value 0 is out of range");
    expect(refusal({ cron: "0 0 1 13 ? *" })).toContain("month value 13 is out of range; month take 1-12 or JAN-DEC");
    expect(refusal({ cron: "0 0 ? * 0 *" })).toContain("day-of-week value 0 is out of range; day-of-week take 1-7 (1 = Sunday) or SUN-SAT");
    expect(refusal({ cron: "0 0 ? * 8 *" })).toContain("day-of-week value 8 is out of range");
    expect(refusal({ cron: "0 0 1 * ? 1969" })).toContain("year value 1969 is out of range; year take 1970-2199");
    expect(refusal({ cron: "0 0 1 * ? 2200" })).toContain("year value 2200 is out of range");
  });

  it("refuses unknown names and wildcards a field does not take", () => {
    expect(refusal({ cron: "0 0 1 JANUARY ? *" })).toContain('month value "JANUARY" is not allowed');
    expect(refusal({ cron: "0 0 ? * MONDAY *" })).toContain('day-of-week value "MONDAY" is not allowed');
    expect(refusal({ cron: "0 0 1 MON ? *" })).toContain('month value "MON" is not allowed');
    expect(refusal({ cron: "? 0 1 * ? *" })).toContain("? is only for day-of-month or day-of-week");
    expect(refusal({ cron: "0 0 1 * ? ?" })).toContain("? is only for day-of-month or day-of-week");
    expect(refusal({ cron: "L 0 1 * ? *" })).toContain('minutes value "L" is not allowed');
    expect(refusal({ cron: "0 0 1 L ? *" })).toContain('month value "L" is not allowed');
    expect(refusal({ cron: "0 0 ? * 15W *" })).toContain("day-of-week");
    expect(refusal({ cron: "0 0 1#2 * ? *" })).toContain('day-of-month value "1#2" is not allowed');
  });

  it("refuses / in day-of-week, which the field table leaves out", () => {
    expect(refusal({ cron: "0 0 ? * 1/2 *" })).toBe(
      'cron "0 0 ? * 1/2 *": day-of-week "1/2": day-of-week does not take / (increments); it takes 1-7 (1 = Sunday) or SUN-SAT and the wildcards , - * ? L #',
    );
  });

  it("refuses broken lists, ranges and increments", () => {
    expect(refusal({ cron: "0,,5 * * * ? *" })).toContain('minutes "0,,5" has an empty item');
    expect(refusal({ cron: "5, * * * ? *" })).toContain("has an empty item");
    expect(refusal({ cron: "1-2-3 * * * ? *" })).toContain('minutes "1-2-3" is not a range a-b');
    expect(refusal({ cron: "0/0 * * * ? *" })).toContain('minutes "0/0": the increment after / must be a whole number 1-60');
    expect(refusal({ cron: "0/61 * * * ? *" })).toContain("1-60");
    expect(refusal({ cron: "0/5/2 * * * ? *" })).toContain("more than one /");
    expect(refusal({ cron: "0 0 1 * ? 2030-2026" })).toContain('year "2030-2026": a range of years must run forwards');
  });

  it("takes L, LW and nW alone in day-of-month, and refuses the undocumented L-n", () => {
    expect(parseSchedule({ cron: "0 0 L * ? *" })).toMatchObject({ days: { kind: "last-day-of-month" } });
    expect(parseSchedule({ cron: "0 0 lw * ? *" })).toMatchObject({ days: { kind: "last-weekday-of-month" } });
    expect(parseSchedule({ cron: "0 0 15W * ? *" })).toMatchObject({ days: { kind: "nearest-weekday", day: 15 } });
    expect(refusal({ cron: "0 0 L-3 * ? *" })).toContain(`day-of-month "L-3": L-n (days before the last) is not in EventBridge Scheduler's documented syntax`);
    expect(refusal({ cron: "0 0 1,L * ? *" })).toContain("L and W stand alone");
    expect(refusal({ cron: "0 0 1W,15 * ? *" })).toContain("L and W stand alone");
    expect(refusal({ cron: "0 0 32W * ? *" })).toContain("day-of-month value 32 is out of range");
  });

  it("takes L, nL and n#m alone in day-of-week, with one # expression at most", () => {
    expect(parseSchedule({ cron: "0 0 ? * L *" })).toMatchObject({ days: { kind: "days-of-week", days: [7] } });
    expect(parseSchedule({ cron: "0 0 ? * 5L *" })).toMatchObject({ days: { kind: "last-weekday-of-kind", weekday: 5 } });
    expect(parseSchedule({ cron: "0 0 ? * friL *" })).toMatchObject({ days: { kind: "last-weekday-of-kind", weekday: 6 } });
    expect(parseSchedule({ cron: "0 0 ? * 3#2 *" })).toMatchObject({ days: { kind: "nth-weekday", weekday: 3, nth: 2 } });
    expect(parseSchedule({ cron: "0 0 ? * MON#1 *" })).toMatchObject({ days: { kind: "nth-weekday", weekday: 2, nth: 1 } });
    expect(refusal({ cron: "0 0 ? * 3#1,6#3 *" })).toContain("# takes one weekday and its instance, alone in the field");
    expect(refusal({ cron: "0 0 ? * 3#6 *" })).toContain("the instance after # must be 1-5");
    expect(refusal({ cron: "0 0 ? * 3#0 *" })).toContain("the instance after # must be 1-5");
    expect(refusal({ cron: "0 0 ? * 2,5L *" })).toContain("L stands alone");
    expect(refusal({ cron: "0 0 ? * 8L *" })).toContain("day-of-week value 8 is out of range");
  });

  it("reads names in any case, 1 as Sunday, and expands steps and ranges", () => {
    const parsed = parseSchedule({ cron: "0/15 */6 ? jan,Jul-sep Mon-fri 2026-2028" });
    expect(parsed).toMatchObject({
      kind: "cron",
      minutes: [0, 15, 30, 45],
      hours: [0, 6, 12, 18],
      months: [1, 7, 8, 9],
      days: { kind: "days-of-week", days: [2, 3, 4, 5, 6] },
      years: [2026, 2027, 2028],
    });
    expect(parseSchedule({ cron: "5/20 10-14/2 1-10/3 * ? 2026/50" })).toMatchObject({
      minutes: [5, 25, 45],
      hours: [10, 12, 14],
      days: { kind: "days-of-month", days: [1, 4, 7, 10] },
      years: [2026, 2076, 2126, 2176],
    });
  });

  it("wraps a range that runs backwards past the field's end, as AWS's 20-2 hours example does", () => {
    expect(parseSchedule({ cron: "50-5 20-2 ? NOV-FEB FRI-MON *" })).toMatchObject({
      minutes: [0, 1, 2, 3, 4, 5, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59],
      hours: [0, 1, 2, 20, 21, 22, 23],
      months: [1, 2, 11, 12],
      days: { kind: "days-of-week", days: [1, 2, 6, 7] },
    });
    expect(parseSchedule({ cron: "0 0 30-2 * ? *" })).toMatchObject({ days: { kind: "days-of-month", days: [1, 2, 30, 31] } });
  });

  it("accepts the cron(...) wrapper and collapses whitespace", () => {
    expect(parseSchedule({ cron: "  cron( 0  9 ?\t* MON-FRI * ) " })).toMatchObject({ expression: "0 9 ? * MON-FRI *" });
    expect(refusal({ cron: "cron(0 9 ? * MON-FRI *" })).toContain("the cron( wrapper is not closed with )");
  });
});

describe("parseSchedule: rate, one of the two, time zone", () => {
  it("takes the singular unit for 1 and the plural otherwise, as AWS requires", () => {
    expect(parseSchedule({ rate: "1 minute" })).toMatchObject({ kind: "rate", value: 1, unit: "minute", periodMs: 60_000 });
    expect(parseSchedule({ rate: "rate(5 minutes)" })).toMatchObject({ expression: "5 minutes", periodMs: 300_000 });
    expect(parseSchedule({ rate: "1 hour" })).toMatchObject({ periodMs: 3_600_000 });
    expect(parseSchedule({ rate: " 7   days " })).toMatchObject({ expression: "7 days", periodMs: 7 * 86_400_000 });
    expect(refusal({ rate: "1 hours" })).toBe('rate "1 hours": a value of 1 takes the singular unit: "1 hour"');
    expect(refusal({ rate: "5 hour" })).toBe('rate "5 hour": a value above 1 takes the plural unit: "5 hours"');
  });

  it("refuses other units, values and shapes", () => {
    const shape = 'must be "<value> <unit>" with unit minute(s), hour(s) or day(s), e.g. "1 hour" or "5 minutes"';
    expect(refusal({ rate: "2 weeks" })).toBe(`rate "2 weeks": ${shape}`);
    expect(refusal({ rate: "30 seconds" })).toContain(shape);
    expect(refusal({ rate: "5minutes" })).toContain(shape);
    expect(refusal({ rate: "5 Minutes" })).toContain(shape);
    expect(refusal({ rate: "every 5 minutes" })).toContain(shape);
    expect(refusal({ rate: "0 minutes" })).toContain('the value "0" must be a positive whole number');
    expect(refusal({ rate: "1.5 hours" })).toContain("must be a positive whole number");
    expect(refusal({ rate: "-5 minutes" })).toContain("must be a positive whole number");
    expect(refusal({ rate: "05 minutes" })).toContain("without leading zeros");
  });

  it("needs exactly one of cron and rate", () => {
    expect(refusal({})).toContain("give exactly one of cron");
    expect(refusal({ cron: "0 9 * * ? *", rate: "5 minutes" })).toContain("not both");
  });

  it("reads the time zone as an IANA name, UTC by default", () => {
    expect(parseSchedule({ cron: "0 9 * * ? *" }).timezone).toBe("UTC");
    expect(parseSchedule({ cron: "0 9 * * ? *", timezone: "America/New_York" }).timezone).toBe("America/New_York");
    expect(refusal({ cron: "0 9 * * ? *", timezone: "Mars/Olympus_Mons" })).toBe(
      'timezone "Mars/Olympus_Mons": is not an IANA time zone; give one such as "Europe/Berlin", "America/New_York" or "UTC"',
    );
    expect(refusal({ cron: "0 9 * * ? *", timezone: "+01:00" })).toContain("must be an IANA time zone name");
    expect(refusal({ cron: "0 9 * * ? *", timezone: "" })).toContain("must be an IANA time zone name");
    expect(refusal({ cron: "0 9 * * ? *", timezone: "europe/berlin" })).toBe('timezone "europe/berlin": write it as "Europe/Berlin"');
    expect(refusal({ rate: "5 minutes", timezone: "Nowhere/Land" })).toContain("is not an IANA time zone");
  });
});

describe("nextFireAfter: cron", () => {
  it("fires every 5 minutes, strictly after the given time", () => {
    expect(fires("0/5 * * * ? *", "2026-12-01T10:02:30.000Z", 3)).toEqual([
      "2026-12-01T10:05:00.000Z",
      "2026-12-01T10:10:00.000Z",
      "2026-12-01T10:15:00.000Z",
    ]);
    expect(fires("*/10 * * * ? *", "2026-12-01T10:50:00.000Z", 2)).toEqual(["2026-12-01T11:00:00.000Z", "2026-12-01T11:10:00.000Z"]);
    expect(fires("0/15 * * * ? *", "2026-12-01T23:59:59.999Z", 1)).toEqual(["2026-12-02T00:00:00.000Z"]);
  });

  it("fires weekdays at 9 in Berlin across the spring change: 08:00Z before it, 07:00Z after", () => {
    expect(fires("0 9 ? * MON-FRI *", "2026-03-26T12:00:00Z", 3, "Europe/Berlin")).toEqual([
      "2026-03-27T08:00:00.000Z", // Friday, CET
      "2026-03-30T07:00:00.000Z", // Monday, CEST
      "2026-03-31T07:00:00.000Z",
    ]);
  });

  it("fires weekdays at 9 in Berlin across the autumn change: 07:00Z before it, 08:00Z after", () => {
    expect(fires("0 9 ? * MON-FRI *", "2026-10-22T12:00:00Z", 3, "Europe/Berlin")).toEqual([
      "2026-10-23T07:00:00.000Z", // Friday, CEST
      "2026-10-26T08:00:00.000Z", // Monday, CET
      "2026-10-27T08:00:00.000Z",
    ]);
  });

  it("skips a wall time that a spring-forward removes, and resumes the next day", () => {
    // 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST, so 02:30 never happens.
    expect(fires("30 2 * * ? *", "2026-03-27T12:00:00Z", 3, "Europe/Berlin")).toEqual([
      "2026-03-28T01:30:00.000Z",
      "2026-03-30T00:30:00.000Z",
      "2026-03-31T00:30:00.000Z",
    ]);
    // Hourly: the 02:00 slot is gone, 03:00 CEST fires once.
    expect(fires("0 * * * ? *", "2026-03-29T00:30:00Z", 2, "Europe/Berlin")).toEqual(["2026-03-29T01:00:00.000Z", "2026-03-29T02:00:00.000Z"]);
    // The same rule in New York (2027-03-14, 02:00 EST → 03:00 EDT).
    expect(fires("30 2 * * ? *", "2027-03-13T12:00:00Z", 2, "America/New_York")).toEqual(["2027-03-15T06:30:00.000Z", "2027-03-16T06:30:00.000Z"]);
  });

  it("fires a wall time that a fall-back repeats only once, at its first pass", () => {
    // 2026-10-25 in Berlin: 03:00 CEST goes back to 02:00 CET, so 02:30 happens at 00:30Z and 01:30Z.
    expect(fires("30 2 * * ? *", "2026-10-24T12:00:00Z", 2, "Europe/Berlin")).toEqual(["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]);
    // Asked from inside the second pass, the repeated 02:30 does not fire again.
    expect(fires("30 2 * * ? *", "2026-10-25T01:00:00Z", 1, "Europe/Berlin")).toEqual(["2026-10-26T01:30:00.000Z"]);
    // A quarter-hourly cron goes quiet through the repeated hour: 02:45 CEST, then 03:00 CET.
    expect(fires("0/15 * * * ? *", "2026-10-25T00:40:00Z", 3, "Europe/Berlin")).toEqual([
      "2026-10-25T00:45:00.000Z",
      "2026-10-25T02:00:00.000Z",
      "2026-10-25T02:15:00.000Z",
    ]);
  });

  it("fires on the last day of the month, leap Februaries included", () => {
    expect(fires("0 12 L * ? *", "2026-01-31T12:00:00Z", 3)).toEqual(["2026-02-28T12:00:00.000Z", "2026-03-31T12:00:00.000Z", "2026-04-30T12:00:00.000Z"]);
    expect(fires("0 12 L 2 ? *", "2027-03-01T00:00:00Z", 1)).toEqual(["2028-02-29T12:00:00.000Z"]);
  });

  it("fires on the weekday nearest a day, never leaving the month", () => {
    expect(fires("0 9 15W * ? *", "2026-08-01T00:00:00Z", 1)).toEqual(["2026-08-14T09:00:00.000Z"]); // 15th is a Saturday
    expect(fires("0 9 15W * ? *", "2026-11-01T00:00:00Z", 1)).toEqual(["2026-11-16T09:00:00.000Z"]); // 15th is a Sunday
    expect(fires("0 9 15W * ? *", "2026-05-01T00:00:00Z", 1)).toEqual(["2026-05-15T09:00:00.000Z"]); // 15th is a Friday
    expect(fires("0 9 1W * ? *", "2026-07-31T00:00:00Z", 1)).toEqual(["2026-08-03T09:00:00.000Z"]); // 1st is a Saturday: Monday 3rd
    expect(fires("0 9 31W * ? *", "2026-05-01T00:00:00Z", 1)).toEqual(["2026-05-29T09:00:00.000Z"]); // 31st is a Sunday: Friday 29th
    expect(fires("0 9 31W * ? *", "2026-04-01T00:00:00Z", 1)).toEqual(["2026-05-29T09:00:00.000Z"]); // April has no 31st
  });

  it("fires on the last weekday of the month (LW)", () => {
    expect(fires("0 18 LW * ? *", "2026-05-01T00:00:00Z", 3)).toEqual([
      "2026-05-29T18:00:00.000Z", // 31st is a Sunday
      "2026-06-30T18:00:00.000Z", // a Tuesday
      "2026-07-31T18:00:00.000Z", // a Friday
    ]);
    expect(fires("0 18 LW * ? *", "2026-01-01T00:00:00Z", 1)).toEqual(["2026-01-30T18:00:00.000Z"]); // 31st is a Saturday
  });

  it("fires on the nth weekday (#) and the last of a weekday (5L)", () => {
    expect(fires("0 10 ? * 3#2 *", "2026-12-01T00:00:00Z", 2)).toEqual(["2026-12-08T10:00:00.000Z", "2027-01-12T10:00:00.000Z"]);
    expect(fires("0 10 ? * MON#5 *", "2026-01-01T00:00:00Z", 2)).toEqual(["2026-03-30T10:00:00.000Z", "2026-06-29T10:00:00.000Z"]);
    expect(fires("0 10 ? * 5L *", "2026-04-01T00:00:00Z", 2)).toEqual(["2026-04-30T10:00:00.000Z", "2026-05-28T10:00:00.000Z"]);
    expect(fires("15 10 ? * 6L 2022-2023", "2022-01-01T00:00:00Z", 1)).toEqual(["2022-01-28T10:15:00.000Z"]); // AWS's own example
    expect(fires("0 8 ? * L *", "2026-12-01T00:00:00Z", 1)).toEqual(["2026-12-05T08:00:00.000Z"]); // L alone: Saturday
  });

  it("fires on leap days only, stepping years rather than minutes", () => {
    expect(fires("0 0 29 2 ? *", "2026-01-01T00:00:00Z", 3)).toEqual(["2028-02-29T00:00:00.000Z", "2032-02-29T00:00:00.000Z", "2036-02-29T00:00:00.000Z"]);
    const leap = parseSchedule({ cron: "0 0 29 2 ? *" });
    const start = Date.parse("2026-01-01T00:00:00Z");
    let last: number | undefined;
    for (let i = 0; i < 1000; i += 1) last = nextFireAfter(leap, start + i * 86_400_000);
    expect(new Date(last ?? 0).toISOString()).toBe("2032-02-29T00:00:00.000Z"); // asked from 2028-09-26
  });

  it("runs out when the listed years are past", () => {
    expect(fires("0 0 1 1 ? 2027,2029", "2026-06-01T00:00:00Z", 3)).toEqual(["2027-01-01T00:00:00.000Z", "2029-01-01T00:00:00.000Z", undefined]);
    expect(nextFireAfter(parseSchedule({ cron: "0 0 1 1 ? 2020" }), Date.parse("2026-01-01T00:00:00Z"))).toBeUndefined();
    expect(nextFireAfter(parseSchedule({ cron: "59 23 31 12 ? 2199" }), Date.parse("2199-12-31T23:59:00Z"))).toBeUndefined();
    expect(nextFireAfter(parseSchedule({ cron: "0 0 30 2 ? *" }), 0)).toBeUndefined(); // no month has it
  });

  it("reads month and day names in any case", () => {
    expect(fires("0 8 ? jan,Jul mon *", "2026-02-01T00:00:00Z", 2)).toEqual(["2026-07-06T08:00:00.000Z", "2026-07-13T08:00:00.000Z"]);
  });

  it("follows ranges that wrap, in days of the week and in hours", () => {
    expect(fires("0 9 ? * FRI-MON *", "2026-12-01T00:00:00Z", 5)).toEqual([
      "2026-12-04T09:00:00.000Z",
      "2026-12-05T09:00:00.000Z",
      "2026-12-06T09:00:00.000Z",
      "2026-12-07T09:00:00.000Z",
      "2026-12-11T09:00:00.000Z",
    ]);
    expect(fires("0/30 20-2 ? * MON-FRI *", "2026-12-04T23:50:00Z", 3)).toEqual([
      // Friday 23:30 has passed; past midnight it is Saturday, which MON-FRI leaves out.
      "2026-12-07T00:00:00.000Z",
      "2026-12-07T00:30:00.000Z",
      "2026-12-07T01:00:00.000Z",
    ]);
  });

  it("reads the fields in the schedule's zone, midnight gaps and half-hour zones included", () => {
    expect(fires("0 9 1 * ? *", "2026-12-01T00:00:00Z", 1, "Asia/Kolkata")).toEqual(["2026-12-01T03:30:00.000Z"]);
    // São Paulo skipped midnight on 2018-11-04 (00:00 → 01:00): that day's 00:00 does not fire.
    expect(fires("0 0 * * ? *", "2018-11-02T12:00:00Z", 2, "America/Sao_Paulo")).toEqual(["2018-11-03T03:00:00.000Z", "2018-11-05T02:00:00.000Z"]);
  });
});

describe("nextFireAfter: rate", () => {
  it("fires at the anchor plus whole periods, never at the anchor itself", () => {
    const fiveMinutes = parseSchedule({ rate: "5 minutes" });
    const anchorMs = Date.parse("2026-12-01T10:02:30Z");
    const next = (afterIso: string): string => new Date(nextFireAfter(fiveMinutes, Date.parse(afterIso), { anchorMs }) ?? 0).toISOString();
    expect(next("2026-12-01T10:02:30Z")).toBe("2026-12-01T10:07:30.000Z");
    expect(next("2026-12-01T09:00:00Z")).toBe("2026-12-01T10:07:30.000Z");
    expect(next("2026-12-01T10:07:29.999Z")).toBe("2026-12-01T10:07:30.000Z");
    expect(next("2026-12-01T10:07:30Z")).toBe("2026-12-01T10:12:30.000Z");
    expect(next("2026-12-01T11:00:00Z")).toBe("2026-12-01T11:02:30.000Z");
  });

  it("counts from epoch 0 without an anchor, and keeps days at 24 hours across DST", () => {
    expect(nextFireAfter(parseSchedule({ rate: "1 hour" }), Date.parse("2026-12-01T10:20:00Z"))).toBe(Date.parse("2026-12-01T11:00:00Z"));
    const daily = parseSchedule({ rate: "1 day", timezone: "Europe/Berlin" });
    const anchorMs = Date.parse("2026-03-28T08:00:00Z");
    expect(nextFireAfter(daily, anchorMs, { anchorMs })).toBe(Date.parse("2026-03-29T08:00:00Z"));
  });
});

describe("schedulerExpression", () => {
  const def = (fields: Partial<ScheduleDefinition>): ScheduleDefinition => ({ name: "n", workflow: "w", ...fields });

  it("wraps the expression and collapses its whitespace", () => {
    expect(schedulerExpression(def({ cron: "  0  9 ?\t* MON-FRI * " }))).toBe("cron(0 9 ? * MON-FRI *)");
    expect(schedulerExpression(def({ cron: "cron(0 9 ? * MON-FRI *)" }))).toBe("cron(0 9 ? * MON-FRI *)");
    expect(schedulerExpression(def({ rate: "5   minutes" }))).toBe("rate(5 minutes)");
    expect(schedulerExpression(def({ rate: "rate(1 day)" }))).toBe("rate(1 day)");
  });

  it("refuses what it could not deploy", () => {
    expect(() => schedulerExpression(def({ cron: "0 9 * * * *" }))).toThrow(InvalidStartDefinitionError);
  });
});

describe("validateSchedules", () => {
  const good: ScheduleDefinition = { name: "nightly", workflow: "report", cron: "0 2 * * ? *", timezone: "Europe/Berlin", input: { full: true } };
  const refusalOf = (defs: ScheduleDefinition[]): string => {
    try {
      validateSchedules(defs);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidStartDefinitionError);
      return (error as Error).message;
    }
    throw new Error("accepted");
  };

  it("accepts good declarations", () => {
    expect(() => validateSchedules([good, { name: "tick", workflow: "poll", rate: "1 minute", version: 3, overlap: "allow" }])).not.toThrow();
    expect(() => validateSchedules([])).not.toThrow();
  });

  it("refuses bad and repeated names", () => {
    expect(refusalOf([{ ...good, name: "night ly" }])).toContain('schedule name "night ly" must be 1–48 characters');
    expect(refusalOf([good, { ...good }])).toBe('two schedules are named "nightly"; names must be unique');
  });

  it("names the schedule in every other refusal", () => {
    expect(refusalOf([{ ...good, workflow: "" }])).toBe('schedule "nightly": workflow must name the workflow to start');
    expect(refusalOf([{ ...good, workflow: "w".repeat(129) }])).toBe('schedule "nightly": workflow is 129 characters; at most 128');
    expect(() => validateSchedules([{ ...good, workflow: "w".repeat(128) }])).not.toThrow();
    expect(refusalOf([{ ...good, version: 0 }])).toContain('schedule "nightly": version 0 must be a positive whole number');
    expect(refusalOf([{ ...good, version: 1.5 }])).toContain("version 1.5 must be a positive whole number");
    expect(refusalOf([{ ...good, overlap: "queue" as unknown as "skip" }])).toBe('schedule "nightly": overlap "queue" must be "skip" or "allow"');
    expect(refusalOf([{ ...good, cron: "0 9 * * * *" }])).toBe(
      'schedule "nightly": cron "0 9 * * * *": day-of-month and day-of-week cannot both be given; use ? in one of them',
    );
    expect(refusalOf([{ ...good, rate: "5 minutes" }])).toContain('schedule "nightly": give exactly one of cron and rate');
    expect(refusalOf([{ ...good, timezone: "Berlin" }])).toContain('schedule "nightly": timezone "Berlin": is not an IANA time zone');
  });

  it("takes input that is plain JSON, up to the byte limit", () => {
    expect(() => validateSchedules([{ ...good, input: undefined }])).not.toThrow();
    expect(() => validateSchedules([{ ...good, input: { list: [1, "two", null, { deep: false }], skipped: undefined } }])).not.toThrow();
    const overhead = JSON.stringify({ s: "" }).length;
    expect(() => validateSchedules([{ ...good, input: { s: "x".repeat(MAX_SCHEDULE_INPUT_BYTES - overhead) } }])).not.toThrow();
    expect(refusalOf([{ ...good, input: { s: "x".repeat(MAX_SCHEDULE_INPUT_BYTES - overhead + 1) } }])).toBe(
      `schedule "nightly": input is ${MAX_SCHEDULE_INPUT_BYTES + 1} bytes of JSON; at most ${MAX_SCHEDULE_INPUT_BYTES}`,
    );
    // Bytes, not characters: "é" is two bytes of UTF-8.
    expect(refusalOf([{ ...good, input: { s: "é".repeat(MAX_SCHEDULE_INPUT_BYTES / 2) } }])).toContain("bytes of JSON");
  });

  it("refuses input JSON would change or cannot hold", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(refusalOf([{ ...good, input: { at: new Date(0) } }])).toBe(
      'schedule "nightly": input.at is a Date; give plain objects, arrays, strings, numbers, booleans or null',
    );
    expect(refusalOf([{ ...good, input: { n: Number.NaN } }])).toContain("input.n is NaN, which JSON cannot hold");
    expect(refusalOf([{ ...good, input: [1, undefined] }])).toContain("input[1] is undefined, which JSON cannot hold");
    expect(refusalOf([{ ...good, input: { f: () => 1 } }])).toContain("input.f is a function");
    expect(refusalOf([{ ...good, input: { big: 1n } }])).toContain("input.big is a bigint");
    expect(refusalOf([{ ...good, input: new Map() }])).toContain("input is a Map");
    expect(refusalOf([{ ...good, input: cyclic }])).toContain("input.self refers back to itself");
    const shared = { x: 1 };
    expect(() => validateSchedules([{ ...good, input: { a: shared, b: shared } }])).not.toThrow();
  });
});

describe("fireTimeId", () => {
  it("is the name and the UTC fire time to the second", () => {
    expect(fireTimeId("nightly", Date.parse("2026-12-02T09:00:00Z"))).toBe("nightly-20261202T090000Z");
    expect(fireTimeId("tick_1", Date.parse("2026-03-29T01:02:03.999Z"))).toBe("tick_1-20260329T010203Z");
    expect(fireTimeId("nightly", Date.parse("2026-12-02T09:00:00Z"))).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it("refuses what would not make an id", () => {
    expect(() => fireTimeId("night ly", 0)).toThrow(InvalidStartDefinitionError);
    expect(() => fireTimeId("nightly", Number.NaN)).toThrow(RangeError);
    expect(() => fireTimeId("nightly", Date.UTC(10_000, 0, 1))).toThrow(RangeError);
  });
});
