/** The data of Change Audit ➔ Audited sessions, through the typed API client. */
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.ts';
import type { paths } from '../api/schema';

type JsonOf<P extends keyof paths> = paths[P] extends { get: { responses: { 200: { content: { 'application/json': infer T } } } } } ? T : never;

export type AuditedSession = JsonOf<'/api/v1/audit/sessions'>[number];
export type AuditedSessionFilter = NonNullable<paths['/api/v1/audit/sessions']['get']['parameters']['query']>;
export type Outcome = NonNullable<AuditedSessionFilter['outcome']>;
export type ChangeAudit = JsonOf<'/api/v1/changes/{change}/audit'>;
export type DeviceAudit = ChangeAudit['devices'][number];
export type BoardRow = DeviceAudit['rows'][number];
export type Counts = ChangeAudit['counts'];
export type Session = JsonOf<'/api/v1/sessions/{session}'>;
export type SessionCommand = JsonOf<'/api/v1/sessions/{session}/commands'>[number];

/** The most sessions one listing asks for; the page says so when a filter would show more. */
export const LIST_LIMIT = 1000;

/** How often the list asks again: a session that ends, and its change's new score, show within this. */
const LIST_POLL_MS = 10_000;

/** Audited sessions, newest first, filtered as the list's fields say. */
export function useAuditedSessions(filter: AuditedSessionFilter) {
  return useQuery({
    queryKey: ['audited-sessions', filter],
    refetchInterval: LIST_POLL_MS,
    // The rows shown stay while a changed filter loads, instead of a spinner at each keystroke.
    placeholderData: keepPreviousData,
    queryFn: async () => unwrap(await api.GET('/api/v1/audit/sessions', { params: { query: { ...filter, limit: LIST_LIMIT } } })),
  });
}

/** One session, by number. */
export function useSession(session: number) {
  return useQuery({
    queryKey: ['session', session],
    queryFn: async () => unwrap(await api.GET('/api/v1/sessions/{session}', { params: { path: { session: String(session) } } })),
    enabled: Number.isInteger(session) && session > 0,
  });
}

/** The commands captured in a session, with their output and exit status. */
export function useSessionCommands(session: number) {
  return useQuery({
    queryKey: ['session', session, 'commands'],
    queryFn: async () => unwrap(await api.GET('/api/v1/sessions/{session}/commands', { params: { path: { session: String(session) } } })),
  });
}

/** The audit of a change: details, the board per device, the score and its sessions. */
export function useChangeAudit(change: string | undefined) {
  return useQuery({
    queryKey: ['change-audit', change],
    queryFn: async () => unwrap(await api.GET('/api/v1/changes/{change}/audit', { params: { path: { change: change ?? '' } } })),
    enabled: change !== undefined,
  });
}

/** The session's asciicast recording, as text: the player plays it and the search reads it. */
export function useRecording(session: number) {
  return useQuery({
    queryKey: ['session', session, 'recording'],
    queryFn: async () => unwrap(await api.GET('/api/v1/sessions/{session}/recording', { params: { path: { session: String(session) } }, parseAs: 'text' })),
    // A finished recording never changes.
    staleTime: Infinity,
  });
}

/** Where the recording downloads from (a plain link: the session cookie goes with it). */
export function recordingUrl(session: number): string {
  return `/api/v1/sessions/${session}/recording`;
}

/** The change's audit as one self-contained HTML page. */
export function reportUrl(change: string): string {
  return `/api/v1/changes/${encodeURIComponent(change)}/audit/report?format=html`;
}

export type SessionTab = 'details' | 'audit' | 'logs' | 'video';
export const SESSION_TABS: readonly SessionTab[] = ['details', 'audit', 'logs', 'video'];

/** A tab of one audited session's page; `hash` (`t=01:05`) opens the video at that moment. */
export function sessionPath(session: number, tab: SessionTab = 'details', hash?: string): string {
  return `/audited-sessions/${session}${tab === 'details' ? '' : `?tab=${tab}`}${hash ? `#${hash}` : ''}`;
}
