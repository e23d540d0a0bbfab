import path from 'node:path';
import type { ChangegateCore } from '../changegate.ts';
import { FIRST_ADMIN } from '../identity/user.ts';
import type { Config } from '../platform/config.ts';

/**
 * What the operator must hear once about a first start: the generated password of the first
 * administrator (it exists nowhere else) and a newly written master key (lost, it takes every
 * vaulted secret with it). Empty on later starts.
 */
export function firstStartNotes(
  core: Pick<ChangegateCore, 'bootstrap' | 'masterKeyCreated' | 'config'> & { readonly logSigningKey?: Pick<ChangegateCore['logSigningKey'], 'created' | 'file'> },
): string[] {
  const notes: string[] = [];
  const { generatedAdminPassword, adminCreated } = core.bootstrap;
  if (generatedAdminPassword !== undefined) {
    notes.push(`Sign in as "${FIRST_ADMIN}" with password: ${generatedAdminPassword}`);
    notes.push('This password is shown only once: store it now (and change it after signing in).');
  } else if (adminCreated) {
    notes.push(`Created the administrator "${FIRST_ADMIN}" with the configured password (CHANGEGATE_ADMIN_PASSWORD).`);
  }
  if (core.masterKeyCreated) {
    notes.push(`Created the master key ${masterKeyFile(core.config)}: back it up and keep it secret; without it no vaulted secret can be read.`);
  }
  if (core.logSigningKey?.created) {
    notes.push(`Created the event log's signing key ${core.logSigningKey.file}: back it up and keep it secret, apart from the database; it signs the log's checkpoints.`);
  }
  return notes;
}

/** Where the database lives, for people: never the password a PostgreSQL URL may hold. */
export function describeDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir'>): string {
  if (!config.databaseUrl) return `embedded PGlite in ${path.join(config.dataDir, 'db')}`;
  try {
    const url = new URL(config.databaseUrl);
    return `PostgreSQL ${url.host}${url.pathname}`;
  } catch {
    return 'PostgreSQL (DATABASE_URL)';
  }
}

/** The address a browser on this machine reaches a server listening on `host`. */
export function localUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${reachable}:${port}`;
}

export interface BannerFacts {
  /** The SSH gateway's port and host key fingerprint, once it listens. */
  readonly gateway?: { readonly sshPort: number; readonly fingerprint: string };
  /** The event log's verifier key, which verifies its signed checkpoints. */
  readonly logKey?: string;
  readonly version: string;
  readonly config: Config;
  /** The port actually bound: differs from the configuration when that asked for 0. */
  readonly port: number;
  readonly notes: readonly string[];
}

/** The lines `changegate serve` prints once it listens. */
export function serveBanner(facts: BannerFacts): string[] {
  const url = localUrl(facts.config.httpHost, facts.port);
  const rows: Array<[string, string]> = [
    ['URL', url],
    ...(facts.config.publicUrl ? [['Public URL', facts.config.publicUrl] as [string, string]] : []),
    ['API docs', `${url}/api/docs`],
    ...(facts.gateway
      ? ([
          ['SSH gateway', `port ${facts.gateway.sshPort}: ssh -p ${facts.gateway.sshPort} <you>@<device>@${new URL(url).hostname}`],
          ['Gateway key', facts.gateway.fingerprint],
        ] as Array<[string, string]>)
      : []),
    ...(facts.logKey ? [['Log key', facts.logKey] as [string, string]] : []),
    ['Database', describeDatabase(facts.config)],
    ['Data directory', facts.config.dataDir],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 1;
  return [
    `Changegate ${facts.version} is running.`,
    ...rows.map(([label, value]) => `  ${`${label}:`.padEnd(width)}  ${value}`),
    ...(facts.notes.length > 0 ? ['', ...facts.notes] : []),
    '',
    'Press Ctrl+C to stop.',
  ];
}

function masterKeyFile(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'master.key');
}
