import { Alert, Badge, Button, Grid, Group, Stack, Text, Title } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import { sessionPath } from '../audit/audit.queries.ts';
import { offsetOfHash } from '../audit/playback-time.ts';
import { holds, useMe } from '../session.tsx';
import { XtermView, type TerminalHandle } from '../terminal/XtermView.tsx';
import { formatTime } from '../time.ts';
import { Loaded } from '../ui.tsx';
import { useSessionProgress } from './live-progress.ts';
import { useSession, type SessionView } from './live-sessions.ts';
import { ProgressPanel } from './ProgressPanel.tsx';
import { useSessionWatch, type WatchState } from './session-watch.ts';
import { TerminateDialog } from './TerminateDialog.tsx';

/** The end reasons the server writes, in words (the API document types them as any string). */
const ENDINGS: Readonly<Record<string, string>> = {
  client_closed: 'the user closed it',
  due_date_reached: "the change's window closed",
  terminated: 'terminated',
  upstream_failed: 'the connection to the device failed',
  gateway_stopped: 'Changegate stopped',
  interrupted: 'interrupted: Changegate stopped without closing it',
};

/** How a session ended, in words: `terminated by admin: the vendor recalled the patch`. */
function endingOf(session: SessionView): string {
  if (session.endReason === null) return 'it ended';
  const by = session.endReason === 'terminated' && session.endedBy ? `terminated by ${session.endedBy}` : (ENDINGS[session.endReason] ?? session.endReason);
  return session.terminationReason ? `${by}: ${session.terminationReason}` : by;
}

const BADGES: Record<WatchState['status'], { label: string; color: string }> = {
  connecting: { label: 'connecting', color: 'gray.7' },
  live: { label: 'live', color: 'teal.9' },
  ended: { label: 'ended', color: 'gray.7' },
  failed: { label: 'not watched', color: 'red.9' },
  lost: { label: 'connection lost', color: 'red.9' },
};

/**
 * Live sessions ➔ Watch: a running session's terminal, read-only, from its start and then as it
 * happens, beside its progress against the change's script. A deviation alert links here with the
 * moment of the burst's first command (`#t=1:05`), which the page offers to replay.
 */
export default function WatchSessionPage() {
  const ref = useParams().session ?? '';
  const session = useSession(ref);
  return <Loaded query={session}>{(shown) => <Watch session={shown} />}</Loaded>;
}

function Watch({ session }: { session: SessionView }) {
  const me = useMe();
  const ref = String(session.number);
  const terminal = useRef<TerminalHandle>(null);
  // A new attempt replays the recording from its start, into a new terminal.
  const [attempt, setAttempt] = useState(0);
  const { state: watch, progress: sent } = useSessionWatch(ref, terminal, attempt);
  // The board as it stands, until the socket sends its own (and should the socket fail).
  const fetched = useSessionProgress(session.number, { enabled: sent === undefined });
  const progress = sent ?? fetched.data;
  // What the socket sends is the latest: Live sessions shows it at once, not the board read before.
  const queryClient = useQueryClient();
  useEffect(() => {
    if (sent) queryClient.setQueryData(['session', session.number, 'progress'], sent);
  }, [sent, session.number, queryClient]);
  const [terminating, setTerminating] = useState(false);
  const running = session.live && watch.status !== 'ended';
  // A watch that ends while the session still runs: another instance runs it.
  const badge = watch.status === 'ended' && session.live ? { label: 'not followed', color: 'gray.7' } : BADGES[watch.status];

  return (
    <Stack>
      <Group justify="space-between" align="start">
        <Stack gap={4}>
          <Group gap="sm">
            <Title order={1} size="h2">
              Session #{session.number}
            </Title>
            <Badge color={badge.color} variant="filled" autoContrast>
              {badge.label}
            </Badge>
          </Group>
          <Text size="sm">
            <b>{session.user}</b> on <b>{session.device}</b> as {session.account}, change {session.change}, from {session.sourceIp}; started {formatTime(session.startedAt, me.user.timeZone)}
            {session.live ? '' : `, ended ${formatTime(session.endedAt, me.user.timeZone)}`}.
          </Text>
        </Stack>
        <Group>
          {running && holds(me, 'Session.Terminate') && (
            <Button color="red.9" variant="outline" onClick={() => setTerminating(true)}>
              Terminate
            </Button>
          )}
          <Button component={Link} to="/live-sessions" variant="default">
            Back to Live sessions
          </Button>
        </Group>
      </Group>
      <AlertMoment session={session.number} />
      <WatchStatus state={watch} session={session} timeZone={me.user.timeZone} onReconnect={() => setAttempt((count) => count + 1)} />
      <Grid gap="md">
        <Grid.Col span={{ base: 12, lg: 8 }}>
          <XtermView key={attempt} label={`Terminal of session #${session.number}, ${session.user} on ${session.device}, watched`} handle={terminal} height="62vh" />
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 4 }}>
          <ProgressPanel progress={progress} session={session.number} live={running} zone={me.user.timeZone} problem={fetched.error ? `No progress to show: ${fetched.error.message}` : undefined} />
        </Grid.Col>
      </Grid>
      <TerminateDialog session={terminating ? session : undefined} onClose={() => setTerminating(false)} />
    </Stack>
  );
}

/** The moment a deviation alert points at (`#t=1:05` in the address), with the way to replay the recording from there. */
function AlertMoment({ session }: { session: number }) {
  const { hash } = useLocation();
  const moment = new URLSearchParams(hash.replace(/^#/, '')).get('t');
  if (moment === null || offsetOfHash(hash) === undefined) return null;
  return (
    <Alert color="indigo" title={`Alert at ${moment}`}>
      <Group gap="sm">
        <Text size="sm">The deviation you were alerted of began at {moment} in the session's recording.</Text>
        <Button component={Link} to={sessionPath(session, 'video', `t=${moment}`)} size="compact-sm">
          Replay from {moment}
        </Button>
      </Group>
    </Alert>
  );
}

/** What the watch is doing, in a polite live region: a screen reader hears when the session ends. */
function WatchStatus({ state, session, timeZone, onReconnect }: { state: WatchState; session: SessionView; timeZone: string; onReconnect: () => void }) {
  const ending = endingOf(session);
  return (
    <div role="status" aria-live="polite">
      {state.status === 'connecting' && <Text size="sm">Connecting to the session…</Text>}
      {state.status === 'live' && (
        <Text size="sm">{session.live ? `Live: what ${session.user} sees, as it happens. You cannot type here.` : 'The session has ended: replaying its recording.'}</Text>
      )}
      {state.status === 'ended' && !session.live && (
        <Alert color="gray" title={`The session ended ${formatTime(session.endedAt, timeZone)}`}>
          {`${ending.charAt(0).toUpperCase()}${ending.slice(1)}.`}
        </Alert>
      )}
      {state.status === 'ended' && session.live && (
        // The watch ends at once for a session another Changegate instance runs: this one has only its recording.
        <Alert color="gray" title="Not followed live">
          The session runs on another Changegate instance: this one can neither follow nor terminate it.
        </Alert>
      )}
      {state.status === 'failed' && (
        <Alert color="red" title="Cannot watch this session">
          {state.message}
        </Alert>
      )}
      {state.status === 'lost' && (
        <Alert color="red" title="The connection to the server was lost">
          <Group>
            <Text size="sm">What the session did since is not shown.</Text>
            <Button size="compact-sm" onClick={onReconnect}>
              Reconnect
            </Button>
          </Group>
        </Alert>
      )}
    </div>
  );
}
