import type { Executor } from '../platform/database.ts';
import type { GrantLevel, Privilege } from './privilege.ts';

/** A privilege held by a user, system-wide (`partitionId` null) or in a partition. */
export interface Grant {
  readonly id: string;
  readonly userId: string;
  readonly privilege: Privilege;
  readonly level: GrantLevel;
  readonly partitionId: string | null;
  readonly grantedAt: Date;
  readonly grantedBy: string;
  /** Given by an administrator, or kept in step with the user's groups at the OpenID Connect provider. */
  readonly source: GrantSource;
}

export type GrantSource = 'manual' | 'oidc';

function grantQuery(db: Executor) {
  return db
    .selectFrom('privilege_grant as g')
    .select(['g.id', 'g.user_id as userId', 'g.privilege', 'g.level', 'g.partition_id as partitionId', 'g.granted_at as grantedAt', 'g.granted_by as grantedBy', 'g.source']);
}

type RawGrant = Omit<Grant, 'privilege'> & { privilege: string };
// The column holds only privileges of the catalogue: grants are written from checked names.
const toGrant = (row: RawGrant) => row as Grant;

/** The user's grants of one privilege, every scope. */
export async function grantsOf(db: Executor, userId: string, privilege: Privilege): Promise<Grant[]> {
  const rows = await grantQuery(db).where('g.user_id', '=', userId).where('g.privilege', '=', privilege).execute();
  return rows.map(toGrant);
}

/** Grants by privilege (the users and partitions they name are other modules' to order by). */
export async function listGrants(db: Executor, filter: { userId?: string; privilege?: string }): Promise<Grant[]> {
  let query = grantQuery(db);
  if (filter.userId) query = query.where('g.user_id', '=', filter.userId);
  if (filter.privilege) query = query.where('g.privilege', '=', filter.privilege);
  const rows = await query.orderBy('g.privilege').execute();
  return rows.map(toGrant);
}

export async function findGrant(db: Executor, id: string): Promise<Grant | undefined> {
  const row = await grantQuery(db).where('g.id', '=', id).executeTakeFirst();
  return row && toGrant(row);
}

export async function findGrantByScope(
  db: Executor,
  userId: string,
  privilege: Privilege,
  partitionId: string | null,
): Promise<Grant | undefined> {
  let query = grantQuery(db).where('g.user_id', '=', userId).where('g.privilege', '=', privilege);
  query = partitionId === null ? query.where('g.partition_id', 'is', null) : query.where('g.partition_id', '=', partitionId);
  const row = await query.executeTakeFirst();
  return row && toGrant(row);
}

export interface NewGrant {
  readonly id: string;
  readonly userId: string;
  readonly privilege: Privilege;
  readonly level: GrantLevel;
  readonly partitionId: string | null;
  readonly grantedAt: Date;
  readonly grantedBy: string;
  /** `manual` unless said. */
  readonly source?: GrantSource;
}

export async function insertGrant(db: Executor, grant: NewGrant): Promise<void> {
  await insertGrants(db, [grant]);
}

/** Several grants in one statement (the first administrator's, one per privilege). */
export async function insertGrants(db: Executor, grants: readonly NewGrant[]): Promise<void> {
  if (grants.length === 0) return;
  await db
    .insertInto('privilege_grant')
    .values(
      grants.map((grant) => ({
        id: grant.id,
        user_id: grant.userId,
        privilege: grant.privilege,
        level: grant.level,
        partition_id: grant.partitionId,
        granted_at: grant.grantedAt,
        granted_by: grant.grantedBy,
        source: grant.source ?? 'manual',
      })),
    )
    .execute();
}

/** Sets a grant's level as an administrator gives it: the grant is theirs from then on (`manual`), never removed by a sign-in. */
export async function updateGrantLevel(db: Executor, id: string, level: GrantLevel, grantedAt: Date, grantedBy: string): Promise<void> {
  await db.updateTable('privilege_grant').set({ level, granted_at: grantedAt, granted_by: grantedBy, source: 'manual' }).where('id', '=', id).execute();
}

/** Marks a grant as an administrator's (they granted what the provider's groups gave): no sign-in removes it. */
export async function adoptGrant(db: Executor, id: string, grantedAt: Date, grantedBy: string): Promise<void> {
  await db.updateTable('privilege_grant').set({ source: 'manual', granted_at: grantedAt, granted_by: grantedBy }).where('id', '=', id).execute();
}

/** The user's grants from one source. */
export async function grantsFrom(db: Executor, userId: string, source: GrantSource): Promise<Grant[]> {
  const rows = await grantQuery(db).where('g.user_id', '=', userId).where('g.source', '=', source).execute();
  return rows.map(toGrant);
}

/** Every grant of the user, whatever its source. */
export async function grantsOfUser(db: Executor, userId: string): Promise<Grant[]> {
  const rows = await grantQuery(db).where('g.user_id', '=', userId).execute();
  return rows.map(toGrant);
}

export async function deleteGrant(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('privilege_grant').where('id', '=', id).execute();
}
