import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.ts';

/** The devices the user may view, filtered by name or host, tag and partition when given. */
export function useDevices(filter: { search: string; tag: string; partition: string }) {
  return useQuery({
    queryKey: ['devices', filter.search, filter.tag, filter.partition],
    // The rows shown stay while a changed filter loads, instead of a spinner at each keystroke.
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/devices', {
          params: { query: { ...(filter.search && { search: filter.search }), ...(filter.tag && { tag: filter.tag }), ...(filter.partition && { partition: filter.partition }) } },
        }),
      ),
  });
}

export type Device = NonNullable<ReturnType<typeof useDevices>['data']>[number];

/** A device as every call names it: `PARTITION.name`, never ambiguous. */
export const deviceRef = (device: { partition: string; name: string }) => `${device.partition}.${device.name}`;

/** The credentials vaulted for one device (never their secrets). */
export function useDeviceCredentials(device: Device, enabled = true) {
  return useQuery({
    queryKey: ['credentials', deviceRef(device)],
    queryFn: async () => unwrap(await api.GET('/api/v1/credentials', { params: { query: { device: deviceRef(device) } } })),
    enabled,
    retry: false,
  });
}

export type Credential = NonNullable<ReturnType<typeof useDeviceCredentials>['data']>[number];
