import { sql } from 'kysely';
import { findApplicationsByIds, fromJson, objectTable, partitionNamesByIds, type ObjectKind } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import type { Device } from './device.ts';

/** Devices as stored: the table maps the shared columns, these the device's own. */
const devices = objectTable<Device, 'device'>('device', {
  fromRow: (row) => ({
    hostname: row.hostname,
    port: row.port,
    protocol: row.protocol,
    description: row.description,
    tags: row.tags,
    hostKey: row.host_key,
    hostKeyFingerprint: row.host_key_fingerprint,
  }),
  toRow: (device) => ({
    hostname: device.hostname,
    port: device.port,
    protocol: device.protocol,
    description: device.description,
    tags: JSON.stringify(device.tags),
    host_key: device.hostKey,
    host_key_fingerprint: device.hostKeyFingerprint,
  }),
});

export const findDevice = devices.find;
/** Devices called `name`, in every partition (names are unique within a partition only). */
export const findDevicesNamed = devices.findNamed;
export const findDeviceInPartition = devices.findInPartition;
export const findDevicesByIds = devices.findByIds;

/** How the object store writes devices. */
export const deviceKind: ObjectKind<Device> = {
  type: 'Device',
  event: 'device',
  // Where its credentials are sent (address, pinned key) is Device.Pin's to change, a restore too.
  restore: {
    create: 'Device.Create',
    edit: 'Device.Edit',
    delete: 'Device.Delete',
    guarded: {
      fields: ['hostname', 'port', 'hostKey', 'hostKeyFingerprint'],
      onCreate: ['hostKeyFingerprint'],
      privilege: 'Device.Pin',
      what: 'hostname, port or host key',
    },
  },
  ...devices.storage,
  fromSnapshot: (json) => fromJson<Device>(json),
  references: () => [],
  async keyHolders(db, device) {
    const holder = await findDeviceInPartition(db, device.partitionId, device.name);
    return holder && holder.id !== device.id ? [`another device is now named ${device.name} in its partition`] : [];
  },
};

export interface DeviceFilter {
  readonly partitionIds: 'all' | readonly string[];
  readonly tag?: string;
  /** Part of the name or host name. */
  readonly search?: string;
}

export async function listDevices(db: Executor, filter: DeviceFilter): Promise<Device[]> {
  return devices.list(db, filter.partitionIds, (selected) => {
    let query = selected;
    if (filter.tag) query = query.where(sql<boolean>`tags @> ${JSON.stringify([filter.tag])}::jsonb`);
    if (filter.search) {
      const pattern = `%${filter.search.replace(/[\\%_]/g, '\\$&')}%`;
      query = query.where((eb) => eb.or([eb('name', 'ilike', pattern), eb('hostname', 'ilike', pattern)]));
    }
    return query.orderBy('name');
  });
}

/** Names of the partitions and applications the given objects point at, for presenting them. */
export async function objectPlaceNames(db: Executor, objects: ReadonlyArray<{ partitionId: string; applicationId: string | null }>) {
  const partitionNames = await partitionNamesByIds(db, objects.map((object) => object.partitionId));
  const applicationIds = objects.map((object) => object.applicationId).filter((id): id is string => id !== null);
  const applicationNames = new Map((await findApplicationsByIds(db, applicationIds)).map((application) => [application.id, application.name]));
  return (object: { partitionId: string; applicationId: string | null }) => ({
    partition: partitionNames.get(object.partitionId) ?? object.partitionId,
    application: object.applicationId === null ? null : (applicationNames.get(object.applicationId) ?? object.applicationId),
  });
}
