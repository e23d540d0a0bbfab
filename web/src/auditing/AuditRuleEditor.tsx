import { Alert, Badge, Button, Checkbox, Group, Modal, MultiSelect, Select, Stack, Switch, Tabs, TagsInput, Text, Textarea, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError, fieldMessageOf, unwrap } from '../api/client.ts';
import { holds, useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, notifyDone } from '../ui.tsx';
import { RULES_KEY, useAuditRule, type AuditRuleView, type NewAuditRule, type RuleSecurity } from './auditing.queries.ts';
import { refusal } from './rule-refusals.ts';

type ObjectType = NewAuditRule['objectType'];
type Level = NewAuditRule['level'];
type MatchType = NonNullable<NewAuditRule['nameMatch']>;
type ApplicationRule = NonNullable<NewAuditRule['applicationRule']>;
type SecurityAction = keyof RuleSecurity;

const OBJECT_TYPES: readonly ObjectType[] = ['Partition', 'Application', 'User', 'Device', 'Credential', 'AccessGroup', 'Change', 'AuditRule', 'Filter', 'Webhook'];
const LEVELS: ReadonlyArray<{ value: Level; label: string }> = [
  { value: 'diff_only', label: 'Diff Only' },
  { value: 'full_audit', label: 'Full Audit' },
];
const MATCH_TYPES: ReadonlyArray<{ value: MatchType; label: string }> = [
  { value: 'glob', label: 'GLOB, case-sensitive' },
  { value: 'glob_ignore_case', label: 'GLOB, case-insensitive' },
  { value: 'regex', label: 'Regular expression, case-sensitive' },
  { value: 'regex_ignore_case', label: 'Regular expression, case-insensitive' },
];
const APPLICATION_RULES: ReadonlyArray<{ value: ApplicationRule; label: string }> = [
  { value: 'all_objects', label: 'All Objects' },
  { value: 'any_application', label: 'Any Object In An Application' },
  { value: 'exact_application', label: 'Exact Application' },
  { value: 'no_application', label: 'No Application' },
  { value: 'sub_application', label: 'Sub Application' },
];
const needsApplication = (rule: ApplicationRule) => rule === 'exact_application' || rule === 'sub_application';

export const levelLabel = (level: string) => LEVELS.find((entry) => entry.value === level)?.label ?? level;
export const applicationRuleLabel = (rule: string) => APPLICATION_RULES.find((entry) => entry.value === rule)?.label ?? rule;
export const matchLabel = (match: string) => MATCH_TYPES.find((entry) => entry.value === match)?.label ?? match;

interface Draft {
  name: string;
  partition: string;
  description: string;
  objectType: ObjectType | '';
  level: Level;
  namePattern: string;
  nameMatch: MatchType;
  applicationRule: ApplicationRule;
  matchApplication: string;
  partitionPattern: string;
  partitionMatch: MatchType;
  enabled: boolean;
  security: RuleSecurity;
}

const EMPTY: Draft = {
  name: '',
  partition: '',
  description: '',
  objectType: '',
  level: 'diff_only',
  namePattern: '*',
  nameMatch: 'glob',
  applicationRule: 'all_objects',
  matchApplication: '',
  partitionPattern: '*',
  partitionMatch: 'glob',
  enabled: true,
  security: { view: null, edit: null, delete: null },
};

function draftOf(rule: AuditRuleView): Draft {
  return {
    name: rule.name,
    partition: rule.partition,
    description: rule.description,
    objectType: rule.objectType as ObjectType,
    level: rule.level as Level,
    namePattern: rule.namePattern,
    nameMatch: rule.nameMatch as MatchType,
    applicationRule: rule.applicationRule as ApplicationRule,
    matchApplication: rule.matchApplication ?? '',
    partitionPattern: rule.partitionPattern,
    partitionMatch: rule.partitionMatch as MatchType,
    enabled: rule.enabled,
    security: rule.security,
  };
}

const SECURITY_FIELDS = new Set(['view', 'edit', 'delete', 'security']);
const sameUsers = (a: readonly string[] | null, b: readonly string[] | null) => JSON.stringify(a === null ? null : [...a].sort()) === JSON.stringify(b === null ? null : [...b].sort());

/**
 * The audit rule editor (New audit rule, Edit, Edit Security), as a dialog over the list, addressed
 * by `?rule=<businessKey>` or `?new=1`, and `tab=security` for the Security tab.
 */
export function AuditRuleEditor({ ruleKey, tab, onTab, onClose }: { ruleKey: string | undefined; tab: string; onTab: (tab: string) => void; onClose: (saved?: AuditRuleView) => void }) {
  const rule = useAuditRule(ruleKey);
  return (
    <Modal opened closeButtonProps={{ 'aria-label': 'Close this dialog' }} onClose={() => onClose()} size="xl" title={ruleKey ? `Audit rule ${ruleKey}` : 'New audit rule'}>
      {ruleKey === undefined ? (
        <RuleForm tab={tab} onTab={onTab} onClose={onClose} />
      ) : (
        <Loaded query={rule}>{(loaded) => <RuleForm key={`${loaded.id}:${loaded.version}`} existing={loaded} tab={tab} onTab={onTab} onClose={onClose} />}</Loaded>
      )}
    </Modal>
  );
}

function RuleForm({ existing, tab, onTab, onClose }: { existing?: AuditRuleView; tab: string; onTab: (tab: string) => void; onClose: (saved?: AuditRuleView) => void }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<Draft>(existing ? draftOf(existing) : EMPTY);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((current) => ({ ...current, [key]: value }));
  const readOnlyReason = existing ? refusal(existing, me, 'edit') : holds(me, 'AuditingRule.Create') ? undefined : 'You need the AuditingRule.Create privilege to create audit rules.';
  const editable = readOnlyReason === undefined;

  const save = useMutation({
    mutationFn: async () => {
      const fields = {
        description: draft.description,
        level: draft.level,
        namePattern: draft.namePattern,
        nameMatch: draft.nameMatch,
        applicationRule: draft.applicationRule,
        matchApplication: needsApplication(draft.applicationRule) ? draft.matchApplication.trim() || null : null,
        partitionPattern: draft.partitionPattern,
        partitionMatch: draft.partitionMatch,
        enabled: draft.enabled,
      };
      if (!existing) {
        return unwrap(
          await api.POST('/api/v1/audit/rules', {
            body: { name: draft.name.trim(), ...(draft.partition.trim() && { partition: draft.partition.trim() }), objectType: draft.objectType as ObjectType, ...fields, security: draft.security },
          }),
        );
      }
      const path = { params: { path: { ref: existing.businessKey } } };
      let saved = unwrap(await api.PATCH('/api/v1/audit/rules/{ref}', { ...path, body: { objectType: draft.objectType as ObjectType, ...fields, expectedVersion: existing.version } }));
      const security = (['view', 'edit', 'delete'] as const).filter((action) => !sameUsers(draft.security[action], existing.security[action]));
      if (security.length > 0) saved = unwrap(await api.PATCH('/api/v1/audit/rules/{ref}/security', { ...path, body: Object.fromEntries(security.map((action) => [action, draft.security[action]])) }));
      return saved;
    },
    onSuccess: (saved) => {
      queryClient.setQueryData([...RULES_KEY, 'one', saved.businessKey], saved);
      void queryClient.invalidateQueries({ queryKey: [...RULES_KEY, 'list'] });
      notifyDone(existing ? `Saved audit rule ${saved.name}.` : `Created audit rule ${saved.name}.`);
      onClose(saved);
    },
    onError: (error) => {
      // Open the tab that holds the first field the server named.
      const field = error instanceof ApiError ? error.details?.problems?.[0]?.path.replace(/^\/(body\/)?/, '').split('/')[0] : undefined;
      if (field) onTab(SECURITY_FIELDS.has(field) ? 'security' : 'rule');
    },
  });
  const error = save.error instanceof ApiError ? save.error : undefined;
  const at = (field: string) => fieldMessageOf(error, field);
  const securityAt = (action: SecurityAction) => at(`security/${action}`) ?? at(action);
  const ruleTabError = ['name', 'partition', 'objectType', 'level', 'namePattern', 'nameMatch', 'applicationRule', 'matchApplication', 'partitionPattern', 'partitionMatch'].some((field) => at(field));
  const securityTabError = (['view', 'edit', 'delete'] as const).some((action) => securityAt(action));
  const nameError = at('name') ?? (error?.code === 'already_exists' ? error.message : undefined);
  const application = needsApplication(draft.applicationRule);

  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate();
      }}
      noValidate
    >
      <Stack>
        {existing?.builtin && (
          <Alert color="blue.9" title="Built-in rule">
            {readOnlyReason}
          </Alert>
        )}
        {!existing?.builtin && readOnlyReason && <Text size="sm">Read only: {readOnlyReason}</Text>}
        {existing && (
          <Text size="xs" c="dimmed">
            Version {existing.version}, last changed by {existing.updatedBy} on {formatTime(existing.updatedAt, me.user.timeZone)}
          </Text>
        )}
        {error && (
          <Alert color="red" role="alert" title="Not saved">
            {error.message}
          </Alert>
        )}
        <Tabs value={tab} onChange={(next) => onTab(next ?? 'rule')} keepMounted>
          <Tabs.List>
            <Tabs.Tab value="rule" rightSection={ruleTabError ? <Badge color="red.9" size="xs" aria-label="has errors">!</Badge> : undefined}>
              Audit Rule
            </Tabs.Tab>
            <Tabs.Tab value="security" rightSection={securityTabError ? <Badge color="red.9" size="xs" aria-label="has errors">!</Badge> : undefined}>
              Security
            </Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="rule" pt="md">
            <Stack>
              <Group grow align="start">
                <TextInput label="Name" required description="Letters, digits, “_”, “.” and “-”" value={draft.name} readOnly={existing !== undefined} onChange={(event) => set('name', event.currentTarget.value)} error={nameError} data-autofocus={existing ? undefined : true} />
                <TextInput label="Partition" description="Where the rule lives" placeholder="GLOBAL" value={draft.partition} readOnly={existing !== undefined} onChange={(event) => set('partition', event.currentTarget.value)} error={at('partition')} />
              </Group>
              <Group grow align="start">
                <Select label="Rule Object Type" description="Type of object to audit" required data={[...OBJECT_TYPES]} value={draft.objectType || null} readOnly={!editable} onChange={(value) => set('objectType', (value ?? '') as ObjectType | '')} error={at('objectType')} />
                <Select
                  label="Level"
                  description="Full Audit keeps the whole object, so a change can be undone"
                  required
                  data={[...LEVELS]}
                  value={draft.level}
                  readOnly={!editable}
                  allowDeselect={false}
                  onChange={(value) => value && set('level', value as Level)}
                  error={at('level')}
                />
              </Group>
              <Group grow align="start">
                <TextInput label="Name Pattern" description="Matches the whole name; * matches every name" value={draft.namePattern} readOnly={!editable} onChange={(event) => set('namePattern', event.currentTarget.value)} error={at('namePattern')} />
                <Select label="Name Pattern Match Type" data={[...MATCH_TYPES]} value={draft.nameMatch} readOnly={!editable} allowDeselect={false} onChange={(value) => value && set('nameMatch', value as MatchType)} error={at('nameMatch')} />
              </Group>
              <Group grow align="start">
                <Select
                  label="Application Rule"
                  description="Match objects by their application"
                  data={[...APPLICATION_RULES]}
                  value={draft.applicationRule}
                  readOnly={!editable}
                  allowDeselect={false}
                  onChange={(value) => value && set('applicationRule', value as ApplicationRule)}
                  error={at('applicationRule')}
                />
                <TextInput
                  label="Application to Match"
                  description={application ? 'Mandatory for Exact Application and Sub Application: PARTITION.Path' : 'Only for Exact Application and Sub Application'}
                  withAsterisk={application}
                  aria-required={application}
                  disabled={!application}
                  value={application ? draft.matchApplication : ''}
                  readOnly={!editable}
                  onChange={(event) => set('matchApplication', event.currentTarget.value)}
                  error={at('matchApplication')}
                />
              </Group>
              <Group grow align="start">
                <TextInput label="Partition Pattern" description="Matches the partition's whole name" value={draft.partitionPattern} readOnly={!editable} onChange={(event) => set('partitionPattern', event.currentTarget.value)} error={at('partitionPattern')} />
                <Select label="Partition Pattern Match Type" data={[...MATCH_TYPES]} value={draft.partitionMatch} readOnly={!editable} allowDeselect={false} onChange={(value) => value && set('partitionMatch', value as MatchType)} error={at('partitionMatch')} />
              </Group>
              <Textarea label="Description" value={draft.description} readOnly={!editable} onChange={(event) => set('description', event.currentTarget.value)} autosize minRows={2} maxLength={2000} />
              <Switch label="Enabled" description="A disabled rule audits nothing" checked={draft.enabled} disabled={!editable} onChange={(event) => set('enabled', event.currentTarget.checked)} />
            </Stack>
          </Tabs.Panel>
          <Tabs.Panel value="security" pt="md">
            <SecurityFields security={draft.security} readOnly={!editable} onChange={(security) => set('security', security)} errorOf={securityAt} />
          </Tabs.Panel>
        </Tabs>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => onClose()}>
            {editable ? 'Cancel' : 'Close'}
          </Button>
          {editable && (
            <Button type="submit" loading={save.isPending}>
              Save &amp; Close
            </Button>
          )}
        </Group>
      </Stack>
    </form>
  );
}

const ACTIONS: ReadonlyArray<{ action: SecurityAction; verb: string; privilege: string }> = [
  { action: 'view', verb: 'view', privilege: 'AuditingRule.View' },
  { action: 'edit', verb: 'edit', privilege: 'AuditingRule.Edit' },
  { action: 'delete', verb: 'delete', privilege: 'AuditingRule.Delete' },
];

/** The Security tab: for each of view, edit and delete, everyone holding the privilege, or only the users listed. */
function SecurityFields({ security, readOnly, onChange, errorOf }: { security: RuleSecurity; readOnly: boolean; onChange: (security: RuleSecurity) => void; errorOf: (action: SecurityAction) => string | undefined }) {
  const me = useMe();
  // Only a user administrator may list users; others type the usernames.
  const mayList = me.grants.some((grant) => grant.privilege === 'User.Admin' && grant.partition === null);
  const users = useQuery({ queryKey: ['users'], queryFn: async () => unwrap(await api.GET('/api/v1/users')), enabled: mayList });
  const usernames = [...new Set([...(users.data ?? []).map((user) => user.username), ...Object.values(security).flatMap((list) => list ?? [])])].sort();
  return (
    <Stack>
      <Text size="sm">Who may view, edit and delete this rule, on top of the AuditingRule privileges. Keep yourself among those who may edit it.</Text>
      {ACTIONS.map(({ action, verb, privilege }) => {
        const list = security[action];
        const set = (next: string[] | null) => onChange({ ...security, [action]: next });
        const label = `Users who may ${verb}`;
        return (
          <Stack key={action} gap={6}>
            <Checkbox
              label={`Only listed users may ${verb} the rule`}
              description={list === null ? `Now: everyone holding ${privilege}` : undefined}
              checked={list !== null}
              disabled={readOnly}
              onChange={(event) => set(event.currentTarget.checked ? [me.user.username] : null)}
            />
            {list !== null &&
              (mayList ? (
                <MultiSelect label={label} data={usernames} value={list} searchable readOnly={readOnly} onChange={set} error={errorOf(action)} />
              ) : (
                <TagsInput label={label} description="Type a username, then Enter" value={list} readOnly={readOnly} onChange={set} error={errorOf(action)} />
              ))}
            {list === null && errorOf(action) && (
              <Text c="red.9" size="sm" role="alert">
                {errorOf(action)}
              </Text>
            )}
          </Stack>
        );
      })}
    </Stack>
  );
}
