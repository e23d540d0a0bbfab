import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.ts';

/** Every user, disabled ones too (needs User.Admin). */
export function useUsers(enabled = true) {
  return useQuery({ queryKey: ['users'], queryFn: async () => unwrap(await api.GET('/api/v1/users', { params: { query: { includeDisabled: true } } })), enabled });
}

export type UserView = NonNullable<ReturnType<typeof useUsers>['data']>[number];

export function useUser(username: string) {
  return useQuery({ queryKey: ['users', username], queryFn: async () => unwrap(await api.GET('/api/v1/users/{username}', { params: { path: { username } } })) });
}

/** The grants the user may see, of one user or one privilege when given. */
export function useGrants(filter: { username?: string; privilege?: string } = {}) {
  return useQuery({
    queryKey: ['grants', filter.username ?? '', filter.privilege ?? ''],
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/grants', { params: { query: { ...(filter.username && { username: filter.username }), ...(filter.privilege && { privilege: filter.privilege }) } } })),
  });
}

export type GrantView = NonNullable<ReturnType<typeof useGrants>['data']>[number];

/** The privilege catalogue. */
export function usePrivileges() {
  return useQuery({ queryKey: ['privileges'], queryFn: async () => unwrap(await api.GET('/api/v1/privileges')), staleTime: Infinity });
}

/** The partitions the user may view (Partition.View); an error without it. */
export function usePartitions(enabled = true) {
  return useQuery({ queryKey: ['partitions'], queryFn: async () => unwrap(await api.GET('/api/v1/partitions')), enabled, retry: false });
}

/** The applications the user may view, of every partition. */
export function useApplications(enabled = true) {
  return useQuery({ queryKey: ['applications'], queryFn: async () => unwrap(await api.GET('/api/v1/applications')), enabled, retry: false });
}

export type ApplicationView = NonNullable<ReturnType<typeof useApplications>['data']>[number];
