import { isAppError } from '../platform/errors.ts';
import { ApiClient } from './api-client.ts';
import { cliIo } from './cli-io.ts';
import { CommandError, EXIT } from './command-error.ts';
import { promptHidden, promptVisible, readLine, stdinIsTerminal } from './secret-input.ts';

/** How the person signing in answers, when not at a terminal: options first, then the environment. */
export interface SignInAnswers {
  readonly username?: string;
  readonly passwordStdin?: boolean;
  readonly totp?: string;
}

/** A web session signed in with the password just now: what creating an API token needs. */
export interface PasswordSession {
  readonly api: ApiClient;
  readonly username: string;
  /** Signs the web session out; the API token made meanwhile stays valid. */
  end(): Promise<void>;
}

/**
 * Signs in to the server with username, password and, when the account has it, a TOTP code, as
 * the web console does (`POST /auth/login`): the session's cookie and CSRF token come back. At a
 * terminal what is missing is asked for, the password without echo; a script gives `--username`,
 * the password on standard input (`--password-stdin`) or in CHANGEGATE_PASSWORD, and `--totp` or
 * CHANGEGATE_TOTP. Never in argv: a password there is in `ps` and the shell's history.
 */
export async function signInWithPassword(url: string, answers: SignInAnswers): Promise<PasswordSession> {
  const { env } = cliIo();
  const atTerminal = stdinIsTerminal();
  const username = answers.username ?? env.CHANGEGATE_USERNAME ?? (atTerminal ? await promptVisible(`Username on ${url}: `) : undefined);
  if (!username) throw new CommandError('Give the username with --username (or CHANGEGATE_USERNAME): standard input is not a terminal to ask at.', EXIT.usage);
  const password =
    env.CHANGEGATE_PASSWORD && !answers.passwordStdin
      ? env.CHANGEGATE_PASSWORD
      : answers.passwordStdin || !atTerminal
        ? await readLine()
        : await promptHidden(`Password of ${username}: `);
  const anonymous = new ApiClient(url, undefined);
  const login = async (totp?: string) => anonymous.send('POST', '/auth/login', { body: { username, password, ...(totp && { totp }) } });
  let answer: Response;
  try {
    answer = await login(answers.totp ?? env.CHANGEGATE_TOTP);
  } catch (error) {
    if (!isAppError(error, 'totp_required')) throw error;
    if (!atTerminal) throw new CommandError(`${username} signs in with a one-time code: give it with --totp <code> (or CHANGEGATE_TOTP).`, EXIT.usage);
    answer = await login(await promptVisible('Two-factor code from your authenticator app: '));
  }
  const sessionCookie = /(?:^|[\s,;])changegate_session=([^;,\s]+)/.exec(answer.headers.getSetCookie().join('; '))?.[1];
  const body = (await answer.json()) as { user: { username: string }; csrfToken: string };
  if (!sessionCookie) throw new CommandError(`The server at ${url} signed you in without a session cookie: is this a Changegate server?`);
  const api = new ApiClient(url, { sessionCookie, csrfToken: body.csrfToken });
  return {
    api,
    username: body.user.username,
    end: async () => {
      await api.post('/auth/logout');
    },
  };
}

/** Runs `work` in a web session signed in with the password, and signs it out afterwards, whatever happens. */
export async function inPasswordSession<T>(url: string, answers: SignInAnswers, work: (session: PasswordSession) => Promise<T>): Promise<T> {
  const session = await signInWithPassword(url, answers);
  try {
    return await work(session);
  } finally {
    await session.end().catch(() => undefined);
  }
}
