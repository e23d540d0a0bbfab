import { Badge, Stack, Table, Text, Title } from '@mantine/core';
import { useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded } from '../ui.tsx';
import { useEntrySnapshots, type AuditEntry } from './trail.queries.ts';

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** A field's value as the reader takes it in: times in their time zone, objects as JSON, nothing as a dash. */
function formatValue(value: unknown, zone: string): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return ISO_TIME.test(value) ? formatTime(value, zone) : value;
  return JSON.stringify(value);
}

type Snapshot = Readonly<Record<string, unknown>> | null | undefined;

const fieldChange = (value: unknown): { before: unknown; after: unknown } =>
  typeof value === 'object' && value !== null && 'before' in value && 'after' in value ? (value as { before: unknown; after: unknown }) : { before: undefined, after: value };

/** Whether the entry keeps the whole object (Full audit): it can be shown, and restored. */
export const isFull = (entry: AuditEntry) => entry.level === 2;

/** An expanded entry: its field-level diff and, for a Full entry, the whole object before and after, side by side. */
export function EntryDetails({ entry }: { entry: AuditEntry }) {
  const full = isFull(entry);
  // Expand All brings the snapshots with the list; an entry expanded alone asks for its own.
  const inList = entry.before !== undefined || entry.after !== undefined;
  const snapshots = useEntrySnapshots(entry.seq, full && !inList);
  return (
    <Stack gap="sm" py="xs">
      <FieldDiff entry={entry} />
      {full &&
        (inList ? (
          <SideBySide seq={entry.seq} before={entry.before} after={entry.after} />
        ) : (
          <Loaded query={snapshots}>{(loaded) => <SideBySide seq={entry.seq} before={loaded.before} after={loaded.after} />}</Loaded>
        ))}
    </Stack>
  );
}

/** The fields the change touched, each before and after. */
function FieldDiff({ entry }: { entry: AuditEntry }) {
  const zone = useMe().user.timeZone;
  const fields = Object.entries(entry.diff);
  return (
    <div>
      <Title order={3} size="h6" mb={4}>
        Changed fields
      </Title>
      {fields.length === 0 ? (
        <Text size="sm">No field changed.</Text>
      ) : (
        <Table withTableBorder fz="sm" verticalSpacing={4} aria-label={`Changed fields of entry #${entry.seq}`} maw={900}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th w={200}>Field</Table.Th>
              <Table.Th>Before</Table.Th>
              <Table.Th>After</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {fields.map(([field, value]) => {
              const change = fieldChange(value);
              return (
                <Table.Tr key={field}>
                  <Table.Td ff="monospace">{field}</Table.Td>
                  <Table.Td style={{ wordBreak: 'break-word' }}>{formatValue(change.before, zone)}</Table.Td>
                  <Table.Td style={{ wordBreak: 'break-word' }}>{formatValue(change.after, zone)}</Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      )}
    </div>
  );
}

/** The whole object before and after the change, field by field in two columns; what changed is marked. */
function SideBySide({ seq, before, after }: { seq: number; before: Snapshot; after: Snapshot }) {
  const zone = useMe().user.timeZone;
  const fields = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
  const side = (snapshot: Snapshot, field: string) => (snapshot ? formatValue(snapshot[field], zone) : '');
  return (
    <div>
      <Title order={3} size="h6" mb={4}>
        The object before and after
      </Title>
      <Table withTableBorder withColumnBorders fz="sm" verticalSpacing={4} aria-label={`The object before and after entry #${seq}`} maw={1100} style={{ tableLayout: 'fixed' }}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th w={200}>Field</Table.Th>
            <Table.Th>Before{before ? '' : ': did not exist'}</Table.Th>
            <Table.Th>After{after ? '' : ': deleted'}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {fields.map((field) => {
            // A creation or deletion changes every field: only an object on both sides has some marked.
            const changed = Boolean(before && after) && JSON.stringify(before?.[field]) !== JSON.stringify(after?.[field]);
            return (
              <Table.Tr key={field} fw={changed ? 600 : undefined}>
                <Table.Td ff="monospace">
                  {field}{' '}
                  {changed && (
                    <Badge size="xs" color="yellow.4" variant="filled" autoContrast ml={4}>
                      changed
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td style={{ wordBreak: 'break-word' }}>{side(before, field)}</Table.Td>
                <Table.Td style={{ wordBreak: 'break-word' }}>{side(after, field)}</Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </div>
  );
}
