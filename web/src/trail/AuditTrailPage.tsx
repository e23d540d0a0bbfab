import { Button, Code, Group, Menu, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { FilterMenu } from '../auditing/FilterMenu.tsx';
import { holds, useMe } from '../session.tsx';
import { EntryTable, PagedEntries } from './EntryTable.tsx';
import { RestoreDialog, restoreTitle, type RestoreAsked } from './RestoreDialog.tsx';
import { useAuditTrail, type AuditEntry, type RestoreSide } from './trail.queries.ts';

/** Which entries are open: all (Expand All) but those closed since, or none but those opened. */
interface Expansion {
  readonly all: boolean;
  readonly toggled: ReadonlySet<number>;
}

const NONE: Expansion = { all: false, toggled: new Set() };

const quotedKey = (key: string) => (/[\s"]/.test(key) ? `"${key.replace(/["\\]/g, '\\$&')}"` : key);

/**
 * Auditing ➔ Audit Trail: the audited changes, newest first, narrowed by the IntelliSearch query
 * (`q`) and a saved filter (`filter`), both in the address. Each entry expands to its diff; a Full
 * one to the object before and after; its menu restores to before or after the change.
 */
export default function AuditTrailPage() {
  const me = useMe();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const q = params.get('q') ?? '';
  const filter = params.get('filter') ?? '';
  const [expansion, setExpansion] = useState<Expansion>(NONE);
  const [restoring, setRestoring] = useState<RestoreAsked>();
  const trail = useAuditTrail({ q, filter, expand: expansion.all });
  const mayRestore = holds(me, 'AuditTrail.Restore');

  const isExpanded = (entry: AuditEntry) => expansion.all !== expansion.toggled.has(entry.seq);
  const toggle = (entry: AuditEntry) =>
    setExpansion((current) => {
      const toggled = new Set(current.toggled);
      if (!toggled.delete(entry.seq)) toggled.add(entry.seq);
      return { ...current, toggled };
    });
  const restoreItem = (entry: AuditEntry, side: RestoreSide) =>
    mayRestore && entry.restore[side] ? <Menu.Item onClick={() => setRestoring({ entry, side })}>{restoreTitle({ side })}</Menu.Item> : null;

  return (
    <Stack gap="md">
      <Title order={1} size="h2">
        Audit Trail
      </Title>
      <Group justify="space-between" align="end">
        <FilterMenu target="AuditEntry" />
        <Group gap="xs">
          <Button variant="default" onClick={() => setExpansion(expansion.all ? NONE : { all: true, toggled: new Set() })}>
            {expansion.all ? 'Collapse All' : 'Expand All'}
          </Button>
          <Button variant="default" loading={trail.isRefetching && !trail.isFetchingNextPage} onClick={() => void trail.refetch()}>
            Refresh
          </Button>
        </Group>
      </Group>
      {q && (
        <Group gap="xs">
          <Text size="sm">
            Searching <Code>{q}</Code>
            {filter && ' within the filter'}
          </Text>
          <Button size="compact-sm" variant="subtle" onClick={() => navigate(filter ? `/audit-trail?filter=${encodeURIComponent(filter)}` : '/audit-trail')}>
            Clear the search
          </Button>
        </Group>
      )}
      <PagedEntries
        query={trail}
        asked={q}
        hint="Correct it in the Search Audit Entries box at the top right; its help (?) lists the prefixes and time forms."
        empty={q || filter ? 'No entry matches.' : 'No audited change yet: audit rules say which objects are audited.'}
      >
        {(entries) => (
          <EntryTable
            entries={entries}
            isExpanded={isExpanded}
            onToggle={toggle}
            actions={(entry) => (
              <>
                {restoreItem(entry, 'before')}
                {restoreItem(entry, 'after')}
                <Menu.Item onClick={() => toggle(entry)}>{isExpanded(entry) ? 'Collapse' : 'Expand'}</Menu.Item>
                <Menu.Item onClick={() => navigate(`/audit-trail?q=${encodeURIComponent(`o:${entry.objectType} k:${quotedKey(entry.businessKey)}`)}`)}>Entries of this object</Menu.Item>
              </>
            )}
          />
        )}
      </PagedEntries>
      <RestoreDialog asked={restoring} onClose={() => setRestoring(undefined)} />
    </Stack>
  );
}
