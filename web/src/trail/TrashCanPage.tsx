import { Button, Group, Menu, Stack, Text, TextInput, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import { holds, useMe } from '../session.tsx';
import { useUrlFilters } from '../ui.tsx';
import { EntryTable, PagedEntries } from './EntryTable.tsx';
import { RestoreDialog, type RestoreAsked } from './RestoreDialog.tsx';
import { useTrash, type AuditEntry } from './trail.queries.ts';

/**
 * Auditing ➔ Trash Can: the audited objects deleted and not brought back, newest first. Restore
 * brings one back as it was when deleted (the restore is audited like any change).
 */
export default function TrashCanPage() {
  const me = useMe();
  const { values, set } = useUrlFilters(['q'] as const);
  const [typed, setTyped] = useState(values.q);
  useEffect(() => setTyped(values.q), [values.q]);
  const [opened, setOpened] = useState<ReadonlySet<number>>(new Set());
  const [restoring, setRestoring] = useState<RestoreAsked>();
  const trash = useTrash(values.q);
  const mayRestore = holds(me, 'AuditTrail.Restore');
  const toggle = (entry: AuditEntry) =>
    setOpened((current) => {
      const next = new Set(current);
      if (!next.delete(entry.seq)) next.add(entry.seq);
      return next;
    });

  return (
    <Stack gap="md">
      <Title order={1} size="h2">
        Trash Can
      </Title>
      <Text size="sm" maw={800}>
        Deleted objects that an audit rule watches. A deletion is always audited in full, so each can be brought back as it was; an object that points at another deleted one needs that
        one restored first.
      </Text>
      <Group align="end" justify="space-between">
        <form
          role="search"
          aria-label="Trash Can"
          onSubmit={(event) => {
            event.preventDefault();
            set('q', typed.trim());
          }}
        >
          <Group align="end" gap="xs">
            <TextInput label="Search the Trash Can" description="The trail's search: o:Device k:GLOBAL.web* u:jdoe t:2026-03-14" value={typed} onChange={(event) => setTyped(event.currentTarget.value)} w={360} />
            <Button type="submit" variant="default">
              Search
            </Button>
          </Group>
        </form>
        <Button variant="default" loading={trash.isRefetching && !trash.isFetchingNextPage} onClick={() => void trash.refetch()}>
          Refresh
        </Button>
      </Group>
      <PagedEntries query={trash} asked={values.q} hint="Correct it in the search field above." empty={values.q ? 'Nothing in the Trash Can matches.' : 'The Trash Can is empty.'}>
        {(entries) => (
          <EntryTable
            entries={entries}
            timeHeader="Deleted"
            isExpanded={(entry) => opened.has(entry.seq)}
            onToggle={toggle}
            rowAction={(entry) =>
              mayRestore && entry.restore.before ? (
                <Button size="compact-sm" variant="light" aria-label={`Restore ${entry.objectType} ${entry.businessKey}`} onClick={() => setRestoring({ entry, side: 'before', fromTrash: true })}>
                  Restore
                </Button>
              ) : null
            }
            actions={(entry) => <Menu.Item onClick={() => toggle(entry)}>{opened.has(entry.seq) ? 'Collapse' : 'Expand'}</Menu.Item>}
          />
        )}
      </PagedEntries>
      <RestoreDialog asked={restoring} onClose={() => setRestoring(undefined)} />
    </Stack>
  );
}
