import { Anchor, Button, Code, Group, Modal, Stack, Table, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, unwrap } from '../api/client.ts';
import { Loaded } from '../ui.tsx';

/** The console's address of a permalink: opens the object here (PermalinkPage). */
export function consolePermalink(type: 'AuditRule' | 'Filter', businessKey: string): string {
  return `/permalinks/${type}/${encodeURIComponent(businessKey)}`;
}

/** Show permalinks: links by business key, stable across edits, in this console and in the API. */
export function PermalinksDialog({ type, businessKey, onClose }: { type: 'AuditRule' | 'Filter'; businessKey: string; onClose: () => void }) {
  const permalinks = useQuery({
    queryKey: ['audit-permalinks', type, businessKey],
    queryFn: async () =>
      type === 'AuditRule'
        ? unwrap(await api.GET('/api/v1/audit/rules/{ref}/permalinks', { params: { path: { ref: businessKey } } }))
        : unwrap(await api.GET('/api/v1/audit/filters/{ref}/permalinks', { params: { path: { ref: businessKey } } })),
  });
  const inConsole = consolePermalink(type, businessKey);
  return (
    <Modal opened closeButtonProps={{ 'aria-label': 'Close this dialog' }} onClose={onClose} size="xl" title={`Permalinks of ${businessKey}`}>
      <Stack>
        <Text size="sm">These links name the {type === 'AuditRule' ? 'audit rule' : 'filter'} by its business key: they keep working after it is edited, and other systems may point at them.</Text>
        <Loaded query={permalinks}>
          {({ links }) => (
            <Table>
              <Table.Tbody>
                <Table.Tr>
                  <Table.Th scope="row">Open in this console</Table.Th>
                  <Table.Td>
                    <Anchor component={Link} to={inConsole} onClick={onClose}>
                      {new URL(inConsole, window.location.origin).href}
                    </Anchor>
                  </Table.Td>
                </Table.Tr>
                {(
                  [
                    ['In the API', links.self],
                    ['Export', links.export],
                    ['Export with related objects', links.exportWithRelated],
                    ['Its audit trail (API)', links.auditTrail],
                  ] as const
                ).map(([label, href]) => (
                  <Table.Tr key={label}>
                    <Table.Th scope="row">{label}</Table.Th>
                    <Table.Td>
                      <Anchor href={href} target="_blank" rel="noreferrer">
                        <Code>{new URL(href, window.location.origin).href}</Code>
                      </Anchor>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Loaded>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Close
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
