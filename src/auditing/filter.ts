import type { Privilege } from '../access/index.ts';
import type { ObjectMeta } from '../objects/object.ts';
import { parseEntrySearch, parseRuleSearch, type SearchError } from './search.ts';
import type { FilterView } from './filter.views.ts';

/** What a filter searches: the audit trail or the audit rules. */
export const FILTER_TARGETS = ['AuditEntry', 'AuditRule'] as const;
export type FilterTarget = (typeof FILTER_TARGETS)[number];

/** A saved search (the seed's Filter): a configuration object, owned by who made it. */
export interface Filter extends ObjectMeta {
  readonly description: string;
  readonly target: FilterTarget;
  /** In the search syntax of the target. */
  readonly query: string;
  /** Username: the owner edits and deletes it; others who may view its target may use it. */
  readonly owner: string;
}

export const FILTER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** Seeing a filter, and using it, needs the privilege that shows what it searches. */
export const viewPrivilegeOf = (target: FilterTarget): Privilege => (target === 'AuditEntry' ? 'AuditTrail.View' : 'AuditingRule.View');

/** Checks a query in its target's syntax; times are read against a fixed day, as only the syntax matters here. */
export function filterQueryError(target: FilterTarget, query: string): SearchError | undefined {
  const parsed = target === 'AuditEntry' ? parseEntrySearch(query, { now: new Date(0), timeZone: 'UTC' }) : parseRuleSearch(query);
  return parsed.ok ? undefined : parsed.error;
}

export type { FilterView } from './filter.views.ts';

export function presentFilter(filter: Filter, names: { partition: string; application: string | null }, inNavigation: boolean): FilterView {
  return {
    id: filter.id,
    name: filter.name,
    partition: names.partition,
    businessKey: `${names.partition}.${filter.name}`,
    application: names.application,
    description: filter.description,
    target: filter.target,
    query: filter.query,
    owner: filter.owner,
    inNavigation,
    version: filter.version,
    createdAt: filter.createdAt.toISOString(),
    createdBy: filter.createdBy,
    updatedAt: filter.updatedAt.toISOString(),
    updatedBy: filter.updatedBy,
  };
}
