import { hasPrivilege, inPartition, type Actor } from '../access/index.ts';
import { findAccessGroup, findChange, findVisibleChange, type Change } from '../changes/index.ts';
import type { Executor, Tx } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';

/**
 * Subscriptions to a change's deviation alerts. An alert names the commands typed, so only a user
 * who may read the change's sessions (Session.View in its partition) or approves its requests may
 * subscribe, and each alert asks again: a subscriber who lost the privilege hears nothing more.
 */

/** Whether `actor` may hear of the change's deviations: an approver of its group, or Session.View in its partition. */
async function mayHear(db: Executor, actor: Pick<Actor, 'userId' | 'username'>, change: Change): Promise<boolean> {
  const group = await findAccessGroup(db, change.accessGroupId);
  if (group?.approvers.includes(actor.userId)) return true;
  return hasPrivilege(db, actor, 'Session.View', inPartition(change.partitionId));
}

/** The change, once the caller may see it and hear of its deviations; a change they may not see is not found. */
export async function changeToHearOf(db: Tx, actor: Actor, changeName: string): Promise<Change> {
  const change = await findVisibleChange(db, actor, changeName);
  if (!(await mayHear(db, actor, change))) {
    throw errors.forbidden(`Alerts of ${change.name} name the commands typed: you need Session.View in its partition, or to approve its requests.`);
  }
  return change;
}

export async function isSubscribed(db: Executor, changeId: string, userId: string): Promise<boolean> {
  const row = await db.selectFrom('deviation_subscription').select('user_id').where('change_id', '=', changeId).where('user_id', '=', userId).executeTakeFirst();
  return row !== undefined;
}

export async function subscribe(db: Executor, changeId: string, userId: string, at: Date): Promise<void> {
  await db.insertInto('deviation_subscription').values({ change_id: changeId, user_id: userId, created_at: at }).onConflict((oc) => oc.doNothing()).execute();
}

export async function unsubscribe(db: Executor, changeId: string, userId: string): Promise<void> {
  await db.deleteFrom('deviation_subscription').where('change_id', '=', changeId).where('user_id', '=', userId).execute();
}

/** The subscribers of a change who may still hear of its deviations, as user ids. */
export async function alertSubscribers(db: Executor, changeId: string): Promise<string[]> {
  const change = await findChange(db, changeId);
  if (!change) return [];
  const rows = await db.selectFrom('deviation_subscription').select('user_id').where('change_id', '=', changeId).execute();
  const allowed: string[] = [];
  // Grants are found by user id; the name is not asked.
  for (const row of rows) if (await mayHear(db, { userId: row.user_id, username: '' }, change)) allowed.push(row.user_id);
  return allowed;
}
