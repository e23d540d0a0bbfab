import { Alert, Badge, List, Stack, Text } from '@mantine/core';
import type { ChangeAudit, Session } from './audit.queries.ts';
import { DARK_ORANGE } from './Outcome.tsx';
import { formatInstant } from './playback-time.ts';

export type BoardCapture = ChangeAudit['capture'];
export type CaptureStatus = NonNullable<BoardCapture['status']>;
type CaptureReason = NonNullable<Session['capture']>['reasons'][number];

/** Filled and dark enough for white text at AA contrast; the words say it, the colour repeats them. */
const STATUSES: Record<CaptureStatus, { readonly label: string; readonly color: string }> = {
  complete: { label: 'complete', color: 'teal.9' },
  rebuilt: { label: 'rebuilt', color: 'blue.9' },
  limited: { label: 'limited', color: DARK_ORANGE },
};

/** A reason with when it began, in the reader's time zone: "a terminal multiplexer ran on the device (from 2 Dec 2026, 23:02:11)". */
export function reasonText(reason: CaptureReason, zone: string): string {
  return `${reason.text} (from ${formatInstant(reason.since, zone)})`;
}

/**
 * A session's capture status as a badge, its reasons in words beneath (no tooltip: they are read
 * as they are, by keyboard and screen reader alike). `live` sessions are not known yet.
 */
export function CaptureBadge({ capture, live, zone }: { capture: Session['capture']; live: boolean; zone: string }) {
  if (capture === null) return <Text size="sm">{live ? 'running' : 'unknown'}</Text>;
  const { label, color } = STATUSES[capture.status];
  return (
    <Stack gap={2} align="start">
      <Badge color={color} variant="filled" autoContrast miw="max-content">
        {label}
      </Badge>
      {capture.reasons.map((reason) => (
        <Text key={reason.reason} size="xs">
          {reasonText(reason, zone)}
        </Text>
      ))}
    </Stack>
  );
}

/**
 * Why a board may not show everything that ran, next to its outcome: the sessions whose capture
 * was limited (each reason from when it began, in the reader's time zone), those a crash
 * interrupted, and, more softly, lines rebuilt from keystrokes. Nothing when the server gives no
 * warning.
 */
export function CaptureWarning({ capture, zone }: { capture: BoardCapture; zone: string }) {
  if (capture.warning === null) return null;
  const limited = capture.sessions.filter((session) => session.status === 'limited');
  const interrupted = capture.sessions.filter((session) => session.unknownBecause === 'interrupted');
  const rebuilt = capture.sessions.filter((session) => session.reasons.some((reason) => reason.reason === 'keystrokes'));
  const incomplete = limited.length > 0 || interrupted.length > 0;
  return (
    <Alert color={incomplete ? DARK_ORANGE : 'blue.9'} variant="outline" title={incomplete ? 'This board may be incomplete' : 'Some lines were rebuilt from keystrokes'}>
      <Stack gap={4}>
        {incomplete && <Text size="sm">The outcome is computed from the commands that were captured; some may be missing:</Text>}
        <List size="sm" spacing={2}>
          {limited.map((session) => (
            <List.Item key={`limited-${session.session}`}>
              In session #{session.session}{' '}
              {session.reasons
                .filter((reason) => reason.reason !== 'keystrokes')
                .map((reason) => reasonText(reason, zone))
                .join(' and ')}
              .
            </List.Item>
          ))}
          {interrupted.map((session) => (
            <List.Item key={`interrupted-${session.session}`}>Session #{session.session} was interrupted: whether its capture was complete is unknown.</List.Item>
          ))}
          {rebuilt.map((session) => {
            const keystrokes = session.reasons.find((reason) => reason.reason === 'keystrokes');
            return (
              <List.Item key={`rebuilt-${session.session}`}>
                Some lines of session #{session.session} were rebuilt from keystrokes, the terminal having echoed nothing
                {keystrokes ? ` (from ${formatInstant(keystrokes.since, zone)})` : ''}: they are what was typed, not what the device showed.
              </List.Item>
            );
          })}
        </List>
      </Stack>
    </Alert>
  );
}
