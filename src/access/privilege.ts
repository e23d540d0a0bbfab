/**
 * The catalogue of privileges. A grant gives one of them to a user at level Access (use it) or
 * Admin (use it and grant it to others within the same scope), system-wide or for one partition.
 */
const CRUD = ['View', 'Create', 'Edit', 'Delete'] as const;

const crud = <T extends string>(object: T) => CRUD.map((verb) => `${object}.${verb}` as const);

export const PRIVILEGES = [
  'User.Admin',
  ...crud('Partition'),
  ...crud('Application'),
  ...crud('Device'),
  // Changing a device's hostname, port or host key decides where its vaulted credentials are sent.
  'Device.Pin',
  ...crud('Credential'),
  ...crud('AccessGroup'),
  ...crud('Change'),
  'Request.View',
  // Revoking someone else's approved request (the group's approvers may always revoke).
  'Request.Revoke',
  'Session.View',
  'Session.Watch',
  'Session.Terminate',
  ...crud('AuditingRule'),
  'AuditTrail.View',
  'AuditTrail.Restore',
  'EventLog.View',
  'EventLog.Verify',
  // A backup holds the whole database (sealed secrets, password hashes) and the log signing key.
  'System.Backup',
] as const;

export type Privilege = (typeof PRIVILEGES)[number];

export type GrantLevel = 'access' | 'admin';

/** Privileges about the whole installation: they cannot be granted for one partition. */
const SYSTEM_ONLY: ReadonlySet<Privilege> = new Set<Privilege>(['User.Admin', 'Partition.Create', 'EventLog.View', 'EventLog.Verify', 'System.Backup']);

export function isPrivilege(name: string): name is Privilege {
  return (PRIVILEGES as readonly string[]).includes(name);
}

export function isSystemOnly(privilege: Privilege): boolean {
  return SYSTEM_ONLY.has(privilege);
}

/** Where a grant applies or a check asks: everywhere, or one partition. */
export type Scope = { readonly partitionId: null } | { readonly partitionId: string };

export const SYSTEM: Scope = { partitionId: null };

export const inPartition = (partitionId: string): Scope => ({ partitionId });

/** A grant scope covers a requested scope when it is system-wide or names the same partition. */
export function scopeCovers(grant: Scope, wanted: Scope): boolean {
  return grant.partitionId === null || grant.partitionId === wanted.partitionId;
}

export function levelCovers(held: GrantLevel, wanted: GrantLevel): boolean {
  return held === 'admin' || wanted === 'access';
}
