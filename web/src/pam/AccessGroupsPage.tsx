import { Button, Checkbox, Fieldset, Group, Modal, NumberInput, Paper, Select, Stack, Table, Text, Textarea, TextInput, Title, VisuallyHidden } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, fieldMessageOf, unwrap } from '../api/client.ts';
import { usePartitions } from '../admin/admin.queries.ts';
import { ConfirmDialog } from '../admin/ConfirmDialog.tsx';
import { holdsIn } from '../admin/held-privileges.ts';
import { ServerRefusal } from '../admin/ServerRefusal.tsx';
import { holds, useMe } from '../session.tsx';
import { Loaded, notifyDone, PagedTable, useUrlFilters } from '../ui.tsx';
import { UserPicker } from './UserPicker.tsx';

function useAccessGroups() {
  return useQuery({ queryKey: ['access-groups'], queryFn: async () => unwrap(await api.GET('/api/v1/access-groups')) });
}

type AccessGroup = NonNullable<ReturnType<typeof useAccessGroups>['data']>[number];

/** PAM Core ➔ Access groups: who may run a group's changes, and who approves them. */
export default function AccessGroupsPage() {
  const me = useMe();
  const { values, set, page } = useUrlFilters(['text'] as const);
  const groups = useAccessGroups();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState<AccessGroup | 'new'>();
  const [deleting, setDeleting] = useState<AccessGroup>();
  const remove = useMutation({
    mutationFn: async (group: AccessGroup) =>
      unwrap(await api.DELETE('/api/v1/access-groups/{group}', { params: { path: { group: `${group.partition}.${group.name}` }, query: { expectedVersion: group.version } } })),
    onSuccess: (_, group) => {
      setDeleting(undefined);
      void queryClient.invalidateQueries({ queryKey: ['access-groups'] });
      notifyDone(`Deleted access group ${group.name}.`);
    },
  });
  const text = values.text.trim().toLowerCase();
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={1} size="h2">
          Access groups
        </Title>
        {holds(me, 'AccessGroup.Create') && <Button onClick={() => setEditing('new')}>New access group</Button>}
      </Group>
      <Group mb="md" align="end">
        <TextInput label="Name or member contains" value={values.text} onChange={(event) => set('text', event.currentTarget.value)} w={260} />
      </Group>
      <Loaded query={groups}>
        {(rows) => (
          <PagedTable
            rows={rows.filter((group) => !text || [group.name, ...group.executors, ...group.approvers].some((name) => name.toLowerCase().includes(text)))}
            page={page}
            onPage={(next) => set('page', String(next))}
            headers={['Name', 'Executors', 'Approvers', 'Approvals needed', 'Justification', 'Planner may execute', 'Command policy', <VisuallyHidden key="actions">Actions</VisuallyHidden>]}
            rowKey={(group) => group.id}
          >
            {(group) => (
              <>
                <Table.Td fw={500}>{group.name}</Table.Td>
                <Table.Td>{group.executors.join(', ')}</Table.Td>
                <Table.Td>{group.approvers.join(', ')}</Table.Td>
                <Table.Td>
                  {group.approvalsRequired} of {group.approvers.length}
                </Table.Td>
                <Table.Td>{group.requiresJustification ? 'required' : 'optional'}</Table.Td>
                <Table.Td>{group.plannerMayExecute ? 'yes' : 'no'}</Table.Td>
                <Table.Td>{policySummary(group)}</Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    {holdsIn(me, 'AccessGroup.Edit', group.partition) && (
                      <Button size="compact-sm" variant="default" aria-label={`Edit access group ${group.name}`} onClick={() => setEditing(group)}>
                        Edit
                      </Button>
                    )}
                    {holdsIn(me, 'AccessGroup.Delete', group.partition) && (
                      <Button
                        size="compact-sm"
                        variant="outline"
                        color="red.9"
                        aria-label={`Delete access group ${group.name}`}
                        onClick={() => {
                          remove.reset();
                          setDeleting(group);
                        }}
                      >
                        Delete
                      </Button>
                    )}
                  </Group>
                </Table.Td>
              </>
            )}
          </PagedTable>
        )}
      </Loaded>
      {editing !== undefined && <AccessGroupDialog group={editing === 'new' ? undefined : editing} onClose={() => setEditing(undefined)} />}
      <ConfirmDialog
        opened={deleting !== undefined}
        title={`Delete access group ${deleting?.name ?? ''}`}
        confirmLabel="Delete"
        danger
        busy={remove.isPending}
        error={remove.error}
        onConfirm={() => deleting && remove.mutate(deleting)}
        onClose={() => setDeleting(undefined)}
      >
        Only a group no change uses can be deleted.
      </ConfirmDialog>
    </>
  );
}

type Rule = AccessGroup['commandPolicy']['rules'][number];
type DeviationAlerts = AccessGroup['deviationAlerts'];

const RULE_KINDS: Array<{ value: Rule['kind']; label: string }> = [
  { value: 'deny', label: 'Deny' },
  { value: 'review', label: 'Hold for review' },
  { value: 'warn', label: 'Warn' },
];
const SYNTAXES: Array<{ value: Rule['syntax']; label: string }> = [
  { value: 'glob', label: 'Glob' },
  { value: 'regex', label: 'Regular expression' },
];
const ALERTS: Array<{ value: DeviationAlerts; label: string }> = [
  { value: 'off', label: 'Off' },
  { value: 'extra', label: 'Commands not in the script' },
  { value: 'every', label: 'Every deviation: also steps run out of order' },
];

/** `3 rules, strict, alerts on extra commands`, or `none`. */
function policySummary(group: AccessGroup): string {
  const { rules, strict } = group.commandPolicy;
  const parts = [
    ...(rules.length > 0 ? [`${rules.length} rule${rules.length === 1 ? '' : 's'}`] : []),
    ...(strict ? ['strict'] : []),
    ...(group.deviationAlerts === 'off' ? [] : [`alerts on ${group.deviationAlerts === 'extra' ? 'extra commands' : 'every deviation'}`]),
  ];
  return parts.length > 0 ? parts.join(', ') : 'none';
}

interface Draft {
  name: string;
  partition: string;
  description: string;
  executors: string[];
  approvers: string[];
  approvalsRequired: number;
  requiresJustification: boolean;
  plannerMayExecute: boolean;
  rules: Rule[];
  strict: boolean;
  deviationAlerts: DeviationAlerts;
}

function draftOf(group: AccessGroup | undefined): Draft {
  return {
    name: group?.name ?? '',
    partition: group?.partition ?? 'GLOBAL',
    description: group?.description ?? '',
    executors: group?.executors ?? [],
    approvers: group?.approvers ?? [],
    approvalsRequired: group?.approvalsRequired ?? 1,
    requiresJustification: group?.requiresJustification ?? true,
    plannerMayExecute: group?.plannerMayExecute ?? false,
    rules: group?.commandPolicy.rules ?? [],
    strict: group?.commandPolicy.strict ?? false,
    deviationAlerts: group?.deviationAlerts ?? 'off',
  };
}

/** A new access group, or one edited: executors and approvers picked from the users, N of M approvals. */
function AccessGroupDialog({ group, onClose }: { group?: AccessGroup; onClose: () => void }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<Draft>(() => draftOf(group));
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((current) => ({ ...current, [key]: value }));
  const partitions = usePartitions(group === undefined && holds(me, 'Partition.View'));
  const save = useMutation({
    mutationFn: async () => {
      const fields = {
        description: draft.description,
        executors: draft.executors,
        approvers: draft.approvers,
        approvalsRequired: draft.approvalsRequired,
        requiresJustification: draft.requiresJustification,
        plannerMayExecute: draft.plannerMayExecute,
        commandPolicy: { rules: draft.rules, strict: draft.strict },
        deviationAlerts: draft.deviationAlerts,
      };
      if (group) {
        return unwrap(await api.PATCH('/api/v1/access-groups/{group}', { params: { path: { group: `${group.partition}.${group.name}` } }, body: { ...fields, expectedVersion: group.version } }));
      }
      return unwrap(await api.POST('/api/v1/access-groups', { body: { name: draft.name.trim(), partition: draft.partition.trim(), ...fields } }));
    },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: ['access-groups'] });
      notifyDone(`Saved access group ${saved.name}.`);
      onClose();
    },
  });
  const error = save.error;
  const creatableIn = (partitions.data ?? []).map((partition) => partition.name).filter((name) => holdsIn(me, 'AccessGroup.Create', name));
  return (
    <Modal opened onClose={onClose} title={group ? `Edit access group ${group.name}` : 'New access group'} size="xl" closeButtonProps={{ 'aria-label': 'Close' }}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
        noValidate
      >
        <Stack>
          <ServerRefusal error={error} title="Not saved" fields={['name', 'partition', 'description', 'executors', 'approvers', 'approvalsRequired', 'commandPolicy', 'deviationAlerts']} />
          <TextInput label="Name" required readOnly={group !== undefined} value={draft.name} onChange={(event) => set('name', event.currentTarget.value)} error={fieldMessageOf(error, 'name')} data-autofocus />
          {group === undefined &&
            (creatableIn.length > 0 ? (
              <Select label="Partition" required data={creatableIn} value={draft.partition} onChange={(value) => set('partition', value ?? 'GLOBAL')} error={fieldMessageOf(error, 'partition')} />
            ) : (
              <TextInput label="Partition" required value={draft.partition} onChange={(event) => set('partition', event.currentTarget.value)} error={fieldMessageOf(error, 'partition')} />
            ))}
          <Textarea label="Description" autosize minRows={2} value={draft.description} onChange={(event) => set('description', event.currentTarget.value)} error={fieldMessageOf(error, 'description')} />
          <UserPicker label="Executors" description="Who may request and run the group's changes" value={draft.executors} onChange={(executors) => set('executors', executors)} error={fieldMessageOf(error, 'executors')} />
          <UserPicker label="Approvers" description="Who approves their requests; a requester never approves their own" value={draft.approvers} onChange={(approvers) => set('approvers', approvers)} error={fieldMessageOf(error, 'approvers')} />
          <NumberInput
            label="Approvals needed"
            description={`N of the ${draft.approvers.length} approver${draft.approvers.length === 1 ? '' : 's'}: a request is approved once this many approve it`}
            min={1}
            max={Math.max(1, draft.approvers.length)}
            allowDecimal={false}
            value={draft.approvalsRequired}
            onChange={(value) => set('approvalsRequired', typeof value === 'number' ? value : Number(value) || 1)}
            error={fieldMessageOf(error, 'approvalsRequired')}
            w={260}
          />
          <Checkbox label="A justification is required with each request" checked={draft.requiresJustification} onChange={(event) => set('requiresJustification', event.currentTarget.checked)} />
          <Checkbox label="The change's planner may also execute it" checked={draft.plannerMayExecute} onChange={(event) => set('plannerMayExecute', event.currentTarget.checked)} />
          <PolicyFields draft={draft} set={set} error={error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              {group ? 'Save' : 'Create access group'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/**
 * The group's command policy: rules checked at each Enter in its changes' sessions (deny, hold for
 * review, warn; a glob or an RE2 expression), strict mode, and which deviations alert the approvers.
 */
function PolicyFields({ draft, set, error }: { draft: Draft; set: <K extends keyof Draft>(key: K, value: Draft[K]) => void; error: unknown }) {
  const setRule = (index: number, rule: Partial<Rule>) => set('rules', draft.rules.map((current, k) => (k === index ? { ...current, ...rule } : current)));
  return (
    <Fieldset legend="Command policy">
      <Stack gap="sm">
        <Text size="sm" c="dimmed">
          Checked when the executor presses Enter in a session of the group's changes, for every command of the line (after <code>;</code>, <code>&amp;&amp;</code>, pipes, <code>$( )</code>,{' '}
          <code>bash -c</code>…). <b>Deny</b>: the line is cleared and does not run. <b>Hold for review</b>: the session waits until one of the group's approvers allows or refuses the line in My
          approvals. <b>Warn</b>: the line runs, and the decision is kept with the session.
        </Text>
        {draft.rules.map((rule, index) => (
          <Paper key={index} withBorder p="sm" component="section" aria-label={`Rule ${index + 1}`}>
            <Stack gap="xs">
              <Group align="end" gap="xs">
                <Select label="Rule" data={RULE_KINDS} value={rule.kind} allowDeselect={false} onChange={(value) => setRule(index, { kind: (value ?? 'deny') as Rule['kind'] })} w={170} />
                <Select label="Syntax" data={SYNTAXES} value={rule.syntax} allowDeselect={false} onChange={(value) => setRule(index, { syntax: (value ?? 'glob') as Rule['syntax'] })} w={200} />
                <TextInput label="Told to the user as" value={rule.name} onChange={(event) => setRule(index, { name: event.currentTarget.value })} style={{ flex: 1 }} />
                <Button variant="outline" color="red.9" aria-label={`Remove rule ${index + 1}`} onClick={() => set('rules', draft.rules.filter((_, k) => k !== index))}>
                  Remove
                </Button>
              </Group>
              <TextInput
                label="Pattern"
                required
                styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
                value={rule.pattern}
                onChange={(event) => setRule(index, { pattern: event.currentTarget.value })}
                error={fieldMessageOf(error, `commandPolicy/rules/${index}`)}
              />
            </Stack>
          </Paper>
        ))}
        <Group>
          <Button variant="default" size="compact-sm" onClick={() => set('rules', [...draft.rules, { kind: 'deny', syntax: 'glob', pattern: '', name: '' }])}>
            Add a rule
          </Button>
        </Group>
        <Checkbox
          label="Strict: any command that is not the next script step is held for review"
          description="Optional steps on the way count as next. A held command waits for one of the group's approvers, as Hold for review does."
          checked={draft.strict}
          onChange={(event) => set('strict', event.currentTarget.checked)}
        />
        <Select
          label="Deviation alerts"
          description="While a session of the group's changes runs, a notice to the group's approvers (and the change's subscribers) for each burst of commands off the script, linked to the moment it began"
          data={ALERTS}
          value={draft.deviationAlerts}
          allowDeselect={false}
          onChange={(value) => set('deviationAlerts', (value ?? 'off') as DeviationAlerts)}
          error={fieldMessageOf(error, 'deviationAlerts')}
          maw={520}
        />
      </Stack>
    </Fieldset>
  );
}
