import { Alert, Button, Group, Modal, Paper, Stack, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, fieldMessageOf, unwrap } from '../api/client.ts';
import { holds, useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, notifyDone, Paged, useUrlFilters } from '../ui.tsx';
import { useApplications, usePartitions, type ApplicationView } from './admin.queries.ts';
import { ConfirmDialog } from './ConfirmDialog.tsx';
import { holdsIn } from './held-privileges.ts';
import { ServerRefusal } from './ServerRefusal.tsx';

type PartitionView = NonNullable<ReturnType<typeof usePartitions>['data']>[number];

/** An application's own name: `Reporting` of `Finance/Reporting`. */
const leafName = (name: string) => name.slice(name.lastIndexOf('/') + 1);

/**
 * The address of one application: its name keeps its slashes (`Finance/Reporting`), each segment
 * encoded, as the route's wildcard reads it (the generated client would encode the slashes too).
 */
function applicationPath(partition: string, name: string) {
  return {
    params: { path: { partition, '*': name } },
    pathSerializer: (path: string) => path.replace('{partition}', encodeURIComponent(partition)).replace('{*}', name.split('/').map(encodeURIComponent).join('/')),
  };
}

/** Administration ➔ Partitions and applications: each partition with its application tree. */
export default function PartitionsPage() {
  const me = useMe();
  const { values, set, page } = useUrlFilters(['search'] as const);
  const partitions = usePartitions();
  const applications = useApplications(holds(me, 'Application.View'));
  const [creating, setCreating] = useState(false);
  const search = values.search.trim().toLowerCase();
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Partitions and applications
        </Title>
        {holdsIn(me, 'Partition.Create', null) && <Button onClick={() => setCreating(true)}>New partition</Button>}
      </Group>
      <Text size="sm" c="dimmed">
        Every object lives in a partition (its business key is PARTITION.NAME) and may belong to an application; applications nest, as Finance/Reporting under Finance.
      </Text>
      <TextInput label="Partition or application contains" value={values.search} onChange={(event) => set('search', event.currentTarget.value)} w={280} />
      <Loaded query={partitions}>
        {(rows) => {
          const apps = applications.data ?? [];
          const shown = rows.filter(
            (partition) => !search || partition.name.toLowerCase().includes(search) || apps.some((app) => app.partition === partition.name && app.name.toLowerCase().includes(search)),
          );
          return (
            <Paged rows={shown} page={page} onPage={(next) => set('page', String(next))}>
              {(pageRows) => (
                <Stack>
                  {pageRows.map((partition) => (
                    <PartitionCard key={partition.id} partition={partition} applications={apps.filter((app) => app.partition === partition.name)} applicationsError={applications.error} />
                  ))}
                </Stack>
              )}
            </Paged>
          );
        }}
      </Loaded>
      <NewPartitionDialog opened={creating} onClose={() => setCreating(false)} />
    </Stack>
  );
}

function PartitionCard({ partition, applications, applicationsError }: { partition: PartitionView; applications: ApplicationView[]; applicationsError: unknown }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [deleting, setDeleting] = useState(false);
  const [adding, setAdding] = useState<{ parent: string | null }>();
  const remove = useMutation({
    mutationFn: async () => unwrap(await api.DELETE('/api/v1/partitions/{name}', { params: { path: { name: partition.name } } })),
    onSuccess: () => {
      setDeleting(false);
      void queryClient.invalidateQueries({ queryKey: ['partitions'] });
      notifyDone(`Deleted partition ${partition.name}.`);
    },
  });
  const mayCreate = holdsIn(me, 'Application.Create', partition.name);
  const roots = applications.filter((app) => app.parent === null).sort((a, b) => a.name.localeCompare(b.name));
  return (
    <Paper withBorder p="md" component="section" aria-labelledby={`partition-${partition.id}`}>
      <Group justify="space-between" align="start">
        <div>
          <Title order={2} size="h4" id={`partition-${partition.id}`}>
            {partition.name}
          </Title>
          {partition.description && <Text size="sm">{partition.description}</Text>}
          <Text size="xs" c="dimmed">
            Created {formatTime(partition.createdAt, me.user.timeZone)} by {partition.createdBy}
          </Text>
        </div>
        <Group gap="xs">
          {mayCreate && (
            <Button size="xs" variant="default" onClick={() => setAdding({ parent: null })} aria-label={`New application in ${partition.name}`}>
              New application
            </Button>
          )}
          {holdsIn(me, 'Partition.Delete', partition.name) && (
            <Button
              size="xs"
              variant="outline"
              color="red.9"
              aria-label={`Delete partition ${partition.name}`}
              onClick={() => {
                remove.reset();
                setDeleting(true);
              }}
            >
              Delete
            </Button>
          )}
        </Group>
      </Group>
      <Title order={3} size="h6" mt="sm">
        Applications
      </Title>
      {applicationsError ? (
        <Text size="sm" c="dimmed">
          You may not view the applications (Application.View).
        </Text>
      ) : roots.length === 0 ? (
        <Text size="sm" c="dimmed">
          No application.
        </Text>
      ) : (
        <ApplicationTree nodes={roots} all={applications} label={`Applications of ${partition.name}`} onAdd={mayCreate ? (parent) => setAdding({ parent }) : undefined} />
      )}
      <ConfirmDialog
        opened={deleting}
        title={`Delete partition ${partition.name}`}
        confirmLabel="Delete"
        danger
        busy={remove.isPending}
        error={remove.error}
        onConfirm={() => remove.mutate()}
        onClose={() => setDeleting(false)}
      >
        Only an empty partition can be deleted: move or delete its objects first.
      </ConfirmDialog>
      <NewApplicationDialog partition={partition.name} parent={adding?.parent ?? null} opened={adding !== undefined} onClose={() => setAdding(undefined)} />
    </Paper>
  );
}

/** One level of the application tree, each node with its children nested under it. */
function ApplicationTree({ nodes, all, label, onAdd, nested = false }: { nodes: ApplicationView[]; all: ApplicationView[]; label: string; onAdd?: (parent: string) => void; nested?: boolean }) {
  // A line down the left of each sub-level shows what nests under what.
  const line = nested ? { borderLeft: '1px solid var(--mantine-color-gray-4)', marginLeft: 6 } : {};
  return (
    <ul aria-label={label} style={{ listStyle: 'none', margin: 0, paddingLeft: 'var(--mantine-spacing-lg)', ...line }}>
      {nodes.map((node) => (
        <ApplicationNode key={node.id} node={node} all={all} onAdd={onAdd} />
      ))}
    </ul>
  );
}

function ApplicationNode({ node, all, onAdd }: { node: ApplicationView; all: ApplicationView[]; onAdd?: (parent: string) => void }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [deleting, setDeleting] = useState(false);
  const children = all.filter((app) => app.parent === node.name).sort((a, b) => a.name.localeCompare(b.name));
  const remove = useMutation({
    mutationFn: async () => unwrap(await api.DELETE('/api/v1/applications/{partition}/{*}', applicationPath(node.partition, node.name))),
    onSuccess: () => {
      setDeleting(false);
      void queryClient.invalidateQueries({ queryKey: ['applications'] });
      notifyDone(`Deleted application ${node.partition}.${node.name}.`);
    },
  });
  return (
    <li style={{ marginTop: 4 }}>
      <Group gap="xs">
        <Text fw={500}>{leafName(node.name)}</Text>
        {node.description && (
          <Text size="sm" c="dimmed">
            {node.description}
          </Text>
        )}
        {onAdd && (
          <Button size="compact-xs" variant="subtle" aria-label={`New application under ${node.name}`} onClick={() => onAdd(node.name)}>
            Add sub-application
          </Button>
        )}
        {holdsIn(me, 'Application.Delete', node.partition) && (
          <Button
            size="compact-xs"
            variant="outline"
            color="red.9"
            aria-label={`Delete application ${node.name}`}
            onClick={() => {
              remove.reset();
              setDeleting(true);
            }}
          >
            Delete
          </Button>
        )}
      </Group>
      {children.length > 0 && <ApplicationTree nodes={children} all={all} label={`Applications under ${node.name}`} onAdd={onAdd} nested />}
      <ConfirmDialog
        opened={deleting}
        title={`Delete application ${node.name}`}
        confirmLabel="Delete"
        danger
        busy={remove.isPending}
        error={remove.error}
        onConfirm={() => remove.mutate()}
        onClose={() => setDeleting(false)}
      >
        {children.length > 0 ? `Delete its sub-applications first (${children.map((child) => leafName(child.name)).join(', ')}).` : 'Objects still in it keep the server from deleting it: it names them.'}
      </ConfirmDialog>
    </li>
  );
}

function NewPartitionDialog({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST('/api/v1/partitions', { body: { name: name.trim(), description } })),
    onSuccess: (partition) => {
      void queryClient.invalidateQueries({ queryKey: ['partitions'] });
      notifyDone(`Created partition ${partition.name}.`);
      close();
    },
  });
  const close = () => {
    setName('');
    setDescription('');
    create.reset();
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title="New partition" closeButtonProps={{ 'aria-label': 'Close' }}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate();
        }}
        noValidate
      >
        <Stack>
          <ServerRefusal error={create.error} title="Not created" fields={['name', 'description']} />
          <TextInput label="Name" description="Upper-case by custom, such as FIN" required value={name} onChange={(event) => setName(event.currentTarget.value)} error={fieldMessageOf(create.error, 'name')} data-autofocus />
          <Textarea label="Description" autosize minRows={2} value={description} onChange={(event) => setDescription(event.currentTarget.value)} error={fieldMessageOf(create.error, 'description')} />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={create.isPending}>
              Create partition
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function NewApplicationDialog({ partition, parent, opened, onClose }: { partition: string; parent: string | null; opened: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const fullName = parent ? `${parent}/${name.trim()}` : name.trim();
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST('/api/v1/applications', { body: { partition, name: fullName, description } })),
    onSuccess: (application) => {
      void queryClient.invalidateQueries({ queryKey: ['applications'] });
      notifyDone(`Created application ${application.partition}.${application.name}.`);
      close();
    },
  });
  const close = () => {
    setName('');
    setDescription('');
    create.reset();
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title={parent ? `New application under ${parent}` : `New application in ${partition}`} closeButtonProps={{ 'aria-label': 'Close' }}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate();
        }}
        noValidate
      >
        <Stack>
          <ServerRefusal error={create.error} title="Not created" fields={['name', 'description', 'partition']} />
          {parent && (
            <Alert color="gray" variant="light">
              Partition {partition}, under {parent}: the new application is {partition}.{fullName || `${parent}/…`}
            </Alert>
          )}
          <TextInput
            label="Name"
            description={parent ? 'Its own name, without the parent' : 'Such as Finance'}
            required
            value={name}
            onChange={(event) => setName(event.currentTarget.value)}
            error={fieldMessageOf(create.error, 'name') ?? fieldMessageOf(create.error, 'partition')}
            data-autofocus
          />
          <Textarea label="Description" autosize minRows={2} value={description} onChange={(event) => setDescription(event.currentTarget.value)} error={fieldMessageOf(create.error, 'description')} />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={create.isPending}>
              Create application
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
