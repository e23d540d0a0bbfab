import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CheckpointVerifyReport } from '../evidence/index.ts';
import { systemClock } from '../platform/clock.ts';
import { isAppError } from '../platform/errors.ts';
import { cliIo } from './cli-io.ts';
import { CommandError, CommandFailed, EXIT } from './command-error.ts';
import { globalOptionsOf } from './global-options.ts';
import { withLocalChangegate } from './open-changegate.ts';
import { printJson, printLines } from './output.ts';

interface VerifyOptions {
  readonly json?: boolean;
  readonly checkpoint?: string;
  readonly key?: string;
}

/**
 * `changegate verify`: recomputes the event log's hashes from the database itself and names the
 * first entry that does not match. It reads the database directly rather than asking a server, so
 * a compromised server cannot answer for the log; the run is itself logged, naming the OS user.
 * With `--checkpoint`, it also checks the log against a checkpoint kept elsewhere, which catches
 * what the chain alone cannot: entries deleted at the end, and a history rewritten with every hash.
 */
export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('verify the tamper-evident event log from its first entry, reading the database itself; exits 1 naming the first entry that does not match')
    .option('--checkpoint <file>', 'also verify the log against this signed checkpoint, kept elsewhere (changegate log checkpoint > cp.txt): catches truncation and rewritten history')
    .option('--key <key>', "with --checkpoint: the log's verifier key, or a file holding it, obtained independently (default: the key of this installation)")
    .option('--json', 'print the verification report as JSON')
    .addHelpText(
      'after',
      '\nRuns where the database can be read (the data directory, or DATABASE_URL); through the API, POST /api/v1/events/verify and\n' +
        'POST /api/v1/log/verify (with a checkpoint) (EventLog.Verify) do the same.',
    )
    .action((options: VerifyOptions, command: Command) => {
      if (options.key !== undefined && options.checkpoint === undefined) throw new CommandError('--key verifies a checkpoint: give --checkpoint <file> too.', EXIT.usage);
      return options.checkpoint === undefined ? verifyChain(options, command) : verifyCheckpoint(options.checkpoint, options, command);
    });
}

function verifyChain(options: VerifyOptions, command: Command): Promise<void> {
  return withLocalChangegate(globalOptionsOf(command), async (core, operator) => {
    const { verifyEventLog } = await import('../eventlog/index.ts');
    const report = await verifyEventLog(core.database.db, progress(options));
    endProgress(options);
    const logged = await logRun(core, operator, { ok: report.ok, verified: report.verified, headSeq: report.headSeq, ...(report.failure && { failedAt: report.failure.seq }) });
    if (options.json) printJson(report);
    else if (report.ok) printLines(`Event log verified: ${report.verified} entries; head ${report.headSeq} ${report.headChainHash}`);
    else {
      const seq = report.failure?.seq ?? report.headSeq + 1;
      printLines(`Event log verification FAILED at entry ${seq}: ${report.failure?.message ?? 'it does not match'}`);
    }
    logged.complain();
    if (!report.ok || !logged.ok) throw new CommandFailed();
  });
}

async function verifyCheckpoint(file: string, options: VerifyOptions, command: Command): Promise<void> {
  // Read what was given before opening the database: a typo fails fast, and changes nothing.
  const note = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new CommandError(`Cannot read the checkpoint ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}.`, EXIT.usage);
  });
  const given = options.key === undefined ? undefined : await keyText(options.key);
  const { givenVerifierKey } = await import('../evidence/index.ts');
  let key;
  try {
    key = given === undefined ? undefined : givenVerifierKey(given);
  } catch (error) {
    if (isAppError(error)) throw new CommandError(`--key: ${error.message}`, EXIT.usage);
    throw error;
  }
  await withLocalChangegate(globalOptionsOf(command), async (core, operator) => {
    const { verifyAgainstCheckpoint } = await import('../eventlog/index.ts');
    const report = await verifyAgainstCheckpoint(core.database.db, { note, key: key ?? core.logSigningKey.key, keySource: key ? 'given' : 'log', logOrigin: core.logSigningKey.origin }, progress(options));
    endProgress(options);
    const logged = await logRun(core, operator, {
      ok: report.ok,
      verified: report.verified,
      checkpointSize: report.checkpoint?.size ?? null,
      keyId: report.key.keyId,
      ...(report.failure && { kind: report.failure.kind, failedAt: report.failure.seq ?? null }),
    });
    if (options.json) printJson(report);
    else printLines(...describeCheckpointReport(report));
    logged.complain();
    if (!report.ok || !logged.ok) throw new CommandFailed();
  });
}

/**
 * Logs the run in the event log. A log that refuses the entry (one whose end was deleted, say) must
 * not hide the report: the report is printed first, then why the run could not be logged (exit 1).
 */
async function logRun(core: Parameters<Parameters<typeof withLocalChangegate>[1]>[0], operator: string, data: Record<string, unknown>): Promise<{ ok: boolean; complain(): void }> {
  try {
    const { appendEvent } = await import('../eventlog/index.ts');
    await core.database.db.transaction().execute((trx) => appendEvent(trx, { actor: operator, action: 'eventlog.verify', subject: 'eventlog', data, time: systemClock.now() }));
    return { ok: true, complain: () => undefined };
  } catch (error) {
    return { ok: false, complain: () => cliIo().stderr.write(`error: this run could not be logged in the event log: ${(error as Error).message}\n`) };
  }
}

/** --key is the key itself or a file that holds it. */
async function keyText(value: string): Promise<string> {
  if (/^[^\s/+]+\+[0-9a-f]{8}\+/.test(value)) return value;
  return readFile(value, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new CommandError(`--key is neither a verifier key (<origin>+<key ID>+<base64 key>) nor a file that can be read: ${error.code === 'ENOENT' ? 'no such file' : error.message}.`, EXIT.usage);
  });
}

/** What was checked, step by step, then the outcome. */
export function describeCheckpointReport(report: CheckpointVerifyReport): string[] {
  const lines: string[] = [];
  const key = `${report.key.verifierKey.split('+').slice(0, 2).join('+')}`;
  lines.push(
    report.key.source === 'given'
      ? `Key: ${key}, as given with --key.`
      : `Key: ${key}, this installation's own signing key (the default): it proves only as much as whoever holds this machine; pass --key with the key you obtained independently.`,
  );
  const checkpoint = report.checkpoint;
  if (!checkpoint) {
    lines.push(`Event log verification against the checkpoint FAILED (${report.failure?.kind}): ${report.failure?.message}`);
    return lines;
  }
  lines.push(`Checkpoint: ${checkpoint.origin}, ${checkpoint.size} entries, root ${checkpoint.rootHash}: signature verified.`);
  if (report.storedSize !== undefined) lines.push(`Stored log: ${report.storedSize} entries${report.storedSize >= checkpoint.size ? ` (at least the checkpoint's ${checkpoint.size})` : ''}.`);
  if (report.storedRoot !== undefined) lines.push(`Stored tree's root at ${checkpoint.size}: ${report.storedRoot}${report.forked ? ' — NOT the checkpoint\'s' : ', the checkpoint\'s'}.`);
  if (report.computedRoot !== undefined) lines.push(`Root recomputed from entries 1–${checkpoint.size}: ${report.computedRoot}${report.computedRoot === checkpoint.rootHash ? ", the checkpoint's" : " — NOT the checkpoint's"}.`);
  if (report.ok) {
    lines.push(`Event log verified against the checkpoint: ${report.verified} entries rehashed, each matching its leaf and chain hash; the first ${checkpoint.size} are exactly what the checkpoint signed.`);
  } else {
    const where = report.failure?.seq === undefined ? '' : report.failure.toSeq === undefined ? ` at entry ${report.failure.seq}` : ` at entries ${report.failure.seq}–${report.failure.toSeq}`;
    lines.push(`Event log verification against the checkpoint FAILED (${report.failure?.kind})${where}: ${report.failure?.message}`);
  }
  return lines;
}

function progress(options: VerifyOptions): ((verified: number) => void) | undefined {
  const { stderr } = cliIo();
  if (options.json || stderr.isTTY !== true) return undefined;
  return (verified) => stderr.write(`\rVerified ${verified} entries…`);
}

function endProgress(options: VerifyOptions): void {
  const { stderr } = cliIo();
  if (!options.json && stderr.isTTY === true) stderr.write('\r\u001b[K');
}
