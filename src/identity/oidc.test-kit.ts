/**
 * A real OpenID Connect provider for the tests: node-oidc-provider on a loopback port, in-process,
 * with accounts whose `groups` and `amr` the test changes, a login page of its own ("Continue as
 * …"), and consent given at once. `tamperIdToken` lets a test make the provider answer an ID token
 * it signed with its own key but with other claims (another audience), as a rogue or mixed-up
 * provider would.
 */
import { createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface TestAccount {
  readonly sub: string;
  preferredUsername: string;
  groups: string[];
  /** Authentication methods the provider says it checked (`amr` of the ID token). */
  amr: string[];
  name?: string;
}

export interface TestProvider {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The account the login page signs in as. */
  account: TestAccount;
  /** Rewrites the claims of the ID tokens the token endpoint answers, re-signed with the provider's key; undefined: as issued. */
  tamperIdToken: ((claims: Record<string, unknown>) => Record<string, unknown>) | undefined;
  /** The settings Changegate needs to use this provider. */
  settings(extra?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

/** Starts the provider; `redirectUri` is Changegate's callback, `<public URL>/api/v1/auth/oidc/callback`. */
export async function startTestProvider(redirectUri: string, options: { idTokenSeconds?: number } = {}): Promise<TestProvider> {
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const server: Server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const clientId = 'changegate';
  const clientSecret = `secret-${randomUUID()}`;
  const state: { account: TestAccount; tamperIdToken: TestProvider['tamperIdToken'] } = {
    account: { sub: randomUUID(), preferredUsername: 'alice', groups: [], amr: ['pwd'] },
    tamperIdToken: undefined,
  };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomUUID()] },
    scopes: ['openid', 'profile', 'email', 'groups'],
    // amr goes with openid: in every ID token, as most providers put it.
    claims: { openid: ['sub', 'amr', 'auth_time'], profile: ['preferred_username', 'name'], email: ['email', 'email_verified'], groups: ['groups'] },
    pkce: { required: () => true },
    ttl: { IdToken: options.idTokenSeconds ?? 60, AccessToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx: unknown, id: string) {
      const account = state.account;
      if (id !== account.sub) return undefined;
      return {
        accountId: id,
        claims: async () => ({ sub: id, preferred_username: account.preferredUsername, name: account.name ?? account.preferredUsername, groups: [...account.groups] }),
      };
    },
  });
  provider.use(async (ctx, next) => {
    await next();
    const body = ctx.body as { id_token?: string } | undefined;
    if (ctx.path === '/token' && state.tamperIdToken && body?.id_token) ctx.body = { ...body, id_token: resign(body.id_token, state.tamperIdToken) };
  });
  const callback = provider.callback();
  handle = (req, res) => {
    if (req.url?.startsWith('/interaction/')) void interaction(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
    else callback(req, res);
  };

  async function interaction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    const account = state.account;
    if (details.prompt.name === 'login') {
      if (req.method === 'GET') {
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(
          `<!doctype html><html lang="en"><head><title>Test provider</title></head><body><main><h1>Test provider</h1>` +
            `<form method="post" action="/interaction/${details.uid}"><button type="submit">Continue as ${account.preferredUsername}</button></form></main></body></html>`,
        );
        return;
      }
      for await (const _chunk of req);
      await provider.interactionFinished(req, res, { login: { accountId: account.sub, amr: [...account.amr] } }, { mergeWithLastSubmission: false });
      return;
    }
    // Consent: given at once, for what was asked.
    const grant = new provider.Grant({ accountId: details.session?.accountId ?? account.sub, clientId: String(details.params.client_id) });
    grant.addOIDCScope(String(details.params.scope));
    await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  }

  /** The ID token with `change` applied to its claims, signed again with the provider's own key. */
  function resign(token: string, change: (claims: Record<string, unknown>) => Record<string, unknown>): string {
    const [header, payload] = token.split('.') as [string, string];
    const claims = change(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>);
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
  }

  return {
    issuer,
    clientId,
    clientSecret,
    get account() {
      return state.account;
    },
    set account(account) {
      state.account = account;
    },
    get tamperIdToken() {
      return state.tamperIdToken;
    },
    set tamperIdToken(tamper) {
      state.tamperIdToken = tamper;
    },
    settings: (extra = {}) => ({
      CHANGEGATE_OIDC_ISSUER: issuer,
      CHANGEGATE_OIDC_CLIENT_ID: clientId,
      CHANGEGATE_OIDC_CLIENT_SECRET: clientSecret,
      CHANGEGATE_PUBLIC_URL: redirectUri.replace(/\/api\/v1\/auth\/oidc\/callback$/, ''),
      ...extra,
    }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Goes through the provider as a browser would, with a cookie jar: from the authorization URL,
 * through the login page (submitting it) and consent, until the provider sends the browser to an
 * address starting with `until` (Changegate's callback), which it answers.
 */
export async function throughProvider(authorizationUrl: string, until: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = authorizationUrl;
  let method: 'GET' | 'POST' = 'GET';
  for (let hop = 0; hop < 20; hop++) {
    if (url.startsWith(until)) return new URL(url);
    const response = await fetch(url, { method, redirect: 'manual', headers: { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') } });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';') as [string];
      const equals = pair.indexOf('=');
      jar.set(pair.slice(0, equals), pair.slice(equals + 1));
    }
    const location = response.headers.get('location');
    if (location) {
      url = new URL(location, url).href;
      method = 'GET';
      continue;
    }
    const page = await response.text();
    const form = /<form method="post" action="([^"]+)"/.exec(page);
    if (response.status !== 200 || !form) throw new Error(`the provider answered ${response.status} at ${url}: ${page.slice(0, 300)}`);
    url = new URL(form[1] as string, url).href;
    method = 'POST';
  }
  throw new Error('too many redirects at the provider');
}
