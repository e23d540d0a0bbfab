import { Anchor, Button, Card, Code, List, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import { evidenceUrl } from './event-log.queries.ts';

/**
 * A change's evidence bundle: one zip with everything about the change, the log entries it rests on
 * with their proofs, a signed checkpoint and an offline verifier; and how an auditor checks it.
 */
export function EvidenceDownload({ change }: { change: string }) {
  const file = `${change}-evidence.zip`;
  return (
    <Card withBorder component="section" aria-labelledby="evidence-title">
      <Stack gap="xs">
        <Title order={2} size="h4" id="evidence-title">
          Evidence
        </Title>
        <Text size="sm">
          The change as approved, its requests and decisions, its sessions with their recordings and commands, the change audit, and the event-log entries they rest on with
          their inclusion proofs, a signed checkpoint and the log&apos;s key. The download is itself logged.
        </Text>
        <div>
          <Button component="a" href={evidenceUrl(change)} download={file}>
            Download evidence
          </Button>
        </div>
        <Text size="sm" fw={600}>
          Verify it offline, without this server
        </Text>
        <List type="ordered" size="sm" spacing={4}>
          <List.Item>Get the log&apos;s key independently: from the installation&apos;s record, not from the server you are checking.</List.Item>
          <List.Item>
            Run your own installation&apos;s verifier on the zip: <Code>changegate verify-evidence {file} --key &apos;&lt;the log key&gt;&apos;</Code>. With only Node.js 20, unzip it and run a{' '}
            <Code>verify.mjs</Code> you trust in its folder: <Code>node verify.mjs --key &apos;&lt;the log key&gt;&apos;</Code>.
          </List.Item>
          <List.Item>
            It checks the checkpoint&apos;s signature, every entry and proof, and every file against the logged manifest, then ends with OK (exit 0), FAILED naming what was
            changed, removed or added (exit 1), or UNANCHORED when run without <Code>--key</Code> (exit 3).
          </List.Item>
        </List>
        <Text size="sm">
          This server&apos;s key and latest checkpoint are on{' '}
          <Anchor component={Link} to="/event-log?tab=checkpoint">
            Event log ▸ Checkpoint and key
          </Anchor>
          , to compare with yours.
        </Text>
      </Stack>
    </Card>
  );
}
