import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import ssh2 from 'ssh2';
import { partitionNamesByIds, type ObjectStore } from '../objects/index.ts';
import { inPartition, partitionsWith, requireObjectPrivilege, requirePrivilege, type Actor } from '../access/index.ts';
import type { Database, Executor, Tx } from '../platform/database.ts';
import { errors, type FieldProblem } from '../platform/errors.ts';
import type { SecretBox } from '../platform/secret-box.ts';
import { ACCOUNT_NAME, credentialSealContext, presentCredential, type Credential, type CredentialView } from './credential.ts';
import { credentialKind, credentialsOfDevice, findCredential, listCredentials } from './credential.store.ts';
import { findDeviceByRef } from './device.service.ts';
import { findDevice, findDevicesByIds } from './device.store.ts';
import { FINGERPRINT } from './device.ts';

export interface CredentialServiceDeps {
  readonly db: Kysely<Database>;
  readonly objects: ObjectStore;
  readonly vault: SecretBox;
}

/** A new secret: a password, or a private key (OpenSSH or PEM) with its passphrase if it is encrypted. */
export type SecretInput = { readonly password: string } | { readonly privateKey: string; readonly passphrase?: string };

export interface NewCredential {
  readonly device: string;
  readonly account: string;
  readonly secret: SecretInput;
  readonly description?: string;
}

export interface CredentialPatch {
  readonly secret?: SecretInput;
  readonly description?: string;
  readonly expectedVersion?: number;
}

/** Confirming a credential for its device's newly pinned host key: the fingerprint the caller checked. */
export interface HostKeyConfirmation {
  readonly fingerprint: string;
  readonly expectedVersion?: number;
}

/** The clear secret, only ever handed to the session gateway, in memory. */
export interface UnsealedCredential {
  readonly account: string;
  readonly password?: string;
  readonly privateKey?: string;
  readonly passphrase?: string;
}

/**
 * The vault's credentials. Secrets are sealed (AES-256-GCM under the master key) before they are
 * stored; no method here returns one, sealed or clear, except `unsealForSession`, which only the
 * gateway calls.
 */
export class CredentialService {
  constructor(private readonly deps: CredentialServiceDeps) {}

  async list(actor: Actor, filter: { device?: string } = {}): Promise<CredentialView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const deviceId = filter.device ? (await findDeviceByRef(trx, actor, filter.device)).id : undefined;
      const credentials = await listCredentials(trx, await partitionsWith(trx, actor, 'Credential.View'), deviceId);
      return this.present(trx, credentials);
    });
  }

  async get(actor: Actor, id: string): Promise<CredentialView> {
    return this.deps.db.transaction().execute(async (trx) => (await this.present(trx, [await this.visible(trx, actor, id)]))[0] as CredentialView);
  }

  async create(actor: Actor, input: NewCredential): Promise<CredentialView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const device = await findDeviceByRef(trx, actor, input.device);
      await requirePrivilege(trx, actor, 'Credential.Create', inPartition(device.partitionId));
      const problems: FieldProblem[] = [];
      if (!ACCOUNT_NAME.test(input.account)) problems.push({ path: '/account', message: 'letters, digits, "_", "." and "-", at most 64' });
      checkSecret(input.secret, problems);
      if (problems.length > 0) throw errors.validation('The credential cannot be saved: fix the fields listed.', problems);
      if ((await credentialsOfDevice(trx, device.id)).some((credential) => credential.account === input.account)) {
        throw errors.alreadyExists('credential', `${input.account}@${device.name}`);
      }
      const id = randomUUID();
      const credential = await this.deps.objects.create(
        trx,
        credentialKind,
        {
          partitionId: device.partitionId,
          applicationId: device.applicationId,
          name: `${input.account}@${device.name}`,
          deviceId: device.id,
          account: input.account,
          description: input.description ?? '',
          // Stored now, for the key pinned now: a later re-pin needs a confirmation.
          hostKeyFingerprint: device.hostKeyFingerprint,
          ...this.seal(id, input.secret),
        },
        actor,
        { id },
      );
      return (await this.present(trx, [credential]))[0] as CredentialView;
    });
  }

  async update(actor: Actor, id: string, patch: CredentialPatch): Promise<CredentialView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const credential = await this.visible(trx, actor, id);
      await requirePrivilege(trx, actor, 'Credential.Edit', inPartition(credential.partitionId));
      const problems: FieldProblem[] = [];
      if (patch.secret) checkSecret(patch.secret, problems);
      if (problems.length > 0) throw errors.validation('The credential cannot be saved: fix the fields listed.', problems);
      // Neither a new secret nor a description confirms the credential for a re-pinned key: a
      // routine rotation is no check of the key the password goes to. Only confirm-host-key is.
      const updated = await this.deps.objects.update(
        trx,
        credentialKind,
        credential,
        {
          ...(patch.description !== undefined && { description: patch.description }),
          ...(patch.secret && this.seal(credential.id, patch.secret)),
        },
        actor,
        { expectedVersion: patch.expectedVersion },
      );
      return (await this.present(trx, [updated]))[0] as CredentialView;
    });
  }

  /**
   * Confirms a credential for its device's currently pinned host key, after a re-pin: from then on
   * the gateway sends its password to that key's holder again. The caller names the fingerprint
   * they confirm, so a key re-pinned meanwhile is never confirmed blind. Needs Credential.Edit.
   */
  async confirmHostKey(actor: Actor, id: string, confirmation: HostKeyConfirmation): Promise<CredentialView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const credential = await this.visible(trx, actor, id);
      await requirePrivilege(trx, actor, 'Credential.Edit', inPartition(credential.partitionId));
      if (!FINGERPRINT.test(confirmation.fingerprint)) {
        throw errors.validation('The fingerprint cannot be read: fix the field listed.', [
          { path: '/fingerprint', message: 'expected a SHA256 fingerprint as ssh-keygen -l prints it: SHA256: and 43 base64 characters' },
        ]);
      }
      const device = await findDevice(trx, credential.deviceId);
      if (!device?.hostKeyFingerprint) throw errors.hostKeyNotPinned(device?.name ?? credential.deviceId);
      if (confirmation.fingerprint !== device.hostKeyFingerprint) throw errors.notThePinnedKey(device, confirmation.fingerprint);
      // Already confirmed for this key: nothing to write (asking twice is harmless).
      if (credential.hostKeyFingerprint === device.hostKeyFingerprint) return (await this.present(trx, [credential]))[0] as CredentialView;
      const confirmed = await this.deps.objects.update(trx, credentialKind, credential, { hostKeyFingerprint: device.hostKeyFingerprint }, actor, {
        expectedVersion: confirmation.expectedVersion,
        verb: 'hostkey.confirm',
        reason: `confirmed for the host key ${device.hostKeyFingerprint} of device ${device.name}`,
      });
      return (await this.present(trx, [confirmed]))[0] as CredentialView;
    });
  }

  async delete(actor: Actor, id: string, expectedVersion?: number): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const credential = await this.visible(trx, actor, id);
      await requirePrivilege(trx, actor, 'Credential.Delete', inPartition(credential.partitionId));
      await this.deps.objects.delete(trx, credentialKind, credential, actor, { expectedVersion });
    });
  }

  /** The credentials of a device, for the gateway to choose from (no secrets). */
  async ofDevice(db: Executor, deviceId: string): Promise<Credential[]> {
    return credentialsOfDevice(db, deviceId);
  }

  /** Opens a credential's secret in memory for the session gateway. Nothing else may call this. */
  unsealForSession(credential: Credential): UnsealedCredential {
    const secret = this.deps.vault.open(credential.secret, credentialSealContext(credential.id, 'secret'));
    const passphrase = credential.passphrase ? this.deps.vault.open(credential.passphrase, credentialSealContext(credential.id, 'passphrase')) : undefined;
    return credential.kind === 'password' ? { account: credential.account, password: secret } : { account: credential.account, privateKey: secret, passphrase };
  }

  private seal(id: string, secret: SecretInput): Pick<Credential, 'kind' | 'secret' | 'passphrase'> {
    if ('password' in secret) return { kind: 'password', secret: this.deps.vault.seal(secret.password, credentialSealContext(id, 'secret')), passphrase: null };
    return {
      kind: 'private_key',
      secret: this.deps.vault.seal(secret.privateKey, credentialSealContext(id, 'secret')),
      passphrase: secret.passphrase ? this.deps.vault.seal(secret.passphrase, credentialSealContext(id, 'passphrase')) : null,
    };
  }

  private async visible(trx: Tx, actor: Actor, id: string): Promise<Credential> {
    const credential = await findCredential(trx, id);
    if (!credential) throw errors.notFound('credential', id);
    await requireObjectPrivilege(trx, actor, 'Credential.View', inPartition(credential.partitionId), { what: 'credential', key: id });
    return credential;
  }

  private async present(trx: Tx, credentials: readonly Credential[]): Promise<CredentialView[]> {
    const devices = new Map((await findDevicesByIds(trx, [...new Set(credentials.map((credential) => credential.deviceId))])).map((device) => [device.id, device]));
    const partitions = await partitionNamesByIds(trx, credentials.map((credential) => credential.partitionId));
    return credentials.map((credential) => {
      const device = devices.get(credential.deviceId);
      return presentCredential(credential, {
        device: device?.name ?? credential.deviceId,
        partition: partitions.get(credential.partitionId) ?? '',
        devicePinned: device?.hostKeyFingerprint ?? null,
      });
    });
  }
}

/** Checks a secret without ever repeating it: a private key must parse, and open with its passphrase. */
function checkSecret(secret: SecretInput, problems: FieldProblem[]): void {
  if ('password' in secret) {
    if (secret.password === '') problems.push({ path: '/secret/password', message: 'must not be empty' });
    return;
  }
  const parsed = ssh2.utils.parseKey(secret.privateKey, secret.passphrase);
  if (parsed instanceof Error) {
    problems.push({ path: '/secret/privateKey', message: `cannot be read as a private key (${parsed.message.replace(/\s+/g, ' ').slice(0, 200)})` });
  } else if (Array.isArray(parsed)) {
    problems.push({ path: '/secret/privateKey', message: 'holds several keys; give one' });
  } else if (!parsed.isPrivateKey()) {
    problems.push({ path: '/secret/privateKey', message: 'is a public key; give the private key' });
  }
}
