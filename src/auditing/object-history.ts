import type { ObjectType } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import type { AuditEntry } from './audit-trail.ts';

/**
 * The audit-trail entries of one object, oldest first: its history as an evidence bundle shows it.
 * The mapping repeats the trail store's (its `toEntry` is not exported); fold the two together
 * when that store is next edited.
 */
export async function entriesOfObject(db: Executor, objectId: string): Promise<AuditEntry[]> {
  const rows = await db.selectFrom('audit_entry').selectAll().where('object_id', '=', objectId).orderBy('seq').execute();
  return rows.map((row) => ({
    seq: Number(row.seq),
    time: row.time,
    objectType: row.object_type as ObjectType,
    objectId: row.object_id,
    businessKey: row.business_key,
    partitionId: row.partition_id,
    action: row.action,
    level: row.level,
    user: row.username,
    reason: row.reason,
    objectVersion: row.object_version,
    diff: row.diff,
    before: row.before,
    after: row.after,
    ruleId: row.rule_id,
    restoredFrom: row.restored_from === null ? null : Number(row.restored_from),
  }));
}
