import { Type, type Static } from 'typebox';
import { objectStamps } from '../objects/index.ts';

/**
 * What leaves the process about a device: the routes' response schema, and with `Static` the
 * type `presentDevice` returns, so the two cannot drift apart.
 */
export const DeviceViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  partition: Type.String(),
  application: Type.Union([Type.String(), Type.Null()]),
  hostname: Type.String(),
  port: Type.Integer(),
  protocol: Type.Literal('ssh'),
  description: Type.String(),
  tags: Type.Array(Type.String()),
  hostKey: Type.Union([Type.String(), Type.Null()]),
  hostKeyFingerprint: Type.Union([Type.String(), Type.Null()]),
  ...objectStamps,
});

export type DeviceView = Static<typeof DeviceViewSchema>;

/** What a connection test found: the device, and whether its host key was pinned now or matched the pinned one (a different key is an error). */
export const ConnectionTestSchema = Type.Object({
  device: DeviceViewSchema,
  hostKeyStatus: Type.Union([Type.Literal('pinned'), Type.Literal('matched')]),
  hostKeyFingerprint: Type.String(),
});
export type ConnectionTest = Static<typeof ConnectionTestSchema>;
