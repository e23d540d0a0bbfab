import type { Command } from 'commander';
import type { CheckpointView, LogKeyView } from '../evidence/index.ts';
import { ApiClient, normalizeServerUrl } from './api-client.ts';
import { withApi } from './api-connection.ts';
import { cliIo } from './cli-io.ts';
import { CommandError } from './command-error.ts';
import { readLogin } from './login-store.ts';
import { printJson } from './output.ts';

/**
 * `changegate log key|checkpoint`: the event log's public key and its latest signed checkpoint,
 * as an auditor keeps them. Both print exactly what the server serves, so they redirect to a file.
 */
export function registerLogCommands(program: Command): Command {
  const log = program.command('log').description("the event log's public key and signed checkpoints, to keep and verify the log against");

  log
    .command('key')
    .description("print the log's verifier key (C2SP signed-note): <origin>+<key ID>+<base64 key>; needs no sign-in")
    .option('--url <url>', "the server's address (default: CHANGEGATE_URL, else the one you signed in to)")
    .option('--json', 'print the origin, verifier key, key ID and algorithm as JSON')
    .addHelpText(
      'after',
      '\nCompare it with the key the operator printed at the server\'s start ("Log key") or read from the key file: a key obtained\n' +
        'from the server alone proves nothing if the server is the one you are checking.',
    )
    .action(async (options: { url?: string; json?: boolean }) => {
      const api = new ApiClient(await serverUrl(options.url), undefined);
      const key = await api.get<LogKeyView>('/log/key');
      if (options.json) return printJson(key);
      cliIo().stdout.write(`${key.verifierKey}\n`);
    });

  log
    .command('checkpoint')
    .description('print the latest signed checkpoint of the log exactly as signed (EventLog.View): changegate log checkpoint > cp.txt')
    .option('--json', 'describe it as JSON: origin, size, root hash, time, note and witnesses\' cosignatures')
    .action((options: { json?: boolean }) =>
      withApi(async (api) => {
        if (options.json) return printJson(await api.get<CheckpointView>('/log/checkpoint', { format: 'json' }));
        const answer = await api.send('GET', '/log/checkpoint');
        cliIo().stdout.write(await answer.text());
      }),
    );
  return log;
}

/** The server asked for the public key: given, CHANGEGATE_URL, else the stored login's. */
async function serverUrl(given: string | undefined): Promise<string> {
  const { env } = cliIo();
  const raw = given ?? env.CHANGEGATE_URL ?? (await readLogin(env))?.url;
  if (!raw) throw new CommandError('Name the server: --url https://changegate.example.com, or set CHANGEGATE_URL, or sign in with `changegate login <URL>`.');
  return normalizeServerUrl(raw);
}
