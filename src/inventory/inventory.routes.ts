import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import type { CredentialService } from './credential.service.ts';
import type { DeviceService } from './device.service.ts';
import { CredentialViewSchema } from './credential.views.ts';
import { ConnectionTestSchema, DeviceViewSchema } from './device.views.ts';

const Secret = Type.Union([
  Type.Object({ password: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
  Type.Object({ privateKey: Type.String({ minLength: 1, maxLength: 65536 }), passphrase: Type.Optional(Type.String({ maxLength: 4096 })) }, { additionalProperties: false }),
]);

const DeviceRef = Type.Object({ device: Type.String({ minLength: 1, maxLength: 200 }) });
const CredentialId = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Version = Type.Object({ expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false });
const Tags = Type.Array(Type.String({ maxLength: 64 }), { maxItems: 32 });

/** Devices and the vault's credentials. */
export function inventoryRoutes(app: Api, services: { devices: DeviceService; credentials: CredentialService }): void {
  const { devices, credentials } = services;

  app.get(
    '/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'Devices you may view',
        querystring: Type.Object(
          { partition: Type.Optional(Type.String()), tag: Type.Optional(Type.String()), search: Type.Optional(Type.String({ maxLength: 200 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(DeviceViewSchema) },
      },
    },
    async (request) => devices.list(actorOf(request), request.query),
  );

  app.post(
    '/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'Register a device',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 128 }),
            hostname: Type.String({ minLength: 1, maxLength: 253 }),
            port: Type.Optional(Type.Integer()),
            description: Type.Optional(Type.String({ maxLength: 2000 })),
            partition: Type.Optional(Type.String()),
            application: Type.Optional(Type.Union([Type.String(), Type.Null()])),
            tags: Type.Optional(Tags),
            hostKey: Type.Optional(Type.Union([Type.String({ maxLength: 16384 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 201: DeviceViewSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await devices.create(actorOf(request), request.body)),
  );

  app.get('/devices/:device', { schema: { tags: ['devices'], summary: 'One device, by name or PARTITION.name', params: DeviceRef, response: { 200: DeviceViewSchema } } }, async (request) =>
    devices.get(actorOf(request), request.params.device),
  );

  app.patch(
    '/devices/:device',
    {
      schema: {
        tags: ['devices'],
        summary: 'Edit a device; `hostname`, `port` and `hostKey` (re-pins; null unpins) also need Device.Pin, cancel its open requests and end its sessions',
        params: DeviceRef,
        body: Type.Object(
          {
            hostname: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
            port: Type.Optional(Type.Integer()),
            description: Type.Optional(Type.String({ maxLength: 2000 })),
            application: Type.Optional(Type.Union([Type.String(), Type.Null()])),
            tags: Type.Optional(Tags),
            hostKey: Type.Optional(Type.Union([Type.String({ maxLength: 16384 }), Type.Null()])),
            expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: DeviceViewSchema },
      },
    },
    async (request) => devices.update(actorOf(request), request.params.device, request.body),
  );

  app.delete('/devices/:device', { schema: { tags: ['devices'], summary: 'Delete a device without credentials or changes', params: DeviceRef, querystring: Version } }, async (request, reply) => {
    await devices.delete(actorOf(request), request.params.device, request.query.expectedVersion);
    return reply.status(204).send();
  });

  app.post(
    '/devices/:device/test-connection',
    {
      // The body is optional: a POST without one reads as `{}` (Fastify would otherwise answer 400).
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: ['devices'],
        summary:
          'Read the SSH host key and check it against the pinned one. Pins it (needs Device.Pin) on first use while the device holds no credential, ' +
          'otherwise only when `expectedFingerprint` (verified on the server itself) matches: 409 host_key_mismatch, host_key_unverified or host_key_not_expected',
        params: DeviceRef,
        body: Type.Optional(
          Type.Object(
            { expectedFingerprint: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'SHA256 fingerprint verified out of band, e.g. SHA256:abc…' })) },
            { additionalProperties: false },
          ),
        ),
        response: { 200: ConnectionTestSchema },
      },
    },
    async (request) => devices.testConnection(actorOf(request), request.params.device, request.body ?? {}),
  );

  app.get(
    '/credentials',
    {
      schema: {
        tags: ['credentials'],
        summary: 'Credentials you may view (never their secrets)',
        querystring: Type.Object({ device: Type.Optional(Type.String()) }, { additionalProperties: false }),
        response: { 200: Type.Array(CredentialViewSchema) },
      },
    },
    async (request) => credentials.list(actorOf(request), request.query),
  );

  app.post(
    '/credentials',
    {
      schema: {
        tags: ['credentials'],
        summary: 'Vault a credential: an account on a device and its password or private key',
        body: Type.Object(
          { device: Type.String({ minLength: 1 }), account: Type.String({ minLength: 1, maxLength: 64 }), secret: Secret, description: Type.Optional(Type.String({ maxLength: 2000 })) },
          { additionalProperties: false },
        ),
        response: { 201: CredentialViewSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await credentials.create(actorOf(request), request.body)),
  );

  app.get('/credentials/:id', { schema: { tags: ['credentials'], summary: 'One credential (never its secret)', params: CredentialId, response: { 200: CredentialViewSchema } } }, async (request) =>
    credentials.get(actorOf(request), request.params.id),
  );

  app.patch(
    '/credentials/:id',
    {
      schema: {
        tags: ['credentials'],
        summary: 'Replace the secret or edit the description',
        params: CredentialId,
        body: Type.Object({ secret: Type.Optional(Secret), description: Type.Optional(Type.String({ maxLength: 2000 })), expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
        response: { 200: CredentialViewSchema },
      },
    },
    async (request) => credentials.update(actorOf(request), request.params.id, request.body),
  );

  app.post(
    '/credentials/:id/confirm-host-key',
    {
      schema: {
        tags: ['credentials'],
        summary: "Confirm a credential for its device's newly pinned host key (needs Credential.Edit): until then the gateway sends no password to it",
        params: CredentialId,
        body: Type.Object(
          {
            fingerprint: Type.String({ minLength: 1, maxLength: 100, description: "The device's pinned fingerprint, as you checked it" }),
            expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: CredentialViewSchema },
      },
    },
    async (request) => credentials.confirmHostKey(actorOf(request), request.params.id, request.body),
  );

  app.delete('/credentials/:id', { schema: { tags: ['credentials'], summary: 'Delete a credential', params: CredentialId, querystring: Version } }, async (request, reply) => {
    await credentials.delete(actorOf(request), request.params.id, request.query.expectedVersion);
    return reply.status(204).send();
  });
}
