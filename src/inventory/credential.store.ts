import type { Selectable } from 'kysely';
import { fromJson, tableWriter, type ObjectKind } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import type { CredentialTable } from '../platform/tables/changes.ts';
import type { Credential } from './credential.ts';

type CredentialRow = Selectable<CredentialTable>;

function toCredential(row: CredentialRow): Credential {
  return {
    id: row.id,
    partitionId: row.partition_id,
    name: row.name,
    applicationId: row.application_id,
    deviceId: row.device_id,
    account: row.account,
    kind: row.kind,
    secret: row.secret,
    passphrase: row.passphrase,
    description: row.description,
    hostKeyFingerprint: row.host_key_fingerprint,
    version: row.version,
    createdAt: row.created_at,
    createdBy: row.created_by,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

function toRow(credential: Credential) {
  return {
    partition_id: credential.partitionId,
    name: credential.name,
    application_id: credential.applicationId,
    device_id: credential.deviceId,
    account: credential.account,
    kind: credential.kind,
    secret: credential.secret,
    passphrase: credential.passphrase,
    description: credential.description,
    host_key_fingerprint: credential.hostKeyFingerprint,
    version: credential.version,
    updated_at: credential.updatedAt,
    updated_by: credential.updatedBy,
  };
}

/** How the object store writes credentials. Events only say that a secret changed. */
export const credentialKind: ObjectKind<Credential> = {
  type: 'Credential',
  event: 'credential',
  restore: { create: 'Credential.Create', edit: 'Credential.Edit', delete: 'Credential.Delete' },
  secretFields: ['secret', 'passphrase'],
  ...tableWriter('credential', toRow),
  find: (db, id) => findCredential(db, id),
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

export async function findCredential(db: Executor, id: string): Promise<Credential | undefined> {
  const row = await db.selectFrom('credential').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toCredential(row);
}

export async function findCredentialByName(db: Executor, partitionId: string, name: string): Promise<Credential | undefined> {
  const row = await db.selectFrom('credential').selectAll().where('partition_id', '=', partitionId).where('name', '=', name).executeTakeFirst();
  return row && toCredential(row);
}

export async function credentialsOfDevice(db: Executor, deviceId: string): Promise<Credential[]> {
  return (await db.selectFrom('credential').selectAll().where('device_id', '=', deviceId).orderBy('account').execute()).map(toCredential);
}

export async function listCredentials(db: Executor, partitionIds: 'all' | readonly string[], deviceId?: string): Promise<Credential[]> {
  if (partitionIds !== 'all' && partitionIds.length === 0) return [];
  let query = db.selectFrom('credential').selectAll();
  if (partitionIds !== 'all') query = query.where('partition_id', 'in', partitionIds);
  if (deviceId) query = query.where('device_id', '=', deviceId);
  return (await query.orderBy('name').execute()).map(toCredential);
}
