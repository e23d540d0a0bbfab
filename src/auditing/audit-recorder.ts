import type { Executor, Tx } from '../platform/database.ts';
import { auditDecision, compileRuleSet, type AuditTarget, type CompiledRule } from './audit-rule.ts';
import { enabledRules, ruleGeneration } from './audit-rule.store.ts';
import { auditEntryDigest, type LoggedAuditEntry } from './audit-entry-log.ts';
import { insertEntry } from './audit-trail.store.ts';
import { snapshot, type ObjectWrite, type ObjectWriteHook } from '../objects/object-store.ts';
import { fieldDiff, type ObjectMeta, type ObjectType } from '../objects/object.ts';
import { findApplicationsByIds, partitionNamesByIds, type Application } from '../objects/index.ts';

type ApplicationFacts = NonNullable<AuditTarget['application']>;

/**
 * The audit rules at work: the object store hands every write by a user to `afterWrite`, inside
 * the write's transaction, and this writes the audit entry when an enabled rule matches. It returns
 * the entry's number and hash, which the object store puts in the write's event-log entry.
 *
 * Speed matters, as every save pays for it. The enabled rules are kept compiled (GLOBs to string
 * tests, the regular expressions of a type merged into one RE2 set), grouped by object type with
 * Full rules first, and reused while the rules' generation number, one indexed row, is unchanged;
 * application names never change, so they are kept once read. A write then costs one small query
 * plus a few string tests.
 */
export class AuditRecorder implements ObjectWriteHook {
  private cache: { readonly generation: number; readonly rules: Map<ObjectType, CompiledRule[]> } | undefined;
  private readonly applications = new Map<string, ApplicationFacts>();

  async afterWrite(trx: Tx, write: ObjectWrite): Promise<LoggedAuditEntry | undefined> {
    const object = write.after ?? write.before;
    if (!object) return undefined;
    let decision: { level: 1 | 2; ruleId: string | null } | undefined;
    if (write.restoring !== undefined) {
      // A restore is always audited at Full, so that it can itself be restored.
      decision = { level: 2, ruleId: null };
    } else {
      const rules = (await this.rules(trx)).get(write.kind.type);
      if (!rules) return undefined;
      // A rule matches a change when it matches the object before it or after it: moving an object
      // out of a rule's reach (another name, application or partition) is audited by that rule.
      const partition = write.businessKey.slice(0, write.businessKey.indexOf('.'));
      const asksApplication = rules.some((rule) => rule.applicationRule !== 'all_objects');
      for (const side of sidesOf(write)) {
        const application = asksApplication ? await this.application(trx, side.applicationId) : null;
        const sidePartition = side.partitionId === object.partitionId ? partition : await this.partitionName(trx, side.partitionId);
        const found = auditDecision(rules, { type: write.kind.type, name: side.name, partition: sidePartition }, write.action, () => application);
        if (found && (!decision || found.level > decision.level)) decision = found;
      }
    }
    if (!decision) return undefined;
    const before = write.before && snapshot(write.before);
    const after = write.after && snapshot(write.after);
    const entry = await insertEntry(trx, {
      time: write.time,
      objectType: write.kind.type,
      objectId: object.id,
      businessKey: write.businessKey,
      partitionId: object.partitionId,
      action: write.action,
      level: decision.level,
      user: write.actor.username,
      reason: write.reason ?? null,
      objectVersion: object.version,
      diff: fieldDiff(before, after),
      before: decision.level === 2 ? (before ?? null) : null,
      after: decision.level === 2 ? (after ?? null) : null,
      ruleId: decision.ruleId,
      restoredFrom: write.restoring ?? null,
    });
    return { seq: entry.seq, sha256: auditEntryDigest(entry) };
  }

  /** The enabled rules by object type, compiled; reloaded when the generation moved. */
  async rules(db: Executor): Promise<Map<ObjectType, CompiledRule[]>> {
    const generation = await ruleGeneration(db);
    if (this.cache?.generation === generation) return this.cache.rules;
    const rules = await enabledRules(db);
    const ids = [...new Set(rules.map((rule) => rule.matchApplicationId).filter((id): id is string => id !== null))];
    const applications = new Map<string, ApplicationFacts>();
    for (const application of await findApplicationsByIds(db, ids)) applications.set(application.id, facts(application));
    const compiled = compileRuleSet(rules, (id) => applications.get(id) ?? null);
    // A rule naming a deleted application matches nothing until the application is restored (its
    // id and all), which does not move the generation: keep such rules uncached, to see it come back.
    if (applications.size === ids.length) this.cache = { generation, rules: compiled };
    return compiled;
  }

  private async partitionName(db: Executor, id: string): Promise<string> {
    return (await partitionNamesByIds(db, [id])).get(id) ?? id;
  }

  private async application(db: Executor, id: string | null): Promise<ApplicationFacts | null> {
    if (id === null) return null;
    const cached = this.applications.get(id);
    if (cached) return cached;
    const [application] = await findApplicationsByIds(db, [id]);
    if (!application) return null;
    const known = facts(application);
    this.applications.set(id, known);
    return known;
  }
}

/** What a rule asks of an application: where it is and its path. */
const facts = (application: Application): ApplicationFacts => ({ id: application.id, partitionId: application.partitionId, path: application.name });

/** The states of the object a write is judged by: before and after, once each when they sit in the same place under the same name. */
function sidesOf(write: ObjectWrite): ObjectMeta[] {
  const sides = [write.after, write.before].filter((side): side is ObjectMeta => side !== undefined);
  const [first, second] = sides;
  if (first && second && first.name === second.name && first.partitionId === second.partitionId && first.applicationId === second.applicationId) return [first];
  return sides;
}
