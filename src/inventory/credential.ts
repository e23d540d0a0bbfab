import type { ObjectMeta } from '../objects/index.ts';
import type { SealedColumn } from '../platform/reseal.ts';

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

/** What leaves the process about a credential: never the secret, sealed or not. */
export interface CredentialView {
  readonly id: string;
  readonly name: string;
  readonly device: string;
  readonly partition: string;
  readonly account: string;
  readonly kind: 'password' | 'private_key';
  readonly hasPassphrase: boolean;
  /** Id of the master key that sealed the secret (it changes with `changegate vault rotate`). */
  readonly sealedWithKey: string;
  readonly description: string;
  /** The device host key fingerprint the credential is confirmed for (null: none yet). */
  readonly hostKeyFingerprint: string | null;
  /**
   * False when the device's pinned key is not the one the credential is confirmed for: the gateway
   * will not send a password until someone with Credential.Edit confirms it for the new key.
   */
  readonly hostKeyConfirmed: boolean;
  readonly version: number;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly updatedAt: string;
  readonly updatedBy: string;
}

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
