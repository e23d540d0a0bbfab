/** The data of Auditing ➔ Audit Trail and Trash Can, through the typed API client. */
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.ts';
import type { paths } from '../api/schema';

type JsonOf<P extends keyof paths> = paths[P] extends { get: { responses: { 200: { content: { 'application/json': infer T } } } } } ? T : never;

export type EntryPage = JsonOf<'/api/v1/audit/entries'>;
export type AuditEntry = EntryPage['entries'][number];
export type RestoreSide = 'before' | 'after';
type RestoreResult = paths['/api/v1/audit/entries/{seq}/restore-before']['post']['responses'][200]['content']['application/json'];
export type ObjectType = paths['/api/v1/audit/rules']['post']['requestBody']['content']['application/json']['objectType'];

/** The object types the trail records (`o:` takes them, case-sensitive). */
export const OBJECT_TYPES = ['Partition', 'Application', 'User', 'Device', 'Credential', 'AccessGroup', 'Change', 'AuditRule', 'Filter', 'Webhook'] as const satisfies readonly ObjectType[];
// The list names every type the API knows: a type added there fails to compile here until it is listed.
type Unlisted = Exclude<ObjectType, (typeof OBJECT_TYPES)[number]>;
const everyTypeListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyTypeListed;

/** Entries asked for at a time: the page shows more on request. */
export const ENTRY_PAGE_SIZE = 50;

export interface TrailSearch {
  /** The IntelliSearch query. */
  readonly q: string;
  /** A saved filter (its business key) whose query applies as well. */
  readonly filter: string;
  /** With each Full entry's whole object before and after: Expand All. */
  readonly expand: boolean;
}

/** The audit trail, newest first, a page at a time (the API's cursor). */
export function useAuditTrail(search: TrailSearch) {
  return useInfiniteQuery({
    queryKey: ['audit-trail', search],
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (page: EntryPage) => page.nextCursor ?? undefined,
    placeholderData: keepPreviousData,
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET('/api/v1/audit/entries', {
          params: {
            query: {
              limit: ENTRY_PAGE_SIZE,
              ...(search.q.trim() && { q: search.q }),
              ...(search.filter && { filter: search.filter }),
              ...(search.expand && { expand: true }),
              ...(pageParam !== undefined && { cursor: pageParam }),
            },
          },
        }),
      ),
  });
}

/** The Trash Can: deletions of audited objects not brought back, newest first. */
export function useTrash(q: string) {
  return useInfiniteQuery({
    queryKey: ['audit-trash', q],
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (page: EntryPage) => page.nextCursor ?? undefined,
    placeholderData: keepPreviousData,
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET('/api/v1/audit/trash', {
          params: { query: { limit: ENTRY_PAGE_SIZE, expand: true, ...(q.trim() && { q }), ...(pageParam !== undefined && { cursor: pageParam }) } },
        }),
      ),
  });
}

/** One entry with its whole object before and after (a Full entry expanded on its own). */
export function useEntrySnapshots(seq: number, enabled: boolean) {
  return useQuery({
    queryKey: ['audit-entry', seq],
    queryFn: async () => unwrap(await api.GET('/api/v1/audit/entries/{seq}', { params: { path: { seq } } })),
    enabled,
    // An entry never changes once written.
    staleTime: Infinity,
  });
}

/** The users the newest entries name: IntelliSearch offers them after `u:`. */
export function useTrailUsers(enabled: boolean) {
  return useQuery({
    queryKey: ['audit-trail', 'users'],
    queryFn: async () => {
      const page = unwrap(await api.GET('/api/v1/audit/entries', { params: { query: { limit: 500 } } }));
      return [...new Set(page.entries.map((entry) => entry.user))].sort();
    },
    enabled,
    staleTime: 60_000,
  });
}

export interface RestoreRequest {
  readonly seq: number;
  readonly side: RestoreSide;
  /** From the Trash Can: the API checks the object is still deleted. */
  readonly fromTrash?: boolean;
  readonly reason: string;
}

/**
 * Restore to before or after a change, or from the Trash Can. A restore writes an object of any
 * type (and may bring back what other pages list), so every list is asked again afterwards.
 */
export function useRestore() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async ({ seq, side, fromTrash, reason }: RestoreRequest): Promise<RestoreResult> => {
      const options = { params: { path: { seq } }, body: { ...(reason.trim() && { reason: reason.trim() }) } };
      if (fromTrash) return unwrap(await api.POST('/api/v1/audit/trash/{seq}/restore', options));
      return side === 'before' ? unwrap(await api.POST('/api/v1/audit/entries/{seq}/restore-before', options)) : unwrap(await api.POST('/api/v1/audit/entries/{seq}/restore-after', options));
    },
    onSuccess: () => queryClient.invalidateQueries({ predicate: (query) => query.queryKey[0] !== 'me' }),
  });
}
