import { Alert, Anchor, Stack, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link, Navigate, useParams } from 'react-router';
import { api, ApiError, unwrap } from '../api/client.ts';
import { filterPage } from '../Shell.tsx';
import { Loading } from '../ui.tsx';

/** `/permalinks/:type/:key`: opens what a permalink names — a rule in its editor, a filter on its page, chosen. */
export default function PermalinkPage() {
  const { type = '', key = '' } = useParams();
  const known = type === 'AuditRule' || type === 'Filter';
  const target = useQuery({
    queryKey: ['audit-permalink', type, key],
    queryFn: async () => unwrap(await api.GET('/api/v1/audit/permalinks/{type}/{key}', { params: { path: { type: type as 'AuditRule' | 'Filter', key } } })),
    enabled: known,
    retry: false,
  });
  if (!known || target.error) {
    const message = !known ? `“${type}” is not something a permalink names: AuditRule or Filter.` : target.error instanceof ApiError ? target.error.message : String(target.error);
    return (
      <Stack>
        <Title order={1} size="h2">
          Permalink {key}
        </Title>
        <Alert color="red" role="alert" title="Cannot open this permalink">
          {message}
        </Alert>
        <Anchor component={Link} to="/audit-rules">
          Go to Audit Rules
        </Anchor>
      </Stack>
    );
  }
  if (!target.data) return <Loading />;
  if (target.data.rule) return <Navigate to={`/audit-rules?rule=${encodeURIComponent(target.data.rule.businessKey)}`} replace />;
  if (target.data.filter) return <Navigate to={filterPage(target.data.filter)} replace />;
  return <Navigate to="/audit-rules" replace />;
}
