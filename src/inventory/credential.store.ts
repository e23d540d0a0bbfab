import { fromJson, objectTable, type ObjectKind } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import type { Credential } from './credential.ts';

/** Credentials as stored: the table maps the shared columns, these the credential's own. */
const credentials = objectTable<Credential, 'credential'>('credential', {
  fromRow: (row) => ({
    deviceId: row.device_id,
    account: row.account,
    kind: row.kind,
    secret: row.secret,
    passphrase: row.passphrase,
    description: row.description,
    hostKeyFingerprint: row.host_key_fingerprint,
  }),
  toRow: (credential) => ({
    device_id: credential.deviceId,
    account: credential.account,
    kind: credential.kind,
    secret: credential.secret,
    passphrase: credential.passphrase,
    description: credential.description,
    host_key_fingerprint: credential.hostKeyFingerprint,
  }),
});

export const findCredential = credentials.find;
export const findCredentialByName = credentials.findInPartition;

export async function credentialsOfDevice(db: Executor, deviceId: string): Promise<Credential[]> {
  return credentials.list(db, 'all', (query) => query.where('device_id', '=', deviceId).orderBy('account'));
}

export async function listCredentials(db: Executor, partitionIds: 'all' | readonly string[], deviceId?: string): Promise<Credential[]> {
  return credentials.list(db, partitionIds, (query) => (deviceId ? query.where('device_id', '=', deviceId) : query).orderBy('name'));
}

/** How the object store writes credentials. Events only say that a secret changed. */
export const credentialKind: ObjectKind<Credential> = {
  type: 'Credential',
  event: 'credential',
  restore: { create: 'Credential.Create', edit: 'Credential.Edit', delete: 'Credential.Delete' },
  secretFields: ['secret', 'passphrase'],
  ...credentials.storage,
  // The snapshot holds the secret and passphrase sealed, bound to this id: restored, they open again.
  fromSnapshot: (json) => fromJson<Credential>(json),
  references: (credential) => [{ type: 'Device', id: credential.deviceId, what: 'its device' }],
  async keyHolders(db, credential) {
    const holders = await db
      .selectFrom('credential')
      .select(['id', 'name'])
      .where('id', '!=', credential.id)
      .where((eb) =>
        eb.or([
          eb.and([eb('partition_id', '=', credential.partitionId), eb('name', '=', credential.name)]),
          eb.and([eb('device_id', '=', credential.deviceId), eb('account', '=', credential.account)]),
        ]),
      )
      .execute();
    return holders.map((holder) => `another credential (${holder.name}) now holds account ${credential.account} on its device`);
  },
};
