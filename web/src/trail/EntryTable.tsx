import { ActionIcon, Alert, Badge, Button, Group, Menu, Table, Text, VisuallyHidden } from '@mantine/core';
import type { InfiniteData, UseInfiniteQueryResult } from '@tanstack/react-query';
import { Fragment, type ReactNode } from 'react';
import { ApiError } from '../api/client.ts';
import { useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loading } from '../ui.tsx';
import { EntryDetails } from './EntryDetails.tsx';
import { SearchProblem, searchTrouble } from './SearchProblem.tsx';
import type { AuditEntry, EntryPage } from './trail.queries.ts';

export const ACTION_LABELS: Record<AuditEntry['action'], string> = { C: 'Created', M: 'Modified', D: 'Deleted' };
const ACTION_COLORS: Record<AuditEntry['action'], string> = { C: 'teal.9', M: 'blue.8', D: 'red.9' };
export const levelLabel = (level: number) => (level === 2 ? 'Full audit' : 'Diff only');

/**
 * Audit entries as a table, newest first: each row expands to its diff (and, Full, the object
 * before and after); `actions` gives a row's context menu items.
 */
export function EntryTable({
  entries,
  isExpanded,
  onToggle,
  actions,
  rowAction,
  timeHeader = 'Time',
}: {
  entries: readonly AuditEntry[];
  isExpanded: (entry: AuditEntry) => boolean;
  onToggle: (entry: AuditEntry) => void;
  /** The menu items of a row, or nothing for no menu. */
  actions: (entry: AuditEntry) => ReactNode;
  /** A button shown in the row itself, beside the menu. */
  rowAction?: (entry: AuditEntry) => ReactNode;
  timeHeader?: string;
}) {
  const zone = useMe().user.timeZone;
  const columns = 10;
  return (
    <Table striped highlightOnHover verticalSpacing={6} aria-label="Audit entries">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>
            <VisuallyHidden>Expand</VisuallyHidden>
          </Table.Th>
          <Table.Th>Entry</Table.Th>
          <Table.Th>{timeHeader}</Table.Th>
          <Table.Th>Object type</Table.Th>
          <Table.Th>Business key</Table.Th>
          <Table.Th>Action</Table.Th>
          <Table.Th>Level</Table.Th>
          <Table.Th>User</Table.Th>
          <Table.Th>Reason</Table.Th>
          <Table.Th>
            <VisuallyHidden>Actions</VisuallyHidden>
          </Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {entries.map((entry) => {
          const expanded = isExpanded(entry);
          const menu = actions(entry);
          return (
            <Fragment key={entry.seq}>
              <Table.Tr>
                <Table.Td>
                  <Button
                    size="compact-xs"
                    variant="subtle"
                    aria-expanded={expanded}
                    aria-controls={expanded ? `entry-${entry.seq}-details` : undefined}
                    aria-label={`${expanded ? 'Collapse' : 'Expand'} entry #${entry.seq}`}
                    onClick={() => onToggle(entry)}
                  >
                    {expanded ? 'Collapse' : 'Expand'}
                  </Button>
                </Table.Td>
                <Table.Td>#{entry.seq}</Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(entry.time, zone)}</Table.Td>
                <Table.Td>{entry.objectType}</Table.Td>
                <Table.Td fw={500} style={{ wordBreak: 'break-all' }}>
                  {entry.businessKey}
                </Table.Td>
                <Table.Td>
                  <Badge color={ACTION_COLORS[entry.action]} variant="filled" autoContrast>
                    {ACTION_LABELS[entry.action]}
                  </Badge>
                </Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>{levelLabel(entry.level)}</Table.Td>
                <Table.Td>{entry.user}</Table.Td>
                <Table.Td>
                  <Text size="sm" lineClamp={2}>
                    {entry.reason ?? '—'}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Group gap="xs" justify="flex-end" wrap="nowrap">
                    {rowAction?.(entry)}
                    {menu && <EntryMenu seq={entry.seq}>{menu}</EntryMenu>}
                  </Group>
                </Table.Td>
              </Table.Tr>
              {expanded && (
                <Table.Tr id={`entry-${entry.seq}-details`}>
                  <Table.Td colSpan={columns}>
                    <EntryDetails entry={entry} />
                  </Table.Td>
                </Table.Tr>
              )}
            </Fragment>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}

/** A row's context menu, behind its ⋮ button. */
function EntryMenu({ seq, children }: { seq: number; children: ReactNode }) {
  return (
    <Menu position="bottom-end">
        <Menu.Target>
          <ActionIcon variant="subtle" color="gray.8" aria-label={`Actions for entry #${seq}`} title="Actions">
            <svg width="18" height="18" viewBox="0 0 24 24" fill="currentColor" aria-hidden="true">
              <circle cx="12" cy="5" r="2" />
              <circle cx="12" cy="12" r="2" />
              <circle cx="12" cy="19" r="2" />
            </svg>
          </ActionIcon>
        </Menu.Target>
        <Menu.Dropdown>{children}</Menu.Dropdown>
    </Menu>
  );
}

/**
 * The pages of entries a search has loaded, shown by `children`, with the button that loads older
 * ones (the API's cursor). A search the server cannot read shows where, never an empty list.
 */
export function PagedEntries({
  query,
  asked,
  hint,
  empty,
  children,
}: {
  query: UseInfiniteQueryResult<InfiniteData<EntryPage>>;
  /** The query sent, to mark a problem in. */
  asked: string;
  /** Where the reader corrects the query. */
  hint: string;
  empty: string;
  children: (entries: readonly AuditEntry[]) => ReactNode;
}) {
  if (query.error) {
    const trouble = searchTrouble(query.error, asked);
    if (trouble) return <SearchProblem trouble={trouble} hint={hint} />;
    return (
      <Alert color="red" role="alert" title="Could not load the entries">
        {query.error instanceof ApiError ? query.error.message : String(query.error)}
      </Alert>
    );
  }
  if (!query.data) return <Loading />;
  const entries = query.data.pages.flatMap((page) => page.entries);
  return (
    <>
      {entries.length > 0 && children(entries)}
      <Group justify="space-between" mt="sm">
        <Text size="sm" c="dimmed" role="status">
          {entries.length === 0 ? empty : `${entries.length} ${entries.length === 1 ? 'entry' : 'entries'} shown${query.hasNextPage ? ', newest first' : ''}.`}
        </Text>
        {query.hasNextPage && (
          <Button variant="default" loading={query.isFetchingNextPage} onClick={() => void query.fetchNextPage()}>
            Show older entries
          </Button>
        )}
      </Group>
    </>
  );
}
