import net from 'node:net';
import type { ObjectMeta } from '../objects/index.ts';
import type { FieldProblem } from '../platform/errors.ts';
import type { DeviceView } from './device.views.ts';

/** A server Changegate brokers sessions to. */
export interface Device extends ObjectMeta {
  readonly hostname: string;
  readonly port: number;
  readonly protocol: 'ssh';
  readonly description: string;
  readonly tags: readonly string[];
  /** The pinned SSH host key (`ssh-ed25519 AAAA…`); a device with none is pinned on its first test connection. */
  readonly hostKey: string | null;
  readonly hostKeyFingerprint: string | null;
}

/** No `@` (the gateway reads `alice@web01`) and no white space; dots are fine (`web01.example.com`). */
export const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const TAG = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export interface DeviceInput {
  readonly name?: string;
  readonly hostname?: string;
  readonly port?: number;
  readonly tags?: readonly string[];
}

export function deviceProblems(input: DeviceInput): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (input.name !== undefined && !DEVICE_NAME.test(input.name)) {
    problems.push({ path: '/name', message: 'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128; no "@"' });
  }
  if (input.hostname !== undefined && !HOSTNAME.test(input.hostname) && net.isIP(input.hostname) === 0) {
    problems.push({ path: '/hostname', message: `"${input.hostname}" is neither a host name nor an IP address` });
  }
  if (input.port !== undefined && (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535)) {
    problems.push({ path: '/port', message: 'expected a port from 1 to 65535' });
  }
  for (const [index, tag] of (input.tags ?? []).entries()) {
    if (!TAG.test(tag)) problems.push({ path: `/tags/${index}`, message: `"${tag}" is not a tag: letters, digits, "_", ".", ":" and "-"` });
  }
  return problems;
}

export type { DeviceView } from './device.views.ts';

export function presentDevice(device: Device, names: { partition: string; application: string | null }): DeviceView {
  return {
    id: device.id,
    name: device.name,
    partition: names.partition,
    application: names.application,
    hostname: device.hostname,
    port: device.port,
    protocol: device.protocol,
    description: device.description,
    tags: [...device.tags],
    hostKey: device.hostKey,
    hostKeyFingerprint: device.hostKeyFingerprint,
    version: device.version,
    createdAt: device.createdAt.toISOString(),
    createdBy: device.createdBy,
    updatedAt: device.updatedAt.toISOString(),
    updatedBy: device.updatedBy,
  };
}

/** A SHA256 host key fingerprint as `ssh-keygen -l` prints it (and Changegate shows it). */
export const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * What decides where a device's credentials are sent: its address and its pinned host key.
 * Changing any of it needs Device.Pin, cancels the device's open requests and ends its sessions.
 */
export interface DeviceIdentity {
  readonly hostname: string;
  readonly port: number;
  readonly hostKeyFingerprint: string | null;
}

export type IdentityField = keyof DeviceIdentity;

/** The identity fields that differ between two states of a device, in a fixed order. */
export function identityChanges(before: DeviceIdentity, after: DeviceIdentity): IdentityField[] {
  return (['hostname', 'port', 'hostKeyFingerprint'] as const).filter((field) => before[field] !== after[field]);
}

/**
 * Why a device's requests were cancelled and its sessions ended, in words the users read. Short
 * (it heads a notification); the event log keeps the old and new values.
 */
export function identityChangeReason(name: string, changed: readonly IdentityField[]): string {
  const address = changed.includes('hostname') || changed.includes('port');
  const key = changed.includes('hostKeyFingerprint');
  return `the ${address && key ? 'address and host key' : address ? 'address' : 'host key'} of device ${name} changed`;
}
