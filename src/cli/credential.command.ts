import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import ssh2 from 'ssh2';
import type { CredentialView, SecretInput } from '../inventory/index.ts';
import { isUuid } from '../platform/ids.ts';
import { CommandError, EXIT } from './command-error.ts';
import { printFields } from './field-list.ts';
import { segment, type ApiClient } from './api-client.ts';
import { withApi } from './api-connection.ts';
import { printJson, printLines, printTable, shortTime } from './output.ts';
import { promptHidden, readLine, stdinIsTerminal } from './secret-input.ts';

const CREDENTIAL_REF = 'the credential: its id, or account@device (as `credential list` shows it)';

/** How a secret reaches the command: never as an argument, which shell history and `ps` would show. */
interface SecretOptions {
  readonly passwordStdin?: boolean;
  readonly privateKeyFile?: string;
  readonly passphraseStdin?: boolean;
  /** Edit only: replace the password, typed at the terminal. */
  readonly newPassword?: boolean;
}

/** `changegate credential list|show|add|edit|remove`: accounts on devices and their vaulted secrets, which no command shows. */
export function registerCredentialCommands(program: Command): void {
  const credential = program
    .command('credential')
    .description('list, show, add, edit and remove vaulted credentials: accounts on devices; their secrets are never shown');

  credential
    .command('list')
    .description('list the credentials you may view (needs Credential.View), never their secrets')
    .option('--device <device>', 'only the credentials of this device')
    .option('--json', 'print the credentials as JSON')
    .action((options: { device?: string; json?: boolean }) =>
      withApi(async (api) => {
        const credentials = await api.get<CredentialView[]>('/credentials', { device: options.device });
        if (options.json) return printJson(credentials);
        printTable(['id', 'credential', 'partition', 'kind', 'passphrase', 'sealed with key', 'updated'], credentials.map(credentialRow), 'No credentials match.');
      }),
    );

  credential
    .command('show')
    .description('show one credential, never its secret')
    .argument('<credential>', CREDENTIAL_REF)
    .option('--json', 'print the credential as JSON')
    .action((ref: string, options: { json?: boolean }) =>
      withApi(async (api) => {
        const shown = await api.get<CredentialView>(`/credentials/${segment(await credentialId(api, ref))}`);
        if (options.json) return printJson(shown);
        printCredential(shown);
      }),
    );

  addSecretOptions(
    credential
      .command('add')
      .description(
        'vault an account of a device and its password or private key (needs Credential.Create). The password is typed at a terminal without echo, else read from one line of standard input',
      )
      .argument('<device>', 'the device: its name, or PARTITION.name')
      .argument('<account>', 'the account on the device, such as root'),
  )
    .option('--description <text>', 'what the account is for')
    .option('--json', 'print the credential as JSON (never the secret)')
    .action(async (device: string, account: string, options: SecretOptions & { description?: string; json?: boolean }) => {
      const secret = (await readSecret(options, { prompt: `Password of ${account}@${device}`, required: true })) as SecretInput;
      await withApi(async (api) => {
        const created = await api.post<CredentialView>('/credentials', { device, account, secret, description: options.description });
        if (options.json) return printJson(created);
        printLines(`Vaulted credential ${created.name} (${created.id}): ${kindText(created)}, sealed with key ${created.sealedWithKey}.`);
      });
    });

  addSecretOptions(
    credential
      .command('edit')
      .description('replace the secret or edit the description of a credential (needs Credential.Edit)')
      .argument('<credential>', CREDENTIAL_REF),
  )
    .addOption(new Option('--new-password', 'replace the secret with a password typed at the terminal without echo (else one line of standard input)').conflicts(['passwordStdin', 'privateKeyFile']))
    .option('--description <text>', 'what the account is for')
    .option('--json', 'print the credential as JSON (never the secret)')
    .action(async (ref: string, options: SecretOptions & { description?: string; json?: boolean }) => {
      const secret = await readSecret(options, { prompt: 'New password', required: false });
      if (!secret && options.description === undefined) {
        throw new CommandError('Nothing to change: give a new secret or --description (`changegate credential edit --help` lists the options).', EXIT.usage);
      }
      await withApi(async (api) => {
        const updated = await api.patch<CredentialView>(`/credentials/${segment(await credentialId(api, ref))}`, { secret, description: options.description });
        if (options.json) return printJson(updated);
        printLines(
          secret
            ? `Updated credential ${updated.name}: its secret is now ${kindText(updated)}, sealed with key ${updated.sealedWithKey}.`
            : `Updated the description of credential ${updated.name}.`,
        );
      });
    });

  credential
    .command('remove')
    .description('delete a credential and its sealed secret (needs Credential.Delete)')
    .argument('<credential>', CREDENTIAL_REF)
    .action((ref: string) =>
      withApi(async (api) => {
        const id = await credentialId(api, ref);
        const { name } = await api.get<CredentialView>(`/credentials/${segment(id)}`);
        await api.delete(`/credentials/${segment(id)}`);
        printLines(`Removed credential ${name}.`);
      }),
    );
}

function addSecretOptions(command: Command): Command {
  return command
    .addOption(new Option('--password-stdin', 'read the password from one line of standard input, even at a terminal').conflicts('privateKeyFile'))
    .option('--private-key-file <path>', 'the secret is the private key in this file (OpenSSH or PEM); it must open')
    .option('--passphrase-stdin', "read the private key's passphrase from one line of standard input (an encrypted key at a terminal is asked for it)");
}

/**
 * The secret the options point to: a private key read from its file (with its passphrase), or a
 * password from standard input or typed twice at the terminal. An add always needs a secret; an
 * edit only with a secret option (else `undefined`).
 */
async function readSecret(options: SecretOptions, ask: { readonly prompt: string; readonly required: boolean }): Promise<SecretInput | undefined> {
  if (options.passphraseStdin && !options.privateKeyFile) throw new CommandError('--passphrase-stdin goes with --private-key-file: a password has no passphrase.', EXIT.usage);
  if (options.privateKeyFile) {
    const privateKey = await readFile(options.privateKeyFile, 'utf8').catch((error: unknown) => {
      throw new CommandError(`Cannot read the private key file ${options.privateKeyFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
    });
    if (options.passphraseStdin) return { privateKey, passphrase: await readLine() };
    if (!isEncryptedKey(privateKey)) return { privateKey };
    if (!stdinIsTerminal()) throw new CommandError(`The private key in ${options.privateKeyFile} is encrypted: give its passphrase with --passphrase-stdin.`);
    return { privateKey, passphrase: await promptHidden('Passphrase of the private key: ') };
  }
  if (options.passwordStdin) return { password: await readLine() };
  if (!ask.required && !options.newPassword) return undefined;
  if (!stdinIsTerminal()) return { password: await readLine() };
  const first = await promptHidden(`${ask.prompt}: `);
  const second = await promptHidden('Repeat it: ');
  if (first !== second) throw new CommandError('The two entries differ: nothing was changed.');
  return { password: first };
}

/** ssh2 reads an encrypted key only with its passphrase, and says so. */
function isEncryptedKey(privateKey: string): boolean {
  const parsed = ssh2.utils.parseKey(privateKey);
  return parsed instanceof Error && /passphrase|encrypted/i.test(parsed.message);
}

/** The id of a credential named by id or by `account@device`. */
async function credentialId(api: ApiClient, ref: string): Promise<string> {
  const at = ref.indexOf('@');
  if (isUuid(ref) || at <= 0) return ref;
  const account = ref.slice(0, at);
  const matching = (await api.get<CredentialView[]>('/credentials', { device: ref.slice(at + 1) })).filter((candidate) => candidate.account === account);
  if (matching.length !== 1) throw new CommandError(`No credential "${ref}" exists, or you may not see it: \`changegate credential list\` shows them.`);
  return (matching[0] as CredentialView).id;
}

const kindText = (credential: CredentialView): string =>
  credential.kind === 'password' ? 'a password' : credential.hasPassphrase ? 'a private key with its passphrase' : 'a private key';

const credentialRow = (credential: CredentialView): string[] => [
  credential.id,
  credential.name,
  credential.partition,
  credential.kind,
  credential.kind === 'private_key' ? (credential.hasPassphrase ? 'yes' : 'no') : '-',
  credential.sealedWithKey,
  shortTime(credential.updatedAt),
];

function printCredential(credential: CredentialView): void {
  printFields([
    ['Id', credential.id],
    ['Account', credential.account],
    ['Device', credential.device],
    ['Partition', credential.partition],
    ['Secret', `${kindText(credential)} (never shown)`],
    ['Sealed with key', credential.sealedWithKey],
    ['Description', credential.description],
    ['Version', credential.version],
    ['Created', `${shortTime(credential.createdAt)} by ${credential.createdBy}`],
    ['Updated', `${shortTime(credential.updatedAt)} by ${credential.updatedBy}`],
  ]);
}
