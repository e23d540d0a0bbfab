/**
 * For the development scripts (`npm run api:types`, `npm run screenshots`): a Changegate on an
 * embedded database in memory and a temporary data directory, both gone once `work` ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Changegate } from '../src/changegate.ts';

export async function withThrowawayChangegate<T>(settings: Record<string, string>, work: (changegate: Changegate) => Promise<T>): Promise<T> {
  // Loaded here, not at the top: a test importing a script's other exports does not need the server.
  const { createChangegate } = await import('../src/changegate.ts');
  const { loadConfig } = await import('../src/platform/config.ts');
  const { openDatabase } = await import('../src/platform/database.ts');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'changegate-script-'));
  const database = await openDatabase({ kind: 'pglite' });
  try {
    const config = loadConfig({ env: { CHANGEGATE_DATA_DIR: dataDir, CHANGEGATE_LOG_LEVEL: 'silent', ...settings } });
    const changegate = await createChangegate({ config, database });
    try {
      return await work(changegate);
    } finally {
      await changegate.close();
    }
  } finally {
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
