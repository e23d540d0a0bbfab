import type { ObjectMeta } from '../objects/index.ts';
import type { DeviationAlerts, StoredCommandPolicy } from '../platform/tables/changes.ts';
import type { AccessGroupView } from './access-group.views.ts';

export type { DeviationAlerts } from '../platform/tables/changes.ts';
/** Rules checked at each Enter of the sessions of the group's changes, and the strict switch (see src/policies/). */
export type CommandPolicySetting = StoredCommandPolicy;
export const NO_COMMAND_POLICY: CommandPolicySetting = { rules: [], strict: false };

/**
 * Who may run the changes that name this group (executors) and who approves their requests
 * (approvers), and how: with a justification, and with N approvals out of the approvers.
 */
export interface AccessGroup extends ObjectMeta {
  readonly description: string;
  /** User ids. */
  readonly executors: readonly string[];
  /** User ids. */
  readonly approvers: readonly string[];
  readonly requiresJustification: boolean;
  readonly approvalsRequired: number;
  /** When false, the planner of a change (who created it) may not also execute it. */
  readonly plannerMayExecute: boolean;
  /** What its executors may run in the sessions of its changes. */
  readonly commandPolicy: CommandPolicySetting;
  /** Which deviations from the script alert its approvers while a session runs. */
  readonly deviationAlerts: DeviationAlerts;
}

export const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$/;

export type { AccessGroupView } from './access-group.views.ts';

/** `usernames` maps user ids to usernames; members are shown by username. */
export function presentAccessGroup(group: AccessGroup, partition: string, usernames: ReadonlyMap<string, string>): AccessGroupView {
  const names = (ids: readonly string[]) => ids.map((id) => usernames.get(id) ?? id).sort();
  return {
    id: group.id,
    name: group.name,
    partition,
    description: group.description,
    executors: names(group.executors),
    approvers: names(group.approvers),
    requiresJustification: group.requiresJustification,
    approvalsRequired: group.approvalsRequired,
    plannerMayExecute: group.plannerMayExecute,
    commandPolicy: { rules: group.commandPolicy.rules.map((rule) => ({ kind: rule.kind, syntax: rule.syntax, pattern: rule.pattern, name: rule.name ?? '' })), strict: group.commandPolicy.strict },
    deviationAlerts: group.deviationAlerts,
    version: group.version,
    createdAt: group.createdAt.toISOString(),
    createdBy: group.createdBy,
    updatedAt: group.updatedAt.toISOString(),
    updatedBy: group.updatedBy,
  };
}
