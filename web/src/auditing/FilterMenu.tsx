import { Alert, Button, Group, Menu, Modal, Select, Stack, Text, Textarea, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { api, ApiError, fieldMessageOf, unwrap } from '../api/client.ts';
import { useMe, type Me } from '../session.tsx';
import { notifyDone } from '../ui.tsx';
import { bundleFileName, downloadJson, FILTERS_KEY, RULES_KEY, useFilters, type FilterTarget, type FilterView } from './auditing.queries.ts';

const WHAT: Record<FilterTarget, string> = { AuditRule: 'audit rule', AuditEntry: 'audit trail' };

/** Who may edit and delete a filter: its owner, or a user administrator system-wide (the server's rule). */
function manages(me: Me, filter: FilterView): boolean {
  return filter.owner === me.user.username || me.grants.some((grant) => grant.privilege === 'User.Admin' && grant.partition === null);
}

type Dialog = { kind: 'new' } | { kind: 'from-search' } | { kind: 'edit'; filter: FilterView } | { kind: 'delete'; filter: FilterView } | null;

/**
 * The saved filters of a list (the seed's Filter ▸ menu): choose one, and New, Edit, Delete,
 * Duplicate, Export, Add to navigation bar, Create filter from search. The chosen filter and the
 * search live in the address, as `filter` (business key) and `q`.
 */
export function FilterMenu({ target }: { target: 'AuditRule' | 'AuditEntry' }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [search, setSearch] = useSearchParams();
  const filterKey = search.get('filter') ?? '';
  const q = search.get('q') ?? '';
  const filters = useFilters(target);
  const chosen = filters.data?.find((filter) => filter.businessKey === filterKey);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [actionError, setActionError] = useState<string>();

  const choose = (key: string | null, options: { clearSearch?: boolean } = {}) => {
    const next = new URLSearchParams(search);
    if (key) next.set('filter', key);
    else next.delete('filter');
    if (options.clearSearch) next.delete('q');
    next.delete('page');
    setSearch(next, { replace: true });
  };
  // The filters, the navigation bar, and what the page lists: a filter edited searches anew.
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: FILTERS_KEY }),
      queryClient.invalidateQueries({ queryKey: ['me', 'navigation'] }),
      queryClient.invalidateQueries({ queryKey: target === 'AuditRule' ? RULES_KEY : ['audit-trail'] }),
    ]);
  const act = useMutation({
    mutationFn: async (action: () => Promise<void>) => action(),
    onMutate: () => setActionError(undefined),
    onError: (error) => setActionError(error instanceof ApiError ? error.message : String(error)),
  });
  const run = (action: () => Promise<void>) => act.mutate(action);

  const duplicate = (filter: FilterView) =>
    run(async () => {
      const copy = unwrap(await api.POST('/api/v1/audit/filters/{ref}/duplicate', { params: { path: { ref: filter.businessKey } }, body: {} }));
      await refresh();
      choose(copy.businessKey);
      notifyDone(`Duplicated filter ${filter.name} as ${copy.name}.`);
    });
  const exportFilter = (filter: FilterView) =>
    run(async () => {
      const bundle = unwrap(await api.GET('/api/v1/audit/filters/{ref}/export', { params: { path: { ref: filter.businessKey }, query: {} } }));
      downloadJson(bundleFileName(filter.businessKey, false), bundle);
      notifyDone(`Exported filter ${filter.name}.`);
    });
  const toNavigation = (filter: FilterView, add: boolean) =>
    run(async () => {
      const path = { params: { path: { ref: filter.businessKey } } };
      unwrap(add ? await api.POST('/api/v1/audit/filters/{ref}/navigation', path) : await api.DELETE('/api/v1/audit/filters/{ref}/navigation', path));
      await refresh();
      notifyDone(add ? `Added filter ${filter.name} to the navigation bar.` : `Took filter ${filter.name} off the navigation bar.`);
    });

  const mine = chosen !== undefined && manages(me, chosen);
  const why = !chosen ? 'Choose a filter to edit, delete, duplicate, export or add it.' : mine ? undefined : `Filter ${chosen.name} belongs to ${chosen.owner}: duplicate it to make your own.`;
  // A key in the address that is not (yet) among the filters still shows, so the choice is visible.
  const options = (filters.data ?? []).map((filter) => ({ value: filter.businessKey, label: filter.name }));
  if (filterKey && !chosen) options.push({ value: filterKey, label: filterKey });

  return (
    <Stack gap="xs">
      <Group align="end" gap="xs">
        <Select
          label={`Saved ${WHAT[target]} filter`}
          placeholder="None"
          data={options}
          value={filterKey || null}
          onChange={(key) => choose(key)}
          clearable
          searchable
          w={260}
          description={chosen?.query ? `Searches: ${chosen.query}` : undefined}
          error={filters.error instanceof ApiError ? filters.error.message : undefined}
        />
        <Menu position="bottom-start" withArrow withInitialFocusPlaceholder={false}>
          <Menu.Target>
            <Button variant="default" rightSection={<span aria-hidden="true">▸</span>}>
              Filter
            </Button>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Item onClick={() => setDialog({ kind: 'new' })}>New Filter</Menu.Item>
            <Menu.Item disabled={!mine} onClick={() => chosen && setDialog({ kind: 'edit', filter: chosen })}>
              Edit Filter
            </Menu.Item>
            <Menu.Item disabled={!mine} color="red.9" onClick={() => chosen && setDialog({ kind: 'delete', filter: chosen })}>
              Delete
            </Menu.Item>
            <Menu.Item disabled={!chosen} onClick={() => chosen && duplicate(chosen)}>
              Duplicate Filter
            </Menu.Item>
            <Menu.Item disabled={!chosen} onClick={() => chosen && exportFilter(chosen)}>
              Export Filter
            </Menu.Item>
            {chosen?.inNavigation ? (
              <Menu.Item onClick={() => toNavigation(chosen, false)}>Remove from navigation bar</Menu.Item>
            ) : (
              <Menu.Item disabled={!chosen} onClick={() => chosen && toNavigation(chosen, true)}>
                Add to navigation bar
              </Menu.Item>
            )}
            <Menu.Item disabled={!q.trim()} onClick={() => setDialog({ kind: 'from-search' })}>
              Create filter from search
            </Menu.Item>
            {(why || !q.trim()) && (
              <>
                <Menu.Divider />
                {why && (
                  <Menu.Label c="gray.7" maw={300}>
                    {why}
                  </Menu.Label>
                )}
                {!q.trim() && (
                  <Menu.Label c="gray.7" maw={300}>
                    Type a search to create a filter from it.
                  </Menu.Label>
                )}
              </>
            )}
          </Menu.Dropdown>
        </Menu>
      </Group>
      {actionError && (
        <Alert color="red" role="alert" title="Filter not changed" withCloseButton closeButtonLabel="Hide this message" onClose={() => setActionError(undefined)}>
          {actionError}
        </Alert>
      )}
      {dialog?.kind === 'delete' && (
        <DeleteFilterDialog
          filter={dialog.filter}
          onClose={() => setDialog(null)}
          onDeleted={async () => {
            setDialog(null);
            await refresh();
            choose(null);
          }}
        />
      )}
      {(dialog?.kind === 'new' || dialog?.kind === 'from-search' || dialog?.kind === 'edit') && (
        <FilterDialog
          target={target}
          mode={dialog.kind}
          existing={dialog.kind === 'edit' ? dialog.filter : undefined}
          query={dialog.kind === 'edit' ? dialog.filter.query : q}
          onClose={() => setDialog(null)}
          onSaved={async (saved) => {
            setDialog(null);
            await refresh();
            // A filter made from the search now holds it: the search box starts over.
            choose(saved.businessKey, { clearSearch: dialog.kind === 'from-search' || (dialog.kind === 'new' && saved.query === q) });
          }}
        />
      )}
    </Stack>
  );
}

/** New Filter, Edit Filter and Create filter from search: a name (new only), the query, a description. */
function FilterDialog({
  target,
  mode,
  existing,
  query: initialQuery,
  onClose,
  onSaved,
}: {
  target: FilterTarget;
  mode: 'new' | 'from-search' | 'edit';
  existing?: FilterView;
  query: string;
  onClose: () => void;
  onSaved: (filter: FilterView) => Promise<void>;
}) {
  const [name, setName] = useState('');
  const [partition, setPartition] = useState('');
  const [query, setQuery] = useState(initialQuery);
  const [description, setDescription] = useState(existing?.description ?? '');
  const save = useMutation({
    mutationFn: async () => {
      if (existing) {
        return unwrap(await api.PATCH('/api/v1/audit/filters/{ref}', { params: { path: { ref: existing.businessKey } }, body: { query, description, expectedVersion: existing.version } }));
      }
      const body = { name: name.trim(), target, query, ...(description && { description }), ...(partition.trim() && { partition: partition.trim() }) };
      return unwrap(mode === 'from-search' ? await api.POST('/api/v1/audit/filters/from-search', { body }) : await api.POST('/api/v1/audit/filters', { body }));
    },
    onSuccess: async (saved) => {
      notifyDone(existing ? `Saved filter ${saved.name}.` : `Created filter ${saved.name}.`);
      await onSaved(saved);
    },
  });
  const error = save.error instanceof ApiError ? save.error : undefined;
  // The server names a bad query by its code, with the column in its message.
  const queryError = fieldMessageOf(error, 'query') ?? (error?.code === 'search_invalid' ? error.message : undefined);
  const fieldErrors = [fieldMessageOf(error, 'name'), fieldMessageOf(error, 'partition'), queryError, error?.code === 'already_exists' ? error.message : undefined].filter(Boolean);
  const title = existing ? `Edit filter ${existing.name}` : mode === 'from-search' ? 'Create filter from search' : `New ${WHAT[target]} filter`;
  return (
    <Modal opened closeButtonProps={{ 'aria-label': 'Close this dialog' }} onClose={onClose} title={title}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
        noValidate
      >
        <Stack>
          {error && fieldErrors.length === 0 && (
            <Alert color="red" role="alert" title="Not saved">
              {error.message}
            </Alert>
          )}
          {existing ? (
            <TextInput label="Name" value={existing.name} readOnly description="A filter keeps its name: duplicate it for another one." />
          ) : (
            <>
              <TextInput label="Name" required data-autofocus value={name} onChange={(event) => setName(event.currentTarget.value)} description="Letters, digits, “_”, “.” and “-”" error={fieldMessageOf(error, 'name') ?? (error?.code === 'already_exists' ? error.message : undefined)} />
              <TextInput label="Partition" placeholder="GLOBAL" value={partition} onChange={(event) => setPartition(event.currentTarget.value)} error={fieldMessageOf(error, 'partition')} />
            </>
          )}
          <TextInput
            label="Search"
            description={target === 'AuditRule' ? 'n:Fin* o:Device l:2 e:yes p:GLOBAL' : 't:14:05-14:06 u:jdoe o:Device a:M l:2'}
            value={query}
            readOnly={mode === 'from-search'}
            onChange={(event) => setQuery(event.currentTarget.value)}
            error={queryError}
            data-autofocus={existing ? true : undefined}
          />
          <Textarea label="Description" value={description} onChange={(event) => setDescription(event.currentTarget.value)} autosize minRows={2} maxLength={2000} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              {existing ? 'Save filter' : 'Create filter'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function DeleteFilterDialog({ filter, onClose, onDeleted }: { filter: FilterView; onClose: () => void; onDeleted: () => Promise<void> }) {
  const remove = useMutation({
    mutationFn: async () => unwrap(await api.DELETE('/api/v1/audit/filters/{ref}', { params: { path: { ref: filter.businessKey } } })),
    onSuccess: async () => {
      notifyDone(`Deleted filter ${filter.name}.`);
      await onDeleted();
    },
  });
  return (
    <Modal opened closeButtonProps={{ 'aria-label': 'Close this dialog' }} onClose={onClose} title={`Delete filter ${filter.name}`}>
      <Stack>
        <Text size="sm">The saved search goes, and with it its place on every navigation bar. What it searched stays.</Text>
        {remove.error instanceof ApiError && (
          <Text c="red.9" size="sm" role="alert">
            {remove.error.message}
          </Text>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} data-autofocus>
            Keep it
          </Button>
          <Button color="red.9" loading={remove.isPending} onClick={() => remove.mutate()}>
            Delete filter
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
