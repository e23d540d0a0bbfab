import { Button, Code, Group, Table, Text, TextInput, VisuallyHidden } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { WallTimePicker } from '../changes/WallTimePicker.tsx';
import { useMe } from '../session.tsx';
import { formatTime, fromWallTime } from '../time.ts';
import { Loaded } from '../ui.tsx';
import { ENTRIES_PER_PAGE, useLogEntries, type EntryCursor, type EntryFilter, type LogEntry } from './event-log.queries.ts';
import { InclusionProofDialog } from './InclusionProofDialog.tsx';

const FILTERS = ['action', 'actor', 'subject', 'from', 'until'] as const;
type FilterKey = (typeof FILTERS)[number];

/** Typing waits this long before the log is asked again. */
const TYPING_MS = 300;

/** How much of an entry's data a row shows; the proof dialog shows all of it. */
const DATA_SHOWN = 140;

/** The address's cursor: `before=N` (older pages) or `after=N` (newer ones); none is the newest page. */
function cursorOf(search: URLSearchParams): EntryCursor {
  const before = Number(search.get('before'));
  const after = Number(search.get('after'));
  if (Number.isSafeInteger(before) && before > 0) return { before };
  if (Number.isSafeInteger(after) && after > 0) return { after };
  return { newest: true };
}

/** The log's entries, newest first, filtered as the fields say; filters and page are in the address. */
export function LogEntries() {
  const me = useMe();
  const zone = me.user.timeZone;
  const [search, setSearch] = useSearchParams();
  const [proving, setProving] = useState<LogEntry | undefined>();
  const values = Object.fromEntries(FILTERS.map((key) => [key, search.get(key) ?? ''])) as Record<FilterKey, string>;
  const cursor = cursorOf(search);

  /**
   * A filter changed: back to the newest entries that match. From the address as it is now, not
   * as this render saw it: two fields filled at once must both stay.
   */
  const setFilter = (key: FilterKey, value: string) => {
    const next = new URLSearchParams(window.location.search);
    if (value) next.set(key, value);
    else next.delete(key);
    next.delete('before');
    next.delete('after');
    setSearch(next, { replace: true });
  };
  /** Another page: a new place in the history, so Back returns to this one. */
  const goTo = (page: EntryCursor) => {
    const next = new URLSearchParams(window.location.search);
    next.delete('before');
    next.delete('after');
    if ('before' in page) next.set('before', String(page.before));
    if ('after' in page) next.set('after', String(page.after));
    setSearch(next);
  };

  const from = fromWallTime(values.from, zone);
  const until = fromWallTime(values.until, zone);
  const filter: EntryFilter = {
    ...(values.action.trim() && { action: values.action.trim() }),
    ...(values.actor.trim() && { actor: values.actor.trim() }),
    ...(values.subject.trim() && { subject: values.subject.trim() }),
    ...(from && { from }),
    ...(until && { until }),
  };
  // Compared as text: a new object at each render would restart the wait for ever.
  const [asked] = useDebouncedValue(JSON.stringify(filter), TYPING_MS);
  const entries = useLogEntries(JSON.parse(asked) as EntryFilter, cursor);
  const text = (key: FilterKey, label: string, placeholder: string, width = 200) => (
    <TextInput label={label} placeholder={placeholder} value={values[key]} onChange={(event) => setFilter(key, event.currentTarget.value)} w={width} />
  );

  return (
    <>
      <form role="search" aria-label="Search the event log" onSubmit={(event) => event.preventDefault()}>
        <Group mb="xs" align="end" gap="sm">
          {text('action', 'Action', 'Any, such as session.start')}
          {text('actor', 'Actor', 'Any, such as alice', 160)}
          {text('subject', 'Subject', 'Any, such as change:GLOBAL.CHG-1', 260)}
          <WallTimePicker label="Written from" timeZone={zone} value={values.from} onChange={(wall) => setFilter('from', wall)} required={false} w={210} />
          <WallTimePicker label="Written before" timeZone={zone} value={values.until} onChange={(wall) => setFilter('until', wall)} required={false} w={210} />
        </Group>
      </form>
      <Text size="xs" c="dimmed" mb="sm">
        Each field matches exactly. Times are in your time zone, {zone}. Newest entries first.
      </Text>
      <Loaded query={entries}>
        {(rows) => (
          <>
            <Table striped highlightOnHover>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Entry</Table.Th>
                  <Table.Th>Time</Table.Th>
                  <Table.Th>Actor</Table.Th>
                  <Table.Th>Action</Table.Th>
                  <Table.Th>Subject</Table.Th>
                  <Table.Th>Data</Table.Th>
                  <Table.Th>
                    <VisuallyHidden>Proof</VisuallyHidden>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {rows.map((entry) => (
                  <Table.Tr key={entry.seq}>
                    <Table.Td>{entry.seq}</Table.Td>
                    <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(entry.time, zone)}</Table.Td>
                    <Table.Td>{entry.actor}</Table.Td>
                    <Table.Td>{entry.action}</Table.Td>
                    <Table.Td style={{ wordBreak: 'break-all' }}>{entry.subject}</Table.Td>
                    <Table.Td maw={360}>
                      <Code style={{ wordBreak: 'break-all', whiteSpace: 'normal' }}>{dataText(entry.data)}</Code>
                    </Table.Td>
                    <Table.Td>
                      <Button size="compact-xs" variant="default" aria-label={`Inclusion proof of entry ${entry.seq}`} onClick={() => setProving(entry)}>
                        Proof
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            <EntryPager rows={rows} cursor={cursor} onPage={goTo} />
          </>
        )}
      </Loaded>
      {proving && <InclusionProofDialog entry={proving} zone={zone} onClose={() => setProving(undefined)} />}
    </>
  );
}

function dataText(data: LogEntry['data']): string {
  const text = JSON.stringify(data);
  return text.length > DATA_SHOWN ? `${text.slice(0, DATA_SHOWN)}…` : text;
}

/** Which entries are shown, and the way to newer and older ones. */
function EntryPager({ rows, cursor, onPage }: { rows: readonly LogEntry[]; cursor: EntryCursor; onPage: (page: EntryCursor) => void }) {
  const full = rows.length === ENTRIES_PER_PAGE;
  const newest = rows[0]?.seq;
  const oldest = rows.at(-1)?.seq;
  // A page after an entry has older ones (that entry at least); a page before one has newer ones.
  const olderExist = full || 'after' in cursor;
  const newerExist = 'before' in cursor || ('after' in cursor && full);
  return (
    <Group justify="space-between" mt="sm">
      <Text size="sm" c="dimmed" role="status">
        {rows.length === 0 ? 'Nothing matches.' : `Entries ${newest} to ${oldest}, newest first`}
      </Text>
      <Group gap="xs">
        <Button variant="default" size="xs" disabled={'newest' in cursor} onClick={() => onPage({ newest: true })}>
          Newest
        </Button>
        <Button variant="default" size="xs" disabled={!newerExist || newest === undefined} onClick={() => newest !== undefined && onPage({ after: newest })}>
          Newer entries
        </Button>
        <Button variant="default" size="xs" disabled={!olderExist || oldest === undefined} onClick={() => oldest !== undefined && onPage({ before: oldest })}>
          Older entries
        </Button>
      </Group>
    </Group>
  );
}
