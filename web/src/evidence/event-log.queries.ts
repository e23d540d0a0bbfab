/** The data of Auditing ➔ Event log and of a change's evidence, through the typed API client. */
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.ts';
import type { paths } from '../api/schema';

type JsonOf<P extends keyof paths, M extends 'get' | 'post' = 'get'> = paths[P] extends { [K in M]: { responses: { 200: { content: { 'application/json': infer T } } } } } ? T : never;

export type LogEntry = JsonOf<'/api/v1/events'>[number];
export type LogCheckpoint = JsonOf<'/api/v1/log/checkpoint'>;
export type LogKey = JsonOf<'/api/v1/log/key'>;
export type InclusionProof = JsonOf<'/api/v1/log/proof/inclusion'>;
export type ChainReport = JsonOf<'/api/v1/events/verify', 'post'>;
export type CheckpointReport = JsonOf<'/api/v1/log/verify', 'post'>;

/** Entries a page of the log shows. */
export const ENTRIES_PER_PAGE = 50;

/** The filters the API takes; times are ISO 8601. */
export interface EntryFilter {
  readonly action?: string;
  readonly actor?: string;
  readonly subject?: string;
  readonly from?: string;
  readonly until?: string;
}

/** Where a page of the log starts: the newest entries, those before an entry, or those after one. */
export type EntryCursor = { readonly newest: true } | { readonly before: number } | { readonly after: number };

/** A page of entries that match, always newest first on the page. */
export function useLogEntries(filter: EntryFilter, cursor: EntryCursor) {
  return useQuery({
    queryKey: ['event-log', 'entries', filter, cursor],
    placeholderData: keepPreviousData,
    queryFn: async () => {
      const paging = 'after' in cursor ? { after: cursor.after, order: 'asc' as const } : { ...('before' in cursor && { before: cursor.before }), order: 'desc' as const };
      const entries = unwrap(await api.GET('/api/v1/events', { params: { query: { ...filter, ...paging, limit: ENTRIES_PER_PAGE } } }));
      return paging.order === 'asc' ? entries.reverse() : entries;
    },
  });
}

/** The latest signed checkpoint, described (its note included). */
export function useLatestCheckpoint() {
  return useQuery({
    queryKey: ['event-log', 'checkpoint'],
    queryFn: async () => unwrap(await api.GET('/api/v1/log/checkpoint', { params: { query: { format: 'json' } } })) as LogCheckpoint,
  });
}

/** The latest signed checkpoint, or undefined when none is signed yet (503). */
export async function fetchLatestCheckpoint(signal?: AbortSignal): Promise<LogCheckpoint | undefined> {
  const answer = await api.GET('/api/v1/log/checkpoint', { params: { query: { format: 'json' } }, ...(signal && { signal }) });
  if (answer.response.status === 503) return undefined;
  return unwrap(answer) as LogCheckpoint;
}

/** The log's public key. */
export async function fetchLogKey(): Promise<LogKey> {
  return unwrap(await api.GET('/api/v1/log/key', { params: { query: { format: 'json' } } })) as LogKey;
}

export function useLogKey() {
  return useQuery({ queryKey: ['event-log', 'key'], queryFn: fetchLogKey, staleTime: Infinity });
}

/** The proof that entry `seq` is in the tree of the first `size` entries (the whole log when undefined). */
export async function fetchInclusionProof(seq: number, size: number | undefined): Promise<InclusionProof> {
  return unwrap(await api.GET('/api/v1/log/proof/inclusion', { params: { query: { seq, ...(size !== undefined && { size }) } } }));
}

/** The number of entries the log holds now: its last entry's seq. */
export async function fetchLogSize(): Promise<number> {
  const [last] = unwrap(await api.GET('/api/v1/events', { params: { query: { order: 'desc', limit: 1 } } }));
  return last?.seq ?? 0;
}

/** One range of the chain's verification, continuing after `from` (its seq and chain hash) when given. */
export async function verifyChainRange(limit: number, from: { readonly seq: number; readonly chainHash: string } | undefined, signal: AbortSignal): Promise<ChainReport> {
  const query = { limit, ...(from && from.seq > 0 && { after: from.seq, chainHash: from.chainHash }) };
  return unwrap(await api.POST('/api/v1/events/verify', { params: { query }, signal }));
}

/** Verifies the stored log against a signed checkpoint, with a key given or (without one) the log's own. */
export async function verifyAgainstCheckpoint(checkpoint: string, verifierKey: string | undefined, signal: AbortSignal): Promise<CheckpointReport> {
  return unwrap(await api.POST('/api/v1/log/verify', { body: { checkpoint, ...(verifierKey && { verifierKey }) }, signal }));
}

/** Where a change's evidence bundle downloads from (a plain link: the session cookie goes with it, and the zip streams to disk). */
export function evidenceUrl(change: string): string {
  return `/api/v1/changes/${encodeURIComponent(change)}/evidence`;
}
