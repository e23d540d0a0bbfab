import { Type, type Static } from 'typebox';

/** What leaves the process about a Changegate instance sharing the database. */
export const InstanceViewSchema = Type.Object({
  id: Type.String({ description: 'The instance id kept in its data directory; its sessions carry it' }),
  hostName: Type.String(),
  pid: Type.Integer(),
  version: Type.String(),
  httpPort: Type.Union([Type.Integer(), Type.Null()]),
  sshPort: Type.Union([Type.Integer(), Type.Null()]),
  startedAt: Type.String(),
  heartbeatAt: Type.String(),
  drainingSince: Type.Union([Type.String(), Type.Null()]),
  stoppedAt: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('live'), Type.Literal('draining'), Type.Literal('silent'), Type.Literal('stopped')], {
    description: 'live: serving; draining: stopping, takes no new sessions; silent: missed 3 heartbeats, its sessions are marked interrupted; stopped: stopped cleanly',
  }),
});

export type InstanceView = Static<typeof InstanceViewSchema>;

/** Whether the instance answering is ready for traffic: what a load balancer's health check reads. */
export const ReadinessViewSchema = Type.Object({
  status: Type.Literal('ready'),
  instance: Type.String(),
  version: Type.String(),
  database: Type.String(),
});

export type ReadinessView = Static<typeof ReadinessViewSchema>;

/** The process answers: what a liveness probe reads. */
export const LivenessViewSchema = Type.Object({
  status: Type.Literal('live'),
  version: Type.String(),
});

export type LivenessView = Static<typeof LivenessViewSchema>;

/** Why the instance is not ready (503): `unavailable`, `migrations_pending` or `instance_draining`, as every error is answered. */
export const NotReadyViewSchema = Type.Object({
  error: Type.Object({
    code: Type.Union([Type.Literal('unavailable'), Type.Literal('migrations_pending'), Type.Literal('instance_draining')]),
    message: Type.String(),
    details: Type.Optional(Type.Object({ migrations: Type.Array(Type.String()) })),
  }),
});

export type NotReadyView = Static<typeof NotReadyViewSchema>;
