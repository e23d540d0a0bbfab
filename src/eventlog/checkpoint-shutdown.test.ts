import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { startTestChangegate } from '../../test/harness.ts';
import { parseCheckpoint } from './checkpoint.ts';
import { parseVerifierKey, verifyNote } from './signed-note.ts';

describe.each(DATABASE_KINDS)('a serving Changegate on %s', (kind) => {
  // A directory of its own: checkpoints of another installation would be kept there, not overwritten.
  const dir = mkdtempSync(path.join(tmpdir(), `changegate-checkpoint-dir-${kind}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('signs a checkpoint as it starts and, at shutdown, one covering everything logged until then, into the checkpoint directory', async () => {
    const t = await startTestChangegate(kind, { CHANGEGATE_CHECKPOINT_DIR: dir, CHANGEGATE_SSH_PORT: '0', CHANGEGATE_CHECKPOINT_INTERVAL_SECONDS: '3600' });
    let closed = false;
    try {
      await t.cg.startBackground();
      // Waits for the pass the start began, then finds nothing new.
      await t.cg.checkpointPublisher.signNow();
      const key = parseVerifierKey(t.cg.logSigningKey.verifierKey);
      const atStart = parseCheckpoint(verifyNote(readFileSync(path.join(dir, 'latest'), 'utf8'), key).text);
      expect(atStart.size).toBeGreaterThan(0);
      expect((await t.admin.post('/users', { username: 'carol', password: 'carol-password-1', displayName: 'Carol' })).status).toBe(201);
      const logged = Number((await t.cg.database.db.selectFrom('event').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      expect(logged).toBeGreaterThan(atStart.size);
      await t.close();
      closed = true;
      const atClose = parseCheckpoint(verifyNote(readFileSync(path.join(dir, 'latest'), 'utf8'), key).text);
      expect(atClose.size).toBeGreaterThanOrEqual(logged);
      expect(readFileSync(path.join(dir, `checkpoint-${atStart.size}.txt`), 'utf8')).toContain(`\n${atStart.size}\n`);
    } finally {
      if (!closed) await t.close();
    }
  });
});
