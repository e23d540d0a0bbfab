import { Alert, Button, Checkbox, Group, Modal, PasswordInput, Select, Stack, Text } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError, fieldMessageOf, unwrap } from '../api/client.ts';
import { Loaded, notifyDone } from '../ui.tsx';
import { usePromoteTargets, type AuditRuleView, type Bundle } from './auditing.queries.ts';
import { ImportReportView } from './ImportReport.tsx';

/**
 * Promote ▸ Promote to system, and Promote ▸ Edit further then promote: the rule (with its related
 * objects) exported here and imported on another configured Changegate, with a token of that
 * instance. Editing further lets the user take objects out of the bundle first.
 */
export function PromoteDialog({ rule, editFurther, onClose }: { rule: AuditRuleView; editFurther: boolean; onClose: () => void }) {
  const targets = usePromoteTargets(true);
  const [target, setTarget] = useState<string | null>(null);
  const [token, setToken] = useState('');
  const [related, setRelated] = useState(true);
  // Edit further: the bundle with its related objects, and which of its objects go.
  const bundle = useQuery({
    queryKey: ['audit-rule-bundle', rule.businessKey],
    queryFn: async () => unwrap(await api.GET('/api/v1/audit/rules/{ref}/export', { params: { path: { ref: rule.businessKey }, query: { related: true } } })),
    enabled: editFurther,
    staleTime: Infinity,
  });
  const [leftOut, setLeftOut] = useState<ReadonlySet<string>>(new Set());
  const keyOf = (object: Bundle['objects'][number]) => `${object.type}:${object.businessKey}`;

  const promote = useMutation({
    mutationFn: async (dryRun: boolean) => {
      const body = { target: target ?? '', token, dryRun };
      if (!editFurther) return unwrap(await api.POST('/api/v1/audit/rules/{ref}/promote', { params: { path: { ref: rule.businessKey } }, body: { ...body, related } }));
      const edited: Bundle = { ...(bundle.data as Bundle), objects: (bundle.data?.objects ?? []).filter((object) => !leftOut.has(keyOf(object))) };
      return unwrap(await api.POST('/api/v1/audit/promote', { body: { ...body, bundle: edited } }));
    },
    onSuccess: (result) => {
      if (!result.report.dryRun) notifyDone(`Promoted audit rule ${rule.name} to ${result.target}.`);
    },
  });
  const error = promote.error instanceof ApiError ? promote.error : undefined;
  const noTargets = targets.data?.length === 0;
  const kept = (bundle.data?.objects.length ?? 0) - leftOut.size;
  const ready = target !== null && token.trim() !== '' && (!editFurther || (bundle.data !== undefined && kept > 0));

  return (
    <Modal opened closeButtonProps={{ 'aria-label': 'Close this dialog' }} onClose={onClose} size="lg" title={editFurther ? `Edit further then promote ${rule.name}` : `Promote ${rule.name} to system`}>
      <Stack>
        {noTargets && (
          <Alert color="orange.9" role="alert" title="No system to promote to">
            No promotion target is configured here: an administrator lists them in CHANGEGATE_PROMOTE_TARGETS.
          </Alert>
        )}
        <Select
          label="Target system"
          placeholder={noTargets ? 'None configured' : 'Choose one'}
          data={(targets.data ?? []).map((entry) => ({ value: entry.name, label: `${entry.name} (${entry.url})` }))}
          value={target}
          onChange={setTarget}
          disabled={noTargets}
          error={fieldMessageOf(error, 'target') ?? (targets.error instanceof ApiError ? targets.error.message : undefined)}
          data-autofocus
        />
        <PasswordInput
          label="API token on the target system"
          description="A token of your user there; sent to that system only, never stored"
          value={token}
          onChange={(event) => setToken(event.currentTarget.value)}
          autoComplete="off"
          error={fieldMessageOf(error, 'token')}
        />
        {editFurther ? (
          <Loaded query={bundle}>
            {(loaded) => (
              <Checkbox.Group
                label="Objects to promote"
                description="Untick what the target system has already, or should not get"
                value={loaded.objects.map(keyOf).filter((key) => !leftOut.has(key))}
                onChange={(keep) => setLeftOut(new Set(loaded.objects.map(keyOf).filter((key) => !keep.includes(key))))}
                error={kept === 0 ? 'Keep at least one object.' : undefined}
              >
                <Stack gap={6} mt="xs">
                  {loaded.objects.map((object) => (
                    <Checkbox key={keyOf(object)} value={keyOf(object)} label={`${object.type} ${object.businessKey}`} />
                  ))}
                </Stack>
              </Checkbox.Group>
            )}
          </Loaded>
        ) : (
          <Checkbox label="With related objects (its partition and applications)" checked={related} onChange={(event) => setRelated(event.currentTarget.checked)} />
        )}
        {error && (
          <Alert color="red" role="alert" title="Not promoted">
            {error.message}
          </Alert>
        )}
        {promote.data && <ImportReportView report={promote.data.report} where={`${promote.data.target} (${promote.data.url})`} />}
        {!promote.data && (
          <Text size="sm" c="dimmed">
            Try a dry run first: the target system reports what it would do, writing nothing.
          </Text>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Close
          </Button>
          <Button variant="outline" disabled={!ready} loading={promote.isPending && promote.variables} onClick={() => promote.mutate(true)}>
            Dry run
          </Button>
          <Button disabled={!ready} loading={promote.isPending && !promote.variables} onClick={() => promote.mutate(false)}>
            Promote
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
