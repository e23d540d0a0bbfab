import { Stack, Tabs, Text, Title } from '@mantine/core';
import { useSearchParams } from 'react-router';
import { holds, useMe } from '../session.tsx';
import { CheckpointAndKey } from './CheckpointAndKey.tsx';
import { LogEntries } from './LogEntries.tsx';
import { useLogVerification } from './log-verification.ts';
import { VerifyLog } from './VerifyLog.tsx';

const TABS = ['entries', 'verify', 'checkpoint'] as const;
type Tab = (typeof TABS)[number];

/** Auditing ➔ Event log: the tamper-evident log's entries, its verification, and its latest checkpoint and key. */
export default function EventLogPage() {
  const me = useMe();
  const [search, setSearch] = useSearchParams();
  const mayVerify = holds(me, 'EventLog.Verify');
  // Held here, not in the tab: a verification runs on, and its result stays, while another tab is open.
  const verification = useLogVerification();
  const asked = search.get('tab') ?? '';
  const tab: Tab = (TABS as readonly string[]).includes(asked) && (asked !== 'verify' || mayVerify) ? (asked as Tab) : 'entries';
  // A tab is a place in the history; the entries' filters stay in the address only on their own tab.
  const open = (next: string | null) => setSearch(next && next !== 'entries' ? { tab: next } : {});
  return (
    <Stack>
      <div>
        <Title order={1} size="h2">
          Event log
        </Title>
        <Text size="sm" c="dimmed">
          Every security-relevant act, in a tamper-evident log: each entry hashes into a Merkle tree whose root the server signs in checkpoints.
        </Text>
      </div>
      <Tabs value={tab} onChange={open} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="entries">Entries</Tabs.Tab>
          {mayVerify && <Tabs.Tab value="verify">Verify</Tabs.Tab>}
          <Tabs.Tab value="checkpoint">Checkpoint and key</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="entries" pt="md">
          <LogEntries />
        </Tabs.Panel>
        {mayVerify && (
          <Tabs.Panel value="verify" pt="md">
            <VerifyLog verification={verification} />
          </Tabs.Panel>
        )}
        <Tabs.Panel value="checkpoint" pt="md">
          <CheckpointAndKey />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
