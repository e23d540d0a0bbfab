import type { NotificationView } from './notification.views.ts';

/** A recipient's in-app notification with its notice. */
export interface NotificationListRow {
  readonly id: string;
  readonly seq: number;
  readonly kind: string;
  readonly title: string;
  readonly body: string;
  readonly link: string | null;
  readonly data: Record<string, unknown>;
  readonly created_at: Date;
  readonly read_at: Date | null;
}

export type { NotificationView } from './notification.views.ts';

export function presentNotification(row: NotificationListRow): NotificationView {
  return {
    id: row.id,
    kind: row.kind,
    title: row.title,
    body: row.body,
    link: row.link,
    data: row.data,
    createdAt: row.created_at.toISOString(),
    readAt: row.read_at ? row.read_at.toISOString() : null,
  };
}

export interface NotificationFilter {
  readonly unreadOnly: boolean;
  readonly limit: number;
  /** Only notifications older than this one (the last of the page you have). */
  readonly before?: string;
}

export const NOTIFICATION_PAGE_DEFAULT = 50;
export const NOTIFICATION_PAGE_MAX = 200;
