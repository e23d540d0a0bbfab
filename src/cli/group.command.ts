import type { Command } from 'commander';
import type { AccessGroupView } from '../changes/index.ts';
import { CommandError, EXIT } from './command-error.ts';
import { printFields } from './field-list.ts';
import { segment } from './api-client.ts';
import { withApi } from './api-connection.ts';
import { wholeNumber } from './option-values.ts';
import { printJson, printLines, printTable, shortTime, yesNo } from './output.ts';

const GROUP_REF = 'the access group: its name, or PARTITION.name when the name is used in several partitions';

const approvalCount = wholeNumber('a number of approvals', 1, 1000);

interface GroupOptions {
  readonly description?: string;
  readonly executor?: string[];
  readonly approver?: string[];
  /** Add: true or absent; edit: true, false (`--no-requires-justification`) or absent. */
  readonly requiresJustification?: boolean;
  readonly approvals?: number;
  readonly plannerMayNotExecute?: boolean;
  readonly plannerMayExecute?: boolean;
  readonly json?: boolean;
}

/** `changegate group list|show|add|edit|remove`: who runs a change, who approves it, and how. */
export function registerGroupCommands(program: Command): void {
  const group = program.command('group').description('list, show, add, edit and remove access groups: the executors and approvers of changes, and the approval rule');

  group
    .command('list')
    .description('list the access groups you may view (needs AccessGroup.View)')
    .option('--json', 'print the access groups as JSON')
    .action((options: { json?: boolean }) =>
      withApi(async (api) => {
        const groups = await api.get<AccessGroupView[]>('/access-groups');
        if (options.json) return printJson(groups);
        printTable(['name', 'partition', 'executors', 'approvers', 'approvals', 'justification', 'planner executes'], groups.map(groupRow), 'There are no access groups you may view.');
      }),
    );

  group
    .command('show')
    .description('show one access group')
    .argument('<group>', GROUP_REF)
    .option('--json', 'print the access group as JSON')
    .action((ref: string, options: { json?: boolean }) =>
      withApi(async (api) => {
        const shown = await api.get<AccessGroupView>(`/access-groups/${segment(ref)}`);
        if (options.json) return printJson(shown);
        printGroup(shown);
      }),
    );

  group
    .command('add')
    .description('create an access group (needs AccessGroup.Create); it needs at least one approver')
    .argument('<name>', 'unique in its partition: letters, digits, space, ".", "_" and "-"')
    .option('--description <text>', 'what the group is for')
    .option('--executor <users...>', 'usernames of who may run its changes')
    .option('--approver <users...>', 'usernames of who approves requests to run them')
    .option('--approvals <n>', 'approvals a request needs, at most the number of approvers (default: 1)', approvalCount)
    .option('--requires-justification', 'requesters must say why they need to run the change')
    .option('--planner-may-execute', 'whoever planned a change may also run it (by default planner and executor are different people)')
    .option('--planner-may-not-execute', 'whoever planned a change may not also run it (the default)')
    .option('--partition <name>', 'the partition it belongs to (default: GLOBAL)')
    .option('--application <name>', 'the application of its partition it belongs to')
    .option('--json', 'print the access group as JSON')
    .action((name: string, options: GroupOptions & { partition?: string; application?: string }) =>
      withApi(async (api) => {
        if (options.plannerMayExecute && options.plannerMayNotExecute) {
          throw new CommandError('Give --planner-may-execute or --planner-may-not-execute, not both.', EXIT.usage);
        }
        const created = await api.post<AccessGroupView>('/access-groups', {
          name,
          partition: options.partition,
          application: options.application,
          description: options.description,
          executors: options.executor,
          approvers: options.approver,
          approvalsRequired: options.approvals,
          requiresJustification: options.requiresJustification,
          plannerMayExecute: options.plannerMayExecute === true,
        });
        if (options.json) return printJson(created);
        printLines(`Added access group ${created.name} in partition ${created.partition}: ${ruleText(created)}.`);
      }),
    );

  group
    .command('edit')
    .description('edit an access group (needs AccessGroup.Edit); options not given stay as they are, lists given replace the current ones')
    .argument('<group>', GROUP_REF)
    .option('--description <text>', 'what the group is for')
    .option('--executor <users...>', 'the new executors (replaces the list)')
    .option('--approver <users...>', 'the new approvers (replaces the list)')
    .option('--approvals <n>', 'approvals a request needs, at most the number of approvers', approvalCount)
    .option('--requires-justification', 'requesters must say why they need to run the change')
    .option('--no-requires-justification', 'requesters need not give a justification')
    .option('--planner-may-not-execute', 'whoever planned a change may not also run it')
    .option('--planner-may-execute', 'whoever planned a change may also run it')
    .option('--json', 'print the access group as JSON')
    .action(async (ref: string, options: GroupOptions) => {
      if (options.plannerMayExecute && options.plannerMayNotExecute) {
        throw new CommandError('Give --planner-may-execute or --planner-may-not-execute, not both.', EXIT.usage);
      }
      const patch = {
        ...(options.description !== undefined && { description: options.description }),
        ...(options.executor !== undefined && { executors: options.executor }),
        ...(options.approver !== undefined && { approvers: options.approver }),
        ...(options.approvals !== undefined && { approvalsRequired: options.approvals }),
        ...(options.requiresJustification !== undefined && { requiresJustification: options.requiresJustification }),
        ...(options.plannerMayExecute && { plannerMayExecute: true }),
        ...(options.plannerMayNotExecute && { plannerMayExecute: false }),
      };
      if (Object.keys(patch).length === 0) throw new CommandError('Nothing to change: give at least one option (`changegate group edit --help` lists them).', EXIT.usage);
      await withApi(async (api) => {
        const updated = await api.patch<AccessGroupView>(`/access-groups/${segment(ref)}`, patch);
        if (options.json) return printJson(updated);
        printLines(`Updated access group ${updated.name} (version ${updated.version}): ${ruleText(updated)}.`);
      });
    });

  group
    .command('remove')
    .description('delete an access group that no change uses (needs AccessGroup.Delete)')
    .argument('<group>', GROUP_REF)
    .action((ref: string) =>
      withApi(async (api) => {
        await api.delete(`/access-groups/${segment(ref)}`);
        printLines(`Removed access group ${ref}.`);
      }),
    );
}

const names = (usernames: readonly string[]): string => usernames.join(', ') || '-';

/** The approval rule in words: `2 of 3 approvers (alice, bob, carol); executors: dave`. */
function ruleText(group: AccessGroupView): string {
  return `${group.approvalsRequired} of ${group.approvers.length} approvers (${names(group.approvers)}) approve; executors: ${names(group.executors)}`;
}

const groupRow = (group: AccessGroupView): string[] => [
  group.name,
  group.partition,
  group.executors.join(',') || '-',
  group.approvers.join(',') || '-',
  `${group.approvalsRequired} of ${group.approvers.length}`,
  group.requiresJustification ? 'required' : 'optional',
  yesNo(group.plannerMayExecute),
];

function printGroup(group: AccessGroupView): void {
  printFields([
    ['Name', group.name],
    ['Partition', group.partition],
    ['Description', group.description],
    ['Executors', names(group.executors)],
    ['Approvers', names(group.approvers)],
    ['Approvals needed', `${group.approvalsRequired} of ${group.approvers.length}`],
    ['Justification', group.requiresJustification ? 'required' : 'optional'],
    ['Planner may execute', yesNo(group.plannerMayExecute)],
    ['Version', group.version],
    ['Created', `${shortTime(group.createdAt)} by ${group.createdBy}`],
    ['Updated', `${shortTime(group.updatedAt)} by ${group.updatedBy}`],
  ]);
}
