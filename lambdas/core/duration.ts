import { InvalidDurationError } from "./errors.js";

/** A duration in milliseconds, or a string such as `"90s"`, `"5 minutes"`, `"3 days"`, `"1h30m"`. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = {
  ms: 1, millisecond: 1, milliseconds: 1, msec: 1, msecs: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
};

const PART = /(\d+(?:\.\d+)?)\s*([a-z]+)/gy;

/** Parses a duration to milliseconds; throws InvalidDurationError on anything else. */
export function toMs(duration: Duration): number {
  if (typeof duration === "number") {
    if (!Number.isFinite(duration) || duration < 0) throw new InvalidDurationError(duration);
    return Math.round(duration);
  }
  if (typeof duration !== "string") throw new InvalidDurationError(duration);
  const text = duration.trim().toLowerCase();
  if (text === "") throw new InvalidDurationError(duration);
  if (/^\d+(\.\d+)?$/.test(text)) return toMs(Number(text));
  let total = 0;
  let index = 0;
  PART.lastIndex = 0;
  while (index < text.length) {
    PART.lastIndex = index;
    const match = PART.exec(text);
    if (!match) throw new InvalidDurationError(duration);
    const unit = UNIT_MS[match[2] as string];
    if (unit === undefined) throw new InvalidDurationError(duration);
    total += Number(match[1]) * unit;
    index = PART.lastIndex;
    while (text[index] === " " || text[index] === ",") index += 1;
  }
  return Math.round(total);
}
