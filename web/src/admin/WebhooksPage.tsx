import { Badge, Button, Checkbox, Code, CopyButton, Group, Modal, PasswordInput, Select, Stack, Table, TagsInput, Text, TextInput, Title, VisuallyHidden } from '@mantine/core';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, fieldMessageOf, unwrap } from '../api/client.ts';
import { useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, notifyDone, PagedTable, useUrlFilters } from '../ui.tsx';
import { ConfirmDialog } from './ConfirmDialog.tsx';
import { ServerRefusal } from './ServerRefusal.tsx';

/** How often the delivery log is asked again: the dispatcher works in the background. */
const DELIVERIES_POLL_MS = 3_000;
/** The most recent deliveries the log shows, a page at a time. */
const DELIVERIES_SHOWN = 500;

function useWebhooks() {
  return useQuery({ queryKey: ['webhooks'], queryFn: async () => unwrap(await api.GET('/api/v1/webhooks')) });
}

type Webhook = NonNullable<ReturnType<typeof useWebhooks>['data']>[number];
type DeliveryStatus = 'pending' | 'delivered' | 'failed';
const STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'failed'];
const isStatus = (value: string): value is DeliveryStatus => (STATUSES as readonly string[]).includes(value);

function useDeliveries(webhook: string, status: string) {
  return useQuery({
    queryKey: ['deliveries', webhook, status],
    placeholderData: keepPreviousData,
    refetchInterval: DELIVERIES_POLL_MS,
    queryFn: async () => {
      const query = { limit: DELIVERIES_SHOWN, ...(isStatus(status) && { status }) };
      if (webhook) return unwrap(await api.GET('/api/v1/webhooks/{id}/deliveries', { params: { path: { id: webhook }, query } }));
      return unwrap(await api.GET('/api/v1/deliveries', { params: { query: { ...query, channel: 'webhook' } } }));
    },
  });
}

type Delivery = NonNullable<ReturnType<typeof useDeliveries>['data']>[number];

const DELIVERY_COLORS: Record<DeliveryStatus, string> = { pending: 'yellow.4', delivered: 'teal.9', failed: 'red.9' };

/** Administration ➔ Webhooks: the receivers of Changegate's notices, and the log of their deliveries. */
export default function WebhooksPage() {
  const me = useMe();
  const { values, set, page } = useUrlFilters(['webhook', 'status', 'deliveries'] as const);
  const webhooks = useWebhooks();
  const [editing, setEditing] = useState<Webhook | 'new'>();
  const [secret, setSecret] = useState<{ webhook: string; secret: string }>();
  const [deleting, setDeleting] = useState<Webhook>();
  const [rotating, setRotating] = useState<Webhook>();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['webhooks'] });
  const test = useMutation({
    mutationFn: async (webhook: Webhook) => unwrap(await api.POST('/api/v1/webhooks/{id}/test', { params: { path: { id: webhook.id } } })),
    onSuccess: (delivery) => {
      void queryClient.invalidateQueries({ queryKey: ['deliveries'] });
      notifyDone(`Queued a test notice for ${delivery.webhook?.name ?? 'the webhook'}: see its delivery below.`);
    },
  });
  const remove = useMutation({
    mutationFn: async (webhook: Webhook) => unwrap(await api.DELETE('/api/v1/webhooks/{id}', { params: { path: { id: webhook.id } } })),
    onSuccess: (_, webhook) => {
      setDeleting(undefined);
      if (values.webhook === webhook.id) set('webhook', '');
      void refresh();
      void queryClient.invalidateQueries({ queryKey: ['deliveries'] });
      notifyDone(`Deleted webhook ${webhook.name} and its deliveries.`);
    },
  });
  const rotate = useMutation({
    mutationFn: async (webhook: Webhook) => unwrap(await api.POST('/api/v1/webhooks/{id}/secret', { params: { path: { id: webhook.id } }, body: {} })),
    onSuccess: (answer) => {
      setRotating(undefined);
      void refresh();
      setSecret({ webhook: answer.webhook.name, secret: answer.secret });
    },
  });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Webhooks
        </Title>
        <Button onClick={() => setEditing('new')}>New webhook</Button>
      </Group>
      <Text size="sm" c="dimmed">
        Each notice (a request to approve, a decision…) is POSTed as JSON to the webhooks that take its kind, signed with the webhook’s secret in X-Changegate-Signature.
      </Text>
      <ServerRefusal error={test.error} title="Test not sent" />
      <Loaded query={webhooks}>
        {(rows) => (
          <PagedTable rows={rows} page={page} onPage={(next) => set('page', String(next))} headers={['Name', 'URL', 'Notices', 'State', 'Changed', <VisuallyHidden key="actions">Actions</VisuallyHidden>]} rowKey={(webhook) => webhook.id}>
            {(webhook) => (
              <>
                <Table.Td fw={500}>{webhook.name}</Table.Td>
                <Table.Td style={{ wordBreak: 'break-all' }}>{webhook.url}</Table.Td>
                <Table.Td>{webhook.kinds.length === 0 ? 'all' : webhook.kinds.join(', ')}</Table.Td>
                <Table.Td>
                  <Badge color={webhook.enabled ? 'teal.9' : 'gray.7'} variant="filled">
                    {webhook.enabled ? 'enabled' : 'disabled'}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  {formatTime(webhook.updatedAt, me.user.timeZone)}
                  <Text size="xs" c="dimmed">
                    by {webhook.updatedBy}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <Button size="compact-sm" variant="default" aria-label={`Edit webhook ${webhook.name}`} onClick={() => setEditing(webhook)}>
                      Edit
                    </Button>
                    <Button size="compact-sm" variant="default" aria-label={`Send a test to ${webhook.name}`} loading={test.isPending && test.variables.id === webhook.id} onClick={() => test.mutate(webhook)}>
                      Test
                    </Button>
                    <Button size="compact-sm" variant="default" aria-label={`Deliveries of ${webhook.name}`} onClick={() => set('webhook', webhook.id)}>
                      Deliveries
                    </Button>
                    <Button
                      size="compact-sm"
                      variant="default"
                      aria-label={`New secret for ${webhook.name}`}
                      onClick={() => {
                        rotate.reset();
                        setRotating(webhook);
                      }}
                    >
                      New secret
                    </Button>
                    <Button
                      size="compact-sm"
                      variant="outline"
                      color="red.9"
                      aria-label={`Delete webhook ${webhook.name}`}
                      onClick={() => {
                        remove.reset();
                        setDeleting(webhook);
                      }}
                    >
                      Delete
                    </Button>
                  </Group>
                </Table.Td>
              </>
            )}
          </PagedTable>
        )}
      </Loaded>
      <Deliveries webhooks={webhooks.data ?? []} webhook={values.webhook} status={values.status} page={Math.max(1, Number(values.deliveries) || 1)} set={set} />
      {editing !== undefined && <WebhookDialog webhook={editing === 'new' ? undefined : editing} onClose={() => setEditing(undefined)} onSecret={setSecret} />}
      <SecretOnce shown={secret} onClose={() => setSecret(undefined)} />
      <ConfirmDialog
        opened={deleting !== undefined}
        title={`Delete webhook ${deleting?.name ?? ''}`}
        confirmLabel="Delete"
        danger
        busy={remove.isPending}
        error={remove.error}
        onConfirm={() => deleting && remove.mutate(deleting)}
        onClose={() => setDeleting(undefined)}
      >
        Its deliveries are deleted with it; notices no longer reach {deleting?.url}.
      </ConfirmDialog>
      <ConfirmDialog
        opened={rotating !== undefined}
        title={`New secret for ${rotating?.name ?? ''}`}
        confirmLabel="Replace the secret"
        danger
        busy={rotate.isPending}
        error={rotate.error}
        onConfirm={() => rotating && rotate.mutate(rotating)}
        onClose={() => setRotating(undefined)}
      >
        The receiver must be given the new secret: from now on, signatures made with the old one stop. The new secret is shown once.
      </ConfirmDialog>
    </Stack>
  );
}

/** A webhook's secret, right after it was made: shown this once, never again (the server keeps it sealed). */
function SecretOnce({ shown, onClose }: { shown: { webhook: string; secret: string } | undefined; onClose: () => void }) {
  return (
    <Modal opened={shown !== undefined} onClose={onClose} title={`Secret of webhook ${shown?.webhook ?? ''}`} closeOnClickOutside={false} closeButtonProps={{ 'aria-label': 'Close' }}>
      <Stack>
        <Text size="sm">Give it to the receiver now, to check X-Changegate-Signature (HMAC-SHA256 of the body). It is shown this once: Changegate never shows it again.</Text>
        <Group wrap="nowrap">
          <Code fz="sm" style={{ wordBreak: 'break-all' }}>
            {shown?.secret}
          </Code>
          <CopyButton value={shown?.secret ?? ''}>
            {({ copied, copy }) => (
              <Button size="xs" variant="default" onClick={copy}>
                {copied ? 'Copied' : 'Copy'}
              </Button>
            )}
          </CopyButton>
        </Group>
        <Group justify="flex-end">
          <Button onClick={onClose}>I have stored it</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/** A new webhook, or one edited (its secret is never shown or sent back: "New secret" replaces it). */
function WebhookDialog({ webhook, onClose, onSecret }: { webhook?: Webhook; onClose: () => void; onSecret: (shown: { webhook: string; secret: string }) => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(webhook?.name ?? '');
  const [url, setUrl] = useState(webhook?.url ?? '');
  const [kinds, setKinds] = useState<string[]>(webhook?.kinds ?? []);
  const [enabled, setEnabled] = useState(webhook?.enabled ?? true);
  const [ownSecret, setOwnSecret] = useState('');
  const save = useMutation({
    mutationFn: async () => {
      const fields = { name: name.trim(), url: url.trim(), kinds, enabled };
      if (webhook) return { webhook: unwrap(await api.PATCH('/api/v1/webhooks/{id}', { params: { path: { id: webhook.id } }, body: { ...fields, expectedVersion: webhook.version } })) };
      return unwrap(await api.POST('/api/v1/webhooks', { body: { ...fields, ...(ownSecret && { secret: ownSecret }) } }));
    },
    onSuccess: (answer) => {
      void queryClient.invalidateQueries({ queryKey: ['webhooks'] });
      notifyDone(`Saved webhook ${answer.webhook.name}.`);
      onClose();
      if ('secret' in answer) onSecret({ webhook: answer.webhook.name, secret: answer.secret });
    },
  });
  const error = save.error;
  return (
    <Modal opened onClose={onClose} title={webhook ? `Edit webhook ${webhook.name}` : 'New webhook'} closeButtonProps={{ 'aria-label': 'Close' }}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
        noValidate
      >
        <Stack>
          <ServerRefusal error={error} title="Not saved" fields={['name', 'url', 'kinds', 'secret']} />
          <TextInput label="Name" required value={name} onChange={(event) => setName(event.currentTarget.value)} error={fieldMessageOf(error, 'name')} data-autofocus />
          <TextInput
            label="URL"
            description="http:// or https://, at a public address (or a network the administrator allowed)"
            required
            value={url}
            onChange={(event) => setUrl(event.currentTarget.value)}
            error={fieldMessageOf(error, 'url')}
          />
          <TagsInput
            label="Notice kinds"
            description="Such as request.created; press Enter after each. None: every kind"
            value={kinds}
            onChange={setKinds}
            error={fieldMessageOf(error, 'kinds')}
            clearable
          />
          <Checkbox label="Enabled" checked={enabled} onChange={(event) => setEnabled(event.currentTarget.checked)} />
          {!webhook && (
            <PasswordInput
              label="Your own secret"
              description="16 to 256 characters; leave it empty for a generated one. Either is shown once, after saving"
              autoComplete="off"
              value={ownSecret}
              onChange={(event) => setOwnSecret(event.currentTarget.value)}
              error={fieldMessageOf(error, 'secret')}
            />
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              {webhook ? 'Save' : 'Create webhook'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function Deliveries({
  webhooks,
  webhook,
  status,
  page,
  set,
}: {
  webhooks: readonly Webhook[];
  webhook: string;
  status: string;
  page: number;
  set: (key: 'webhook' | 'status' | 'deliveries', value: string) => void;
}) {
  const me = useMe();
  const queryClient = useQueryClient();
  const deliveries = useDeliveries(webhook, status);
  const retry = useMutation({
    mutationFn: async (delivery: Delivery) => unwrap(await api.POST('/api/v1/deliveries/{id}/retry', { params: { path: { id: delivery.id } } })),
    onSuccess: (delivery) => {
      void queryClient.invalidateQueries({ queryKey: ['deliveries'] });
      notifyDone(`Sending “${delivery.title}” again.`);
    },
  });
  return (
    <Stack component="section" aria-labelledby="deliveries-title">
      <Title order={2} size="h4" id="deliveries-title">
        Deliveries
      </Title>
      <Group align="end">
        <Select
          label="Webhook"
          placeholder="All webhooks"
          clearable
          data={webhooks.map((hook) => ({ value: hook.id, label: hook.name }))}
          value={webhook || null}
          onChange={(value) => set('webhook', value ?? '')}
          w={240}
        />
        <Select label="Delivery status" placeholder="Any" clearable data={[...STATUSES]} value={status || null} onChange={(value) => set('status', value ?? '')} w={180} />
      </Group>
      <ServerRefusal error={retry.error} title="Not retried" />
      <Loaded query={deliveries}>
        {(rows) => (
          <PagedTable
            rows={rows}
            page={page}
            onPage={(next) => set('deliveries', String(next))}
            headers={['Queued', 'Webhook', 'Notice', 'Status', 'Attempts', 'Last attempt', 'Next attempt', <VisuallyHidden key="actions">Actions</VisuallyHidden>]}
            rowKey={(delivery) => delivery.id}
          >
            {(delivery) => (
              <>
                <Table.Td>{formatTime(delivery.createdAt, me.user.timeZone)}</Table.Td>
                <Table.Td>{delivery.webhook?.name ?? '—'}</Table.Td>
                <Table.Td>
                  <Text size="sm">{delivery.title}</Text>
                  <Text size="xs" c="dimmed">
                    {delivery.kind}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Badge color={DELIVERY_COLORS[delivery.status]} variant="filled" autoContrast>
                    {delivery.status}
                  </Badge>
                </Table.Td>
                <Table.Td>{delivery.attempts}</Table.Td>
                <Table.Td>
                  {formatTime(delivery.lastAttemptAt, me.user.timeZone)}
                  {(delivery.lastError || delivery.lastStatusCode !== null) && (
                    <Text size="xs" c={delivery.status === 'delivered' ? 'dimmed' : 'red.9'}>
                      {delivery.lastError ?? `HTTP ${delivery.lastStatusCode}`}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{formatTime(delivery.nextAttemptAt, me.user.timeZone)}</Table.Td>
                <Table.Td>
                  {delivery.status === 'failed' && (
                    <Button
                      size="compact-sm"
                      variant="outline"
                      aria-label={`Retry the delivery of “${delivery.title}”`}
                      loading={retry.isPending && retry.variables.id === delivery.id}
                      onClick={() => retry.mutate(delivery)}
                    >
                      Retry
                    </Button>
                  )}
                </Table.Td>
              </>
            )}
          </PagedTable>
        )}
      </Loaded>
    </Stack>
  );
}
