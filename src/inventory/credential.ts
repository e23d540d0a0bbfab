import type { ObjectMeta } from '../objects/index.ts';
import type { SealedColumn } from '../platform/reseal.ts';
import type { CredentialView } from './credential.views.ts';

/** An account on a device and its secret, sealed by the vault. */
export interface Credential extends ObjectMeta {
  readonly deviceId: string;
  readonly account: string;
  readonly kind: 'password' | 'private_key';
  /** Sealed (`v1.<key id>.…`): the password or the private key. */
  readonly secret: string;
  /** Sealed passphrase of an encrypted private key. */
  readonly passphrase: string | null;
  readonly description: string;
  /**
   * The device's host key fingerprint this credential is confirmed for: its device's pinned one
   * when the secret was stored, or the one someone with Credential.Edit confirmed since. The
   * gateway sends a password only to a device whose pinned key is this one.
   */
  readonly hostKeyFingerprint: string | null;
}

/** Accounts as Unix knows them: no `@` or white space. */
export const ACCOUNT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\$?$/;

/** The seal of a credential field is bound to the credential, so it cannot be moved onto another. */
export const credentialSealContext = (credentialId: string, field: 'secret' | 'passphrase') => `credential:${credentialId}:${field}`;

/** Where the vault keeps sealed values, for the vault rotation. */
export const INVENTORY_SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: 'credential', column: 'secret', context: (id) => credentialSealContext(id, 'secret') },
  { table: 'credential', column: 'passphrase', context: (id) => credentialSealContext(id, 'passphrase') },
];

export type { CredentialView } from './credential.views.ts';

/**
 * Whether the gateway may send this credential's password to its device, whose pinned host key
 * fingerprint is `devicePinned`: only when the credential is confirmed for that very key. A key
 * pinned after the password was stored may be someone else's server (issue 10, item 1).
 */
export function confirmedForHostKey(credential: Pick<Credential, 'hostKeyFingerprint'>, devicePinned: string | null): boolean {
  return devicePinned !== null && credential.hostKeyFingerprint === devicePinned;
}

export function presentCredential(credential: Credential, names: { device: string; partition: string; devicePinned: string | null }): CredentialView {
  return {
    id: credential.id,
    name: credential.name,
    device: names.device,
    partition: names.partition,
    account: credential.account,
    kind: credential.kind,
    hasPassphrase: credential.passphrase !== null,
    sealedWithKey: credential.secret.split('.')[1] ?? '',
    description: credential.description,
    hostKeyFingerprint: credential.hostKeyFingerprint,
    hostKeyConfirmed: confirmedForHostKey(credential, names.devicePinned),
    version: credential.version,
    createdAt: credential.createdAt.toISOString(),
    createdBy: credential.createdBy,
    updatedAt: credential.updatedAt.toISOString(),
    updatedBy: credential.updatedBy,
  };
}
