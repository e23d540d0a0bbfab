import { List, Paper, Stack, Text } from '@mantine/core';
import type { ImportReport } from './auditing.queries.ts';

const SECTIONS = [
  { key: 'created', title: 'Created' },
  { key: 'updated', title: 'Updated' },
  { key: 'unchanged', title: 'Unchanged' },
] as const;

/** What an import (or a promotion, which imports on the other instance) did, or would do on a dry run. */
export function ImportReportView({ report, where }: { report: ImportReport; where?: string }) {
  const heading = `${report.dryRun ? 'Dry run: nothing was written' : 'Imported'}${where ? ` on ${where}` : ''}`;
  return (
    <Paper withBorder p="sm" role="status" aria-label={heading}>
      <Stack gap="xs">
        <Text fw={700} c={report.conflicts.length > 0 ? 'orange.9' : 'teal.9'}>
          {heading}
        </Text>
        {SECTIONS.map(({ key, title }) =>
          report[key].length === 0 ? null : (
            <div key={key}>
              <Text size="sm" fw={600}>
                {report.dryRun ? `Would be ${title.toLowerCase()}` : title} ({report[key].length})
              </Text>
              <List size="sm" aria-label={title}>
                {report[key].map((item) => (
                  <List.Item key={`${item.type}:${item.businessKey}`}>
                    {item.type} {item.businessKey}
                  </List.Item>
                ))}
              </List>
            </div>
          ),
        )}
        {report.conflicts.length > 0 && (
          <div>
            <Text size="sm" fw={600}>
              In conflict ({report.conflicts.length})
            </Text>
            <List size="sm" aria-label="In conflict">
              {report.conflicts.map((item) => (
                <List.Item key={`${item.type}:${item.businessKey}`}>
                  {item.type} {item.businessKey}: {item.message}
                  {item.fields?.length ? ` (${item.fields.join(', ')})` : ''}
                </List.Item>
              ))}
            </List>
          </div>
        )}
      </Stack>
    </Paper>
  );
}
