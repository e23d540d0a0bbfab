import type { Insertable } from 'kysely';
import type { Executor } from '../platform/database.ts';
import type { NoticeTable, NotificationTable } from '../platform/tables/notifications.ts';
import type { NotificationListRow } from './notification.ts';

export async function insertNotice(db: Executor, row: Insertable<NoticeTable>): Promise<void> {
  await db.insertInto('notice').values(row).execute();
}

export async function insertNotifications(db: Executor, rows: ReadonlyArray<Insertable<NotificationTable>>): Promise<void> {
  if (rows.length > 0) await db.insertInto('notification').values([...rows]).execute();
}

function listQuery(db: Executor, userId: string) {
  return db
    .selectFrom('notification')
    .innerJoin('notice', 'notice.id', 'notification.notice_id')
    .select([
      'notification.id',
      'notification.seq',
      'notice.kind',
      'notice.title',
      'notice.body',
      'notice.link',
      'notice.data',
      'notification.created_at',
      'notification.read_at',
    ])
    .where('notification.user_id', '=', userId);
}

/** A user's notifications, newest first; `beforeSeq` pages back. */
export async function listNotifications(
  db: Executor,
  userId: string,
  filter: { readonly unreadOnly: boolean; readonly limit: number; readonly beforeSeq?: number },
): Promise<NotificationListRow[]> {
  let query = listQuery(db, userId);
  if (filter.unreadOnly) query = query.where('notification.read_at', 'is', null);
  if (filter.beforeSeq !== undefined) query = query.where('notification.seq', '<', filter.beforeSeq);
  return query.orderBy('notification.seq', 'desc').limit(filter.limit).execute();
}

/** One of the user's notifications; another user's is as absent as a missing one. */
export async function findNotification(db: Executor, userId: string, id: string): Promise<NotificationListRow | undefined> {
  return listQuery(db, userId).where('notification.id', '=', id).executeTakeFirst();
}

export async function markNotificationRead(db: Executor, userId: string, id: string, now: Date): Promise<void> {
  await db.updateTable('notification').set({ read_at: now }).where('id', '=', id).where('user_id', '=', userId).where('read_at', 'is', null).execute();
}

/** Marks every unread notification of the user read; returns how many. */
export async function markAllNotificationsRead(db: Executor, userId: string, now: Date): Promise<number> {
  const result = await db.updateTable('notification').set({ read_at: now }).where('user_id', '=', userId).where('read_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function countUnread(db: Executor, userId: string): Promise<number> {
  const row = await db
    .selectFrom('notification')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('user_id', '=', userId)
    .where('read_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
