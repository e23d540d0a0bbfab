import { Anchor, Badge, Button, Table, Text, VisuallyHidden } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, unwrap } from '../api/client.ts';
import { holds, useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { notifyDone, PagedTable } from '../ui.tsx';
import type { GrantView } from './admin.queries.ts';
import { ConfirmDialog } from './ConfirmDialog.tsx';
import { describeScope, holdsIn } from './held-privileges.ts';

/** Grants, a page at a time, with Revoke where the signed-in user holds the privilege at Admin level in the grant's scope. */
export function GrantsTable({ rows, page, onPage, showUser = true }: { rows: readonly GrantView[]; page: number; onPage: (page: number) => void; showUser?: boolean }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [revoking, setRevoking] = useState<GrantView>();
  const revoke = useMutation({
    mutationFn: async (grant: GrantView) => unwrap(await api.DELETE('/api/v1/grants/{id}', { params: { path: { id: grant.id } } })),
    onSuccess: (_, grant) => {
      setRevoking(undefined);
      void queryClient.invalidateQueries({ queryKey: ['grants'] });
      if (grant.username === me.user.username) void queryClient.invalidateQueries({ queryKey: ['me'] });
      notifyDone(`Revoked ${grant.privilege} ${describeScope(grant.partition)} from ${grant.username}.`);
    },
  });
  const userLinks = holds(me, 'User.Admin');
  return (
    <>
      <PagedTable
        rows={rows}
        page={page}
        onPage={onPage}
        headers={[...(showUser ? ['User'] : []), 'Privilege', 'Level', 'Scope', 'Granted', <VisuallyHidden key="actions">Actions</VisuallyHidden>]}
        rowKey={(grant) => grant.id}
      >
        {(grant) => (
          <>
            {showUser && (
              <Table.Td fw={500}>
                {userLinks ? (
                  <Anchor component={Link} to={`/users/${encodeURIComponent(grant.username)}`}>
                    {grant.username}
                  </Anchor>
                ) : (
                  grant.username
                )}
              </Table.Td>
            )}
            <Table.Td>{grant.privilege}</Table.Td>
            <Table.Td>
              <Badge color={grant.level === 'admin' ? 'blue.8' : 'gray.7'} variant="filled">
                {grant.level === 'admin' ? 'Admin' : 'Access'}
              </Badge>
            </Table.Td>
            <Table.Td>{grant.partition === null ? 'System-wide' : grant.partition}</Table.Td>
            <Table.Td>
              {formatTime(grant.grantedAt, me.user.timeZone)}
              <Text size="xs" c="dimmed">
                by {grant.grantedBy}
              </Text>
            </Table.Td>
            <Table.Td>
              {holdsIn(me, grant.privilege, grant.partition, 'admin') && (
                <Button
                  variant="outline"
                  color="red.9"
                  size="compact-sm"
                  aria-label={`Revoke ${grant.privilege} ${describeScope(grant.partition)} from ${grant.username}`}
                  onClick={() => {
                    revoke.reset();
                    setRevoking(grant);
                  }}
                >
                  Revoke
                </Button>
              )}
            </Table.Td>
          </>
        )}
      </PagedTable>
      <ConfirmDialog
        opened={revoking !== undefined}
        title="Revoke the grant"
        confirmLabel="Revoke"
        danger
        busy={revoke.isPending}
        error={revoke.error}
        onConfirm={() => revoking && revoke.mutate(revoking)}
        onClose={() => setRevoking(undefined)}
      >
        {revoking && `${revoking.username} loses ${revoking.privilege} at ${revoking.level === 'admin' ? 'Admin' : 'Access'} level ${describeScope(revoking.partition)}.`}
      </ConfirmDialog>
    </>
  );
}
