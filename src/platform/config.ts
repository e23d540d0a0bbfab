import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import { parseMasterKeys } from './secret-box.ts';
import type { RecordingStoreKind } from './tables/sessions.ts';

/** Changegate's settings, validated once at start. */
export interface Config {
  readonly dataDir: string;
  /** PostgreSQL connection URL; undefined runs the embedded PGlite database in the data directory. */
  readonly databaseUrl: string | undefined;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly sshPort: number;
  /** Keys (32 bytes as 64 hex digits or base64, comma-separated, current first); undefined uses `<dataDir>/master.key`. */
  readonly masterKey: string | undefined;
  /** Password of the first administrator, used on the first start only; undefined generates one. */
  readonly adminPassword: string | undefined;
  readonly logLevel: LogLevel;
  /** Send the session cookie with `Secure`; turn off only for plain HTTP beyond localhost, never in production. */
  readonly cookieSecure: boolean;
  /** A web session ends after this many minutes without a request. */
  readonly sessionIdleMinutes: number;
  /** Consecutive failed sign-ins that lock an account, and for how long. */
  readonly lockoutThreshold: number;
  readonly lockoutMinutes: number;
  /** The address users reach Changegate at, for links in e-mails; defaults to http://localhost:<httpPort>. */
  readonly publicUrl: string | undefined;
  /** SMTP server for e-mail notifications (`smtp://user:pass@host:587`, `smtps://…`); undefined sends no e-mail. */
  readonly smtpUrl: string | undefined;
  /** Sender of e-mail notifications. */
  readonly smtpFrom: string;
  /** Other Changegate instances that audit rules and filters may be promoted to, by name. */
  readonly promoteTargets: readonly PromoteTargetSetting[];
  /** Networks (CIDRs) webhooks may reach although they are not public: loopback, private, link-local… */
  readonly webhookAllow: readonly string[];
  /** Failed sign-ins one source address may make per window before it is refused with 429. */
  readonly signInLimitPerAddress: number;
  /** Failed sign-ins for one username, from all addresses, per window before it is throttled. */
  readonly signInLimitPerUser: number;
  /** The window of both sign-in limits, in seconds. */
  readonly signInLimitWindowSeconds: number;
  /**
   * Reverse proxies or load balancers (CIDRs) whose `X-Forwarded-For` names the client: only then
   * do sign-in limits, lockout and session records see the client's address instead of the proxy's.
   */
  readonly trustedProxies: readonly string[];
  /** SSH connections that have not signed in yet, open at once; new ones are refused while full. */
  readonly gatewayMaxUnauthenticated: number;
  /** The same from one source (an IPv4 address or an IPv6 /64), so that one source cannot fill the gateway. */
  readonly gatewayMaxUnauthenticatedPerSource: number;
  /** The name the event log's checkpoints carry (C2SP tlog-checkpoint origin); undefined derives it from the public URL. */
  readonly logOrigin: string | undefined;
  /** The Ed25519 key that signs checkpoints (a C2SP signed-note private key); undefined uses `<dataDir>/log-signing.key`. */
  readonly logSigningKey: string | undefined;
  /** A checkpoint is signed when the log has grown, at most this often. */
  readonly checkpointIntervalSeconds: number;
  /** A directory each new checkpoint is also written to (another disk, a write-once mount). */
  readonly checkpointDir: string | undefined;
  /** Witnesses each new checkpoint is POSTed to, by name, with the key their cosignatures verify with (`name=URL=key,…`). */
  readonly witnesses: readonly WitnessSetting[];
  /** An SSH connection that has not signed in within this many seconds is closed. */
  readonly gatewayAuthTimeoutSeconds: number;
  /** Where new sessions' recordings are kept; undefined chooses by the database (`recordingStoreOf`). */
  readonly recordingStore: RecordingStoreKind | undefined;
  /** Serves `/metrics` on a port of its own (0: any free one), not on the HTTP port (docs/metrics.md); undefined with no token turns metrics off. */
  readonly metricsPort: number | undefined;
  /** The address the metrics port listens on. */
  readonly metricsHost: string;
  /** A bearer token `/metrics` requires: on the HTTP port when no metrics port is set, or on the metrics port as well. */
  readonly metricsToken: string | undefined;
  /**
   * How often a serving instance says it is alive, in seconds; after 3 missed heartbeats the others
   * call it silent and mark its sessions interrupted. The same on every instance of a database.
   */
  readonly instanceHeartbeatSeconds: number;
  /** On SIGTERM, how long live sessions may go on (no new ones start) before they are ended and the process exits. */
  readonly drainSeconds: number;
  /** Where every event-log entry is streamed as one JSON line (docs/siem.md); undefined exports nothing. */
  readonly siemSink: SiemSinkSetting | undefined;
  /** PEM certificates of the CAs a `syslog+tls` receiver's certificate must chain to; undefined trusts Node's default CAs. */
  readonly siemCaFile: string | undefined;
  /** The RFC 5424 APP-NAME of the syslog messages. */
  readonly siemAppName: string;
  /** The RFC 5424 HOSTNAME of the syslog messages; undefined is this machine's host name. */
  readonly siemHostname: string | undefined;
  // OpenID Connect sign-in (docs/oidc.md): on when the issuer is set; then the client ID and the public URL are needed too.
  /** The provider's issuer URL, where `/.well-known/openid-configuration` is found; https, or http on loopback only. */
  readonly oidcIssuer: string | undefined;
  readonly oidcClientId: string | undefined;
  /** The client secret (`client_secret_basic`); undefined makes Changegate a public client (PKCE only). Never logged or returned. */
  readonly oidcClientSecret: string | undefined;
  /** The provider's name on the sign-in page's button: "Sign in with <name>". */
  readonly oidcDisplayName: string;
  /** Create the user at their first sign-in through the provider; off, only existing users may sign in. */
  readonly oidcCreateUsers: boolean;
  /** Link an existing local account (one with a password or TOTP) to whoever signs in through the provider with its username: only when the provider's usernames are the same people's. */
  readonly oidcLinkExisting: boolean;
  /** The claim whose value is the Changegate username. */
  readonly oidcUsernameClaim: string;
  /** The claim listing the user's groups at the provider. */
  readonly oidcGroupsClaim: string;
  /** Privileges the provider's groups give, kept in step at each sign-in. */
  readonly oidcGroupGrants: readonly OidcGroupGrantSetting[];
  /** Users who signed in through the provider may also sign in with a Changegate password (web and gateway). */
  readonly oidcPasswordSignIn: boolean;
  /** `amr` values of the ID token that stand for the user's TOTP code; empty: the code is always asked of a TOTP user. */
  readonly oidcMfaAmr: readonly string[];
}

/** One entry of `CHANGEGATE_OIDC_GROUP_GRANTS`: members of `group` hold `privilege` (at Access level), in `partition` or system-wide. */
export interface OidcGroupGrantSetting {
  readonly group: string;
  readonly privilege: string;
  readonly partition: string | null;
}

/** `CHANGEGATE_SIEM_SINK`: a file appended to, or a syslog receiver (RFC 5424 over TCP, RFC 6587, or TLS, RFC 5425). */
export type SiemSinkSetting =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'syslog'; readonly transport: 'tcp' | 'tls'; readonly host: string; readonly port: number };

/** One entry of `CHANGEGATE_PROMOTE_TARGETS` or `CHANGEGATE_WITNESSES`: a name, and a base URL. */
export interface PromoteTargetSetting {
  readonly name: string;
  readonly url: string;
}

/** One entry of `CHANGEGATE_WITNESSES`: a name, the URL checkpoints are POSTed to, and the witness's verifier key if given. */
export interface WitnessSetting extends PromoteTargetSetting {
  /** `<name>+<key ID>+<base64 key>` (checked in shape here, read in full at start); without it the witness is only published to. */
  readonly verifierKey?: string;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Changegate cannot start: the configuration is not valid.\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Settings whose value may hold a secret: never echoed in an error. */
const SECRET_SETTINGS = new Set<keyof Config>(['masterKey', 'adminPassword', 'smtpUrl', 'databaseUrl', 'logSigningKey', 'metricsToken', 'oidcClientSecret']);

type Parsed<T> = { value: T } | { problem: string };

interface Setting<K extends keyof Config> {
  readonly key: K;
  readonly env: string;
  readonly fallback: Config[K];
  readonly parse: (raw: string) => Parsed<Config[K]>;
}

const text = (raw: string): Parsed<string> => (raw.trim() === '' ? { problem: 'must not be empty' } : { value: raw.trim() });

const integer =
  (min: number, max: number, what: string) =>
  (raw: string): Parsed<number> => {
    const value = Number(raw);
    return /^\d+$/.test(raw.trim()) && value >= min && value <= max ? { value } : { problem: `expected ${what} from ${min} to ${max}` };
  };

/** An OpenID Connect claim's name. */
const claimName = (raw: string): Parsed<string> => (/^[A-Za-z0-9_:./-]{1,100}$/.test(raw.trim()) ? { value: raw.trim() } : { problem: 'expected a claim name such as preferred_username' });

const boolean = (raw: string): Parsed<boolean> => {
  const value = raw.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(value)) return { value: true };
  if (['false', '0', 'no'].includes(value)) return { value: false };
  return { problem: 'expected true or false' };
};

const SETTINGS: { [K in keyof Config]: Setting<K> } = {
  dataDir: { key: 'dataDir', env: 'CHANGEGATE_DATA_DIR', fallback: './data', parse: text },
  databaseUrl: {
    key: 'databaseUrl',
    env: 'DATABASE_URL',
    fallback: undefined,
    parse: (raw) =>
      /^postgres(ql)?:\/\/\S+$/.test(raw.trim())
        ? { value: raw.trim() }
        : { problem: 'expected a PostgreSQL URL such as postgres://user@host:5432/changegate (unset it to use the embedded database)' },
  },
  httpHost: { key: 'httpHost', env: 'CHANGEGATE_HTTP_HOST', fallback: '0.0.0.0', parse: text },
  httpPort: { key: 'httpPort', env: 'CHANGEGATE_HTTP_PORT', fallback: 8080, parse: integer(0, 65535, 'a port number') },
  sshPort: { key: 'sshPort', env: 'CHANGEGATE_SSH_PORT', fallback: 2222, parse: integer(0, 65535, 'a port number') },
  masterKey: {
    key: 'masterKey',
    env: 'CHANGEGATE_MASTER_KEY',
    fallback: undefined,
    parse: (raw) =>
      parseMasterKeys(raw)
        ? { value: raw.trim() }
        : {
            problem:
              'expected 32 random bytes as 64 hex digits or 44 characters of base64 (e.g. `openssl rand -base64 32`); during a rotation, the new key then the old ones, separated by commas',
          },
  },
  adminPassword: {
    key: 'adminPassword',
    env: 'CHANGEGATE_ADMIN_PASSWORD',
    fallback: undefined,
    parse: (raw) => (raw.length >= 12 ? { value: raw } : { problem: 'expected at least 12 characters' }),
  },
  logLevel: {
    key: 'logLevel',
    env: 'CHANGEGATE_LOG_LEVEL',
    fallback: 'info',
    parse: (raw) =>
      (LOG_LEVELS as readonly string[]).includes(raw.trim()) ? { value: raw.trim() as LogLevel } : { problem: `expected one of ${LOG_LEVELS.join(', ')}` },
  },
  cookieSecure: { key: 'cookieSecure', env: 'CHANGEGATE_COOKIE_SECURE', fallback: true, parse: boolean },
  sessionIdleMinutes: { key: 'sessionIdleMinutes', env: 'CHANGEGATE_SESSION_IDLE_MINUTES', fallback: 30, parse: integer(1, 1440, 'minutes') },
  lockoutThreshold: { key: 'lockoutThreshold', env: 'CHANGEGATE_LOCKOUT_THRESHOLD', fallback: 5, parse: integer(1, 100, 'a number of attempts') },
  lockoutMinutes: { key: 'lockoutMinutes', env: 'CHANGEGATE_LOCKOUT_MINUTES', fallback: 15, parse: integer(1, 1440, 'minutes') },
  publicUrl: {
    key: 'publicUrl',
    env: 'CHANGEGATE_PUBLIC_URL',
    fallback: undefined,
    parse: (raw) => (/^https?:\/\/[^\s/]+(\/\S*)?$/.test(raw.trim()) ? { value: raw.trim().replace(/\/+$/, '') } : { problem: 'expected an http:// or https:// URL' }),
  },
  smtpUrl: {
    key: 'smtpUrl',
    env: 'CHANGEGATE_SMTP_URL',
    fallback: undefined,
    parse: (raw) =>
      /^smtps?:\/\/\S+$/.test(raw.trim()) ? { value: raw.trim() } : { problem: 'expected smtp://[user:password@]host[:port] or smtps://…' },
  },
  smtpFrom: { key: 'smtpFrom', env: 'CHANGEGATE_SMTP_FROM', fallback: 'Changegate <changegate@localhost>', parse: text },
  promoteTargets: { key: 'promoteTargets', env: 'CHANGEGATE_PROMOTE_TARGETS', fallback: [], parse: (raw) => parseNamedUrls(raw) },
  webhookAllow: { key: 'webhookAllow', env: 'CHANGEGATE_WEBHOOK_ALLOW', fallback: [], parse: (raw) => parseCidrList(raw) },
  signInLimitPerAddress: {
    key: 'signInLimitPerAddress',
    env: 'CHANGEGATE_SIGNIN_LIMIT_PER_ADDRESS',
    fallback: 10,
    parse: integer(1, 100_000, 'a number of failed sign-ins'),
  },
  signInLimitPerUser: { key: 'signInLimitPerUser', env: 'CHANGEGATE_SIGNIN_LIMIT_PER_USER', fallback: 10, parse: integer(1, 100_000, 'a number of failed sign-ins') },
  signInLimitWindowSeconds: {
    key: 'signInLimitWindowSeconds',
    env: 'CHANGEGATE_SIGNIN_LIMIT_WINDOW_SECONDS',
    fallback: 60,
    parse: integer(1, 86_400, 'seconds'),
  },
  trustedProxies: { key: 'trustedProxies', env: 'CHANGEGATE_TRUSTED_PROXIES', fallback: [], parse: (raw) => parseCidrList(raw) },
  gatewayMaxUnauthenticated: {
    key: 'gatewayMaxUnauthenticated',
    env: 'CHANGEGATE_GATEWAY_MAX_UNAUTHENTICATED',
    fallback: 128,
    parse: integer(1, 100_000, 'a number of connections'),
  },
  gatewayMaxUnauthenticatedPerSource: {
    key: 'gatewayMaxUnauthenticatedPerSource',
    env: 'CHANGEGATE_GATEWAY_MAX_UNAUTHENTICATED_PER_SOURCE',
    fallback: 32,
    parse: integer(1, 100_000, 'a number of connections'),
  },
  logOrigin: {
    key: 'logOrigin',
    env: 'CHANGEGATE_LOG_ORIGIN',
    fallback: undefined,
    parse: (raw) =>
      /^[\x21-\x7e][\x20-\x7e]{0,254}$/.test(raw.trim()) && !raw.includes('+')
        ? { value: raw.trim() }
        : { problem: 'expected one line of printable ASCII without "+", such as changegate.example.com/log' },
  },
  logSigningKey: {
    key: 'logSigningKey',
    env: 'CHANGEGATE_LOG_SIGNING_KEY',
    fallback: undefined,
    parse: (raw) => (/^PRIVATE\+KEY\+[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/.test(raw.trim()) ? { value: raw.trim() } : { problem: 'expected a signed-note private key: PRIVATE+KEY+<name>+<hash>+<base64>' }),
  },
  checkpointIntervalSeconds: {
    key: 'checkpointIntervalSeconds',
    env: 'CHANGEGATE_CHECKPOINT_INTERVAL_SECONDS',
    fallback: 5,
    parse: integer(1, 3600, 'seconds'),
  },
  checkpointDir: { key: 'checkpointDir', env: 'CHANGEGATE_CHECKPOINT_DIR', fallback: undefined, parse: text },
  witnesses: { key: 'witnesses', env: 'CHANGEGATE_WITNESSES', fallback: [], parse: (raw) => parseWitnesses(raw) },
  gatewayAuthTimeoutSeconds: {
    key: 'gatewayAuthTimeoutSeconds',
    env: 'CHANGEGATE_GATEWAY_AUTH_TIMEOUT_SECONDS',
    fallback: 30,
    parse: integer(1, 600, 'seconds'),
  },
  recordingStore: {
    key: 'recordingStore',
    env: 'CHANGEGATE_RECORDING_STORE',
    fallback: undefined,
    parse: (raw) => (raw.trim() === 'files' || raw.trim() === 'database' ? { value: raw.trim() as RecordingStoreKind } : { problem: 'expected files or database' }),
  },
  metricsPort: { key: 'metricsPort', env: 'CHANGEGATE_METRICS_PORT', fallback: undefined, parse: integer(0, 65535, 'a port number') },
  metricsHost: { key: 'metricsHost', env: 'CHANGEGATE_METRICS_HOST', fallback: '127.0.0.1', parse: text },
  metricsToken: {
    key: 'metricsToken',
    env: 'CHANGEGATE_METRICS_TOKEN',
    fallback: undefined,
    parse: (raw) => (/^[\x21-\x7e]{16,256}$/.test(raw.trim()) ? { value: raw.trim() } : { problem: 'expected 16 to 256 printable ASCII characters without spaces (e.g. `openssl rand -hex 32`)' }),
  },
  instanceHeartbeatSeconds: {
    key: 'instanceHeartbeatSeconds',
    env: 'CHANGEGATE_INSTANCE_HEARTBEAT_SECONDS',
    fallback: 5,
    parse: integer(1, 300, 'seconds'),
  },
  drainSeconds: { key: 'drainSeconds', env: 'CHANGEGATE_DRAIN_SECONDS', fallback: 300, parse: integer(0, 86_400, 'seconds') },
  siemSink: { key: 'siemSink', env: 'CHANGEGATE_SIEM_SINK', fallback: undefined, parse: (raw) => parseSiemSink(raw) },
  siemCaFile: { key: 'siemCaFile', env: 'CHANGEGATE_SIEM_CA_FILE', fallback: undefined, parse: text },
  siemAppName: {
    key: 'siemAppName',
    env: 'CHANGEGATE_SIEM_APP_NAME',
    fallback: 'changegate',
    parse: (raw) => (/^[\x21-\x7e]{1,48}$/.test(raw.trim()) ? { value: raw.trim() } : { problem: 'expected 1 to 48 printable ASCII characters without spaces (RFC 5424 APP-NAME)' }),
  },
  siemHostname: {
    key: 'siemHostname',
    env: 'CHANGEGATE_SIEM_HOSTNAME',
    fallback: undefined,
    parse: (raw) => (/^[\x21-\x7e]{1,255}$/.test(raw.trim()) ? { value: raw.trim() } : { problem: 'expected 1 to 255 printable ASCII characters without spaces (RFC 5424 HOSTNAME)' }),
  },
  oidcIssuer: { key: 'oidcIssuer', env: 'CHANGEGATE_OIDC_ISSUER', fallback: undefined, parse: (raw) => parseIssuer(raw) },
  oidcClientId: { key: 'oidcClientId', env: 'CHANGEGATE_OIDC_CLIENT_ID', fallback: undefined, parse: text },
  oidcClientSecret: { key: 'oidcClientSecret', env: 'CHANGEGATE_OIDC_CLIENT_SECRET', fallback: undefined, parse: text },
  oidcDisplayName: {
    key: 'oidcDisplayName',
    env: 'CHANGEGATE_OIDC_DISPLAY_NAME',
    fallback: 'single sign-on',
    parse: (raw) => (raw.trim().length > 0 && raw.trim().length <= 60 ? { value: raw.trim() } : { problem: 'expected 1 to 60 characters' }),
  },
  oidcCreateUsers: { key: 'oidcCreateUsers', env: 'CHANGEGATE_OIDC_CREATE_USERS', fallback: false, parse: boolean },
  oidcLinkExisting: { key: 'oidcLinkExisting', env: 'CHANGEGATE_OIDC_LINK_EXISTING', fallback: false, parse: boolean },
  oidcUsernameClaim: { key: 'oidcUsernameClaim', env: 'CHANGEGATE_OIDC_USERNAME_CLAIM', fallback: 'preferred_username', parse: claimName },
  oidcGroupsClaim: { key: 'oidcGroupsClaim', env: 'CHANGEGATE_OIDC_GROUPS_CLAIM', fallback: 'groups', parse: claimName },
  oidcGroupGrants: { key: 'oidcGroupGrants', env: 'CHANGEGATE_OIDC_GROUP_GRANTS', fallback: [], parse: (raw) => parseGroupGrants(raw) },
  oidcPasswordSignIn: { key: 'oidcPasswordSignIn', env: 'CHANGEGATE_OIDC_PASSWORD_SIGN_IN', fallback: true, parse: boolean },
  oidcMfaAmr: {
    key: 'oidcMfaAmr',
    env: 'CHANGEGATE_OIDC_MFA_AMR',
    fallback: [],
    parse: (raw) => {
      const values = raw.split(',').map((value) => value.trim()).filter(Boolean);
      return values.every((value) => /^[\x21-\x7e]{1,64}$/.test(value)) ? { value: values } : { problem: 'expected amr values separated by commas, such as mfa,otp,hwk' };
    },
  },
};

/** The issuer of OpenID Connect sign-in: https, or plain http on a loopback address only (a provider on the same machine, a test). */
function parseIssuer(raw: string): Parsed<string> {
  const value = raw.trim();
  if (!URL.canParse(value)) return { problem: 'expected the provider\'s issuer URL, such as https://login.example.com/realms/ops' };
  const url = new URL(value);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) return { problem: 'expected an https:// URL (plain http:// only on localhost, 127.0.0.1 or [::1])' };
  if (url.username || url.password || url.search || url.hash) return { problem: 'expected the issuer URL without credentials, query or fragment' };
  return { value };
}


/**
 * `ops=Session.View@Plant-A,Change.View; auditors=EventLog.View`: entries separated by `;` (or new
 * lines), each `group=grant[,grant…]`, a grant `Privilege` (system-wide) or `Privilege@Partition`.
 * The group is what precedes the entry's last `=`, so a group may hold `=` and `,` (an LDAP DN).
 * Privilege names are checked against the catalogue when OpenID Connect starts (identity's to know).
 */
function parseGroupGrants(raw: string): Parsed<readonly OidcGroupGrantSetting[]> {
  const grants: OidcGroupGrantSetting[] = [];
  for (const entry of raw.split(/[;\n]/).map((part) => part.trim()).filter(Boolean)) {
    const equals = entry.lastIndexOf('=');
    const group = equals > 0 ? entry.slice(0, equals).trim() : '';
    const list = equals > 0 ? entry.slice(equals + 1).split(',').map((part) => part.trim()) : [];
    if (!group || list.length === 0 || list.some((grant) => grant === '')) return { problem: `"${entry}" must be group=Privilege[@Partition][,Privilege[@Partition]…]` };
    for (const grant of list) {
      const match = /^([A-Za-z]+\.[A-Za-z]+)(?:@([^\s@,;=]+))?$/.exec(grant);
      if (!match) return { problem: `"${grant}" (for group "${group}") must be a privilege such as Change.View, or Privilege@Partition` };
      grants.push({ group, privilege: match[1] as string, partition: match[2] ?? null });
    }
  }
  return { value: grants };
}

/**
 * Where new recordings go: as set, else in the database on PostgreSQL (every instance sharing it
 * reads every recording) and in files beside the embedded database (one process, one disk).
 */
export function recordingStoreOf(config: Pick<Config, 'recordingStore' | 'databaseUrl'>): RecordingStoreKind {
  return config.recordingStore ?? (config.databaseUrl ? 'database' : 'files');
}

const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `prod=https://cg.prod.example.com,staging=https://cg.staging.example.com`: promotion targets, witnesses. */
function parseNamedUrls(raw: string): Parsed<readonly PromoteTargetSetting[]> {
  const targets: PromoteTargetSetting[] = [];
  for (const entry of raw.split(',').map((part) => part.trim()).filter(Boolean)) {
    const equals = entry.indexOf('=');
    const name = equals > 0 ? entry.slice(0, equals).trim() : '';
    const address = equals > 0 ? entry.slice(equals + 1).trim() : '';
    if (!TARGET_NAME.test(name)) return { problem: `"${entry}" must be name=URL, the name of letters, digits, '.', '_' or '-'` };
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      return { problem: `the URL of "${name}" is not a URL` };
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash) {
      return { problem: `the URL of "${name}" must be an http:// or https:// base URL without credentials, query or fragment` };
    }
    if (targets.some((target) => target.name === name)) return { problem: `"${name}" is named twice` };
    targets.push({ name, url: url.href.replace(/\/+$/, '') });
  }
  return { value: targets };
}

/** A signed-note verifier key's shape: its key ID and base64 are checked in full at start. */
const VERIFIER_KEY = /^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+={0,2}$/;

/**
 * `w1=https://w1.example/add-checkpoint=witness.example/w1+002a8886+BBBE…,w2=https://w2.example`:
 * each witness `name=URL`, then `=` and its verifier key when its cosignatures are to be kept. The
 * URL holds no `=` (it has no query), so the entry splits on its first two; the key's own base64
 * may end in `=`. A key contains no comma, so the list stays comma-separated.
 */
function parseWitnesses(raw: string): Parsed<readonly WitnessSetting[]> {
  const entries = raw.split(',').map((part) => part.trim()).filter(Boolean);
  const keys = new Map<string, string>();
  const namedUrls: string[] = [];
  for (const entry of entries) {
    const first = entry.indexOf('=');
    const second = first < 0 ? -1 : entry.indexOf('=', first + 1);
    namedUrls.push(second < 0 ? entry : entry.slice(0, second));
    if (second < 0) continue;
    const name = entry.slice(0, first).trim();
    const key = entry.slice(second + 1).trim();
    if (!VERIFIER_KEY.test(key)) return { problem: `the key of "${name}" (after its URL and "=") must be the witness's verifier key, <name>+<key ID>+<base64 key>` };
    keys.set(name, key);
  }
  const parsed = parseNamedUrls(namedUrls.join(','));
  if ('problem' in parsed) return parsed;
  return { value: parsed.value.map((target) => (keys.has(target.name) ? { ...target, verifierKey: keys.get(target.name) } : target)) };
}

/** `file:/var/log/changegate.jsonl`, `syslog+tcp://host[:514]` or `syslog+tls://host[:6514]` (docs/siem.md). */
function parseSiemSink(raw: string): Parsed<SiemSinkSetting> {
  const value = raw.trim();
  const expected = 'expected file:/path/to/file.jsonl, syslog+tcp://host[:port] or syslog+tls://host[:port]';
  if (value.startsWith('file:')) {
    let file = value.slice('file:'.length);
    try {
      if (value.startsWith('file://')) file = fileURLToPath(value);
    } catch {
      file = '';
    }
    return file ? { value: { kind: 'file', path: path.resolve(file) } } : { problem: expected };
  }
  const transport = /^syslog\+(tcp|tls):\/\//.exec(value)?.[1] as 'tcp' | 'tls' | undefined;
  if (!transport || !URL.canParse(value)) return { problem: expected };
  const url = new URL(value);
  if (!url.hostname || url.username || url.password || url.search || url.hash || (url.pathname !== '' && url.pathname !== '/')) {
    return { problem: `${expected}, without credentials, path or query` };
  }
  // An IPv6 address comes bracketed, as in a URL; a socket wants it bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { value: { kind: 'syslog', transport, host, port: url.port ? Number(url.port) : transport === 'tls' ? 6514 : 514 } };
}

/** `10.0.0.0/8, 127.0.0.1/32, ::1/128`: each a valid CIDR. */
function parseCidrList(raw: string): Parsed<readonly string[]> {
  const cidrs = raw.split(',').map((part) => part.trim()).filter(Boolean);
  for (const cidr of cidrs) {
    try {
      ipaddr.parseCIDR(cidr);
    } catch {
      return { problem: `"${cidr}" is not a CIDR such as 10.0.0.0/8 or fd00::/8` };
    }
  }
  return { value: cidrs };
}

export interface ConfigSources {
  readonly env?: NodeJS.ProcessEnv;
  /** A JSON file with the same settings in camelCase (`{"httpPort": 9090}`). */
  readonly file?: string;
  /** Command-line options, which win over everything. */
  readonly overrides?: Partial<Record<keyof Config, string>>;
}

/**
 * Builds the configuration from defaults, then the config file, then the environment, then
 * command-line options. Every problem is reported at once, each naming its setting and what is allowed.
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const problems: string[] = [];
  const fromFile = sources.file ? readConfigFile(sources.file, problems) : {};
  const config: Record<string, unknown> = {};
  for (const setting of Object.values(SETTINGS) as Setting<keyof Config>[]) {
    const candidates: Array<[string, string | undefined]> = [
      [`--${kebab(setting.key)}`, sources.overrides?.[setting.key]],
      [setting.env, env[setting.env] === '' ? undefined : env[setting.env]],
      [`"${setting.key}" in ${sources.file}`, fromFile[setting.key]],
    ];
    const found = candidates.find(([, raw]) => raw !== undefined);
    if (!found) {
      config[setting.key] = setting.fallback;
      continue;
    }
    const [where, raw] = found as [string, string];
    const parsed = setting.parse(raw);
    if ('problem' in parsed) {
      const shown = SECRET_SETTINGS.has(setting.key) ? '(hidden)' : JSON.stringify(raw);
      problems.push(`${where} = ${shown} is not valid: ${parsed.problem}.`);
    } else config[setting.key] = parsed.value;
  }
  problems.push(...oidcProblems(config as unknown as Config));
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...(config as unknown as Config), dataDir: path.resolve(config.dataDir as string) };
}

/** OpenID Connect settings that only make sense together. */
function oidcProblems(config: Config): string[] {
  const rest = (['oidcClientId', 'oidcClientSecret', 'oidcGroupGrants', 'oidcMfaAmr'] as const).filter((key) => {
    const value = config[key];
    return Array.isArray(value) ? value.length > 0 : value !== undefined;
  });
  if (!config.oidcIssuer) return rest.length > 0 ? [`${rest.map((key) => SETTINGS[key].env).join(', ')} set without CHANGEGATE_OIDC_ISSUER: set the issuer to turn OpenID Connect sign-in on, or unset them.`] : [];
  const problems: string[] = [];
  if (!config.oidcClientId) problems.push('CHANGEGATE_OIDC_ISSUER is set without CHANGEGATE_OIDC_CLIENT_ID: set the client ID registered at the provider.');
  if (!config.publicUrl) problems.push('CHANGEGATE_OIDC_ISSUER is set without CHANGEGATE_PUBLIC_URL: set the address browsers reach Changegate at; the provider sends them back to <public URL>/api/v1/auth/oidc/callback.');
  return problems;
}

function readConfigFile(file: string, problems: string[]): Partial<Record<keyof Config, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    problems.push(`config file ${file} cannot be read: ${(error as Error).message}.`);
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`config file ${file} must hold one JSON object of settings.`);
    return {};
  }
  const values: Partial<Record<keyof Config, string>> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in SETTINGS)) {
      problems.push(`config file ${file}: "${key}" is not a setting; known settings are ${Object.keys(SETTINGS).join(', ')}.`);
    } else values[key as keyof Config] = String(value);
  }
  return values;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

/** The settings table for `--help` and the README: environment variable, default, meaning. */
export function describeSettings(): Array<{ env: string; key: string; fallback: string }> {
  return (Object.values(SETTINGS) as Setting<keyof Config>[]).map((setting) => ({
    env: setting.env,
    key: setting.key,
    fallback: setting.fallback === undefined ? '' : Array.isArray(setting.fallback) ? setting.fallback.join(',') : String(setting.fallback),
  }));
}
