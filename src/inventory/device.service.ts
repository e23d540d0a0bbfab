import type { Kysely } from 'kysely';
import { findByRef, type ObjectStore } from '../objects/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import { findPartitionByName, partitionNamesByIds, resolvePlace } from '../objects/index.ts';
import { inPartition, partitionsWith, requirePrivilege, type Actor } from '../access/index.ts';
import { parseSshPublicKey } from '../identity/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Executor, Tx } from '../platform/database.ts';
import { AppError, errors, type FieldProblem } from '../platform/errors.ts';
import type { LiveSessionControl } from '../platform/live-session-control.ts';
import { credentialsOfDevice } from './credential.store.ts';
import {
  deviceProblems,
  FINGERPRINT,
  identityChangeReason,
  identityChanges,
  presentDevice,
  type Device,
  type DeviceIdentity,
  type DeviceView,
} from './device.ts';
import { deviceKind, findDeviceInPartition, findDevicesNamed, listDevices, objectPlaceNames } from './device.store.ts';
import type { HostKeyProbe } from './host-key-probe.ts';
import type { ConnectionTest } from './device.views.ts';

/**
 * Cancels the pending and approved requests of a device inside the caller's transaction, telling
 * the requesters why: the smallest part of the request service a device's re-pin needs (inventory
 * may not import changes, which imports inventory).
 */
export interface OpenRequestCanceller {
  cancelOpen(trx: Tx, match: { deviceId: string }, why: { actor: string; reason: string }): Promise<ReadonlyArray<{ readonly number: number }>>;
}

/**
 * The changes whose device list holds a device: a device in a change is not deleted. Changes sit
 * above inventory, so the composition root hands this in.
 */
export interface DeviceChanges {
  covering(db: Executor, deviceId: string): Promise<ReadonlyArray<{ readonly name: string }>>;
}

export interface DeviceServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly objects: ObjectStore;
  readonly hostKeys: HostKeyProbe;
  /** Cancels a device's open requests when its address or key changes. */
  readonly requests: OpenRequestCanceller;
  readonly changes: DeviceChanges;
  /** Ends a device's live sessions, after the change of its address or key commits. */
  readonly live: LiveSessionControl;
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

export interface ConnectionTestOptions {
  /**
   * The SHA256 fingerprint the caller verified on the server itself. Needed to pin a key on a
   * device that holds credentials or has another key pinned; pinning needs Device.Pin.
   */
  readonly expectedFingerprint?: string;
}

export type { ConnectionTest } from './device.views.ts';

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
      // A key given now is pinned now: pinning is what Device.Pin grants.
      if (input.hostKey) await requirePrivilege(trx, actor, 'Device.Pin', inPartition(place.partitionId));
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

  /**
   * Edits a device. Its address (hostname, port) and pinned host key decide where its vaulted
   * credentials are sent: changing them needs Device.Pin besides Device.Edit, cancels the device's
   * open requests, ends its live sessions and is logged with the old and new values.
   */
  async update(actor: Actor, ref: string, patch: DevicePatch): Promise<DeviceView> {
    const { view, moved } = await this.deps.db.transaction().execute(async (trx) => {
      const device = await findDeviceByRef(trx, actor, ref);
      await requirePrivilege(trx, actor, 'Device.Edit', inPartition(device.partitionId));
      const problems = deviceProblems(patch);
      // undefined: leave as is; null or empty: unpin (the next test connection pins again).
      const hostKey = patch.hostKey === undefined ? undefined : patch.hostKey ? parseHostKey(patch.hostKey, problems) : null;
      const wanted: DeviceIdentity = {
        hostname: patch.hostname ?? device.hostname,
        port: patch.port ?? device.port,
        // An unreadable key counts as a change: the privilege is checked before the fields.
        hostKeyFingerprint: patch.hostKey === undefined ? device.hostKeyFingerprint : hostKey === null ? null : (hostKey?.fingerprint ?? 'unreadable'),
      };
      if (identityChanges(device, wanted).length > 0) await requirePrivilege(trx, actor, 'Device.Pin', inPartition(device.partitionId));
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
      const moved = await this.identityChanged(trx, actor, device, updated);
      return { view: (await this.present(trx, [updated]))[0] as DeviceView, moved };
    });
    await this.endSessions(actor, moved);
    return view;
  }

  async delete(actor: Actor, ref: string, expectedVersion?: number): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const device = await findDeviceByRef(trx, actor, ref);
      await requirePrivilege(trx, actor, 'Device.Delete', inPartition(device.partitionId));
      const credentials = await trx.selectFrom('credential').select('name').where('device_id', '=', device.id).execute();
      if (credentials.length > 0) {
        throw errors.conflict(`Device ${device.name} still has credentials (${credentials.map((row) => row.name).join(', ')}): delete them first.`);
      }
      const changes = await this.deps.changes.covering(trx, device.id);
      if (changes.length > 0) {
        throw errors.conflict(`Device ${device.name} belongs to changes (${changes.map((row) => row.name).join(', ')}): remove it from them first.`);
      }
      await this.deps.objects.delete(trx, deviceKind, device, actor, { expectedVersion });
    });
  }

  /**
   * Connects to the device far enough to read its SSH host key and compares it with the pinned one.
   * Pins the key (needs Device.Pin) on first use while the device holds no credential; otherwise
   * only when the caller names the fingerprint they verified out of band and the device offers it.
   * Any other key is refused, logged, and answered 409 with the offered fingerprint.
   */
  async testConnection(actor: Actor, ref: string, options: ConnectionTestOptions = {}): Promise<ConnectionTest> {
    const { expectedFingerprint } = options;
    const device = await this.deps.db.transaction().execute(async (trx) => {
      const found = await findDeviceByRef(trx, actor, ref);
      await requirePrivilege(trx, actor, 'Device.Edit', inPartition(found.partitionId));
      // Whatever the device answers, this call may pin: the privilege is checked before asking it.
      if (found.hostKeyFingerprint === null || expectedFingerprint !== undefined) {
        await requirePrivilege(trx, actor, 'Device.Pin', inPartition(found.partitionId));
      }
      if (expectedFingerprint !== undefined && !FINGERPRINT.test(expectedFingerprint)) {
        const problem: FieldProblem = { path: '/expectedFingerprint', message: 'expected a SHA256 fingerprint as ssh-keygen -l prints it: SHA256: and 43 base64 characters' };
        throw errors.validation('The expected fingerprint cannot be read: fix the field listed.', [problem]);
      }
      return found;
    });
    let offered: string;
    try {
      offered = await this.deps.hostKeys.fetch(device.hostname, device.port);
    } catch (error) {
      throw errors.deviceUnreachable(device.hostname, device.port, (error as Error).message);
    }
    const parsed = parseSshPublicKey(offered);
    if (!parsed.ok) throw errors.unreadableHostKey(parsed.problem);
    const fingerprint = parsed.key.fingerprint;
    const outcome = await this.deps.db.transaction().execute(async (trx): Promise<{ test: ConnectionTest; moved?: MovedDevice } | AppError> => {
      const current = await findDeviceByRef(trx, actor, ref);
      if (current.hostname !== device.hostname || current.port !== device.port) {
        return errors.conflict(`Device ${current.name} moved to ${current.hostname}:${current.port} while it was tested: test it again.`);
      }
      const subject = `device:${await partitionName(trx, current)}.${current.name}`;
      const refuse = async (action: string, data: Record<string, unknown>, error: AppError) => {
        await appendEvent(trx, { actor: actor.username, action, subject, data: { ...data, hostname: current.hostname, port: current.port }, time: this.deps.clock.now() });
        return error;
      };
      if (expectedFingerprint !== undefined && expectedFingerprint !== fingerprint) {
        return refuse(
          'device.hostkey.unexpected',
          { pinned: current.hostKeyFingerprint, expected: expectedFingerprint, offered: fingerprint },
          errors.hostKeyNotExpected(current, expectedFingerprint, fingerprint),
        );
      }
      if (current.hostKeyFingerprint === fingerprint) {
        return { test: { device: (await this.present(trx, [current]))[0] as DeviceView, hostKeyStatus: 'matched', hostKeyFingerprint: fingerprint } };
      }
      if (expectedFingerprint === undefined) {
        if (current.hostKeyFingerprint !== null) {
          return refuse('device.hostkey.mismatch', { pinned: current.hostKeyFingerprint, offered: fingerprint }, errors.hostKeyMismatch(current, fingerprint));
        }
        const credentials = (await credentialsOfDevice(trx, current.id)).map((credential) => credential.name);
        if (credentials.length > 0) {
          return refuse('device.hostkey.unverified', { pinned: null, offered: fingerprint, credentials }, errors.hostKeyUnverified(current, fingerprint, credentials));
        }
      }
      // A pin decided in the first transaction may have become one the caller could not make.
      await requirePrivilege(trx, actor, 'Device.Pin', inPartition(current.partitionId));
      const pinned = await this.deps.objects.update(trx, deviceKind, current, { hostKey: `${parsed.key.algorithm} ${parsed.key.data}`, hostKeyFingerprint: fingerprint }, actor, {
        reason:
          expectedFingerprint === undefined
            ? 'host key pinned on the first test connection'
            : `host key pinned by a test connection, its fingerprint ${fingerprint} verified out of band`,
      });
      const moved = await this.identityChanged(trx, actor, current, pinned);
      return { test: { device: (await this.present(trx, [pinned]))[0] as DeviceView, hostKeyStatus: 'pinned', hostKeyFingerprint: fingerprint }, moved };
    });
    if (outcome instanceof AppError) throw outcome;
    await this.endSessions(actor, outcome.moved);
    return outcome.test;
  }

  /**
   * What a write made elsewhere (a restore from the audit trail) must also do when it changed a
   * device's address or key: inside that write's transaction, cancel the device's open requests and
   * log old and new values; the returned function ends its live sessions once the write commits.
   * The writer has already checked Device.Pin.
   */
  async afterWrite(trx: Tx, actor: Actor, before: Device, after: Device): Promise<(() => Promise<void>) | undefined> {
    const moved = await this.identityChanged(trx, actor, before, after);
    return moved && (() => this.endSessions(actor, moved));
  }

  /**
   * After a write to a device, inside its transaction: when its address or key changed, cancels
   * its open requests (their requesters are told why) and logs the old and new values. Returns
   * what the caller must do after the commit: end the device's live sessions.
   */
  private async identityChanged(trx: Tx, actor: Actor, before: Device, after: Device): Promise<MovedDevice | undefined> {
    const changed = identityChanges(before, after);
    if (changed.length === 0) return undefined;
    const reason = identityChangeReason(after.name, changed);
    const cancelled = await this.deps.requests.cancelOpen(trx, { deviceId: after.id }, { actor: actor.username, reason });
    const value = (device: Device) => ({ hostname: device.hostname, port: device.port, hostKeyFingerprint: device.hostKeyFingerprint });
    await appendEvent(trx, {
      actor: actor.username,
      action: 'device.identity.change',
      subject: `device:${await partitionName(trx, after)}.${after.name}`,
      data: { changed, before: value(before), after: value(after), reason, cancelledRequests: cancelled.map((request) => request.number) },
      time: this.deps.clock.now(),
    });
    return { deviceId: after.id, reason };
  }

  /** Ends the live sessions of a device whose address or key changed; called after the commit. */
  private async endSessions(actor: Actor, moved: MovedDevice | undefined): Promise<void> {
    if (moved) await this.deps.live.end({ deviceId: moved.deviceId }, { by: actor.username, reason: moved.reason });
  }

  private async present(trx: Tx, devices: readonly Device[]): Promise<DeviceView[]> {
    const names = await objectPlaceNames(trx, devices);
    return devices.map((device) => presentDevice(device, names(device)));
  }
}

async function partitionName(trx: Tx, device: Device): Promise<string> {
  return (await partitionNamesByIds(trx, [device.partitionId])).get(device.partitionId) ?? device.partitionId;
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

/** A device whose address or key changed: its live sessions are ended once the change commits. */
interface MovedDevice {
  readonly deviceId: string;
  readonly reason: string;
}
