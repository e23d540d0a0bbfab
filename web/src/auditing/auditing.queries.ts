import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, ApiError, unwrap } from '../api/client.ts';
import type { paths } from '../api/schema';

/** The saved filters' targets: what a filter searches. */
export type FilterTarget = 'AuditRule' | 'AuditEntry';

export type FilterView = paths['/api/v1/audit/filters/{ref}']['get']['responses'][200]['content']['application/json'];
export type AuditRuleView = paths['/api/v1/audit/rules/{ref}']['get']['responses'][200]['content']['application/json'];
export type Bundle = paths['/api/v1/audit/import']['post']['requestBody']['content']['application/json'];
export type ImportReport = paths['/api/v1/audit/import']['post']['responses'][200]['content']['application/json'];
export type PromoteResult = paths['/api/v1/audit/promote']['post']['responses'][200]['content']['application/json'];
export type Permalinks = paths['/api/v1/audit/rules/{ref}/permalinks']['get']['responses'][200]['content']['application/json'];
export type NewAuditRule = paths['/api/v1/audit/rules']['post']['requestBody']['content']['application/json'];
export type AuditRulePatch = paths['/api/v1/audit/rules/{ref}']['patch']['requestBody']['content']['application/json'];
export type RuleSecurity = AuditRuleView['security'];

/** Every query of saved filters starts with this key; a change to any filter invalidates it. */
export const FILTERS_KEY = ['audit-filters'] as const;
/** Every query of audit rules starts with this key. */
export const RULES_KEY = ['audit-rules'] as const;

/** The saved filters of one target the user may use. */
export function useFilters(target: FilterTarget) {
  return useQuery({
    queryKey: [...FILTERS_KEY, target],
    queryFn: async () => unwrap(await api.GET('/api/v1/audit/filters', { params: { query: { target } } })),
  });
}

/** The audit rules the user may view, narrowed by a search and a saved filter. */
export function useAuditRules(search: { q: string; filter: string }) {
  return useQuery({
    queryKey: [...RULES_KEY, 'list', search.q, search.filter],
    // The rows shown stay while a changed search loads, instead of a spinner at each keystroke.
    placeholderData: keepPreviousData,
    retry: false,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/audit/rules', { params: { query: { ...(search.q && { q: search.q }), ...(search.filter && { filter: search.filter }) } } })),
  });
}

/** One audit rule, by business key. */
export function useAuditRule(ref: string | undefined) {
  return useQuery({
    queryKey: [...RULES_KEY, 'one', ref],
    queryFn: async () => unwrap(await api.GET('/api/v1/audit/rules/{ref}', { params: { path: { ref: ref as string } } })),
    enabled: ref !== undefined,
  });
}

/** The other Changegate instances an administrator configured for promotion. */
export function usePromoteTargets(enabled: boolean) {
  return useQuery({
    queryKey: ['audit-promote-targets'],
    queryFn: async () => unwrap(await api.GET('/api/v1/audit/promote-targets')),
    enabled,
  });
}

/** Hands the browser a JSON document to save as a file (an exported bundle). */
export function downloadJson(fileName: string, value: unknown): void {
  const url = URL.createObjectURL(new Blob([`${JSON.stringify(value, null, 2)}\n`], { type: 'application/json' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser reads the blob when the download starts, after this task.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A file name for a bundle of the object with this business key. */
export function bundleFileName(businessKey: string, related: boolean): string {
  return `${businessKey.replace(/[^A-Za-z0-9_.-]/g, '_')}${related ? '.with-related' : ''}.bundle.json`;
}

