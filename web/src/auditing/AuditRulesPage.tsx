import { Alert, Badge, Button, Group, Menu, Modal, Stack, Table, Text, Textarea, TextInput, Title, UnstyledButton, VisuallyHidden } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { api, ApiError, unwrap } from '../api/client.ts';
import { holds, useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { notifyDone, PAGE_SIZE, PagedTable } from '../ui.tsx';
import { applicationRuleLabel, AuditRuleEditor, levelLabel, matchLabel } from './AuditRuleEditor.tsx';
import { bundleFileName, downloadJson, RULES_KEY, useAuditRules, type AuditRuleView } from './auditing.queries.ts';
import { FilterMenu } from './FilterMenu.tsx';
import { ImportDialog } from './ImportDialog.tsx';
import { PermalinksDialog } from './PermalinksDialog.tsx';
import { PromoteDialog } from './PromoteDialog.tsx';
import { refusal } from './rule-refusals.ts';

type Dialog = { kind: 'delete' | 'promote' | 'promote-edit' | 'permalinks'; rule: AuditRuleView } | { kind: 'import' } | null;

/**
 * Auditing ➔ Audit Rules: the rules, searched (`q`) and filtered (`filter`) from the address, with
 * the seed's context menu on each. The editor opens over the list at `?rule=<businessKey>` or `?new=1`.
 */
export default function AuditRulesPage() {
  const me = useMe();
  const queryClient = useQueryClient();
  const [search, setSearch] = useSearchParams();
  const q = search.get('q') ?? '';
  const filter = search.get('filter') ?? '';
  const page = Math.max(1, Number(search.get('page')) || 1);
  const ruleKey = search.get('rule') ?? undefined;
  const creating = search.get('new') === '1';
  const tab = search.get('tab') === 'security' ? 'security' : 'rule';
  const rules = useAuditRules({ q, filter });
  const [dialog, setDialog] = useState<Dialog>(null);
  const [actionError, setActionError] = useState<string>();

  const setParams = (changes: Record<string, string | undefined>, replace = true) => {
    const next = new URLSearchParams(search);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    setSearch(next, { replace });
  };
  const openEditor = (rule: AuditRuleView | undefined, editorTab: 'rule' | 'security' = 'rule') =>
    setParams({ rule: rule?.businessKey, new: rule ? undefined : '1', tab: editorTab === 'security' ? 'security' : undefined }, false);
  const closeEditor = () => setParams({ rule: undefined, new: undefined, tab: undefined }, false);

  const act = useMutation({
    mutationFn: async (action: () => Promise<void>) => action(),
    onMutate: () => setActionError(undefined),
    onError: (error) => setActionError(error instanceof ApiError ? error.message : String(error)),
  });
  const setEnabled = (rule: AuditRuleView, enabled: boolean) =>
    act.mutate(async () => {
      const path = { params: { path: { ref: rule.businessKey } }, body: {} };
      unwrap(enabled ? await api.POST('/api/v1/audit/rules/{ref}/enable', path) : await api.POST('/api/v1/audit/rules/{ref}/disable', path));
      await queryClient.invalidateQueries({ queryKey: RULES_KEY });
      notifyDone(`${enabled ? 'Enabled' : 'Disabled'} audit rule ${rule.name}.`);
    });
  const exportRule = (rule: AuditRuleView, related: boolean) =>
    act.mutate(async () => {
      const bundle = unwrap(await api.GET('/api/v1/audit/rules/{ref}/export', { params: { path: { ref: rule.businessKey }, query: { related } } }));
      downloadJson(bundleFileName(rule.businessKey, related), bundle);
      notifyDone(`Exported audit rule ${rule.name}${related ? ' with its related objects' : ''}.`);
    });

  const searchError = rules.error instanceof ApiError && (rules.error.code === 'search_invalid' || rules.error.status === 400) ? rules.error.message : undefined;
  const mayCreate = holds(me, 'AuditingRule.Create');
  const ruleActions = (rule: AuditRuleView) => (
    <RuleMenu
      rule={rule}
      mayCreate={mayCreate}
      onEdit={(editorTab) => openEditor(rule, editorTab)}
      onNew={() => openEditor(undefined)}
      onEnabled={(enabled) => setEnabled(rule, enabled)}
      onExport={(related) => exportRule(rule, related)}
      onDialog={(kind) => setDialog({ kind, rule })}
    />
  );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Audit Rules
        </Title>
        <Group gap="xs">
          <Button variant="default" onClick={() => setDialog({ kind: 'import' })}>
            Import
          </Button>
          {mayCreate && <Button onClick={() => openEditor(undefined)}>New audit rule</Button>}
        </Group>
      </Group>
      <Group align="start" gap="lg">
        <TextInput
          label="Search audit rules"
          description="n:Fin* o:Device l:2 e:yes p:GLOBAL"
          value={q}
          onChange={(event) => setParams({ q: event.currentTarget.value, page: undefined })}
          error={searchError}
          w={360}
        />
        <FilterMenu target="AuditRule" />
      </Group>
      {actionError && (
        <Alert color="red" role="alert" title="Not done" withCloseButton closeButtonLabel="Hide this message" onClose={() => setActionError(undefined)}>
          {actionError}
        </Alert>
      )}
      {rules.error && !searchError && (
        <Alert color="red" role="alert" title="Could not load the audit rules">
          {rules.error instanceof ApiError ? rules.error.message : String(rules.error)}
        </Alert>
      )}
      {rules.data && (
        <PagedTable
          rows={rules.data}
          page={Math.min(page, Math.max(1, Math.ceil(rules.data.length / PAGE_SIZE)))}
          onPage={(next) => setParams({ page: String(next) })}
          headers={['Name', 'Rule object type', 'Level', 'Name pattern', 'Application rule', 'Partition pattern', 'Enabled', 'Last changed', <VisuallyHidden key="actions">Actions</VisuallyHidden>]}
          rowKey={(rule) => rule.id}
        >
          {(rule) => (
            <>
              <Table.Td>
                <UnstyledButton onClick={() => openEditor(rule)} aria-label={`Open audit rule ${rule.businessKey}`}>
                  <Text size="sm" fw={500} c="blue.8" td="underline">
                    {rule.name}
                  </Text>
                </UnstyledButton>
                <Group gap={4}>
                  <Text size="xs" c="gray.7">
                    {rule.partition}
                  </Text>
                  {rule.builtin && (
                    <Badge size="xs" color="blue.8" variant="filled">
                      Built-in
                    </Badge>
                  )}
                </Group>
              </Table.Td>
              <Table.Td>{rule.objectType}</Table.Td>
              <Table.Td>{levelLabel(rule.level)}</Table.Td>
              <Table.Td>
                <Text size="sm" ff="monospace">
                  {rule.namePattern}
                </Text>
                <Text size="xs" c="gray.7">
                  {matchLabel(rule.nameMatch)}
                </Text>
              </Table.Td>
              <Table.Td>
                {applicationRuleLabel(rule.applicationRule)}
                {rule.matchApplication && (
                  <Text size="xs" c="gray.7">
                    {rule.matchApplication}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>
                <Text size="sm" ff="monospace">
                  {rule.partitionPattern}
                </Text>
              </Table.Td>
              <Table.Td>
                <Text size="sm" fw={rule.enabled ? 600 : 400}>
                  {rule.enabled ? 'Enabled' : 'Disabled'}
                </Text>
              </Table.Td>
              <Table.Td>
                <Text size="sm">{formatTime(rule.updatedAt, me.user.timeZone)}</Text>
                <Text size="xs" c="gray.7">
                  {rule.updatedBy}
                </Text>
              </Table.Td>
              <Table.Td>{ruleActions(rule)}</Table.Td>
            </>
          )}
        </PagedTable>
      )}
      {rules.isPending && <Text c="gray.7">Loading audit rules…</Text>}

      {(ruleKey !== undefined || creating) && (
        <AuditRuleEditor ruleKey={ruleKey} tab={tab} onTab={(next) => setParams({ tab: next === 'security' ? 'security' : undefined })} onClose={closeEditor} />
      )}
      {dialog?.kind === 'delete' && <DeleteRuleDialog rule={dialog.rule} onClose={() => setDialog(null)} />}
      {(dialog?.kind === 'promote' || dialog?.kind === 'promote-edit') && <PromoteDialog rule={dialog.rule} editFurther={dialog.kind === 'promote-edit'} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'permalinks' && <PermalinksDialog type="AuditRule" businessKey={dialog.rule.businessKey} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'import' && <ImportDialog onClose={() => setDialog(null)} />}
    </Stack>
  );
}

/**
 * An item the user may not use here: still reachable with the arrow keys (the WAI-ARIA menu
 * pattern keeps disabled items focusable), announced as unavailable, and described by the reason.
 */
function RuleItem({ reason, reasonId, onClick, children, color }: { reason?: string; reasonId: string; onClick: () => void; children: ReactNode; color?: string }) {
  return (
    <Menu.Item
      aria-disabled={reason ? true : undefined}
      aria-describedby={reason ? reasonId : undefined}
      title={reason}
      c={reason ? 'gray.7' : color}
      style={reason ? { cursor: 'not-allowed' } : undefined}
      closeMenuOnClick={!reason}
      onClick={reason ? undefined : onClick}
    >
      {children}
    </Menu.Item>
  );
}

/** The seed's context menu of an audit rule. */
function RuleMenu({
  rule,
  mayCreate,
  onEdit,
  onNew,
  onEnabled,
  onExport,
  onDialog,
}: {
  rule: AuditRuleView;
  mayCreate: boolean;
  onEdit: (tab: 'rule' | 'security') => void;
  onNew: () => void;
  onEnabled: (enabled: boolean) => void;
  onExport: (related: boolean) => void;
  onDialog: (kind: 'delete' | 'promote' | 'promote-edit' | 'permalinks') => void;
}) {
  const me = useMe();
  const reasonId = useId();
  const editRefused = refusal(rule, me, 'edit');
  const deleteRefused = refusal(rule, me, 'delete');
  const reasons = [...new Set([editRefused, deleteRefused].filter((reason): reason is string => reason !== undefined))];
  return (
    <Menu position="bottom-end" withArrow withInitialFocusPlaceholder={false}>
      <Menu.Target>
        <Button variant="default" size="compact-sm" aria-label={`Actions for ${rule.name}`}>
          Actions
        </Button>
      </Menu.Target>
      <Menu.Dropdown aria-label={`Actions for ${rule.name}`}>
        <RuleItem reason={editRefused} reasonId={reasonId} onClick={() => onEdit('rule')}>
          Edit
        </RuleItem>
        <RuleItem reason={editRefused} reasonId={reasonId} onClick={() => onEdit('security')}>
          Edit Security
        </RuleItem>
        <RuleItem reason={editRefused} reasonId={reasonId} onClick={() => onEnabled(!rule.enabled)}>
          {rule.enabled ? 'Disable' : 'Enable'}
        </RuleItem>
        <RuleItem reason={deleteRefused} reasonId={reasonId} color="red.9" onClick={() => onDialog('delete')}>
          Delete
        </RuleItem>
        <Menu.Divider />
        <Menu.Sub>
          <Menu.Sub.Target>
            <Menu.Sub.Item>Export</Menu.Sub.Item>
          </Menu.Sub.Target>
          <Menu.Sub.Dropdown aria-label="Export">
            <Menu.Item onClick={() => onExport(false)}>Export</Menu.Item>
            <Menu.Item onClick={() => onExport(true)}>Export with related objects</Menu.Item>
          </Menu.Sub.Dropdown>
        </Menu.Sub>
        <Menu.Sub>
          <Menu.Sub.Target>
            <Menu.Sub.Item>Promote</Menu.Sub.Item>
          </Menu.Sub.Target>
          <Menu.Sub.Dropdown aria-label="Promote">
            <Menu.Item onClick={() => onDialog('promote')}>Promote to system</Menu.Item>
            <Menu.Item onClick={() => onDialog('promote-edit')}>Edit further then promote</Menu.Item>
          </Menu.Sub.Dropdown>
        </Menu.Sub>
        <Menu.Item onClick={() => onDialog('permalinks')}>Show permalinks</Menu.Item>
        {mayCreate && (
          <>
            <Menu.Divider />
            <Menu.Item onClick={onNew}>New audit rule</Menu.Item>
          </>
        )}
        {reasons.length > 0 && (
          <>
            <Menu.Divider />
            <Menu.Label id={reasonId} c="gray.7" maw={320}>
              {reasons.join(' ')}
            </Menu.Label>
          </>
        )}
      </Menu.Dropdown>
    </Menu>
  );
}

function DeleteRuleDialog({ rule, onClose }: { rule: AuditRuleView; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const remove = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.DELETE('/api/v1/audit/rules/{ref}', {
          params: { path: { ref: rule.businessKey }, query: { expectedVersion: rule.version, ...(reason.trim() && { reason: reason.trim() }) } },
        }),
      ),
    onSuccess: async () => {
      onClose();
      notifyDone(`Deleted audit rule ${rule.name}.`);
      await queryClient.invalidateQueries({ queryKey: RULES_KEY });
    },
  });
  return (
    <Modal opened closeButtonProps={{ 'aria-label': 'Close this dialog' }} onClose={onClose} title={`Delete audit rule ${rule.name}`}>
      <Stack>
        <Text size="sm">From now on, changes the rule matched are no longer audited by it. The deletion itself is audited, and can be undone from the Audit Trail.</Text>
        <Textarea label="Reason" value={reason} onChange={(event) => setReason(event.currentTarget.value)} autosize minRows={2} maxLength={2000} />
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
            Delete audit rule
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
