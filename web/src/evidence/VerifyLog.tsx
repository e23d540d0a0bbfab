import { Alert, Anchor, Button, Code, Group, List, Loader, Progress, Stack, Text, Textarea, TextInput } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'react-router';
import type { CheckpointReport } from './event-log.queries.ts';
import type { ChainResult, CheckpointResult, useLogVerification, Verification } from './log-verification.ts';

/** What each kind of failure means, as docs/evidence.md names them. */
const FAILURE_KINDS: Record<string, string> = {
  deleted: 'an entry was deleted',
  edited: 'an entry was edited',
  chain_broken: 'the chain is broken',
  truncated: 'entries were deleted from the end',
  rewritten: 'the history was rewritten',
  tree_altered: "the tree's stored hashes were changed",
  malformed_checkpoint: 'not a checkpoint',
  unknown_key: 'signed by another key',
  invalid_signature: 'the signature does not verify',
  wrong_origin: 'a checkpoint of another log',
};

/** Where the entries' list opens on entry `seq`, at the top. */
const entryLink = (seq: number) => `/event-log?before=${seq + 1}`;

/** Verify: the chain range by range with its progress, then the log against a signed checkpoint. */
export function VerifyLog({ verification }: { verification: ReturnType<typeof useLogVerification> }) {
  const [checkpoint, setCheckpoint] = useState('');
  const [verifierKey, setVerifierKey] = useState('');
  const { state, start, stop } = verification;
  const running = state.step === 'chain' || state.step === 'checkpoint';
  return (
    <Stack maw={900}>
      <Text size="sm">
        Recomputes every entry&apos;s hashes from its content, from the first entry on, and names the first entry that does not match; then checks the log against a signed
        checkpoint, which also catches entries deleted from the end and a history rewritten with every hash. It is what{' '}
        <Text span ff="monospace">changegate verify --checkpoint</Text> does, run by this server.
      </Text>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          start({ checkpoint, verifierKey });
        }}
      >
        <Stack gap="sm">
          <Textarea
            label="Checkpoint kept elsewhere (optional)"
            description="Paste a signed checkpoint you saved earlier; without one, the latest the log signed is used."
            value={checkpoint}
            onChange={(event) => setCheckpoint(event.currentTarget.value)}
            autosize
            minRows={2}
            maxRows={8}
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
          />
          <TextInput
            label="Log key obtained independently (optional)"
            description="<origin>+<key ID>+<base64 key>; without it, this server's own key verifies the checkpoint, which proves only as much as this server."
            value={verifierKey}
            onChange={(event) => setVerifierKey(event.currentTarget.value)}
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
          />
          <Group>
            <Button type="submit" loading={running}>
              Verify the log
            </Button>
            {running && (
              <Button variant="default" onClick={stop}>
                Stop
              </Button>
            )}
          </Group>
        </Stack>
      </form>
      <VerificationState state={state} />
    </Stack>
  );
}

function VerificationState({ state }: { state: Verification }) {
  switch (state.step) {
    case 'idle':
      return null;
    case 'chain': {
      const share = state.total === 0 ? 100 : Math.min(100, Math.round((100 * state.verified) / state.total));
      return (
        <Stack gap={6}>
          <Progress value={share} aria-label="Verification progress" size="lg" />
          <Text size="sm" role="status">
            Verifying the chain: {state.verified} of {state.total} entries verified ({share}%)…
          </Text>
        </Stack>
      );
    }
    case 'checkpoint':
      return (
        <Group gap="xs">
          <Loader size="sm" aria-label="Checking against the checkpoint" />
          <Text size="sm" role="status">
            Chain verified: {state.verified} entries. Checking the log against the checkpoint{state.size === undefined ? '' : ` of ${state.size} entries`}…
          </Text>
        </Group>
      );
    case 'stopped':
      return (
        <Alert color="gray.8" variant="outline" role="status" title="Stopped">
          Stopped after {state.verified} entries: nothing was concluded.
        </Alert>
      );
    case 'error':
      return (
        <Alert color="red.9" variant="outline" role="alert" title="The verification could not run">
          {state.message}
        </Alert>
      );
    case 'done':
      return <VerificationResult chain={state.chain} checkpoint={state.checkpoint} />;
  }
}

function VerificationResult({ chain, checkpoint }: { chain: ChainResult; checkpoint: CheckpointResult }) {
  const report = 'report' in checkpoint ? checkpoint.report : undefined;
  const ok = chain.ok && (report?.ok ?? true);
  const failure = chain.failure ?? report?.failure;
  const failedAt = failure?.seq;
  return (
    <Alert color={ok ? 'teal.9' : 'red.9'} variant="outline" role={ok ? 'status' : 'alert'} title={ok ? 'The event log verifies' : 'The event log does NOT verify'}>
      <Stack gap="xs">
        {failure && (
          <Text size="sm" fw={700}>
            Broken {failedAt === undefined ? '' : 'toSeq' in failure && failure.toSeq !== undefined ? `at entries ${failedAt}–${failure.toSeq}` : `at entry ${failedAt}`} ({FAILURE_KINDS[failure.kind] ?? failure.kind}):{' '}
            {failure.message}
          </Text>
        )}
        {failedAt !== undefined && (
          <Anchor component={Link} to={entryLink(failedAt)} size="sm">
            Show entry {failedAt} in the log
          </Anchor>
        )}
        <Text size="sm">
          {chain.ok
            ? `Chain: ${chain.verified} entries rehashed, each matching its leaf hash and linking to the one before.`
            : `Chain: ${chain.verified} entries verified before entry ${chain.failure?.seq}.`}
        </Text>
        {chain.ok && (
          <Text size="sm">
            Head: entry {chain.headSeq}, chain hash <Code>{chain.headChainHash}</Code>
          </Text>
        )}
        {'skipped' in checkpoint ? <Text size="sm">{checkpoint.skipped}</Text> : <CheckpointLines report={checkpoint.report} given={checkpoint.given} />}
      </Stack>
    </Alert>
  );
}

/** The check against the checkpoint, step by step, as `changegate verify --checkpoint` prints it. */
function CheckpointLines({ report, given }: { report: CheckpointReport; given: boolean }) {
  const signed = report.checkpoint;
  const lines: string[] = [
    report.key.source === 'given'
      ? `Key: ${report.key.verifierKey}, as you gave it.`
      : `Key: ${report.key.verifierKey}, this server's own (no key was given): it proves only as much as this server.`,
  ];
  if (signed) {
    lines.push(`Checkpoint${given ? ' you gave' : ', the latest the log signed'}: ${signed.origin}, ${signed.size} entries, root ${signed.rootHash}: signature verified.`);
    if (report.storedSize !== undefined) lines.push(`Stored log: ${report.storedSize} entries${report.storedSize >= signed.size ? ` (at least the checkpoint's ${signed.size})` : ''}.`);
    if (report.storedRoot !== undefined) lines.push(`Stored tree's root at ${signed.size}: ${report.storedRoot}${report.forked ? " — NOT the checkpoint's" : ", the checkpoint's"}.`);
    if (report.computedRoot !== undefined)
      lines.push(`Root recomputed from entries 1–${signed.size}: ${report.computedRoot}${report.computedRoot === signed.rootHash ? ", the checkpoint's" : " — NOT the checkpoint's"}.`);
    if (report.ok) lines.push(`Against the checkpoint: ${report.verified} entries rehashed; the first ${signed.size} are exactly what the checkpoint signed.`);
  }
  return (
    <List size="sm" spacing={2}>
      {lines.map((line) => (
        <List.Item key={line} style={{ wordBreak: 'break-all' }}>
          {line}
        </List.Item>
      ))}
    </List>
  );
}
