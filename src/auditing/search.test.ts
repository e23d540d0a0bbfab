import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDuration, subtractDuration } from './duration.ts';
import { parseEntrySearch, parseRuleSearch, tokenize, type EntryTerm, type SearchContext } from './search.ts';
import { instantOf, offsetAt } from './zoned-time.ts';

/** Saturday 21 November 2026, 13:00 in Berlin (UTC+1). */
const berlin: SearchContext = { now: new Date('2026-11-21T12:00:00Z'), timeZone: 'Europe/Berlin' };
const utc: SearchContext = { now: new Date('2026-11-21T12:00:00Z'), timeZone: 'UTC' };

const range = (from: string, to: string) => ({ field: 'time', from: new Date(from), to: new Date(to) });

describe('the audit-trail search grammar', () => {
  const queries: Array<[string, SearchContext, EntryTerm[] | Array<Record<string, unknown>>]> = [
    ['', berlin, []],
    ['   ', berlin, []],
    // Times of day: today, in the searcher's time zone, with the seed's default ranges.
    ['t:14:05', berlin, [range('2026-11-21T12:50:00Z', '2026-11-21T13:20:00Z')]],
    ['time:14:05', utc, [range('2026-11-21T13:50:00Z', '2026-11-21T14:20:00Z')]],
    ['t:9:30', utc, [range('2026-11-21T09:15:00Z', '2026-11-21T09:45:00Z')]],
    ['t:14:05:30', berlin, [range('2026-11-21T13:04:30Z', '2026-11-21T13:06:30Z')]],
    ['t:14:05-14:06', berlin, [range('2026-11-21T13:05:00Z', '2026-11-21T13:06:59.999Z')]],
    ['t:14:05:10-14:05:20', utc, [range('2026-11-21T14:05:10Z', '2026-11-21T14:05:20.999Z')]],
    ['t:23:50-00:10', utc, [range('2026-11-21T23:50:00Z', '2026-11-22T00:10:59.999Z')]],
    // Whole dates and date-times.
    ['t:2026-11-20', berlin, [range('2026-11-19T23:00:00Z', '2026-11-20T22:59:59.999Z')]],
    ['t:2026-11-20T08:00', utc, [range('2026-11-20T07:45:00Z', '2026-11-20T08:15:00Z')]],
    ['t:2026-11-20T08:00:00', utc, [range('2026-11-20T07:59:00Z', '2026-11-20T08:01:00Z')]],
    ['t:2026-11-20T08:00-09:00', utc, [range('2026-11-20T08:00:00Z', '2026-11-20T09:00:59.999Z')]],
    ['t:2026-11-01..2026-11-02', utc, [range('2026-11-01T00:00:00Z', '2026-11-02T23:59:59.999Z')]],
    ['t:2026-11-01T10:00..2026-11-02T10:00', utc, [range('2026-11-01T10:00:00Z', '2026-11-02T10:00:59.999Z')]],
    // Across the spring change in Berlin (29 March 2026, 02:00 → 03:00).
    ['t:2026-03-29', { ...berlin, now: new Date('2026-03-29T12:00:00Z') }, [range('2026-03-28T23:00:00Z', '2026-03-29T21:59:59.999Z')]],
    ['t:01:00-04:00', { ...berlin, now: new Date('2026-03-29T12:00:00Z') }, [range('2026-03-29T00:00:00Z', '2026-03-29T02:00:59.999Z')]],
    // Object types are case-sensitive; actions and levels take codes or words.
    ['o:Device', berlin, [{ field: 'objectType', value: 'Device' }]],
    ['objecttype:AuditRule object:Change', berlin, [{ field: 'objectType', value: 'AuditRule' }, { field: 'objectType', value: 'Change' }]],
    ['a:C action:m A:deleted', berlin, [{ field: 'action', value: 'C' }, { field: 'action', value: 'M' }, { field: 'action', value: 'D' }]],
    ['l:1 level:2 l:full', berlin, [{ field: 'level', value: 1 }, { field: 'level', value: 2 }, { field: 'level', value: 2 }]],
    // Business keys: a prefix, or a GLOB with * and ?; LIKE's own wildcards are literal.
    ['k:GLOBAL.web', berlin, [{ field: 'businessKey', like: 'GLOBAL.web%' }]],
    ['key:*.web0?', berlin, [{ field: 'businessKey', like: '%.web0_' }]],
    ['businesskey:GLOBAL.a_b%', berlin, [{ field: 'businessKey', like: 'GLOBAL.a\\_b\\%%' }]],
    // Users (lower-case, as usernames are), reasons, quoted values with spaces, bare words.
    ['u:JDoe', berlin, [{ field: 'user', equals: 'jdoe' }]],
    ['user:j*', berlin, [{ field: 'user', like: 'j%' }]],
    ['r:"disk full" reason:ticket', berlin, [{ field: 'reason', contains: 'disk full' }, { field: 'reason', contains: 'ticket' }]],
    ['web01 "two words"', berlin, [{ field: 'text', contains: 'web01' }, { field: 'text', contains: 'two words' }]],
    ['r:"say \\"hi\\""', berlin, [{ field: 'reason', contains: 'say "hi"' }]],
    ['cb:P30D', utc, [{ field: 'changedBefore', before: new Date('2026-10-22T12:00:00Z') }]],
    ['changedbefore:P1Y', utc, [{ field: 'changedBefore', before: new Date('2025-11-21T12:00:00Z') }]],
    ['t:14:05-14:06 u:jdoe', utc, [range('2026-11-21T14:05:00Z', '2026-11-21T14:06:59.999Z'), { field: 'user', equals: 'jdoe' }]],
  ];
  it.each(queries)('%j (%s) reads as its terms', (query, context, terms) => {
    const parsed = parseEntrySearch(query, context);
    expect(parsed).toEqual({ ok: true, terms });
  });

  const bad: Array<[string, number, RegExp]> = [
    ['x:1', 1, /Unknown prefix "x"/],
    ['u:jdoe 14:05', 8, /Unknown prefix "14"/],
    ['u: jdoe', 3, /No value after "u:"/],
    ['u :jdoe', 3, /colon with no prefix/],
    ['u:', 3, /No value after "u:"/],
    ['r:"disk full', 3, /never closed/],
    ['"open', 1, /never closed/],
    ['r:"a"b', 6, /follows the closing quote/],
    ['ab"c', 3, /quote inside a word/],
    ['r:ab"c', 5, /quote inside a value/],
    ['""', 1, /hold nothing/],
    ['r:""', 3, /empty/],
    ['o:device', 3, /case-sensitive.*did you mean Device/],
    ['o:Chain', 3, /not an object type/],
    ['a:X', 3, /not an action/],
    ['l:3', 3, /not an audit level/],
    ['t:25:00', 3, /Hour 25/],
    ['t:14:60', 3, /Minute 60/],
    ['t:14:05:61', 3, /Second 61/],
    ['t:14:05-14:99', 9, /Minute 99/],
    ['t:2026-02-30', 3, /not a date/],
    ['t:yesterday', 3, /not a time/],
    ['t:2026-11-02..2026-11-01', 15, /ends before it starts/],
    ['cb:365D', 4, /not an ISO-8601 duration/],
    ['cb:PT', 4, /not an ISO-8601 duration/],
    ['u:a '.repeat(31), 121, /more than 30 terms/],
    ['a'.repeat(1001), 1001, /longer than 1000/],
  ];
  it.each(bad)('%j is refused at column %i', (query, column, message) => {
    const parsed = parseEntrySearch(query, berlin);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.message).toMatch(message);
      expect(parsed.error.column).toBe(column);
      expect(query).toContain(parsed.error.token.slice(0, 10));
    }
  });

  it('answers every string with terms or an error, and never throws', () => {
    const alphabet = fc.constantFrom(...'tokaurlcb: "\\-*?.0123456789TPDYMWHS\t_%ÄΩ😀'.split(''), ...['t:', 'o:', 'k:', 'u:', 'cb:', '14:05', '-', '..', '2026-11-21']);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.array(alphabet, { maxLength: 30 }).map((parts) => parts.join(''))), (query) => {
        const parsed = parseEntrySearch(query, berlin);
        if (parsed.ok) {
          for (const term of parsed.terms) if (term.field === 'time') expect(term.from.getTime()).toBeLessThanOrEqual(term.to.getTime());
        } else {
          expect(parsed.error.message.length).toBeGreaterThan(0);
          expect(parsed.error.column).toBeGreaterThanOrEqual(1);
          expect(parsed.error.column).toBeLessThanOrEqual(query.length + 1);
        }
        expect(() => parseRuleSearch(query)).not.toThrow();
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps the columns of tokens after quoted values', () => {
    const tokens = tokenize('r:"a b"  u:x');
    expect(tokens).toEqual({
      ok: true,
      tokens: [
        { prefix: 'r', value: 'a b', column: 1, valueColumn: 4, text: 'r:"a b"' },
        { prefix: 'u', value: 'x', column: 10, valueColumn: 12, text: 'u:x' },
      ],
    });
  });
});

describe('the audit-rule search grammar', () => {
  it('reads names, types, levels, enabled and partitions', () => {
    const parsed = parseRuleSearch('n:Fin* o:Device l:2 e:no p:GLOBAL backup');
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.terms.map((term) => term.field)).toEqual(['name', 'objectType', 'level', 'enabled', 'partition', 'text']);
  });

  it.each([
    ['z:1', /Unknown prefix/],
    ['o:device', /not an object type/],
    ['e:maybe', /not yes or no/],
    ['l:0', /not an audit level/],
  ])('refuses %j', (query, message) => {
    const parsed = parseRuleSearch(query);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toMatch(message);
  });
});

describe('ISO-8601 durations', () => {
  it.each([
    ['P365D', '2025-11-21T12:00:00Z'],
    ['P1Y', '2025-11-21T12:00:00Z'],
    ['P1M', '2026-10-21T12:00:00Z'],
    ['P2W', '2026-11-07T12:00:00Z'],
    ['PT12H', '2026-11-21T00:00:00Z'],
    ['P1DT1H1M1S', '2026-11-20T10:58:59Z'],
  ])('%s before 2026-11-21T12:00Z is %s', (text, expected) => {
    const parsed = parseDuration(text);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(subtractDuration(new Date('2026-11-21T12:00:00Z'), parsed.duration).toISOString()).toBe(new Date(expected).toISOString());
  });

  it('takes the last day of a shorter month', () => {
    const parsed = parseDuration('P1M');
    if (parsed.ok) expect(subtractDuration(new Date('2026-03-31T08:00:00Z'), parsed.duration).toISOString()).toBe('2026-02-28T08:00:00.000Z');
  });

  it.each(['', 'P', 'PT', '365D', 'P1.5D', 'P-1D', 'PT1D'])('refuses %j', (text) => {
    expect(parseDuration(text).ok).toBe(false);
  });
});

describe('wall-clock times in a time zone', () => {
  it('reads times across daylight saving in Berlin and New York', () => {
    expect(instantOf({ year: 2026, month: 7, day: 1, hour: 12, minute: 0, second: 0 }, 'Europe/Berlin').toISOString()).toBe('2026-07-01T10:00:00.000Z');
    expect(instantOf({ year: 2026, month: 1, day: 1, hour: 12, minute: 0, second: 0 }, 'Europe/Berlin').toISOString()).toBe('2026-01-01T11:00:00.000Z');
    // The spring gap: 02:30 never happened; read with the winter offset it lands at 03:30 summer time.
    expect(instantOf({ year: 2026, month: 3, day: 29, hour: 2, minute: 30, second: 0 }, 'Europe/Berlin').toISOString()).toBe('2026-03-29T01:30:00.000Z');
    // The autumn overlap: 02:30 happened twice; the earlier one is taken.
    expect(instantOf({ year: 2026, month: 10, day: 25, hour: 2, minute: 30, second: 0 }, 'Europe/Berlin').toISOString()).toBe('2026-10-25T00:30:00.000Z');
    expect(instantOf({ year: 2026, month: 11, day: 1, hour: 1, minute: 30, second: 0 }, 'America/New_York').toISOString()).toBe('2026-11-01T05:30:00.000Z');
    expect(instantOf({ year: 2026, month: 6, day: 1, hour: 9, minute: 0, second: 0 }, 'Asia/Kolkata').toISOString()).toBe('2026-06-01T03:30:00.000Z');
    expect(offsetAt(new Date('2026-07-01T00:00:00Z'), 'Australia/Lord_Howe')).toBe(10.5 * 3600_000);
  });

  it('uses the date of the searcher, not of the server', () => {
    // 23:30 UTC on the 21st is already the 22nd in Tokyo.
    const late = { now: new Date('2026-11-21T23:30:00Z'), timeZone: 'Asia/Tokyo' };
    expect(parseEntrySearch('t:09:00', late)).toEqual({ ok: true, terms: [range('2026-11-21T23:45:00Z', '2026-11-22T00:15:00Z')] });
  });
});
