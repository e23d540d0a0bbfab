import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import type { FastifyRequest } from 'fastify';
import type { BackupRequester, BackupService } from './backup.service.ts';
import { writeSnapshotArchive } from './backup.service.ts';
import type { Api } from './http.ts';

/**
 * Backups of an installation on the embedded database, taken while it serves (docs/backups.md).
 * `requester` is the access module's `actorOf`, given by the composition root: the platform
 * imports no module above it.
 */
export function backupRoutes(app: Api, backups: BackupService, requester: (request: FastifyRequest) => BackupRequester): void {
  app.post(
    '/backups',
    {
      schema: {
        tags: ['administration'],
        summary:
          'A consistent snapshot of the embedded database, the recordings kept as files and the signing keys, as a tar whose last entry, manifest.json, lists every file with its SHA-256 (System.Backup). Never the master key. `changegate backup FILE` asks for it and writes the archive. The backup is logged.',
      },
    },
    async (request, reply) => {
      // Refusals come from here, before any byte. Once the tar streams, a failure destroys the
      // connection: the client sees a broken download, never an archive cut short that looks whole.
      const snapshot = await backups.snapshot(requester(request));
      const out = new PassThrough();
      void writeSnapshotArchive(snapshot, async (chunk) => {
        // A client that went away stops the copy rather than leaving it waiting for a drain that never comes.
        if (out.destroyed) throw new Error('the client closed the connection');
        if (!out.write(chunk)) await Promise.race([once(out, 'drain'), once(out, 'close')]);
      }).then(
        () => out.end(),
        (error: unknown) => {
          request.log.error({ err: error }, 'the backup failed while it streamed');
          out.destroy(error as Error);
        },
      );
      void reply.header('content-type', 'application/x-tar');
      void reply.header('content-disposition', 'attachment; filename="changegate-backup.tar"');
      return reply.send(out);
    },
  );
}
