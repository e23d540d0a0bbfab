/**
 * The IntelliSearch syntax as the console explains and completes it: the prefixes of the audit
 * trail, the time forms, completion of the word being typed, and where a problem the server names
 * sits in the query. Pure; the server (src/auditing/search.ts) is what reads a query.
 */
import { OBJECT_TYPES } from './trail.queries.ts';

export interface Prefix {
  /** The short form first, then the long ones: `o`, `object`, `objecttype`. */
  readonly names: readonly string[];
  readonly what: string;
  readonly example: string;
}

/** The seed's prefixes, in its order. */
export const PREFIXES: readonly Prefix[] = [
  { names: ['t', 'time'], what: 'Creation time (see the time forms)', example: 't:14:05-14:06' },
  { names: ['o', 'object', 'objecttype'], what: 'Object type, case-sensitive', example: 'o:Device' },
  { names: ['k', 'key', 'businesskey'], what: 'Business key: starting with, or with * and ? as wildcards', example: 'k:GLOBAL.web*' },
  { names: ['a', 'action'], what: 'Action: C created, M modified, D deleted', example: 'a:M' },
  { names: ['r', 'reason'], what: 'Reason for the audit entry contains', example: 'r:"disk full"' },
  { names: ['u', 'user'], what: 'User who made the change', example: 'u:jdoe' },
  { names: ['l', 'level'], what: 'Audit level: 1 Diff only, 2 Full audit', example: 'l:2' },
  { names: ['cb', 'changedbefore'], what: '(internal) Changed before an ISO-8601 period ago', example: 'cb:P30D' },
];

/** The ways of writing a time after `t:`; times of day are today, in the user's time zone. */
export const TIME_FORMS: ReadonlyArray<{ readonly form: string; readonly what: string; readonly example: string }> = [
  { form: 'hh:mm', what: '15 minutes either side', example: 't:14:05' },
  { form: 'hh:mm:ss', what: '1 minute either side', example: 't:14:05:30' },
  { form: 'hh:mm-hh:mm', what: 'from the start to the end of the range', example: 't:14:05-14:06' },
  { form: 'hh:mm:ss-hh:mm:ss', what: 'from the start to the end of the range, to the second', example: 't:14:05:00-14:05:30' },
  { form: 'yyyy-mm-dd', what: 'the whole day', example: 't:2026-03-14' },
  { form: 'yyyy-mm-ddThh:mm[-hh:mm]', what: 'a time or range on that day', example: 't:2026-03-14T09:00-10:00' },
  { form: 'from..to', what: 'from a date or date-time to another', example: 't:2026-03-01..2026-03-14T12:00' },
];

const FIELD_OF: Readonly<Record<string, Prefix>> = Object.fromEntries(PREFIXES.flatMap((prefix) => prefix.names.map((name) => [name, prefix])));

/** One way to finish the word being typed: the whole query it makes, and how the list shows it. */
export interface Completion {
  readonly value: string;
  readonly label: string;
  readonly description: string;
}

export interface CompletionSources {
  readonly users: readonly string[];
  /** The user's wall clock now: `14:05` and `2026-03-14`, offered after `t:`. */
  readonly clock: { readonly time: string; readonly date: string };
}

const MAX_COMPLETIONS = 12;

const quoted = (value: string) => (/[\s"]/.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : value);

/** What may finish the last word of `query`: a prefix, or a value for the prefix typed. */
export function completions(query: string, sources: CompletionSources): Completion[] {
  const start = Math.max(query.lastIndexOf(' '), query.lastIndexOf('\t')) + 1;
  const head = query.slice(0, start);
  const word = query.slice(start);
  const colon = word.indexOf(':');
  if (colon < 0) {
    const typed = word.toLowerCase();
    return PREFIXES.flatMap((prefix) => {
      const name = prefix.names.find((candidate) => candidate.startsWith(typed));
      return name === undefined ? [] : [{ value: `${head}${name}:`, label: `${name}:`, description: prefix.what }];
    });
  }
  const name = word.slice(0, colon);
  const typed = word.slice(colon + 1).toLowerCase();
  const values = valuesFor(FIELD_OF[name.toLowerCase()], sources);
  return values
    .filter((value) => value.value.toLowerCase().startsWith(typed) && value.value.toLowerCase() !== typed)
    .slice(0, MAX_COMPLETIONS)
    .map((value) => ({ value: `${head}${name}:${quoted(value.value)} `, label: `${name}:${quoted(value.value)}`, description: value.description }));
}

function valuesFor(prefix: Prefix | undefined, sources: CompletionSources): ReadonlyArray<{ value: string; description: string }> {
  switch (prefix?.names[0]) {
    case 't':
      return [
        { value: sources.clock.time, description: 'Now, 15 minutes either side' },
        { value: sources.clock.date, description: 'Today' },
      ];
    case 'o':
      return OBJECT_TYPES.map((type) => ({ value: type, description: 'Object type' }));
    case 'a':
      return [
        { value: 'C', description: 'Created' },
        { value: 'M', description: 'Modified' },
        { value: 'D', description: 'Deleted' },
      ];
    case 'l':
      return [
        { value: '1', description: 'Diff only' },
        { value: '2', description: 'Full audit' },
      ];
    case 'u':
      return sources.users.map((user) => ({ value: user, description: 'User' }));
    default:
      return [];
  }
}

/**
 * The characters of `query` a problem covers, from the column the server names (counted from 1)
 * to the end of the term there; an empty span at the end when the problem is what is missing.
 */
export function problemSpan(query: string, column: number, token: string): { start: number; end: number } {
  const start = Math.min(Math.max(column - 1, 0), query.length);
  if (token) {
    for (let at = query.indexOf(token); at >= 0; at = query.indexOf(token, at + 1)) {
      if (at <= start && start < at + token.length) return { start, end: at + token.length };
    }
  }
  let end = start;
  while (end < query.length && !/\s/.test(query[end] as string)) end++;
  return { start, end };
}
