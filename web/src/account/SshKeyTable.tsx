import { Button, Code, Table, VisuallyHidden } from '@mantine/core';
import { formatTime } from '../time.ts';

export interface SshKeyRow {
  readonly id: string;
  readonly name: string;
  readonly fingerprint: string;
  readonly algorithm: string;
  readonly createdAt: string;
  readonly addedBy: string | null;
  readonly addedByAdministrator: boolean;
}

/** A user's SSH keys for the gateway, each with Remove: on their account page and on an administrator's page of the user. */
export function SshKeyTable({ keys, timeZone, onRemove }: { keys: readonly SshKeyRow[]; timeZone: string; onRemove: (key: SshKeyRow) => void }) {
  return (
    <Table>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Name</Table.Th>
          <Table.Th>Fingerprint</Table.Th>
          <Table.Th>Added</Table.Th>
          <Table.Th>
            <VisuallyHidden>Actions</VisuallyHidden>
          </Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {keys.length === 0 && (
          <Table.Tr>
            <Table.Td colSpan={4}>No key yet.</Table.Td>
          </Table.Tr>
        )}
        {keys.map((key) => (
          <Table.Tr key={key.id}>
            <Table.Td>{key.name || '—'}</Table.Td>
            <Table.Td>
              <Code>{key.fingerprint}</Code> {key.algorithm}
            </Table.Td>
            <Table.Td>
              {formatTime(key.createdAt, timeZone)}
              {key.addedByAdministrator && key.addedBy && ` by ${key.addedBy}`}
            </Table.Td>
            <Table.Td>
              <Button variant="outline" color="red.9" size="compact-sm" aria-label={`Remove the key ${key.name || key.fingerprint}`} onClick={() => onRemove(key)}>
                Remove
              </Button>
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
