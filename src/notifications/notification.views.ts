import { Type, type Static } from 'typebox';

/** One of the caller's in-app notifications, with its notice. */
export const NotificationViewSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  title: Type.String(),
  body: Type.String(),
  link: Type.Union([Type.String(), Type.Null()]),
  data: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Type.String(),
  readAt: Type.Union([Type.String(), Type.Null()]),
});

export type NotificationView = Static<typeof NotificationViewSchema>;
