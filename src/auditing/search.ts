import { compilePattern, LEVEL_NAMES, type AuditLevel, type Matcher } from './audit-rule.ts';
import { parseDuration, subtractDuration } from './duration.ts';
import { OBJECT_TYPES, type ObjectType } from '../objects/object.ts';
import { addDays, dateIn, instantOf, isValidDate, type CalendarDate } from './zoned-time.ts';

/**
 * The audit trail's search ("IntelliSearch"): terms separated by spaces, all of which must hold.
 * A term is `prefix:value` (no space around the colon; quotes around a value with spaces) or a bare
 * word, searched in business keys and reasons. Pure: the query becomes a list of terms, which the
 * store compiles to SQL on indexed columns. A query that cannot be understood is an error naming
 * what is wrong and the column where, never an empty list.
 *
 *   t:14:05-14:06 u:jdoe     changes by jdoe between 14:05 and 14:06 today, in jdoe's searcher's time zone
 *   o:Device a:D             deleted devices
 *   k:GLOBAL.web "disk full" business keys starting with GLOBAL.web, with "disk full" in key or reason
 */

export const SEARCH_MAX_LENGTH = 1000;
const TERMS_MAX = 30;

/** What is wrong with a query and where: `column` counts characters from 1. */
export interface SearchError {
  readonly message: string;
  readonly column: number;
  readonly token: string;
}

export type SearchResult<T> = { readonly ok: true; readonly terms: readonly T[] } | { readonly ok: false; readonly error: SearchError };

/** One `prefix:value` or bare word, where it stands in the query. */
export interface Token {
  readonly prefix?: string;
  readonly value: string;
  /** Column of the token's first character, and of its value's first character. */
  readonly column: number;
  readonly valueColumn: number;
  /** The token as typed. */
  readonly text: string;
}

const isSpace = (char: string | undefined) => char !== undefined && /\s/.test(char);

/** Splits a query into tokens; quotes hold spaces, `\"` and `\\` escape inside them. */
export function tokenize(query: string): { ok: true; tokens: Token[] } | { ok: false; error: SearchError } {
  if (query.length > SEARCH_MAX_LENGTH) {
    return fail(`The query is longer than ${SEARCH_MAX_LENGTH} characters.`, SEARCH_MAX_LENGTH + 1, query.slice(SEARCH_MAX_LENGTH, SEARCH_MAX_LENGTH + 20));
  }
  const tokens: Token[] = [];
  let i = 0;
  const n = query.length;
  while (i < n) {
    while (i < n && isSpace(query[i])) i++;
    if (i >= n) break;
    const start = i;
    const wordEnd = () => {
      let k = start;
      while (k < n && !isSpace(query[k])) k++;
      return k;
    };
    if (query[i] === '"') {
      const quoted = readQuoted(query, i);
      if (!quoted.ok) return { ok: false, error: quoted.error };
      if (quoted.end < n && !isSpace(query[quoted.end])) {
        return fail('Text follows the closing quote: leave a space after it.', quoted.end + 1, query.slice(start, wordEnd()));
      }
      if (quoted.value.trim() === '') return fail('The quotes hold nothing: put the words to search between them.', start + 1, query.slice(start, quoted.end));
      tokens.push({ value: quoted.value, column: start + 1, valueColumn: start + 2, text: query.slice(start, quoted.end) });
      i = quoted.end;
      continue;
    }
    let j = i;
    while (j < n && !isSpace(query[j]) && query[j] !== ':' && query[j] !== '"') j++;
    if (query[j] === '"') {
      return fail('A quote inside a word: put the quotes around the whole value, as r:"disk full".', j + 1, query.slice(start, wordEnd()));
    }
    if (query[j] !== ':') {
      tokens.push({ value: query.slice(i, j), column: start + 1, valueColumn: start + 1, text: query.slice(i, j) });
      i = j;
      continue;
    }
    if (j === i) {
      return fail('A colon with no prefix before it: write prefix:value, with no space before the colon.', start + 1, query.slice(start, wordEnd()));
    }
    const prefix = query.slice(i, j);
    const valueStart = j + 1;
    if (valueStart >= n || isSpace(query[valueStart])) {
      return fail(`No value after "${prefix}:": write the value right after the colon, with no space.`, valueStart + 1, `${prefix}:`);
    }
    if (query[valueStart] === '"') {
      const quoted = readQuoted(query, valueStart);
      if (!quoted.ok) return { ok: false, error: quoted.error };
      if (quoted.end < n && !isSpace(query[quoted.end])) {
        return fail('Text follows the closing quote: leave a space after it.', quoted.end + 1, query.slice(start, wordEnd()));
      }
      if (quoted.value === '') return fail(`The value of "${prefix}:" is empty.`, valueStart + 1, query.slice(start, quoted.end));
      tokens.push({ prefix, value: quoted.value, column: start + 1, valueColumn: valueStart + 2, text: query.slice(start, quoted.end) });
      i = quoted.end;
      continue;
    }
    let k = valueStart;
    while (k < n && !isSpace(query[k])) {
      if (query[k] === '"') {
        return fail('A quote inside a value: put the quotes around the whole value, as r:"disk full".', k + 1, query.slice(start, wordEnd()));
      }
      k++;
    }
    tokens.push({ prefix, value: query.slice(valueStart, k), column: start + 1, valueColumn: valueStart + 1, text: query.slice(start, k) });
    i = k;
  }
  if (tokens.length > TERMS_MAX) {
    const extra = tokens[TERMS_MAX] as Token;
    return fail(`The query has more than ${TERMS_MAX} terms.`, extra.column, extra.text);
  }
  return { ok: true, tokens };
}

function readQuoted(query: string, open: number): { ok: true; value: string; end: number } | { ok: false; error: SearchError } {
  let value = '';
  for (let k = open + 1; k < query.length; k++) {
    const char = query[k] as string;
    if (char === '\\' && (query[k + 1] === '"' || query[k + 1] === '\\')) {
      value += query[k + 1];
      k++;
    } else if (char === '"') {
      return { ok: true, value, end: k + 1 };
    } else {
      value += char;
    }
  }
  return fail('This quote is never closed: add the closing ".', open + 1, query.slice(open, open + 20));
}

function fail(message: string, column: number, token: string): { ok: false; error: SearchError } {
  return { ok: false, error: { message, column, token } };
}

// ---------------------------------------------------------------------------------------------
// Audit entries

export type EntryAction = 'C' | 'M' | 'D';

/** One condition on audit entries; `like` patterns are SQL LIKE patterns with `\` as the escape. */
export type EntryTerm =
  | { readonly field: 'time'; readonly from: Date; readonly to: Date }
  | { readonly field: 'objectType'; readonly value: ObjectType }
  | { readonly field: 'businessKey'; readonly like: string }
  | { readonly field: 'action'; readonly value: EntryAction }
  | { readonly field: 'reason'; readonly contains: string }
  | { readonly field: 'user'; readonly equals: string }
  | { readonly field: 'user'; readonly like: string }
  | { readonly field: 'level'; readonly value: AuditLevel }
  | { readonly field: 'changedBefore'; readonly before: Date }
  | { readonly field: 'text'; readonly contains: string };

export interface SearchContext {
  /** The searcher's now, and their time zone (the user's `time_zone`): `t:14:05` is 14:05 there, today there. */
  readonly now: Date;
  readonly timeZone: string;
}

/** The prefixes of the audit trail, long and short. */
export const ENTRY_PREFIXES: Readonly<Record<string, EntryTerm['field']>> = {
  t: 'time',
  time: 'time',
  o: 'objectType',
  object: 'objectType',
  objecttype: 'objectType',
  k: 'businessKey',
  key: 'businessKey',
  businesskey: 'businessKey',
  a: 'action',
  action: 'action',
  r: 'reason',
  reason: 'reason',
  u: 'user',
  user: 'user',
  l: 'level',
  level: 'level',
  cb: 'changedBefore',
  changedbefore: 'changedBefore',
};

const ACTIONS: Readonly<Record<string, EntryAction>> = {
  c: 'C',
  create: 'C',
  created: 'C',
  m: 'M',
  modify: 'M',
  modified: 'M',
  update: 'M',
  updated: 'M',
  d: 'D',
  delete: 'D',
  deleted: 'D',
};
const LEVELS: Readonly<Record<string, AuditLevel>> = { '1': 1, '2': 2, diff: 1, [LEVEL_NAMES[1]]: 1, full: 2, [LEVEL_NAMES[2]]: 2 };

/** Parses an audit-trail query into terms, or says what is wrong and where. */
export function parseEntrySearch(query: string, context: SearchContext): SearchResult<EntryTerm> {
  const tokenized = tokenize(query);
  if (!tokenized.ok) return tokenized;
  const terms: EntryTerm[] = [];
  for (const token of tokenized.tokens) {
    const term = entryTerm(token, context);
    if ('message' in term) return { ok: false, error: term };
    terms.push(term);
  }
  return { ok: true, terms };
}

function entryTerm(token: Token, context: SearchContext): EntryTerm | SearchError {
  const at = (message: string, column = token.valueColumn): SearchError => ({ message, column, token: token.text });
  if (token.prefix === undefined) return { field: 'text', contains: token.value };
  const field = ENTRY_PREFIXES[token.prefix.toLowerCase()];
  if (!field) {
    return at(
      `Unknown prefix "${token.prefix}": use t, o, k, a, r, u, l or cb (time, objecttype, businesskey, action, reason, user, level, changedbefore), or quote the word to search for it as text.`,
      token.column,
    );
  }
  const value = token.value;
  switch (field) {
    case 'time': {
      const range = parseTimeRange(value, context);
      return 'problem' in range ? at(range.problem, token.valueColumn + range.offset) : { field, ...range };
    }
    case 'objectType': {
      if ((OBJECT_TYPES as readonly string[]).includes(value)) return { field, value: value as ObjectType };
      const near = OBJECT_TYPES.find((type) => type.toLowerCase() === value.toLowerCase());
      return at(near ? `Object types are case-sensitive: "${value}" is not one, did you mean ${near}?` : `"${value}" is not an object type: one of ${OBJECT_TYPES.join(', ')}.`);
    }
    case 'businessKey':
      return { field, like: /[*?]/.test(value) ? globToLike(value) : `${escapeLike(value)}%` };
    case 'action': {
      const action = ACTIONS[value.toLowerCase()];
      return action ? { field, value: action } : at(`"${value}" is not an action: C (created), M (modified) or D (deleted).`);
    }
    case 'reason':
      return { field, contains: value };
    case 'user': {
      const name = value.toLowerCase();
      return /[*?]/.test(name) ? { field, like: globToLike(name) } : { field, equals: name };
    }
    case 'level': {
      const level = LEVELS[value.toLowerCase()];
      return level ? { field, value: level } : at(`"${value}" is not an audit level: 1 (Diff only) or 2 (Full audit).`);
    }
    case 'changedBefore': {
      const parsed = parseDuration(value);
      return parsed.ok ? { field, before: subtractDuration(context.now, parsed.duration) } : at(`${parsed.problem}.`);
    }
  }
  return at('This term cannot be read.');
}

/** `*` any run of characters, `?` one; the rest literal; the whole key must match. */
export function globToLike(glob: string): string {
  let like = '';
  for (const char of glob) like += char === '*' ? '%' : char === '?' ? '_' : escapeLike(char);
  return like;
}

export const escapeLike = (text: string): string => text.replace(/[\\%_]/g, '\\$&');

// --- time values ------------------------------------------------------------------------------

const TIME = String.raw`(\d{1,2}):(\d{2})(?::(\d{2}))?`;
const DATE = String.raw`(\d{4})-(\d{2})-(\d{2})`;
const TIME_FORMS = 'hh:mm, hh:mm:ss, hh:mm-hh:mm, hh:mm:ss-hh:mm:ss, yyyy-mm-dd, yyyy-mm-ddThh:mm[:ss][-hh:mm[:ss]] or <date or date-time>..<date or date-time>';

interface ClockTime {
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** Whether seconds were given: the default range (±1 min instead of ±15 min) and the end of a range depend on it. */
  readonly precise: boolean;
}

type TimeProblem = { readonly problem: string; readonly offset: number };
type TimeRange = { readonly from: Date; readonly to: Date };

const MINUTE = 60_000;

/**
 * A time value as an inclusive range of instants. Times of day are today in the searcher's time
 * zone. `hh:mm` means ±15 minutes and `hh:mm:ss` ±1 minute; in a range, the end counts to the end of
 * its minute (or second), and an end before the start is on the next day (`23:50-00:10`).
 */
export function parseTimeRange(value: string, context: SearchContext): TimeRange | TimeProblem {
  const zone = context.timeZone;
  const today = dateIn(context.now, zone);
  let match: RegExpExecArray | null;
  if ((match = new RegExp(`^${TIME}$`).exec(value))) {
    const time = clockTime(match, 1, 0);
    return 'problem' in time ? time : around(today, time, zone);
  }
  if ((match = new RegExp(`^${TIME}-${TIME}$`).exec(value))) {
    const start = clockTime(match, 1, 0);
    if ('problem' in start) return start;
    const end = clockTime(match, 4, value.indexOf('-') + 1);
    return 'problem' in end ? end : between(today, start, end, zone);
  }
  if ((match = new RegExp(`^${DATE}$`).exec(value))) {
    const date = calendarDate(match, 1, 0);
    if ('problem' in date) return date;
    return { from: instantOf({ ...date, hour: 0, minute: 0, second: 0 }, zone), to: new Date(instantOf({ ...addDays(date, 1), hour: 0, minute: 0, second: 0 }, zone).getTime() - 1) };
  }
  if ((match = new RegExp(`^${DATE}T${TIME}$`, 'i').exec(value))) {
    const date = calendarDate(match, 1, 0);
    if ('problem' in date) return date;
    const time = clockTime(match, 4, 11);
    return 'problem' in time ? time : around(date, time, zone);
  }
  if ((match = new RegExp(`^${DATE}T${TIME}-${TIME}$`, 'i').exec(value))) {
    const date = calendarDate(match, 1, 0);
    if ('problem' in date) return date;
    const start = clockTime(match, 4, 11);
    if ('problem' in start) return start;
    const end = clockTime(match, 7, value.indexOf('-', 11) + 1);
    return 'problem' in end ? end : between(date, start, end, zone);
  }
  const dots = value.indexOf('..');
  if (dots > 0) {
    const from = dateOrDateTime(value.slice(0, dots), 0, zone, 'start');
    if ('problem' in from) return from;
    const to = dateOrDateTime(value.slice(dots + 2), dots + 2, zone, 'end');
    if ('problem' in to) return to;
    if (to.getTime() < from.getTime()) return { problem: 'The range ends before it starts.', offset: dots + 2 };
    return { from, to };
  }
  return { problem: `"${value}" is not a time: write ${TIME_FORMS}.`, offset: 0 };
}

function dateOrDateTime(text: string, offset: number, zone: string, side: 'start' | 'end'): Date | TimeProblem {
  let match: RegExpExecArray | null;
  if ((match = new RegExp(`^${DATE}$`).exec(text))) {
    const date = calendarDate(match, 1, offset);
    if ('problem' in date) return date;
    if (side === 'start') return instantOf({ ...date, hour: 0, minute: 0, second: 0 }, zone);
    return new Date(instantOf({ ...addDays(date, 1), hour: 0, minute: 0, second: 0 }, zone).getTime() - 1);
  }
  if ((match = new RegExp(`^${DATE}T${TIME}$`, 'i').exec(text))) {
    const date = calendarDate(match, 1, offset);
    if ('problem' in date) return date;
    const time = clockTime(match, 4, offset + 11);
    if ('problem' in time) return time;
    const instant = instantOf({ ...date, ...time }, zone);
    return side === 'start' ? instant : new Date(instant.getTime() + (time.precise ? 1000 : MINUTE) - 1);
  }
  return { problem: `"${text}" is not a date (yyyy-mm-dd) or date-time (yyyy-mm-ddThh:mm[:ss]).`, offset };
}

function clockTime(match: RegExpExecArray, group: number, offset: number): ClockTime | TimeProblem {
  const hour = Number(match[group]);
  const minute = Number(match[group + 1]);
  const secondText = match[group + 2];
  const second = Number(secondText ?? 0);
  if (hour > 23) return { problem: `Hour ${hour} does not exist: hours run from 00 to 23.`, offset };
  if (minute > 59) return { problem: `Minute ${match[group + 1]} does not exist: minutes run from 00 to 59.`, offset };
  if (second > 59) return { problem: `Second ${secondText} does not exist: seconds run from 00 to 59.`, offset };
  return { hour, minute, second, precise: secondText !== undefined };
}

function calendarDate(match: RegExpExecArray, group: number, offset: number): CalendarDate | TimeProblem {
  const date = { year: Number(match[group]), month: Number(match[group + 1]), day: Number(match[group + 2]) };
  if (date.year < 1970 || !isValidDate(date)) return { problem: `${match[group]}-${match[group + 1]}-${match[group + 2]} is not a date.`, offset };
  return date;
}

function around(date: CalendarDate, time: ClockTime, zone: string): TimeRange {
  const instant = instantOf({ ...date, ...time }, zone).getTime();
  const margin = time.precise ? MINUTE : 15 * MINUTE;
  return { from: new Date(instant - margin), to: new Date(instant + margin) };
}

function between(date: CalendarDate, start: ClockTime, end: ClockTime, zone: string): TimeRange {
  const seconds = (time: ClockTime) => time.hour * 3600 + time.minute * 60 + time.second;
  const endDate = seconds(end) < seconds(start) ? addDays(date, 1) : date;
  const from = instantOf({ ...date, ...start }, zone);
  const to = new Date(instantOf({ ...endDate, ...end }, zone).getTime() + (end.precise ? 1000 : MINUTE) - 1);
  return { from, to };
}

// ---------------------------------------------------------------------------------------------
// Audit rules (the rule list and its filters)

export type RuleTerm =
  | { readonly field: 'name'; readonly glob: Matcher }
  | { readonly field: 'objectType'; readonly value: ObjectType }
  | { readonly field: 'level'; readonly value: AuditLevel }
  | { readonly field: 'enabled'; readonly value: boolean }
  | { readonly field: 'partition'; readonly glob: Matcher }
  | { readonly field: 'text'; readonly contains: string };

export const RULE_PREFIXES: Readonly<Record<string, Exclude<RuleTerm['field'], 'text'>>> = {
  n: 'name',
  name: 'name',
  o: 'objectType',
  object: 'objectType',
  objecttype: 'objectType',
  l: 'level',
  level: 'level',
  e: 'enabled',
  enabled: 'enabled',
  p: 'partition',
  partition: 'partition',
};

const BOOLEANS: Readonly<Record<string, boolean>> = { true: true, yes: true, y: true, '1': true, false: false, no: false, n: false, '0': false };

/** Parses a query over audit rules: `n:Fin* o:Device l:2 e:yes p:GLOBAL`, bare words in name or description. */
export function parseRuleSearch(query: string): SearchResult<RuleTerm> {
  const tokenized = tokenize(query);
  if (!tokenized.ok) return tokenized;
  const terms: RuleTerm[] = [];
  for (const token of tokenized.tokens) {
    const at = (message: string, column = token.valueColumn): SearchResult<RuleTerm> => ({ ok: false, error: { message, column, token: token.text } });
    if (token.prefix === undefined) {
      terms.push({ field: 'text', contains: token.value.toLowerCase() });
      continue;
    }
    const field = RULE_PREFIXES[token.prefix.toLowerCase()];
    if (!field) return at(`Unknown prefix "${token.prefix}": use n, o, l, e or p (name, objecttype, level, enabled, partition).`, token.column);
    const value = token.value;
    switch (field) {
      case 'name':
      case 'partition': {
        const glob = compilePattern(value, 'glob_ignore_case');
        if (!glob.ok) return at(`The pattern ${glob.problem}.`);
        terms.push({ field, glob: glob.matcher });
        break;
      }
      case 'objectType':
        if (!(OBJECT_TYPES as readonly string[]).includes(value)) return at(`"${value}" is not an object type (they are case-sensitive): one of ${OBJECT_TYPES.join(', ')}.`);
        terms.push({ field, value: value as ObjectType });
        break;
      case 'level': {
        const level = LEVELS[value.toLowerCase()];
        if (!level) return at(`"${value}" is not an audit level: 1 (Diff only) or 2 (Full audit).`);
        terms.push({ field, value: level });
        break;
      }
      case 'enabled': {
        const enabled = BOOLEANS[value.toLowerCase()];
        if (enabled === undefined) return at(`"${value}" is not yes or no.`);
        terms.push({ field, value: enabled });
        break;
      }
    }
  }
  return { ok: true, terms };
}

export interface RuleFacts {
  readonly name: string;
  readonly description: string;
  readonly partition: string;
  readonly objectType: ObjectType;
  readonly level: AuditLevel;
  readonly enabled: boolean;
}

export function ruleSearchMatches(rule: RuleFacts, terms: readonly RuleTerm[]): boolean {
  return terms.every((term) => {
    switch (term.field) {
      case 'name':
        return term.glob(rule.name);
      case 'partition':
        return term.glob(rule.partition);
      case 'objectType':
        return rule.objectType === term.value;
      case 'level':
        return rule.level === term.value;
      case 'enabled':
        return rule.enabled === term.value;
      case 'text':
        return rule.name.toLowerCase().includes(term.contains) || rule.description.toLowerCase().includes(term.contains);
    }
  });
}
