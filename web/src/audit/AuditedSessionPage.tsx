import { Alert, Anchor, Button, Group, Stack, Tabs, Text, Title } from '@mantine/core';
import { lazy, Suspense } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import { useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, Loading } from '../ui.tsx';
import { reportUrl, SESSION_TABS, useChangeAudit, useSession, type Session, type SessionTab } from './audit.queries.ts';
import { ChangeAuditBoard } from './ChangeAuditBoard.tsx';
import { ChangeDetails } from './ChangeDetails.tsx';
import { SessionLogs } from './SessionLogs.tsx';

// The player is the console's largest library: it loads when the video is first opened.
const SessionVideo = lazy(() => import('./SessionVideo.tsx'));

/** One audited session: Change details, Change Audit, Session Logs and Video of Session, as the seed's action button offers them. */
export default function AuditedSessionPage() {
  const number = Number(useParams().session);
  const session = useSession(number);
  if (!Number.isInteger(number) || number < 1) return <Alert color="red">There is no session with that number.</Alert>;
  return <Loaded query={session}>{(shown) => <AuditedSession session={shown} />}</Loaded>;
}

function AuditedSession({ session }: { session: Session }) {
  const me = useMe();
  const zone = me.user.timeZone;
  const [search, setSearch] = useSearchParams();
  const asked = search.get('tab') ?? '';
  const tab: SessionTab = (SESSION_TABS as readonly string[]).includes(asked) ? (asked as SessionTab) : 'details';
  const audit = useChangeAudit(session.change);
  return (
    <Stack>
      <Group justify="space-between" align="start">
        <div>
          <Title order={1} size="h2">
            Session #{session.number}
          </Title>
          <Text size="sm">
            {session.user} on {session.account}@{session.device} for change {session.change}, {formatTime(session.startedAt, zone)}
          </Text>
        </div>
        <Group gap="xs">
          <Button component="a" href={reportUrl(session.change)} variant="default">
            HTML report
          </Button>
          <Anchor component={Link} to="/audited-sessions" size="sm">
            Back to Audited sessions
          </Anchor>
        </Group>
      </Group>
      {/* Only the open tab is mounted: leaving the video stops it. A new tab is a new entry in the history. */}
      <Tabs value={tab} onChange={(value) => setSearch(value && value !== 'details' ? { tab: value } : {})} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="details">Change details</Tabs.Tab>
          <Tabs.Tab value="audit">Change Audit</Tabs.Tab>
          <Tabs.Tab value="logs">Session Logs</Tabs.Tab>
          <Tabs.Tab value="video">Video of Session</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="details" pt="md">
          <Loaded query={audit}>{(shown) => <ChangeDetails session={session} audit={shown} zone={zone} />}</Loaded>
        </Tabs.Panel>
        <Tabs.Panel value="audit" pt="md">
          <Loaded query={audit}>{(shown) => <ChangeAuditBoard audit={shown} device={session.device} session={session.number} zone={zone} />}</Loaded>
        </Tabs.Panel>
        <Tabs.Panel value="logs" pt="md">
          <SessionLogs session={session.number} zone={zone} />
        </Tabs.Panel>
        <Tabs.Panel value="video" pt="md">
          <Suspense fallback={<Loading />}>
            <SessionVideo session={session.number} />
          </Suspense>
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
