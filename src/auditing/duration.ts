/** An ISO-8601 duration such as `P365D`, `P1Y2M`, `PT12H` or `P2W`. */
export interface Duration {
  readonly years: number;
  readonly months: number;
  readonly weeks: number;
  readonly days: number;
  readonly hours: number;
  readonly minutes: number;
  readonly seconds: number;
}

const DURATION = /^P(?:(\d{1,6})Y)?(?:(\d{1,6})M)?(?:(\d{1,6})W)?(?:(\d{1,6})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,6})M)?(?:(\d{1,6})S)?)?$/i;

/** Parses an ISO-8601 duration (whole numbers); the problem says what is wrong. */
export function parseDuration(text: string): { ok: true; duration: Duration } | { ok: false; problem: string } {
  const match = DURATION.exec(text);
  const hasTime = /T/i.test(text);
  if (!match || text.length < 3 || /T$/i.test(text) || match.slice(1).every((part) => part === undefined) || (hasTime && match.slice(5).every((part) => part === undefined))) {
    return { ok: false, problem: `"${text}" is not an ISO-8601 duration such as P365D, P6M, P1Y or PT12H` };
  }
  const [years, months, weeks, days, hours, minutes, seconds] = match.slice(1).map((part) => Number(part ?? 0)) as [number, number, number, number, number, number, number];
  return { ok: true, duration: { years, months, weeks, days, hours, minutes, seconds } };
}

/** `now` minus the duration: years and months on the UTC calendar, the rest as elapsed time. */
export function subtractDuration(now: Date, duration: Duration): Date {
  const date = new Date(now.getTime());
  if (duration.years || duration.months) {
    const day = date.getUTCDate();
    date.setUTCDate(1);
    date.setUTCMonth(date.getUTCMonth() - duration.months - 12 * duration.years);
    // The 31st of a shorter month is its last day.
    const last = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
    date.setUTCDate(Math.min(day, last));
  }
  const elapsed = ((((duration.weeks * 7 + duration.days) * 24 + duration.hours) * 60 + duration.minutes) * 60 + duration.seconds) * 1000;
  return new Date(date.getTime() - elapsed);
}
