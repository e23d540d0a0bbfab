import { Button, Card, CopyButton, Group, SimpleGrid, Stack, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded } from '../ui.tsx';
import { useLatestCheckpoint, useLogKey, type LogCheckpoint, type LogKey } from './event-log.queries.ts';
import { checkpointSignedBy } from './log-proof.ts';

const MONOSPACE = { input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 'var(--mantine-font-size-xs)' } };

/** The latest signed checkpoint and the log's public key, as an auditor copies them to keep elsewhere. */
export function CheckpointAndKey() {
  const checkpoint = useLatestCheckpoint();
  const key = useLogKey();
  return (
    <SimpleGrid cols={{ base: 1, lg: 2 }}>
      <Card withBorder>
        <Title order={2} size="h4" mb="xs">
          Latest signed checkpoint
        </Title>
        <Loaded query={checkpoint}>{(shown) => <CheckpointCard checkpoint={shown} verifierKey={key.data?.verifierKey} />}</Loaded>
      </Card>
      <Card withBorder>
        <Title order={2} size="h4" mb="xs">
          The log&apos;s public key
        </Title>
        <Loaded query={key}>{(shown) => <KeyCard logKey={shown} />}</Loaded>
      </Card>
    </SimpleGrid>
  );
}

function CheckpointCard({ checkpoint, verifierKey }: { checkpoint: LogCheckpoint; verifierKey: string | undefined }) {
  const zone = useMe().user.timeZone;
  const signed = useQuery({
    queryKey: ['event-log', 'checkpoint-signature', checkpoint.note, verifierKey],
    queryFn: () => checkpointSignedBy(checkpoint.note, verifierKey as string),
    enabled: verifierKey !== undefined,
  });
  const fileName = `checkpoint-${checkpoint.size}.txt`;
  return (
    <Stack gap="sm">
      <Text size="sm">
        Keep it where this server&apos;s administrators cannot reach: verifying the log against it later shows the log still holds, unchanged, every entry it had signed
        by then (<Text span ff="monospace">changegate verify --checkpoint {fileName}</Text>, or Verify here).
      </Text>
      <Textarea label="Checkpoint (C2SP signed note)" value={checkpoint.note} readOnly autosize minRows={5} styles={MONOSPACE} />
      <Group gap="xs">
        <CopyButton value={checkpoint.note}>
          {({ copied, copy }) => (
            <Button size="xs" onClick={copy}>
              {copied ? 'Copied' : 'Copy the checkpoint'}
            </Button>
          )}
        </CopyButton>
        <Button size="xs" variant="default" component="a" href={`data:text/plain;charset=utf-8,${encodeURIComponent(checkpoint.note)}`} download={fileName}>
          Save as {fileName}
        </Button>
      </Group>
      <Table withRowBorders={false} verticalSpacing={2} fz="sm">
        <Table.Tbody>
          <Row label="Log">{checkpoint.origin}</Row>
          <Row label="Entries covered">{checkpoint.size}</Row>
          <Row label="Root hash">
            <Text span ff="monospace" size="sm" style={{ wordBreak: 'break-all' }}>
              {checkpoint.rootHash}
            </Text>
          </Row>
          <Row label="Signed">{formatTime(checkpoint.createdAt, zone)}</Row>
          <Row label="Key ID">{checkpoint.keyId}</Row>
          <Row label="Witnesses">{checkpoint.cosignatures.length === 0 ? 'none cosigned it' : checkpoint.cosignatures.map((cosignature) => cosignature.witness).join(', ')}</Row>
          <Row label="Signature">
            {signed.data === undefined ? 'checking…' : signed.data ? 'valid with the key beside, checked in this browser' : 'NOT valid with the key beside'}
          </Row>
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

function KeyCard({ logKey }: { logKey: LogKey }) {
  return (
    <Stack gap="sm">
      <Text size="sm">
        It verifies every checkpoint. Compare it with the key you were given when the installation was set up (the <Text span ff="monospace">Log key:</Text> line{' '}
        <Text span ff="monospace">changegate serve</Text> prints): a key read from the server you are checking proves only as much as that server.
      </Text>
      <TextInput label="Verifier key (signed-note format)" value={logKey.verifierKey} readOnly styles={MONOSPACE} />
      <Group gap="xs">
        <CopyButton value={logKey.verifierKey}>
          {({ copied, copy }) => (
            <Button size="xs" onClick={copy}>
              {copied ? 'Copied' : 'Copy the key'}
            </Button>
          )}
        </CopyButton>
      </Group>
      <Table withRowBorders={false} verticalSpacing={2} fz="sm">
        <Table.Tbody>
          <Row label="Log (key name)">{logKey.origin}</Row>
          <Row label="Key ID">{logKey.keyId}</Row>
          <Row label="Algorithm">{logKey.algorithm}</Row>
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th w={150} scope="row">
        {label}
      </Table.Th>
      <Table.Td>{children}</Table.Td>
    </Table.Tr>
  );
}
