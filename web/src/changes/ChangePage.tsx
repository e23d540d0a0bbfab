import { ActionIcon, Alert, Badge, Button, Checkbox, Group, Modal, ScrollArea, Select, Stack, Tabs, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { api, ApiError, unwrap } from '../api/client.ts';
import { holds, useMe } from '../session.tsx';
import { EvidenceDownload } from '../evidence/EvidenceDownload.tsx';
import { formatTime, fromWallTime, toWallTime } from '../time.ts';
import { Loaded, StatusBadge, notifyDone } from '../ui.tsx';
import { DeviationAlertSwitch } from './DeviationAlertSwitch.tsx';
import { ScriptEditor } from './ScriptEditor.tsx';
import { WallTimePicker } from './WallTimePicker.tsx';

interface Draft {
  name: string;
  title: string;
  description: string;
  startAt: string;
  dueAt: string;
  accessGroup: string;
  devices: string[];
  script: string;
}

const EMPTY: Draft = { name: '', title: '', description: '', startAt: '', dueAt: '', accessGroup: '', devices: [], script: '' };

/** Which tab holds the field an API error names. */
const TAB_OF: Record<string, string> = { devices: 'devices', script: 'script' };

/** A change: registered (`/changes/new`, Change Audit ➔ Change ▸ New) or edited (`/changes/CHG-1`). */
export default function ChangePage() {
  const name = useParams().name;
  const change = useQuery({
    queryKey: ['change', name],
    queryFn: () => loadChange(name as string),
    enabled: name !== undefined,
  });
  if (name === undefined) return <ChangeForm />;
  return <Loaded query={change}>{(loaded) => <ChangeForm existing={loaded} />}</Loaded>;
}

type ChangeView = NonNullable<Awaited<ReturnType<typeof loadChange>>>;
async function loadChange(name: string) {
  return unwrap(await api.GET('/api/v1/changes/{change}', { params: { path: { change: name } } }));
}

function ChangeForm({ existing }: { existing?: ChangeView }) {
  const me = useMe();
  const zone = me.user.timeZone;
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [tab, setTab] = useState<string | null>('details');
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [picking, picker] = useDisclosure(false);
  const [cancelling, cancelDialog] = useDisclosure(false);
  const [cancelReason, setCancelReason] = useState('');
  useEffect(() => {
    if (existing) {
      setDraft({
        name: existing.name,
        title: existing.title,
        description: existing.description,
        startAt: toWallTime(existing.startAt, zone),
        dueAt: toWallTime(existing.dueAt, zone),
        accessGroup: existing.accessGroup,
        devices: existing.devices,
        script: existing.script,
      });
    }
  }, [existing, zone]);
  const groups = useQuery({ queryKey: ['access-groups'], queryFn: async () => unwrap(await api.GET('/api/v1/access-groups')) });
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((current) => ({ ...current, [key]: value }));
  const editable = existing ? existing.status !== 'cancelled' && existing.status !== 'closed' && holds(me, 'Change.Edit') : holds(me, 'Change.Create');

  const save = useMutation({
    mutationFn: async () => {
      const fields = {
        title: draft.title,
        description: draft.description,
        startAt: fromWallTime(draft.startAt, zone) ?? '',
        dueAt: fromWallTime(draft.dueAt, zone) ?? '',
        accessGroup: draft.accessGroup,
        devices: draft.devices,
        ...(!existing?.scriptFrozen && { script: draft.script }),
      };
      if (existing) return unwrap(await api.PATCH('/api/v1/changes/{change}', { params: { path: { change: existing.name } }, body: { ...fields, expectedVersion: existing.version } }));
      return unwrap(await api.POST('/api/v1/changes', { body: { name: draft.name.trim(), ...fields, script: draft.script } }));
    },
    onSuccess: (saved) => {
      queryClient.setQueryData(['change', saved.name], saved);
      void queryClient.invalidateQueries({ queryKey: ['changes'] });
      notifyDone(`Saved change ${saved.name}.`);
      navigate(`/changes/${encodeURIComponent(saved.name)}`, { replace: true });
    },
    onError: (error) => {
      // Open the tab that holds the first field the API named.
      const field = error instanceof ApiError ? error.details?.problems?.[0]?.path.replace(/^\/(body\/)?/, '').split('/')[0] : undefined;
      if (field) setTab(TAB_OF[field] ?? 'details');
    },
  });
  const cancel = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST('/api/v1/changes/{change}/cancel', { params: { path: { change: existing?.name as string } }, body: { ...(cancelReason.trim() && { reason: cancelReason.trim() }) } })),
    onSuccess: (saved) => {
      cancelDialog.close();
      queryClient.setQueryData(['change', saved.name], saved);
      void queryClient.invalidateQueries({ queryKey: ['changes'] });
      notifyDone(`Cancelled change ${saved.name}: its open requests are closed.`);
    },
  });
  const error = save.error instanceof ApiError ? save.error : undefined;
  const fieldError = (field: string) => error?.fieldMessage(field);
  const deviceError = fieldError('devices');
  const scriptError = error?.code === 'script_invalid' || error?.code === 'script_frozen' ? error.message : undefined;
  const frozenReason = existing?.scriptFrozen
    ? `Frozen since ${formatTime(existing.scriptFrozenAt, zone)}, when the change's first session started: the audit compares every session with this script. Register a new change for a different script.`
    : undefined;

  return (
    <Stack maw={900}>
      <Group>
        <Title order={1} size="h2">
          {existing ? `Change ${existing.name}` : 'New change'}
        </Title>
        {existing && <StatusBadge status={existing.status} />}
      </Group>
      {existing && existing.status !== 'cancelled' && existing.status !== 'closed' && <DeviationAlertSwitch change={existing.name} />}
      {existing?.status === 'cancelled' && (
        <Alert color="red" title="Cancelled">
          By {existing.cancelledBy} on {formatTime(existing.cancelledAt, zone)}
          {existing.cancelReason ? `: ${existing.cancelReason}` : '.'}
        </Alert>
      )}
      {error && !scriptError && (
        <Alert color="red" role="alert" title="Not saved">
          {/* Messages the server put at fields this page shows are read there; here, only that there are some. */}
          {error.namesOnly(FIELDS_WITH_MESSAGES) ? 'Correct the fields marked below, then save again.' : error.message}
        </Alert>
      )}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
        noValidate
      >
        <Tabs value={tab} onChange={setTab} keepMounted>
          <Tabs.List>
            <Tabs.Tab value="details">Details</Tabs.Tab>
            <Tabs.Tab value="devices" rightSection={deviceError ? <Badge color="red.9" size="xs">!</Badge> : <Badge color="gray.7" size="xs">{draft.devices.length}</Badge>}>
              Devices
            </Tabs.Tab>
            <Tabs.Tab value="script" rightSection={scriptError ? <Badge color="red.9" size="xs">!</Badge> : undefined}>
              Script
            </Tabs.Tab>
          </Tabs.List>

          <Tabs.Panel value="details" pt="md">
            <Stack>
              <TextInput label="ID" description="Letters, digits, “.”, “_” and “-”, such as CHG-2026-042" required value={draft.name} readOnly={existing !== undefined} onChange={(event) => set('name', event.currentTarget.value)} error={fieldError('name')} />
              <TextInput label="Title" required value={draft.title} readOnly={!editable} onChange={(event) => set('title', event.currentTarget.value)} error={fieldError('title')} />
              <Textarea label="Description" value={draft.description} readOnly={!editable} onChange={(event) => set('description', event.currentTarget.value)} autosize minRows={2} />
              <Group grow>
                <WallTimePicker label="Start time" timeZone={zone} value={draft.startAt} readOnly={!editable} onChange={(wall) => set('startAt', wall)} error={fieldError('startAt')} />
                <WallTimePicker label="Due date" timeZone={zone} value={draft.dueAt} readOnly={!editable} onChange={(wall) => set('dueAt', wall)} error={fieldError('dueAt')} />
              </Group>
              <Select
                label="Access group"
                description="Who may run the change, and who approves it"
                required
                searchable
                data={(groups.data ?? []).map((group) => group.name)}
                value={draft.accessGroup || null}
                readOnly={!editable}
                onChange={(value) => set('accessGroup', value ?? '')}
                error={fieldError('accessGroup')}
              />
            </Stack>
          </Tabs.Panel>

          <Tabs.Panel value="devices" pt="md">
            <Stack>
              <Group justify="space-between">
                <Text size="sm">The devices the change will change: it cannot be registered without them.</Text>
                {editable && (
                  <ActionIcon variant="filled" size="lg" aria-label="Add devices" title="Add devices" onClick={picker.open}>
                    <span aria-hidden="true" style={{ fontSize: 22, lineHeight: 1 }}>
                      +
                    </span>
                  </ActionIcon>
                )}
              </Group>
              {deviceError && (
                <Text c="red.9" size="sm" role="alert">
                  {deviceError}
                </Text>
              )}
              {draft.devices.length === 0 ? (
                <Text c="dimmed">No device yet.</Text>
              ) : (
                <Stack gap={4}>
                  {draft.devices.map((device) => (
                    <Group key={device} justify="space-between" maw={420}>
                      <Text>{device}</Text>
                      {editable && (
                        <Button variant="outline" color="red.9" size="compact-sm" aria-label={`Remove ${device}`} onClick={() => set('devices', draft.devices.filter((name) => name !== device))}>
                          Remove
                        </Button>
                      )}
                    </Group>
                  ))}
                </Stack>
              )}
            </Stack>
          </Tabs.Panel>

          <Tabs.Panel value="script" pt="md">
            <ScriptEditor value={draft.script} onChange={(script) => set('script', script)} frozenReason={frozenReason ?? (editable ? undefined : 'Read only.')} error={scriptError} />
          </Tabs.Panel>
        </Tabs>
        <Group mt="lg">
          {editable && (
            <Button type="submit" loading={save.isPending}>
              Save
            </Button>
          )}
          <Button variant="default" onClick={() => navigate('/changes')}>
            Back to Changes
          </Button>
          {existing && editable && existing.status !== 'cancelled' && (
            <Button variant="outline" color="red.9" onClick={cancelDialog.open}>
              Cancel the change
            </Button>
          )}
        </Group>
      </form>
      {/* The bundle holds what was typed and printed, and log entries: Session.View and EventLog.View. */}
      {existing && holds(me, 'Session.View') && holds(me, 'EventLog.View') && <EvidenceDownload change={existing.name} />}
      <DevicePicker opened={picking} onClose={picker.close} chosen={draft.devices} onAdd={(names) => set('devices', [...new Set([...draft.devices, ...names])])} />
      <Modal opened={cancelling} onClose={cancelDialog.close} title={`Cancel change ${existing?.name ?? ''}`}>
        <Stack>
          <Text size="sm">Its open requests are closed, and no session of it can start. This cannot be undone.</Text>
          <Textarea label="Reason" value={cancelReason} onChange={(event) => setCancelReason(event.currentTarget.value)} autosize minRows={2} maxLength={2000} />
          {cancel.error instanceof ApiError && (
            <Text c="red.9" size="sm" role="alert">
              {cancel.error.message}
            </Text>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={cancelDialog.close}>
              Keep it
            </Button>
            <Button color="red.9" loading={cancel.isPending} onClick={() => cancel.mutate()}>
              Cancel the change
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

/** The seed's device picker: search, tick the devices, then Add. */
function DevicePicker({ opened, onClose, chosen, onAdd }: { opened: boolean; onClose: () => void; chosen: readonly string[]; onAdd: (names: string[]) => void }) {
  const [search, setSearch] = useState('');
  const [ticked, setTicked] = useState<string[]>([]);
  const devices = useQuery({ queryKey: ['devices'], queryFn: async () => unwrap(await api.GET('/api/v1/devices')), enabled: opened });
  const needle = search.trim().toLowerCase();
  const shown = (devices.data ?? []).filter((device) => !chosen.includes(device.name) && (!needle || device.name.toLowerCase().includes(needle) || device.hostname.toLowerCase().includes(needle)));
  const close = () => {
    setTicked([]);
    setSearch('');
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title="Add devices">
      <Stack>
        <TextInput label="Search devices" placeholder="Name or host" value={search} onChange={(event) => setSearch(event.currentTarget.value)} data-autofocus />
        <ScrollArea.Autosize mah={300}>
          <Loaded query={devices}>
            {() => (
              <Stack gap="xs">
                {shown.length === 0 && <Text c="dimmed">No other device matches.</Text>}
                {shown.map((device) => (
                  <Checkbox
                    key={device.name}
                    label={`${device.name} (${device.hostname})`}
                    checked={ticked.includes(device.name)}
                    onChange={(event) => setTicked(event.currentTarget.checked ? [...ticked, device.name] : ticked.filter((name) => name !== device.name))}
                  />
                ))}
              </Stack>
            )}
          </Loaded>
        </ScrollArea.Autosize>
        <Group justify="flex-end">
          <Button variant="default" onClick={close}>
            Close
          </Button>
          <Button
            disabled={ticked.length === 0}
            onClick={() => {
              onAdd(ticked);
              close();
            }}
          >
            Add
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/** The fields of the editor that show the server's message for them. */
const FIELDS_WITH_MESSAGES = ['name', 'title', 'startAt', 'dueAt', 'accessGroup', 'devices'];
