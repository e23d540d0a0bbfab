import { Alert, Button, Code, CopyButton, Group, List, Modal, Stack, Table, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { formatTime } from '../time.ts';
import { Loaded } from '../ui.tsx';
import { fetchInclusionProof, fetchLatestCheckpoint, fetchLogKey, type LogEntry } from './event-log.queries.ts';
import { checkpointSignedBy, entryLeafHash, fromBase64, rootFromInclusionProof, toBase64, toHex } from './log-proof.ts';

/**
 * Everything the dialog checks, computed in this browser: the entry's leaf hash from its content,
 * the root its proof leads to, and the checkpoint's signature with the log's key.
 */
async function proveEntry(entry: LogEntry) {
  const [checkpoint, key] = await Promise.all([fetchLatestCheckpoint(), fetchLogKey()]);
  const covered = checkpoint !== undefined && entry.seq <= checkpoint.size;
  const proof = await fetchInclusionProof(entry.seq, covered ? checkpoint.size : undefined);
  const leaf = await entryLeafHash(entry);
  const root = await rootFromInclusionProof(proof.leafIndex, proof.treeSize, leaf, proof.proof.map(fromBase64));
  const rootText = root && toBase64(root);
  return {
    proof,
    checkpoint: covered ? checkpoint : undefined,
    latestSize: checkpoint?.size,
    leafMatches: toHex(leaf) === entry.leafHash && toBase64(leaf) === proof.leafHash,
    root: rootText,
    rootMatches: rootText !== undefined && rootText === (covered ? checkpoint.rootHash : proof.rootHash),
    signed: covered ? await checkpointSignedBy(checkpoint.note, key.verifierKey) : false,
    verifierKey: key.verifierKey,
  };
}

type Proven = Awaited<ReturnType<typeof proveEntry>>;

/** An entry's inclusion proof, on demand: the hashes, and whether they check against the latest checkpoint. */
export function InclusionProofDialog({ entry, zone, onClose }: { entry: LogEntry; zone: string; onClose: () => void }) {
  const proven = useQuery({ queryKey: ['event-log', 'proof', entry.seq], queryFn: () => proveEntry(entry), staleTime: 0, gcTime: 0 });
  return (
    <Modal opened onClose={onClose} title={`Entry ${entry.seq}: inclusion proof`} size="xl" closeButtonProps={{ 'aria-label': 'Close the proof' }}>
      <Loaded query={proven}>{(shown) => <ProofDetails entry={entry} shown={shown} zone={zone} onAgain={() => void proven.refetch()} />}</Loaded>
    </Modal>
  );
}

function ProofDetails({ entry, shown, zone, onAgain }: { entry: LogEntry; shown: Proven; zone: string; onAgain: () => void }) {
  const { proof, checkpoint } = shown;
  const checks = checkpoint ? shown.leafMatches && shown.rootMatches && shown.signed : false;
  const proofText = JSON.stringify({ ...proof, checkpoint: checkpoint?.note }, null, 2);
  return (
    <Stack>
      {checkpoint ? (
        <Alert color={checks ? 'teal.9' : 'red.9'} variant="outline" role="status" title={checks ? 'The proof checks' : 'The proof does NOT check'}>
          {checks
            ? `Entry ${entry.seq} is in the log the checkpoint of ${checkpoint.size} entries signed: checked in this browser.`
            : `Entry ${entry.seq} could not be shown to be in the log the checkpoint of ${checkpoint.size} entries signed: see which check failed below, and verify the log.`}
        </Alert>
      ) : (
        <Alert color="gray.8" variant="outline" role="status" title="Not covered by a checkpoint yet">
          {shown.latestSize === undefined ? 'No checkpoint is signed yet.' : `The latest checkpoint covers the first ${shown.latestSize} entries, not entry ${entry.seq}.`} A checkpoint is signed within seconds as the log grows; until then the proof
          below leads to the current tree&apos;s root, which nothing has signed.
          <Group mt="xs">
            <Button size="xs" variant="default" onClick={onAgain}>
              Check again
            </Button>
          </Group>
        </Alert>
      )}
      <List spacing={4} size="sm">
        <Check ok={shown.leafMatches}>The entry&apos;s content hashes to its leaf hash (SHA-256 of 0x00 and its RFC 8785 JSON)</Check>
        <Check ok={shown.rootMatches}>{checkpoint ? "The proof leads from the leaf to the checkpoint's root (RFC 9162)" : "The proof leads from the leaf to the current tree's root (RFC 9162)"}</Check>
        {checkpoint && <Check ok={shown.signed}>The checkpoint is signed with the log&apos;s key (Ed25519)</Check>}
      </List>
      <Table withRowBorders={false} verticalSpacing={4} fz="sm">
        <Table.Tbody>
          <Field label="Leaf index">{proof.leafIndex}</Field>
          <Field label="Tree size">{proof.treeSize}</Field>
          <Field label="Leaf hash">
            <Code>{proof.leafHash}</Code>
          </Field>
          <Field label={`Proof (${proof.proof.length} hashes)`}>
            {proof.proof.length === 0 ? (
              'none: the entry is the whole tree'
            ) : (
              <List type="ordered" size="sm" spacing={2}>
                {proof.proof.map((hash, index) => (
                  <List.Item key={index}>
                    <Code>{hash}</Code>
                  </List.Item>
                ))}
              </List>
            )}
          </Field>
          <Field label="Root from the proof">
            <Code>{shown.root ?? 'none: the proof does not fit this position'}</Code>
          </Field>
          <Field label={checkpoint ? 'Checkpoint root' : 'Current root'}>
            <Code>{checkpoint ? checkpoint.rootHash : proof.rootHash}</Code>
          </Field>
          {checkpoint && <Field label="Checkpoint signed">{formatTime(checkpoint.createdAt, zone)}</Field>}
        </Table.Tbody>
      </Table>
      <Text size="sm" fw={600}>
        The entry as hashed
      </Text>
      <Code block>{JSON.stringify({ seq: entry.seq, time: entry.time, actor: entry.actor, action: entry.action, subject: entry.subject, data: entry.data }, null, 2)}</Code>
      <Group>
        <CopyButton value={proofText}>
          {({ copied, copy }) => (
            <Button size="xs" variant="default" onClick={copy}>
              {copied ? 'Copied' : 'Copy the proof and checkpoint'}
            </Button>
          )}
        </CopyButton>
      </Group>
    </Stack>
  );
}

function Check({ ok, children }: { ok: boolean; children: ReactNode }) {
  return (
    <List.Item>
      <Text span fw={700} c={ok ? 'teal.9' : 'red.9'}>
        {ok ? 'Yes' : 'No'}
      </Text>
      {': '}
      {children}
    </List.Item>
  );
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th w={200} scope="row" style={{ verticalAlign: 'top' }}>
        {label}
      </Table.Th>
      <Table.Td style={{ wordBreak: 'break-all' }}>{children}</Table.Td>
    </Table.Tr>
  );
}
