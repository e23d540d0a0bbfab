import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import { NOTIFICATION_PAGE_DEFAULT, NOTIFICATION_PAGE_MAX } from './notification.ts';
import type { NotificationService } from './notification.service.ts';
import { NotificationViewSchema } from './notification.views.ts';

const Id = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** The caller's own in-app notifications: nobody sees another user's. */
export function notificationRoutes(app: Api, notifications: NotificationService): void {
  const tags = ['notifications'];

  app.get(
    '/notifications',
    {
      schema: {
        tags,
        summary: 'Your notifications, newest first; page with `before` (the id of the last one you have)',
        querystring: Type.Object(
          {
            unread: Type.Optional(Type.Boolean({ description: 'Only those not yet read' })),
            limit: Type.Integer({ minimum: 1, maximum: NOTIFICATION_PAGE_MAX, default: NOTIFICATION_PAGE_DEFAULT }),
            before: Type.Optional(Type.String({ format: 'uuid' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(NotificationViewSchema) },
      },
    },
    async (request) => {
      const { unread, limit, before } = request.query;
      return notifications.list(actorOf(request), { unreadOnly: unread ?? false, limit, ...(before !== undefined && { before }) });
    },
  );

  app.get(
    '/notifications/unread-count',
    { schema: { tags, summary: 'How many of your notifications are unread', response: { 200: Type.Object({ unread: Type.Integer() }) } } },
    async (request) => ({ unread: await notifications.unreadCount(actorOf(request)) }),
  );

  app.post(
    '/notifications/:id/read',
    { schema: { tags, summary: 'Mark one of your notifications read', params: Id, response: { 200: NotificationViewSchema } } },
    async (request) => notifications.markRead(actorOf(request), request.params.id),
  );

  app.post(
    '/notifications/read-all',
    { schema: { tags, summary: 'Mark all your notifications read', response: { 200: Type.Object({ marked: Type.Integer() }) } } },
    async (request) => ({ marked: await notifications.markAllRead(actorOf(request)) }),
  );
}
