import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type RefObject } from 'react';
import type { TerminalHandle } from '../terminal/XtermView.tsx';
import type { LiveProgress } from './live-progress.ts';

/**
 * What `GET /api/v1/sessions/{session}/watch` sends, one JSON value a message (the socket is not in
 * the OpenAPI document, so its messages are typed here): the recording so far and then live, as
 * asciicast v2 events `[seconds, code, data]` (`o` output, `r` a resize `COLSxROWS`, `m` a captured
 * command); `{type: 'progress'}`, the session's board against its change's script, once the replay
 * is done and after each command; then `{type: 'end'}` once the session ended, or `{type: 'error'}`
 * when the watch was refused or dropped (a watcher too slow for the session).
 */
type WatchMessage =
  | [number, 'o' | 'r' | 'm', string]
  | { type: 'progress'; progress: LiveProgress }
  | { type: 'end' }
  | { type: 'error'; error: { code: string; message: string } };

/** Where a watch stands: the page says it in words. */
export type WatchState =
  | { readonly status: 'connecting' }
  | { readonly status: 'live' }
  | { readonly status: 'ended' }
  | { readonly status: 'failed'; readonly message: string }
  | { readonly status: 'lost' };

function watchAddress(ref: string): string {
  const address = new URL(`/api/v1/sessions/${encodeURIComponent(ref)}/watch`, window.location.href);
  address.protocol = address.protocol === 'https:' ? 'wss:' : 'ws:';
  return address.toString();
}

/**
 * Follows session `ref` into `terminal` over the watch socket (same origin: the session cookie
 * signs it in). A new `attempt` opens a new socket, which replays the recording from its start:
 * the caller gives it a fresh terminal. When the session ends, its record is asked again (who
 * ended it, and why) before the state says `ended`. `progress` is the latest board the socket
 * sent, undefined until the first.
 */
export function useSessionWatch(ref: string, terminal: RefObject<TerminalHandle | null>, attempt: number): { state: WatchState; progress: LiveProgress | undefined } {
  const queryClient = useQueryClient();
  const [state, setState] = useState<WatchState>({ status: 'connecting' });
  const [progress, setProgress] = useState<LiveProgress>();

  useEffect(() => {
    setState({ status: 'connecting' });
    const socket = new WebSocket(watchAddress(ref));
    // Settled: ended, refused or dropped, so a close is no loss. Active: this socket is still the page's.
    let settled = false;
    let active = true;
    socket.onopen = () => setState({ status: 'live' });
    socket.onmessage = (message: MessageEvent<string>) => {
      let value: WatchMessage;
      try {
        value = JSON.parse(message.data) as WatchMessage;
      } catch {
        return;
      }
      if (Array.isArray(value)) {
        if (value[1] === 'o') terminal.current?.write(value[2]);
        return;
      }
      if (value.type === 'progress') {
        setProgress(value.progress);
        return;
      }
      settled = true;
      if (value.type === 'end') {
        void queryClient.invalidateQueries({ queryKey: ['sessions'] });
        // Ended once the page knows how (the session is asked again, by number or by id): a session
        // still running then is another instance's, which this one cannot follow.
        void queryClient.invalidateQueries({ queryKey: ['session'] }).finally(() => active && setState({ status: 'ended' }));
      } else {
        setState({ status: 'failed', message: value.error.message });
      }
    };
    socket.onclose = () => {
      if (!settled) setState({ status: 'lost' });
    };
    return () => {
      settled = true;
      active = false;
      socket.close();
    };
  }, [ref, attempt, terminal, queryClient]);

  return { state, progress };
}
