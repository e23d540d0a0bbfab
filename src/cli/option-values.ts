import { InvalidArgumentError } from 'commander';

/**
 * Parsers of option values for commander: a bad value is a usage error (exit code 2) that names
 * what was expected, before any database is opened.
 */

/** A whole number from `min` to `max`. */
export function wholeNumber(what: string, min = 0, max = Number.MAX_SAFE_INTEGER): (raw: string) => number {
  return (raw) => {
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) throw new InvalidArgumentError(`expected ${what} from ${min} to ${max}.`);
    return value;
  };
}

export const portNumber = wholeNumber('a port number', 1, 65535);

/** A number above 0, whole or not: a speed, a number of seconds. */
export function positiveNumber(what: string): (raw: string) => number {
  return (raw) => {
    const value = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || !(value > 0)) throw new InvalidArgumentError(`expected ${what} above 0, such as 2 or 0.5.`);
    return value;
  };
}

/** A request number, as users quote it: `42` or `#42`. */
export function requestNumber(raw: string): number {
  return wholeNumber('a request number', 1)(raw.replace(/^#/, ''));
}

/** ISO 8601 with a date, a time and a time zone (`Z` or `+02:00`), as the API takes it. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

export function isoTime(raw: string): Date {
  const time = new Date(raw);
  if (!ISO_TIME.test(raw) || Number.isNaN(time.getTime())) {
    throw new InvalidArgumentError('expected an ISO 8601 time with a time zone, such as 2026-11-21T22:00Z or 2026-11-21T23:00+01:00.');
  }
  return time;
}
