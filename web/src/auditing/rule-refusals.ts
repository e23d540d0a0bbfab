import type { Me, Privilege } from '../session.tsx';
import type { AuditRuleView } from './auditing.queries.ts';

/** What the server refuses to do to the built-in rule (its message says the same). */
export const BUILTIN_REASON = 'Built-in rule: it audits every change to an audit rule, so it cannot be edited, disabled or deleted, nor its security changed — nobody can escape auditing.';

/** Whether the user holds the privilege where the rule lives: system-wide or in its partition. */
function holdsFor(me: Me, privilege: Privilege, partition: string): boolean {
  return me.grants.some((grant) => grant.privilege === privilege && (grant.partition === null || grant.partition === partition));
}

/**
 * Why the server would refuse this user this action on the rule, or undefined when it would not:
 * the built-in rule, the AuditingRule privilege in the rule's partition, then the rule's security.
 * The server decides; this only disables what would fail, and says why.
 */
export function refusal(rule: AuditRuleView, me: Me, action: 'edit' | 'delete'): string | undefined {
  if (rule.builtin) return BUILTIN_REASON;
  const privilege: Privilege = action === 'edit' ? 'AuditingRule.Edit' : 'AuditingRule.Delete';
  if (!holdsFor(me, privilege, rule.partition)) return `You need the ${privilege} privilege in partition ${rule.partition}.`;
  const listed = rule.security[action];
  if (listed !== null && !listed.includes(me.user.username)) return `The rule's security lets only ${listed.join(', ') || 'nobody'} ${action} it.`;
  return undefined;
}
