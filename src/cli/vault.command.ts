import type { Command } from 'commander';
import { systemClock } from '../platform/clock.ts';
import { parseMasterKeys } from '../platform/secret-box.ts';
import type { MasterKeySource, VaultRotation } from '../platform/vault-rotation.ts';
import { cliIo } from './cli-io.ts';
import { globalOptionsOf } from './global-options.ts';
import { withLocalChangegate } from './open-changegate.ts';
import { printJson, printLines } from './output.ts';

const ROTATE_HELP = `
With the key file (<data dir>/master.key, CHANGEGATE_MASTER_KEY unset), a new key is generated and
written first in the file, every secret is re-sealed under it in one transaction, and the file then
keeps the new key alone: back it up.

With CHANGEGATE_MASTER_KEY, give the new key first and the old ones after it, for this one run:
  CHANGEGATE_MASTER_KEY="$(openssl rand -base64 32),<old key>" changegate vault rotate
then keep the new key alone in CHANGEGATE_MASTER_KEY.

It opens the database itself, as it needs the master keys: run it where the data directory (or
DATABASE_URL and CHANGEGATE_MASTER_KEY) can be read. The event log names you as cli:<OS user>@<host>.

A server reads its keys at start: restart it afterwards. Stop every server on the database first:
one still running keeps the old key and cannot open what was re-sealed.`;

/** `changegate vault rotate`: re-seals every secret at rest under a new master key. */
export function registerVaultCommands(program: Command): void {
  const vault = program.command('vault').description('the master key that seals every secret at rest (credentials, TOTP seeds, webhook secrets)');

  vault
    .command('rotate')
    .description('re-seal every secret under a new master key, all or nothing (opens the database itself: needs the master keys)')
    .option('--json', 'print what moved and the key ids (never a key) as JSON')
    .addHelpText('after', ROTATE_HELP)
    .action((options: { json?: boolean }, command: Command) =>
      withLocalChangegate(globalOptionsOf(command), async (core, operator) => {
        const { db } = core.database;
        const { masterKeyFile, SEALED_COLUMNS } = await import('../changegate.ts');
        const { appendEvent } = await import('../eventlog/index.ts');
        const { rotateVault } = await import('../platform/vault-rotation.ts');
        const { stderr } = cliIo();
        const source: MasterKeySource = core.config.masterKey
          ? { kind: 'setting', keys: parseMasterKeys(core.config.masterKey) ?? [] }
          : { kind: 'file', file: masterKeyFile(core.config) };
        const showProgress = !options.json && stderr.isTTY === true;
        const rotation = await rotateVault({
          db,
          source,
          columns: SEALED_COLUMNS,
          onProgress: (moved) => {
            if (showProgress) stderr.write(`\rRe-sealed ${moved} values…`);
          },
          // In the re-seal's transaction: the entry exists exactly when the values moved.
          record: async (trx, done) => {
            await appendEvent(trx, { actor: operator, action: 'vault.rotate', subject: 'vault:master-key', data: { ...done }, time: systemClock.now() });
          },
        });
        if (showProgress) stderr.write('\r\u001b[K');
        if (options.json) return printJson({ ...rotation, ...(source.kind === 'file' && { keyFile: source.file }) });
        printLines(...rotationReport(rotation, source, core.config.databaseUrl !== undefined));
      }),
    );
}

function rotationReport(rotation: VaultRotation, source: MasterKeySource, sharedDatabase: boolean): string[] {
  const columns = Object.entries(rotation.movedByColumn).map(([column, count]) => `${column} ${count}`);
  const lines = [`Re-sealed ${rotation.moved} ${rotation.moved === 1 ? 'value' : 'values'} under the new master key ${rotation.newKeyId} (${columns.join(', ')}).`];
  if (rotation.leftUnderOldKeys > 0) {
    lines.push(
      `${rotation.leftUnderOldKeys} values were written under an older key meanwhile, by a server still running: keep the older keys, stop every server and run \`changegate vault rotate\` again.`,
    );
  } else if (source.kind === 'file') {
    lines.push(`${source.file} now holds the new key alone: back it up now; without it no vaulted secret can be read.`);
  } else {
    lines.push(`You may now drop the older keys (${rotation.previousKeyIds.join(', ')}): set CHANGEGATE_MASTER_KEY to the new key alone, the first one you gave.`);
  }
  lines.push(
    sharedDatabase
      ? 'Restart every server on this database now: until it restarts it holds only the old key and cannot open the re-sealed secrets.'
      : 'Start the server again to use the new key: it reads its keys at start.',
  );
  return lines;
}
