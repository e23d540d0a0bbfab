import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.ts';
import { notifyDone } from '../ui.tsx';

/** How often the list of running sessions asks again: a session started or ended elsewhere shows within this. */
export const LIVE_SESSIONS_POLL_MS = 3_000;

/** The longest reason the API takes (`MAX_TERMINATION_REASON` on the server). */
export const MAX_REASON_LENGTH = 500;

/** `45 s`, `12 min`, `3 h 05 min`: how long a session has run so far. */
export function runningFor(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')} min`;
}

export type SessionView = Awaited<ReturnType<typeof fetchSession>>;

async function fetchSession(ref: string) {
  return unwrap(await api.GET('/api/v1/sessions/{session}', { params: { path: { session: ref } } }));
}

/** The sessions running now that the user may see, filtered by user, device and change. */
export function useLiveSessions(filter: { user: string; device: string; change: string }) {
  return useQuery({
    queryKey: ['sessions', 'live', filter.user, filter.device, filter.change],
    // The rows shown stay while a changed filter loads, instead of a spinner at each keystroke.
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/sessions', {
          params: { query: { live: true, ...(filter.user && { user: filter.user }), ...(filter.device && { device: filter.device }), ...(filter.change && { change: filter.change }) } },
        }),
      ),
    refetchInterval: LIVE_SESSIONS_POLL_MS,
  });
}

/** One session by number (or id): who runs it where, and how it ended once it has. */
export function useSession(ref: string) {
  return useQuery({ queryKey: ['session', ref], queryFn: () => fetchSession(ref), enabled: ref !== '' });
}

/** Ends a running session with a reason its user reads; the lists and the session are asked again. */
export function useTerminateSession() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async ({ number, reason }: { number: number; reason: string }) =>
      unwrap(await api.POST('/api/v1/sessions/{session}/terminate', { params: { path: { session: String(number) } }, body: { reason } })),
    onSuccess: (ended) => {
      void queryClient.invalidateQueries({ queryKey: ['session'] });
      void queryClient.invalidateQueries({ queryKey: ['sessions'] });
      notifyDone(`Terminated session #${ended.number} of ${ended.user} on ${ended.device}.`);
    },
  });
}
