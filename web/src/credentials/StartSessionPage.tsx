import { Alert, Anchor, Badge, Button, Card, Group, Loader, Radio, Stack, Text, Textarea, Title } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Link, useLocation, useSearchParams } from 'react-router';
import { api, ApiError, unwrap } from '../api/client.ts';
import { useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, StatusBadge } from '../ui.tsx';
import { XtermView, type TerminalHandle } from '../terminal/XtermView.tsx';
import { useSessionTargets } from './CredentialsPage.tsx';

type Target = NonNullable<ReturnType<typeof useSessionTargets>['data']>[number];
type Request = Awaited<ReturnType<typeof fetchRequest>>;

async function fetchRequest(number: number) {
  return unwrap(await api.GET('/api/v1/requests/{number}', { params: { path: { number } } }));
}

/** How often a waiting page asks whether the request was decided. */
const DECISION_POLL_MS = 2_000;

/**
 * Start session: the device account chosen in Credentials ➔ All (or asked here when several
 * changes or accounts fit), the request with its justification, the wait for the approvers, and
 * the brokered terminal, which connects by itself once the request is approved.
 */
export default function StartSessionPage() {
  const [search, setSearch] = useSearchParams();
  const device = search.get('device') ?? '';
  const targets = useSessionTargets();
  const choose = (key: 'change' | 'account', value: string) => {
    const next = new URLSearchParams(search);
    next.set(key, value);
    setSearch(next, { replace: true });
  };
  return (
    <>
      <Title order={1} size="h2" mb="md">
        Start session on {device || '…'}
      </Title>
      <Loaded query={targets}>
        {(all) => {
          const fitting = all.filter((row) => row.device === device && row.changeStatus === 'open');
          if (fitting.length === 0) {
            return (
              <Alert color="red.9" variant="outline" role="alert" title="No session can be started here">
                No open change names you as an executor of device {device || '(none given)'}. <Anchor component={Link} to="/credentials">Back to Credentials ➔ All</Anchor>
              </Alert>
            );
          }
          const changes = [...new Set(fitting.map((row) => row.change))];
          const change = search.get('change') ?? (changes.length === 1 ? changes[0] : undefined);
          if (!change || !changes.includes(change)) {
            return (
              <Choice label={`Several open changes include ${device}: which one is this session for?`} options={changes.map((name) => ({ value: name, label: `${name}: ${fitting.find((row) => row.change === name)?.changeTitle ?? ''}` }))} onChoose={(value) => choose('change', value)} />
            );
          }
          const accounts = fitting.filter((row) => row.change === change).map((row) => row.account);
          const account = search.get('account') ?? (accounts.length === 1 ? accounts[0] : undefined);
          if (!account || !accounts.includes(account)) {
            return <Choice label={`Device ${device} has several accounts: which one?`} options={accounts.map((name) => ({ value: name, label: name }))} onChoose={(value) => choose('account', value)} />;
          }
          const target = fitting.find((row) => row.change === change && row.account === account) as Target;
          return <Session key={target.target} target={target} />;
        }}
      </Loaded>
    </>
  );
}

function Choice({ label, options, onChoose }: { label: string; options: ReadonlyArray<{ value: string; label: string }>; onChoose: (value: string) => void }) {
  const [value, setValue] = useState<string | null>(null);
  return (
    <Card withBorder maw={640}>
      <Radio.Group label={label} value={value} onChange={setValue}>
        <Stack mt="xs" gap="xs">
          {options.map((option) => (
            <Radio key={option.value} value={option.value} label={option.label} />
          ))}
        </Stack>
      </Radio.Group>
      <Group mt="md">
        <Button disabled={!value} onClick={() => value && onChoose(value)}>
          Continue
        </Button>
      </Group>
    </Card>
  );
}

/** The request for this device account, then its terminal. */
function Session({ target }: { target: Target }) {
  const me = useMe();
  // Clicked Start session (not a bookmark): an approved request connects, and a group that needs no justification is asked at once, as the seed says.
  const startNow = (useLocation().state as { start?: boolean } | null)?.start === true;
  const [justification, setJustification] = useState('');
  const usable = target.request && ['pending', 'approved'].includes(target.request.status) ? target.request : undefined;
  // The latest request shows, whatever its state: a denial with its comment, then Ask again.
  const [number, setNumber] = useState<number | undefined>(target.request?.number);
  const [connect, setConnect] = useState(startNow && usable?.status === 'approved');
  const ask = useMutation({
    mutationFn: async (again: boolean) =>
      unwrap(
        await api.POST('/api/v1/requests', {
          body: { device: `${target.partition}.${target.device}`, change: target.change, ...(justification.trim() && { justification: justification.trim() }), ...(again && { again }) },
        }),
      ),
    onSuccess: (outcome) => {
      setNumber(outcome.request.number);
      // Asked for on purpose: an approved request connects at once.
      setConnect(outcome.request.status === 'approved');
    },
  });
  const askedAtOnce = useRef(false);
  useEffect(() => {
    if (!startNow || usable || target.justificationRequired || askedAtOnce.current) return;
    askedAtOnce.current = true;
    ask.mutate(false);
  }, [startNow, usable, target.justificationRequired, ask]);
  const request = useQuery({
    queryKey: ['requests', number],
    queryFn: () => fetchRequest(number as number),
    enabled: number !== undefined,
    refetchInterval: (query) => (query.state.data?.status === 'pending' ? DECISION_POLL_MS : false),
  });
  const current: Request | undefined = request.data ?? ask.data?.request;
  const waitedFor = useRef(false);
  useEffect(() => {
    if (current?.status === 'pending') waitedFor.current = true;
    // The page waited for this approval: it connects by itself, as promised.
    if (current?.status === 'approved' && waitedFor.current) setConnect(true);
  }, [current?.status]);

  if (connect && current?.status === 'approved') return <TerminalSession target={target} request={current} />;

  const error = ask.error instanceof ApiError ? ask.error : undefined;
  const justificationError = error?.code === 'justification_required' ? error.message : error?.fieldMessage('justification');
  const needsAsking = !current || !['pending', 'approved'].includes(current.status);
  return (
    <Card withBorder maw={720}>
      <Stack gap="sm">
        <Summary target={target} timeZone={me.user.timeZone} />
        {current && <RequestState request={current} />}
        {needsAsking && (
          <form
            onSubmit={(event) => {
              event.preventDefault();
              ask.mutate(current !== undefined);
            }}
          >
            <Stack gap="sm">
              <Textarea
                label="Justification"
                description={target.justificationRequired ? 'The access group asks why you need this session; the approvers read it.' : 'Optional: why you need this session.'}
                withAsterisk={target.justificationRequired}
                autosize
                minRows={2}
                maxLength={2000}
                value={justification}
                onChange={(event) => setJustification(event.currentTarget.value)}
                error={justificationError}
              />
              {error && !justificationError && (
                <Alert color="red.9" variant="outline" role="alert">
                  {error.message}
                </Alert>
              )}
              <Group>
                <Button type="submit" loading={ask.isPending}>
                  {current ? 'Ask again' : 'Request access'}
                </Button>
              </Group>
            </Stack>
          </form>
        )}
        {current?.status === 'approved' && (
          <Group>
            <Button onClick={() => setConnect(true)}>Connect</Button>
          </Group>
        )}
      </Stack>
    </Card>
  );
}

function Summary({ target, timeZone }: { target: Target; timeZone: string }) {
  return (
    <Stack gap={4}>
      <Text>
        <b>{target.account}</b>@<b>{target.device}</b> for change <b>{target.change}</b>: {target.changeTitle}
      </Text>
      <Text size="sm" c="dimmed">
        Window {formatTime(target.startAt, timeZone)} – {formatTime(target.dueAt, timeZone)} · access group {target.accessGroup} · approved by {target.approvers.join(', ')} (
        {target.approvalsRequired} approval{target.approvalsRequired > 1 ? 's' : ''} needed)
      </Text>
    </Stack>
  );
}

function RequestState({ request }: { request: Request }) {
  const approvals = request.decisions.filter((decision) => decision.decision === 'approve').length;
  const denial = request.decisions.find((decision) => decision.decision === 'deny');
  return (
    <Alert
      color={request.status === 'denied' || request.status === 'cancelled' || request.status === 'expired' ? 'red.9' : 'blue.8'}
      variant="outline"
      role="status"
      title={
        <Group gap="xs">
          <Anchor component={Link} to={`/requests/${request.number}`}>
            Request #{request.number}
          </Anchor>
          <StatusBadge status={request.status} />
        </Group>
      }
    >
      {request.status === 'pending' && (
        <Group gap="xs">
          <Loader size="xs" aria-hidden />
          <Text size="sm">
            Waiting for approval by {request.approvers.join(', ')}: {approvals} of {request.approvalsRequired} so far. This page connects by itself once it is approved.
          </Text>
        </Group>
      )}
      {request.status === 'approved' && <Text size="sm">Approved by {request.decisions.filter((decision) => decision.decision === 'approve').map((decision) => decision.approver).join(', ')}.</Text>}
      {request.status === 'denied' && (
        <Text size="sm">
          Denied{denial ? ` by ${denial.approver}` : ''}
          {denial?.comment ? `: “${denial.comment}”` : '.'} You may ask again.
        </Text>
      )}
      {(request.status === 'cancelled' || request.status === 'expired') && <Text size="sm">{request.closeReason ?? `The request was ${request.status}.`}</Text>}
    </Alert>
  );
}

type TerminalState = { readonly kind: 'connecting' } | { readonly kind: 'connected' } | { readonly kind: 'ended'; readonly message: string; readonly failed: boolean };

/** The brokered session in an xterm.js terminal that fills the page and follows the window's size. */
function TerminalSession({ target, request }: { target: Target; request: Request }) {
  const me = useMe();
  const terminal = useRef<TerminalHandle>(null);
  const socket = useRef<WebSocket>(null);
  const [state, setState] = useState<TerminalState>({ kind: 'connecting' });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    const size = terminal.current;
    const address = new URL('/api/v1/terminal', window.location.href);
    address.protocol = address.protocol === 'https:' ? 'wss:' : 'ws:';
    address.search = new URLSearchParams({ target: target.target, cols: String(size?.cols ?? 80), rows: String(size?.rows ?? 24) }).toString();
    const ws = new WebSocket(address);
    socket.current = ws;
    let ended = false;
    const end = (message: string, failed: boolean) => {
      if (ended) return;
      ended = true;
      setState({ kind: 'ended', message, failed });
    };
    ws.onopen = () => {
      setState({ kind: 'connected' });
      terminal.current?.focus();
    };
    ws.onmessage = (event: MessageEvent<string>) => {
      const message = JSON.parse(event.data) as { type: string; data?: string; status?: number | null; signal?: string; error?: { message: string } };
      if (message.type === 'output' && message.data !== undefined) terminal.current?.write(message.data);
      if (message.type === 'exit') end(message.signal ? `The session ended (signal ${message.signal}).` : `The session ended with exit status ${message.status ?? 'unknown'}.`, false);
      if (message.type === 'error') end(message.error?.message ?? 'The session failed.', true);
    };
    ws.onclose = () => end('The connection to Changegate closed.', true);
    return () => {
      ended = true;
      ws.close();
    };
  }, [target, attempt]);

  const send = (message: object) => {
    if (socket.current?.readyState === WebSocket.OPEN) socket.current.send(JSON.stringify(message));
  };
  return (
    <Stack gap="xs">
      <Group justify="space-between">
        <Group gap="xs">
          <Badge color={state.kind === 'connected' ? 'teal.9' : state.kind === 'ended' ? 'gray.7' : 'blue.8'} variant="filled" autoContrast>
            {state.kind}
          </Badge>
          <Text size="sm">
            {target.account}@{target.device} · {target.change} · request #{request.number}
          </Text>
        </Group>
        <DueCountdown dueAt={target.dueAt} timeZone={me.user.timeZone} />
      </Group>
      {state.kind === 'ended' && (
        <Alert color={state.failed ? 'red.9' : 'gray.7'} variant="outline" role="status">
          <Group justify="space-between">
            <Text size="sm">{state.message}</Text>
            <Button size="xs" variant="outline" onClick={() => setAttempt((count) => count + 1)}>
              Connect again
            </Button>
          </Group>
        </Alert>
      )}
      <XtermView
        label={`Terminal of ${target.account}@${target.device}`}
        handle={terminal}
        height="calc(100vh - 200px)"
        onData={(data) => send({ type: 'input', data })}
        onResize={(cols, rows) => send({ type: 'resize', cols, rows })}
      />
    </Stack>
  );
}

/** When the change's window closes; red in its last five minutes (the terminal warns too). */
function DueCountdown({ dueAt, timeZone }: { dueAt: string; timeZone: string }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, []);
  const left = Date.parse(dueAt) - now;
  const minutes = Math.max(0, Math.floor(left / 60_000));
  const text = left <= 0 ? 'The window has closed' : minutes >= 120 ? `Window closes ${formatTime(dueAt, timeZone)}` : `Window closes in ${minutes} min ${Math.floor((left % 60_000) / 1000)} s`;
  return (
    <Text size="sm" c={left < 5 * 60_000 ? 'red.9' : undefined} fw={left < 5 * 60_000 ? 700 : undefined} aria-live={left < 5 * 60_000 ? 'polite' : 'off'}>
      {text}
    </Text>
  );
}
