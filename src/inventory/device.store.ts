import { sql, type Selectable } from 'kysely';
import { fromJson, tableWriter, type ObjectKind } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import type { DeviceTable } from '../platform/tables/changes.ts';
import type { Device } from './device.ts';

type DeviceRow = Selectable<DeviceTable>;

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    partitionId: row.partition_id,
    name: row.name,
    applicationId: row.application_id,
    hostname: row.hostname,
    port: row.port,
    protocol: row.protocol,
    description: row.description,
    tags: row.tags,
    hostKey: row.host_key,
    hostKeyFingerprint: row.host_key_fingerprint,
    version: row.version,
    createdAt: row.created_at,
    createdBy: row.created_by,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

function toRow(device: Device) {
  return {
    partition_id: device.partitionId,
    name: device.name,
    application_id: device.applicationId,
    hostname: device.hostname,
    port: device.port,
    protocol: device.protocol,
    description: device.description,
    tags: JSON.stringify(device.tags),
    host_key: device.hostKey,
    host_key_fingerprint: device.hostKeyFingerprint,
    version: device.version,
    updated_at: device.updatedAt,
    updated_by: device.updatedBy,
  };
}

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
  ...tableWriter('device', toRow),
  find: (db, id) => findDevice(db, id),
  fromSnapshot: (json) => fromJson<Device>(json),
  references: () => [],
  async keyHolders(db, device) {
    const holder = await findDeviceInPartition(db, device.partitionId, device.name);
    return holder && holder.id !== device.id ? [`another device is now named ${device.name} in its partition`] : [];
  },
};

export async function findDevice(db: Executor, id: string): Promise<Device | undefined> {
  const row = await db.selectFrom('device').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toDevice(row);
}

/** Devices called `name`, in every partition (names are unique within a partition only). */
export async function findDevicesNamed(db: Executor, name: string): Promise<Device[]> {
  return (await db.selectFrom('device').selectAll().where('name', '=', name).execute()).map(toDevice);
}

export async function findDeviceInPartition(db: Executor, partitionId: string, name: string): Promise<Device | undefined> {
  const row = await db.selectFrom('device').selectAll().where('partition_id', '=', partitionId).where('name', '=', name).executeTakeFirst();
  return row && toDevice(row);
}

export async function findDevicesByIds(db: Executor, ids: readonly string[]): Promise<Device[]> {
  if (ids.length === 0) return [];
  return (await db.selectFrom('device').selectAll().where('id', 'in', ids).execute()).map(toDevice);
}

export interface DeviceFilter {
  readonly partitionIds: 'all' | readonly string[];
  readonly tag?: string;
  /** Part of the name or host name. */
  readonly search?: string;
}

export async function listDevices(db: Executor, filter: DeviceFilter): Promise<Device[]> {
  if (filter.partitionIds !== 'all' && filter.partitionIds.length === 0) return [];
  let query = db.selectFrom('device').selectAll();
  if (filter.partitionIds !== 'all') query = query.where('partition_id', 'in', filter.partitionIds);
  if (filter.tag) query = query.where(sql<boolean>`tags @> ${JSON.stringify([filter.tag])}::jsonb`);
  if (filter.search) {
    const pattern = `%${filter.search.replace(/[\\%_]/g, '\\$&')}%`;
    query = query.where((eb) => eb.or([eb('name', 'ilike', pattern), eb('hostname', 'ilike', pattern)]));
  }
  return (await query.orderBy('name').execute()).map(toDevice);
}

/** Names of the partitions and applications the given objects point at, for presenting them. */
export async function objectPlaceNames(db: Executor, objects: ReadonlyArray<{ partitionId: string; applicationId: string | null }>) {
  const partitionIds = [...new Set(objects.map((object) => object.partitionId))];
  const applicationIds = [...new Set(objects.map((object) => object.applicationId).filter((id): id is string => id !== null))];
  const partitions = partitionIds.length ? await db.selectFrom('partition').select(['id', 'name']).where('id', 'in', partitionIds).execute() : [];
  const applications = applicationIds.length ? await db.selectFrom('application').select(['id', 'name']).where('id', 'in', applicationIds).execute() : [];
  const partitionNames = new Map(partitions.map((row) => [row.id, row.name]));
  const applicationNames = new Map(applications.map((row) => [row.id, row.name]));
  return (object: { partitionId: string; applicationId: string | null }) => ({
    partition: partitionNames.get(object.partitionId) ?? object.partitionId,
    application: object.applicationId === null ? null : (applicationNames.get(object.applicationId) ?? object.applicationId),
  });
}
