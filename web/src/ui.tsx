import { Alert, Badge, Center, Group, Loader, Pagination, Select, Table, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import type { Key, ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { ApiError } from './api/client.ts';

/** Dark enough for white text, or light enough for black (autoContrast picks), at AA contrast. */
const STATUS_COLORS: Record<string, string> = {
  scheduled: 'blue.8',
  open: 'teal.9',
  closed: 'gray.7',
  cancelled: 'red.9',
  pending: 'yellow.4',
  approved: 'teal.9',
  denied: 'red.9',
  expired: 'gray.7',
  allowed: 'teal.9',
  refused: 'red.9',
  withdrawn: 'gray.7',
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <Badge color={STATUS_COLORS[status] ?? 'gray.7'} variant="filled" autoContrast miw="max-content">
      {status}
    </Badge>
  );
}

/** A query's loading and error states, or its content. */
export function Loaded<T>({ query, children }: { query: { data?: T; error: unknown; isPending: boolean }; children: (data: T) => ReactNode }) {
  if (query.error) {
    return (
      <Alert color="red" role="alert" title="Could not load this page">
        {query.error instanceof ApiError ? query.error.message : String(query.error)}
      </Alert>
    );
  }
  if (query.isPending || query.data === undefined) return <Loading />;
  return <>{children(query.data)}</>;
}

/** What a page shows while its data or its code loads. */
export function Loading() {
  return (
    <Center p="xl">
      <Loader aria-label="Loading" />
    </Center>
  );
}

/** The filters of a list, kept in the page's address so a link reproduces the view. */
export function useUrlFilters<K extends string>(keys: readonly K[]) {
  const [search, setSearch] = useSearchParams();
  const values = Object.fromEntries(keys.map((key) => [key, search.get(key) ?? ''])) as Record<K, string>;
  // From the address as it is now, not as the last render saw it (React Router's updater gets that
  // one too): two fields set in quick succession both stay.
  const set = (key: K | 'page', value: string) => {
    const next = new URLSearchParams(window.location.search);
    if (value) next.set(key, value);
    else next.delete(key);
    // A new filter starts at the first page.
    if (key !== 'page') next.delete('page');
    setSearch(next, { replace: true });
  };
  const page = Math.max(1, Number(search.get('page')) || 1);
  return { values, set, page };
}

export const PAGE_SIZE = 25;

/** One page of `rows`, with the pager below when there is more than one. */
export function Paged<T>({ rows, page, onPage, children }: { rows: readonly T[]; page: number; onPage: (page: number) => void; children: (rows: readonly T[]) => ReactNode }) {
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  const current = Math.min(page, pages);
  return (
    <>
      {children(rows.slice((current - 1) * PAGE_SIZE, current * PAGE_SIZE))}
      <Group justify="space-between" mt="sm">
        <Text size="sm" c="dimmed">
          {rows.length === 0 ? 'Nothing matches.' : `${(current - 1) * PAGE_SIZE + 1}–${Math.min(current * PAGE_SIZE, rows.length)} of ${rows.length}`}
        </Text>
        {pages > 1 && <Pagination total={pages} value={current} onChange={onPage} getControlProps={(control) => ({ 'aria-label': `${control} page` })} />}
      </Group>
    </>
  );
}

/** One page of `rows` as a table: the headers, then a row each (`children` gives its cells). */
export function PagedTable<T>({
  rows,
  page,
  onPage,
  headers,
  rowKey,
  children,
}: {
  rows: readonly T[];
  page: number;
  onPage: (page: number) => void;
  /** Nodes, not only texts: a column of buttons names itself for screen readers alone. */
  headers: readonly ReactNode[];
  rowKey: (row: T) => Key;
  children: (row: T) => ReactNode;
}) {
  return (
    <Paged rows={rows} page={page} onPage={onPage}>
      {(shown) => (
        <Table striped highlightOnHover>
          <Table.Thead>
            <Table.Tr>
              {headers.map((header, column) => (
                <Table.Th key={column}>{header}</Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {shown.map((row) => (
              <Table.Tr key={rowKey(row)}>{children(row)}</Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Paged>
  );
}

/** A short confirmation in the corner, with a labelled close button. */
export function notifyDone(message: string): void {
  notifications.show({ color: 'teal.9', message, closeButtonProps: { 'aria-label': 'Hide this message' } });
}

/** The status filter at the top of a list: one of `statuses`, or any. */
export function StatusFilter({ statuses, value, onChange }: { statuses: readonly string[]; value: string | undefined; onChange: (status: string) => void }) {
  return <Select label="Status" placeholder="Any" data={statuses.map((status) => ({ value: status, label: status }))} value={value ?? null} onChange={(status) => onChange(status ?? '')} clearable w={160} />;
}

/** A table cell naming something, with a dimmed line that places it: a change and its title, a device and its partition. */
export function NamedCell({ name, detail }: { name: ReactNode; detail: ReactNode }) {
  return (
    <Table.Td>
      <Text size="sm" fw={500}>
        {name}
      </Text>
      <Text size="xs" c="dimmed">
        {detail}
      </Text>
    </Table.Td>
  );
}
