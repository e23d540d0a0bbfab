import type { ColumnType, Generated } from 'kysely';
import type { AuditingTables } from './tables/auditing.ts';
import type { CreatedOnly, ObjectColumns } from './tables/columns.ts';
import type { ChangeTables } from './tables/changes.ts';
import type { CheckpointTables } from './tables/checkpoints.ts';
import type { InstanceTables } from './tables/instances.ts';
import type { NotificationTables } from './tables/notifications.ts';
import type { ReviewTables } from './tables/review.ts';
import type { SessionTables } from './tables/sessions.ts';
import type { SiemExportTables } from './tables/siem-export.ts';
import type { OidcTables } from './tables/identity-oidc.ts';

/**
 * The tables as Kysely sees them, declared here because Kysely types one database. Each table is
 * owned by one module, the only one whose queries name it: `TABLE_OWNERS` in
 * test/architecture.test.ts says which (docs/architecture.md). Migrations in `migrations/` are the source of truth; keep this in step.
 */
export interface Database extends ChangeTables, NotificationTables, AuditingTables, SessionTables, ReviewTables, CheckpointTables, InstanceTables, SiemExportTables, OidcTables {
  schema_migration: SchemaMigrationTable;
  partition: PartitionTable;
  application: ApplicationTable;
  app_user: UserTable;
  privilege_grant: PrivilegeGrantTable;
  api_token: ApiTokenTable;
  web_session: WebSessionTable;
  ssh_public_key: SshPublicKeyTable;
  sign_in_lock: SignInLockTable;
  event: EventTable;
  event_tree_node: EventTreeNodeTable;
}

export interface SchemaMigrationTable {
  name: string;
  applied_at: Date;
}

export interface PartitionTable extends ObjectColumns {
  name: CreatedOnly<string>;
  description: string;
}

export interface ApplicationTable extends ObjectColumns {
  partition_id: CreatedOnly<string>;
  name: CreatedOnly<string>;
  description: string;
}

export interface UserTable extends ObjectColumns {
  username: CreatedOnly<string>;
  display_name: string;
  email: string | null;
  time_zone: string;
  password_hash: string | null;
  disabled_at: Date | null;
  /** No longer used: failures are counted per source address in `sign_in_lock` (migration 0010). */
  failed_logins: number;
  /** The latest lock of any source address, for display; the locks themselves are in `sign_in_lock`. */
  locked_until: Date | null;
  totp_secret: string | null;
  totp_enabled_at: Date | null;
  totp_last_step: number | null;
  /** Bumped by every security change to the account: gateway connections signed in before it stop. */
  signin_epoch: ColumnType<number, number | undefined, number>;
}

export interface PrivilegeGrantTable {
  id: CreatedOnly<string>;
  user_id: CreatedOnly<string>;
  privilege: CreatedOnly<string>;
  level: 'access' | 'admin';
  partition_id: CreatedOnly<string | null>;
  granted_at: Date;
  granted_by: string;
  /** Given by an administrator, or kept in step with the user's groups at the OpenID Connect provider (migration 0024). */
  source: ColumnType<'manual' | 'oidc', 'manual' | 'oidc' | undefined, 'manual' | 'oidc'>;
}

export interface ApiTokenTable {
  id: CreatedOnly<string>;
  user_id: CreatedOnly<string>;
  name: string;
  prefix: CreatedOnly<string>;
  token_hash: CreatedOnly<string>;
  created_at: CreatedOnly<Date>;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

export interface WebSessionTable {
  id: CreatedOnly<string>;
  user_id: CreatedOnly<string>;
  token_hash: CreatedOnly<string>;
  csrf_token: CreatedOnly<string>;
  source_ip: CreatedOnly<string>;
  created_at: CreatedOnly<Date>;
  expires_at: Date;
  last_seen_at: Date;
  /** When the session last proved the password (sign-in or re-authentication), and whether with TOTP. */
  authenticated_at: Date;
  second_factor: boolean;
}

export interface SshPublicKeyTable {
  id: CreatedOnly<string>;
  user_id: CreatedOnly<string>;
  name: string;
  algorithm: CreatedOnly<string>;
  key_data: CreatedOnly<string>;
  fingerprint: CreatedOnly<string>;
  created_at: CreatedOnly<Date>;
  /** Who registered the key: the user, or an administrator for them; null for keys from before it was recorded. */
  added_by: CreatedOnly<string | null>;
}

/** Failed sign-ins of a user from one source (an IPv4 address or an IPv6 /64), and its lock. */
export interface SignInLockTable {
  user_id: CreatedOnly<string>;
  source: CreatedOnly<string>;
  failed_logins: number;
  locked_until: Date | null;
  updated_at: Date;
}

export interface EventTable {
  seq: CreatedOnly<number>;
  time: CreatedOnly<Date>;
  actor: CreatedOnly<string>;
  action: CreatedOnly<string>;
  subject: CreatedOnly<string>;
  data: CreatedOnly<Record<string, unknown>>;
  leaf_hash: CreatedOnly<string>;
  chain_hash: CreatedOnly<string>;
}

/** A perfect subtree of the event log's Merkle tree: the hash of leaves [idx·2^level, (idx+1)·2^level). */
export interface EventTreeNodeTable {
  level: CreatedOnly<number>;
  idx: CreatedOnly<number>;
  hash: CreatedOnly<string>;
}

export type { Generated };

export type { CreatedOnly, ObjectColumns } from './tables/columns.ts';
