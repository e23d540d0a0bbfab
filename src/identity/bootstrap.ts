import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { appendEvent } from '../eventlog/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import { SYSTEM_ACTOR_NAME } from '../access/actor.ts';
import { insertGrants } from '../access/grant.store.ts';
import { findPartitionByName, insertPartition } from '../objects/partition.store.ts';
import { GLOBAL_PARTITION } from '../objects/partition.ts';
import { generatePassword, hashPassword } from './password.ts';
import { PRIVILEGES } from '../access/privilege.ts';
import { countUsers, insertUser, newUserRow } from './user.store.ts';
import { FIRST_ADMIN } from './user.ts';

export { FIRST_ADMIN } from './user.ts';

export interface BootstrapResult {
  /** Set on the first start only: the administrator's password when Changegate generated it. */
  readonly generatedAdminPassword?: string;
  readonly adminCreated: boolean;
}

/**
 * Makes a fresh installation usable, in one transaction: the GLOBAL partition, and while there are
 * no users, the `admin` user holding every privilege at Admin level system-wide. Idempotent.
 */
export async function bootstrapInstallation(db: Kysely<Database>, clock: Clock, options: { adminPassword?: string }): Promise<BootstrapResult> {
  return db.transaction().execute(async (trx) => {
    const now = clock.now();
    const by = SYSTEM_ACTOR_NAME;
    if (!(await findPartitionByName(trx, GLOBAL_PARTITION))) {
      await insertPartition(trx, {
        id: randomUUID(),
        name: GLOBAL_PARTITION,
        description: 'The partition every installation has.',
        version: 1,
        created_at: now,
        created_by: by,
        updated_at: now,
        updated_by: by,
      });
      await appendEvent(trx, { actor: by, action: 'partition.create', subject: `partition:${GLOBAL_PARTITION}`, time: now });
    }
    if ((await countUsers(trx)) > 0) return { adminCreated: false };
    const password = options.adminPassword ?? generatePassword();
    const userId = randomUUID();
    await insertUser(trx, newUserRow({ id: userId, username: FIRST_ADMIN, displayName: 'Administrator', email: null, passwordHash: await hashPassword(password), by, now }));
    await insertGrants(
      trx,
      PRIVILEGES.map((privilege) => ({ id: randomUUID(), userId, privilege, level: 'admin', partitionId: null, grantedAt: now, grantedBy: by })),
    );
    await appendEvent(trx, {
      actor: by,
      action: 'user.create',
      subject: `user:${FIRST_ADMIN}`,
      data: { firstAdministrator: true, privileges: PRIVILEGES.length, passwordGenerated: options.adminPassword === undefined },
      time: now,
    });
    return { adminCreated: true, ...(options.adminPassword === undefined && { generatedAdminPassword: password }) };
  });
}
