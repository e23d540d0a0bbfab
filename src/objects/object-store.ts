import { randomUUID } from 'node:crypto';
import { appendEvent } from '../eventlog/index.ts';
import type { Actor, Privilege } from '../access/index.ts';
import type { Executor, Tx } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { businessKey, fieldDiff, toJson, type ObjectFields, type ObjectMeta, type ObjectReference, type ObjectType } from './object.ts';


/** What the event log holds of an audit-trail entry: its number and the hash of its content. */
export interface LoggedAuditEntry {
  readonly seq: number;
  /** Hex SHA-256 of the entry's canonical JSON (`auditEntryDigest`). */
  readonly sha256: string;
}

/** How one object type is written. Its store implements this; the object store does the rest. */
export interface ObjectKind<T extends ObjectMeta> {
  readonly type: ObjectType;
  /** Prefix of its event actions: `device` gives `device.create`, `device.update`, `device.delete`. */
  readonly event: string;
  /** Fields holding sealed secrets: events say that they changed, never their value, not even sealed. */
  readonly secretFields?: readonly string[];
  insert(trx: Tx, object: T): Promise<void>;
  /** Writes `object` over the stored row if that row still has `expectedVersion`; returns the rows written. */
  update(trx: Tx, object: T, expectedVersion: number): Promise<number>;
  remove(trx: Tx, object: T): Promise<void>;
  /** Reads one object by id: a restore compares the snapshot with what is stored now. */
  find(db: Executor, id: string): Promise<T | undefined>;
  /** Rebuilds the object from its audit snapshot (the JSON `snapshot()` made). */
  fromSnapshot(json: Readonly<Record<string, unknown>>): T;
  /** What the object points at besides its partition and application; a restore refuses when one is gone. */
  references(object: T): readonly ObjectReference[];
  /** Other objects now holding a unique key (a name) this object needs, described; a restore refuses when there is one. */
  keyHolders(db: Executor, object: T): Promise<readonly string[]>;
  /** Rules of the domain a restore must keep (a frozen script, a cancelled change), as what stops it. */
  restoreProblems?(db: Executor, target: T, current: T | undefined): Promise<readonly string[]>;
  /** Fields a restore leaves as they are, whatever the snapshot says: state only the system sets. */
  readonly keptOnRestore?: readonly string[];
  /** The event subject, when it is not `<event>:<business key>` (users are `user:alice`). */
  subject?(object: T, businessKey: string): string;
  /** The privileges that allow the same write directly: a restore needs them besides AuditTrail.Restore. */
  readonly restore: RestorePrivileges;
  /** Where the kind's objects sit, for the kinds that live in partitions: what stops a partition or an application from being deleted. */
  readonly placement?: Placement;
}

/**
 * What of a kind sits in a partition or uses an application, asked by the owner of the kind's
 * table: partitions and applications sit below every kind, so they learn what still uses them
 * through the kinds registered with the object store, never by reading the kinds' tables.
 */
export interface Placement {
  /** How many of the kind's objects sit in the partition. */
  countIn(db: Executor, partitionId: string): Promise<number>;
  /**
   * The kind's objects that use the application, by name. `kind` names them where it is not the
   * kind's type (filters say what they filter: `Filter:AuditEntry`).
   */
  usersOf(db: Executor, applicationId: string): Promise<ReadonlyArray<{ readonly partitionId: string; readonly name: string; readonly kind?: string }>>;
}

/** An object that uses an application: its kind (or what `Placement.usersOf` called it), its partition and its name. */
export interface ApplicationUser {
  readonly kind: string;
  readonly partitionId: string;
  readonly name: string;
}

/**
 * What writing an object of a kind takes, as a restore checks it: the privilege for each action,
 * held in the object's partition (or, for a partition, in itself; system-only privileges such as
 * User.Admin system-wide), and the fields whose change takes one privilege more.
 */
export interface RestorePrivileges {
  /** Bringing a deleted object back. */
  readonly create: Privilege;
  readonly edit: Privilege;
  /** Restoring to a state where the object does not exist. */
  readonly delete: Privilege;
  /**
   * Fields a change of which needs one more privilege (a device's address and host key need
   * Device.Pin), and those of them that need it too when an object is brought back holding a value
   * (a pinned host key: creating a device with one needs Device.Pin).
   */
  readonly guarded?: { readonly fields: readonly string[]; readonly onCreate?: readonly string[]; readonly privilege: Privilege; readonly what: string };
  /** Where the privileges are held: the object's partition (default), the object itself (a partition), or system-wide (User.Admin). */
  readonly scope?: 'partition' | 'self' | 'system';
}

export type WriteAction = 'C' | 'M' | 'D';

/** One write, as the hooks (the audit rules) see it. */
export interface ObjectWrite<T extends ObjectMeta = ObjectMeta> {
  readonly kind: ObjectKind<T>;
  readonly action: WriteAction;
  readonly businessKey: string;
  readonly before?: T;
  readonly after?: T;
  readonly actor: Actor;
  readonly reason?: string;
  readonly time: Date;
  /** Set when the write restores the object from this audit entry: it is audited at Full whatever the rules say. */
  readonly restoring?: number;
}

/**
 * Called inside the write's transaction after every write by a user (not by the system), before
 * the write's event is appended. A hook that wrote an audit-trail entry returns its number and
 * hash, and the event carries them: every audit-trail entry is in the event log, once.
 */
export interface ObjectWriteHook {
  afterWrite(trx: Tx, write: ObjectWrite): Promise<LoggedAuditEntry | undefined>;
}

export interface WriteOptions {
  readonly reason?: string;
  /** For a create: the id to give the object, when the caller needs it first (to seal a secret to it). */
  readonly id?: string;
  /** The version the caller last read; a different stored version answers 409 instead of overwriting. */
  readonly expectedVersion?: number;
  /** The event action's last part when it says more than `update`: `user.disable`. */
  readonly verb?: string;
  /** The audit entry this write restores the object from. */
  readonly restoring?: number;
}

export interface Clockish {
  now(): Date;
}

/**
 * The one place configuration objects are written. Every create, update and delete goes through
 * here: it keeps the version and the created/updated columns, hands the write to the hooks (the
 * audit rules) unless the system made it, and appends the event-log entry in the same
 * transaction, with the hash of the audit-trail entry a hook wrote.
 */
export class ObjectStore {
  private readonly hooks: ObjectWriteHook[] = [];
  private readonly kinds = new Map<ObjectType, ObjectKind<ObjectMeta>>();

  constructor(private readonly clock: Clockish) {}

  addHook(hook: ObjectWriteHook): void {
    this.hooks.push(hook);
  }

  /** Makes object types known by name, for what works from a type alone: restore, the trash, presenting snapshots. */
  register(...kinds: ReadonlyArray<ObjectKind<ObjectMeta>>): void {
    for (const kind of kinds) this.kinds.set(kind.type, kind);
  }

  /**
   * What still sits in a partition, as `2 device(s)`, kind by kind in the order they were
   * registered; empty when nothing does.
   */
  async heldIn(db: Executor, partitionId: string): Promise<string[]> {
    const held: string[] = [];
    for (const kind of this.kinds.values()) {
      const count = kind.placement ? await kind.placement.countIn(db, partitionId) : 0;
      if (count > 0) held.push(`${count} ${kindWords(kind.type)}(s)`);
    }
    return held;
  }

  /** Every object of a registered kind that uses an application, each kind's by name. */
  async applicationUsers(db: Executor, applicationId: string): Promise<ApplicationUser[]> {
    const users: ApplicationUser[] = [];
    for (const kind of this.kinds.values()) {
      for (const user of (await kind.placement?.usersOf(db, applicationId)) ?? []) users.push({ kind: user.kind ?? kind.type, partitionId: user.partitionId, name: user.name });
    }
    return users;
  }

  /** The registered kind of a type, if any. */
  kindOf(type: ObjectType): ObjectKind<ObjectMeta> | undefined {
    return this.kinds.get(type);
  }

  async create<T extends ObjectMeta>(trx: Tx, kind: ObjectKind<T>, fields: ObjectFields<T>, actor: Actor, options: WriteOptions = {}): Promise<T> {
    const now = this.clock.now();
    const object = { ...fields, id: options.id ?? randomUUID(), version: 1, createdAt: now, createdBy: actor.username, updatedAt: now, updatedBy: actor.username } as T;
    await kind.insert(trx, object);
    await this.record(trx, { kind, action: 'C', after: object, actor, reason: options.reason, time: now, restoring: options.restoring }, options.verb);
    return object;
  }

  /**
   * Brings a deleted object back from its snapshot, with its id (sealed secrets are bound to it),
   * its creation fields, and the next version.
   */
  async recreate<T extends ObjectMeta>(trx: Tx, kind: ObjectKind<T>, object: T, actor: Actor, options: WriteOptions = {}): Promise<T> {
    const now = this.clock.now();
    const restored = { ...object, version: object.version + 1, updatedAt: now, updatedBy: actor.username } as T;
    await kind.insert(trx, restored);
    await this.record(trx, { kind, action: 'C', after: restored, actor, reason: options.reason, time: now, restoring: options.restoring }, options.verb);
    return restored;
  }

  async update<T extends ObjectMeta>(trx: Tx, kind: ObjectKind<T>, before: T, changes: Partial<ObjectFields<T>>, actor: Actor, options: WriteOptions = {}): Promise<T> {
    if (options.expectedVersion !== undefined && options.expectedVersion !== before.version) throw staleVersion(kind, before, options.expectedVersion);
    const now = this.clock.now();
    const after = { ...before, ...changes, version: before.version + 1, updatedAt: now, updatedBy: actor.username } as T;
    if ((await kind.update(trx, after, before.version)) === 0) throw staleVersion(kind, before, before.version);
    await this.record(trx, { kind, action: 'M', before, after, actor, reason: options.reason, time: now, restoring: options.restoring }, options.verb);
    return after;
  }

  async delete<T extends ObjectMeta>(trx: Tx, kind: ObjectKind<T>, before: T, actor: Actor, options: WriteOptions = {}): Promise<void> {
    if (options.expectedVersion !== undefined && options.expectedVersion !== before.version) throw staleVersion(kind, before, options.expectedVersion);
    await kind.remove(trx, before);
    await this.record(trx, { kind, action: 'D', before, actor, reason: options.reason, time: this.clock.now() }, options.verb);
  }

  /**
   * A change the system makes on its own (a session freezing a script, an expiry): versioned and
   * in the event log, but not handed to the audit rules, which capture what people change.
   */
  async systemUpdate<T extends ObjectMeta>(trx: Tx, kind: ObjectKind<T>, before: T, changes: Partial<ObjectFields<T>>, what: string): Promise<T> {
    const now = this.clock.now();
    const after = { ...before, ...changes, version: before.version + 1, updatedAt: now, updatedBy: 'system' } as T;
    if ((await kind.update(trx, after, before.version)) === 0) throw staleVersion(kind, before, before.version);
    await appendEvent(trx, {
      actor: 'system',
      action: `${kind.event}.${what}`,
      subject: kind.subject ? kind.subject(before, before.name) : `${kind.event}:${before.name}`,
      data: { id: before.id, version: after.version, changes: redact(kind, fieldDiff(snapshot(before), snapshot(after))) },
      time: now,
    });
    return after;
  }

  private async record<T extends ObjectMeta>(trx: Tx, write: Omit<ObjectWrite<T>, 'businessKey'>, verbOption?: string): Promise<void> {
    const object = (write.after ?? write.before) as T;
    const partition = await trx.selectFrom('partition').select('name').where('id', '=', object.partitionId).executeTakeFirst();
    const key = businessKey(partition?.name ?? object.partitionId, object.name);
    const verb = verbOption ?? { C: 'create', M: 'update', D: 'delete' }[write.action];
    const diff = redact(write.kind, fieldDiff(write.before && snapshot(write.before), write.after && snapshot(write.after)));
    let audited: LoggedAuditEntry | undefined;
    for (const hook of this.hooks) {
      const entry = await hook.afterWrite(trx, { ...write, businessKey: key } as ObjectWrite);
      // One write is audited once; a second entry would have no event to carry it.
      if (entry && audited) throw new Error(`two audit-trail entries for one write of ${key}`);
      audited ??= entry;
    }
    await appendEvent(trx, {
      actor: write.actor.username,
      action: `${write.kind.event}.${verb}`,
      subject: write.kind.subject ? write.kind.subject(object, key) : `${write.kind.event}:${key}`,
      data: {
        id: object.id,
        version: object.version,
        changes: diff,
        ...(write.reason && { reason: write.reason }),
        ...(write.restoring !== undefined && { restoredFrom: write.restoring }),
        ...(audited && { auditEntry: { seq: audited.seq, sha256: audited.sha256 } }),
      },
      time: write.time,
    });
  }
}

/** A type as a message says it: `AccessGroup` is `access group`. */
const kindWords = (type: string): string => type.replace(/(?<=[a-z])(?=[A-Z])/g, ' ').toLowerCase();

/** The object as plain JSON, secrets still sealed: what audit snapshots store. */
export function snapshot(object: ObjectMeta): Record<string, unknown> {
  return toJson(object) as Record<string, unknown>;
}

function redact<T extends ObjectMeta>(kind: ObjectKind<T>, diff: Record<string, unknown>): Record<string, unknown> {
  for (const field of kind.secretFields ?? []) if (field in diff) diff[field] = 'changed';
  return diff;
}

function staleVersion(kind: ObjectKind<ObjectMeta> | ObjectKind<never>, object: ObjectMeta, expected: number) {
  return errors.conflict(
    `${kind.type} "${object.name}" was changed by someone else (it is at version ${object.version}, you edited version ${expected}): reload it and apply your edit again.`,
    { currentVersion: object.version },
  );
}
