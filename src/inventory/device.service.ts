import type { Kysely } from 'kysely';
import { findByRef, type ObjectStore } from '../auditing/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import { findPartitionByName, inPartition, parseSshPublicKey, partitionsWith, requirePrivilege, resolvePlace, type Actor } from '../identity/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { AppError, errors } from '../platform/errors.ts';
import { deviceProblems, presentDevice, type Device, type DeviceView } from './device.ts';
import { deviceKind, findDeviceInPartition, findDevicesNamed, listDevices, objectPlaceNames } from './device.store.ts';
import type { HostKeyProbe } from './host-key-probe.ts';

export interface DeviceServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly objects: ObjectStore;
  readonly hostKeys: HostKeyProbe;
}

export interface NewDevice {
  readonly name: string;
  readonly hostname: string;
  readonly port?: number;
  readonly description?: string;
  readonly partition?: string;
  readonly application?: string | null;
  readonly tags?: readonly string[];
  /** Pin the host key now (`ssh-ed25519 AAAA…`), instead of on the first test connection. */
  readonly hostKey?: string | null;
}

export type DevicePatch = Partial<Omit<NewDevice, 'name' | 'partition'>> & { readonly expectedVersion?: number };

export interface ConnectionTest {
  readonly device: DeviceView;
  /** `pinned`: the key was taken now; `matched`: it is the pinned one. A different key is an error. */
  readonly hostKeyStatus: 'pinned' | 'matched';
  readonly hostKeyFingerprint: string;
}

/** Finds a device by `name` or `PARTITION.name`; see `findByRef`. */
export function findDeviceByRef(trx: Tx, actor: Actor, ref: string): Promise<Device> {
  return findByRef(trx, actor, ref, { what: 'device', privilege: 'Device.View', named: findDevicesNamed });
}

/** Devices: what they are, where they are, and the SSH host key they must present. */
export class DeviceService {
  constructor(private readonly deps: DeviceServiceDeps) {}

  async list(actor: Actor, filter: { partition?: string; tag?: string; search?: string } = {}): Promise<DeviceView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      let partitionIds = await partitionsWith(trx, actor, 'Device.View');
      if (filter.partition) {
        const partition = await findPartitionByName(trx, filter.partition);
        const id = partition?.id;
        partitionIds = id && (partitionIds === 'all' || partitionIds.includes(id)) ? [id] : [];
      }
      const devices = await listDevices(trx, { partitionIds, tag: filter.tag, search: filter.search });
      return this.present(trx, devices);
    });
  }

  async get(actor: Actor, ref: string): Promise<DeviceView> {
    return this.deps.db.transaction().execute(async (trx) => (await this.present(trx, [await findDeviceByRef(trx, actor, ref)]))[0] as DeviceView);
  }

  async create(actor: Actor, input: NewDevice): Promise<DeviceView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const place = await resolvePlace(trx, input);
      await requirePrivilege(trx, actor, 'Device.Create', inPartition(place.partitionId));
      const problems = deviceProblems(input);
      const hostKey = input.hostKey ? parseHostKey(input.hostKey, problems) : undefined;
      if (problems.length > 0) throw errors.validation('The device cannot be saved: fix the fields listed.', problems);
      if (await findDeviceInPartition(trx, place.partitionId, input.name)) throw errors.alreadyExists('device', `${place.partitionName}.${input.name}`);
      const device = await this.deps.objects.create(
        trx,
        deviceKind,
        {
          partitionId: place.partitionId,
          applicationId: place.applicationId,
          name: input.name,
          hostname: input.hostname,
          port: input.port ?? 22,
          protocol: 'ssh',
          description: input.description ?? '',
          tags: uniqueTags(input.tags),
          hostKey: hostKey?.line ?? null,
          hostKeyFingerprint: hostKey?.fingerprint ?? null,
        },
        actor,
      );
      return (await this.present(trx, [device]))[0] as DeviceView;
    });
  }

  async update(actor: Actor, ref: string, patch: DevicePatch): Promise<DeviceView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const device = await findDeviceByRef(trx, actor, ref);
      await requirePrivilege(trx, actor, 'Device.Edit', inPartition(device.partitionId));
      const problems = deviceProblems(patch);
      // undefined: leave as is; null or empty: unpin (the next test connection pins again).
      const hostKey = patch.hostKey === undefined ? undefined : patch.hostKey ? parseHostKey(patch.hostKey, problems) : null;
      if (problems.length > 0) throw errors.validation('The device cannot be saved: fix the fields listed.', problems);
      const place = patch.application !== undefined ? await resolvePlace(trx, { partition: await partitionName(trx, device), application: patch.application }) : undefined;
      const updated = await this.deps.objects.update(
        trx,
        deviceKind,
        device,
        {
          ...(patch.hostname !== undefined && { hostname: patch.hostname }),
          ...(patch.port !== undefined && { port: patch.port }),
          ...(patch.description !== undefined && { description: patch.description }),
          ...(patch.tags !== undefined && { tags: uniqueTags(patch.tags) }),
          ...(place && { applicationId: place.applicationId }),
          ...(hostKey !== undefined && { hostKey: hostKey?.line ?? null, hostKeyFingerprint: hostKey?.fingerprint ?? null }),
        },
        actor,
        { expectedVersion: patch.expectedVersion },
      );
      return (await this.present(trx, [updated]))[0] as DeviceView;
    });
  }

  async delete(actor: Actor, ref: string, expectedVersion?: number): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const device = await findDeviceByRef(trx, actor, ref);
      await requirePrivilege(trx, actor, 'Device.Delete', inPartition(device.partitionId));
      const credentials = await trx.selectFrom('credential').select('name').where('device_id', '=', device.id).execute();
      if (credentials.length > 0) {
        throw errors.conflict(`Device ${device.name} still has credentials (${credentials.map((row) => row.name).join(', ')}): delete them first.`);
      }
      const changes = await trx
        .selectFrom('change')
        .select('name')
        .where((eb) => eb(eb.ref('devices'), '@>', JSON.stringify([device.id]) as never))
        .execute();
      if (changes.length > 0) {
        throw errors.conflict(`Device ${device.name} belongs to changes (${changes.map((row) => row.name).join(', ')}): remove it from them first.`);
      }
      await this.deps.objects.delete(trx, deviceKind, device, actor, { expectedVersion });
    });
  }

  /**
   * Connects to the device far enough to read its SSH host key. With no key pinned yet, pins it;
   * with one pinned, checks it. A different key is refused, logged, and answered 409.
   */
  async testConnection(actor: Actor, ref: string): Promise<ConnectionTest> {
    const device = await this.deps.db.transaction().execute(async (trx) => {
      const found = await findDeviceByRef(trx, actor, ref);
      await requirePrivilege(trx, actor, 'Device.Edit', inPartition(found.partitionId));
      return found;
    });
    let offered: string;
    try {
      offered = await this.deps.hostKeys.fetch(device.hostname, device.port);
    } catch (error) {
      throw new AppError('device_unreachable', 502, `Cannot reach ${device.hostname}:${device.port}: ${(error as Error).message}.`);
    }
    const parsed = parseSshPublicKey(offered);
    if (!parsed.ok) throw new AppError('device_unreachable', 502, `The device offered a host key Changegate cannot read: ${parsed.problem}.`);
    const outcome = await this.deps.db.transaction().execute(async (trx): Promise<ConnectionTest | AppError> => {
      const current = await findDeviceByRef(trx, actor, ref);
      if (current.hostKeyFingerprint === null) {
        const pinned = await this.deps.objects.update(trx, deviceKind, current, { hostKey: offered, hostKeyFingerprint: parsed.key.fingerprint }, actor, {
          reason: 'host key pinned on the first test connection',
        });
        return { device: (await this.present(trx, [pinned]))[0] as DeviceView, hostKeyStatus: 'pinned', hostKeyFingerprint: parsed.key.fingerprint };
      }
      if (current.hostKeyFingerprint === parsed.key.fingerprint) {
        return { device: (await this.present(trx, [current]))[0] as DeviceView, hostKeyStatus: 'matched', hostKeyFingerprint: parsed.key.fingerprint };
      }
      await appendEvent(trx, {
        actor: actor.username,
        action: 'device.hostkey.mismatch',
        subject: `device:${await partitionName(trx, current)}.${current.name}`,
        data: { pinned: current.hostKeyFingerprint, offered: parsed.key.fingerprint, hostname: current.hostname, port: current.port },
        time: this.deps.clock.now(),
      });
      return hostKeyMismatch(current, parsed.key.fingerprint);
    });
    if (outcome instanceof AppError) throw outcome;
    return outcome;
  }

  private async present(trx: Tx, devices: readonly Device[]): Promise<DeviceView[]> {
    const names = await objectPlaceNames(trx, devices);
    return devices.map((device) => presentDevice(device, names(device)));
  }
}

/** The answer when a device shows another host key than the pinned one: possibly a machine in the middle. */
export function hostKeyMismatch(device: Device, offered: string): AppError {
  return new AppError(
    'host_key_mismatch',
    409,
    `Device ${device.name} presented host key ${offered}, not the pinned ${device.hostKeyFingerprint}. ` +
      'If the server was really reinstalled, an administrator must pin the new key (PATCH the device with hostKey); otherwise someone may be in the middle.',
    { pinned: device.hostKeyFingerprint, offered },
  );
}

async function partitionName(trx: Tx, device: Device): Promise<string> {
  const row = await trx.selectFrom('partition').select('name').where('id', '=', device.partitionId).executeTakeFirst();
  return row?.name ?? device.partitionId;
}

function parseHostKey(line: string, problems: Array<{ path: string; message: string }>): { line: string; fingerprint: string } | undefined {
  const parsed = parseSshPublicKey(line);
  if (!parsed.ok) {
    problems.push({ path: '/hostKey', message: parsed.problem });
    return undefined;
  }
  return { line: `${parsed.key.algorithm} ${parsed.key.data}`, fingerprint: parsed.key.fingerprint };
}

const uniqueTags = (tags: readonly string[] = []) => [...new Set(tags)].sort();
