import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { CHANGE_STATUSES } from '../changes/change.ts';
import type { ChangeStatus, ChangeView, ScriptError } from '../changes/index.ts';
import { isAppError } from '../platform/errors.ts';
import { CommandError, CommandFailed, EXIT } from './command-error.ts';
import { numberedLines, printFields } from './field-list.ts';
import { segment } from './api-client.ts';
import { withApi } from './api-connection.ts';
import { cliIo } from './cli-io.ts';
import { readAll } from './secret-input.ts';
import { isoTime } from './option-values.ts';
import { printJson, printLines, printTable, shortTime } from './output.ts';

const CHANGE_REF = 'the change ID, such as CHG-2026-042';

interface ScriptOptions {
  readonly scriptFile?: string;
  readonly scriptStdin?: boolean;
}

interface ChangeOptions extends ScriptOptions {
  readonly title?: string;
  readonly description?: string;
  readonly start?: Date;
  readonly due?: Date;
  readonly group?: string;
  readonly device?: string[];
  readonly json?: boolean;
}

/** `changegate change list|show|add|edit|cancel|remove`: planned changes, their windows and scripts. */
export function registerChangeCommands(program: Command): void {
  const change = program.command('change').description('list, show, register, edit, cancel and remove changes: a script to run on devices in a time window');

  change
    .command('list')
    .description('list the changes you may view (needs Change.View)')
    .addOption(new Option('--status <status>', 'only changes with this status').choices(CHANGE_STATUSES))
    .option('--device <device>', 'only changes that include this device')
    .option('--json', 'print the changes as JSON, scripts included')
    .action((options: { status?: ChangeStatus; device?: string; json?: boolean }) =>
      withApi(async (api) => {
        const changes = await api.get<ChangeView[]>('/changes', { status: options.status, device: options.device });
        if (options.json) return printJson(changes);
        printTable(['id', 'title', 'status', 'start', 'due', 'access group', 'devices'], changes.map(changeRow), 'No changes match.');
      }),
    );

  change
    .command('show')
    .description('show one change: every field, its status and its script')
    .argument('<id>', CHANGE_REF)
    .option('--json', 'print the change as JSON')
    .action((name: string, options: { json?: boolean }) =>
      withApi(async (api) => {
        const shown = await api.get<ChangeView>(`/changes/${segment(name)}`);
        if (options.json) return printJson(shown);
        printChange(shown);
      }),
    );

  addScriptOptions(
    change
      .command('add')
      .description('register a change (needs Change.Create); the script is checked, and each error named by line and column')
      .argument('<id>', 'the change ID, unique: letters, digits, ".", "_" and "-", such as CHG-2026-042')
      .requiredOption('--title <text>', 'what the change does, in a line')
      .requiredOption('--start <time>', 'when its window opens: ISO 8601 with a time zone, such as 2026-11-21T22:00Z', isoTime)
      .requiredOption('--due <time>', 'when its window closes, after the start', isoTime)
      .requiredOption('--group <group>', 'the access group whose executors run it and whose approvers approve it')
      .requiredOption('--device <devices...>', 'the devices it changes, in the same partition'),
  )
    .option('--description <text>', 'why, and what else an approver should know')
    .option('--partition <name>', 'the partition it belongs to (default: GLOBAL)')
    .option('--application <name>', 'the application of its partition it belongs to')
    .option('--json', 'print the change as JSON')
    .action(async (name: string, options: ChangeOptions & { partition?: string; application?: string }) => {
      const script = await readScript(options);
      if (script === undefined) throw new CommandError('A change needs its script: give --script-file <path> or --script-stdin.', EXIT.usage);
      await withApi(async (api) => {
        const created = await reportingScriptErrors(options, () =>
          api.post<ChangeView>('/changes', {
            name,
            title: options.title as string,
            description: options.description,
            startAt: (options.start as Date).toISOString(),
            dueAt: (options.due as Date).toISOString(),
            accessGroup: options.group as string,
            devices: options.device as string[],
            script,
            partition: options.partition,
            application: options.application,
          }),
        );
        if (options.json) return printJson(created);
        printLines(`Registered change ${created.name} "${created.title}": ${created.status}, ${windowText(created)}, on ${created.devices.join(', ')}.`);
      });
    });

  addScriptOptions(
    change
      .command('edit')
      .description('edit a change (needs Change.Edit); options not given stay as they are. The script cannot change once a session ran for it')
      .argument('<id>', CHANGE_REF)
      .option('--title <text>', 'what the change does, in a line')
      .option('--start <time>', 'when its window opens (ISO 8601 with a time zone)', isoTime)
      .option('--due <time>', 'when its window closes', isoTime)
      .option('--group <group>', 'another access group')
      .option('--device <devices...>', 'the devices it changes (replaces the list)'),
  )
    .option('--description <text>', 'why, and what else an approver should know')
    .option('--json', 'print the change as JSON')
    .action(async (name: string, options: ChangeOptions) => {
      const script = await readScript(options);
      const patch = {
        ...(options.title !== undefined && { title: options.title }),
        ...(options.description !== undefined && { description: options.description }),
        ...(options.start !== undefined && { startAt: options.start.toISOString() }),
        ...(options.due !== undefined && { dueAt: options.due.toISOString() }),
        ...(options.group !== undefined && { accessGroup: options.group }),
        ...(options.device !== undefined && { devices: options.device }),
        ...(script !== undefined && { script }),
      };
      if (Object.keys(patch).length === 0) throw new CommandError('Nothing to change: give at least one option (`changegate change edit --help` lists them).', EXIT.usage);
      await withApi(async (api) => {
        const updated = await reportingScriptErrors(options, () => api.patch<ChangeView>(`/changes/${segment(name)}`, patch));
        if (options.json) return printJson(updated);
        printLines(`Updated change ${updated.name} (version ${updated.version}): ${updated.status}, ${windowText(updated)}.`);
      });
    });

  change
    .command('cancel')
    .description('cancel a change (needs Change.Edit): no session can start for it any more, and its open requests close')
    .argument('<id>', CHANGE_REF)
    .option('--reason <text>', 'why, for the requesters and the event log')
    .option('--json', 'print the change as JSON')
    .action((name: string, options: { reason?: string; json?: boolean }) =>
      withApi(async (api) => {
        const cancelled = await api.post<ChangeView>(`/changes/${segment(name)}/cancel`, { reason: options.reason });
        if (options.json) return printJson(cancelled);
        printLines(`Cancelled change ${cancelled.name} (${shortTime(cancelled.cancelledAt)} by ${cancelled.cancelledBy ?? '-'}); its open requests are closed.`);
      }),
    );

  change
    .command('remove')
    .description('delete a change that never had requests or sessions (needs Change.Delete); cancel the others')
    .argument('<id>', CHANGE_REF)
    .action((name: string) =>
      withApi(async (api) => {
        await api.delete(`/changes/${segment(name)}`);
        printLines(`Removed change ${name}.`);
      }),
    );
}

function addScriptOptions(command: Command): Command {
  return command
    .addOption(new Option('--script-file <path>', 'read the script from this file (syntax: see the README, "Script syntax")').conflicts('scriptStdin'))
    .option('--script-stdin', 'read the script from standard input, to its end');
}

/** The script the options point to; `undefined` when none is named. */
async function readScript(options: ScriptOptions): Promise<string | undefined> {
  if (options.scriptFile) {
    return readFile(options.scriptFile, 'utf8').catch((error: unknown) => {
      throw new CommandError(`Cannot read the script file ${options.scriptFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
    });
  }
  if (!options.scriptStdin) return undefined;
  return readAll();
}

/**
 * Runs a save; a script the service refuses is reported one error a line as `file:line:column:
 * message`, the form editors and terminals turn into a link to the spot.
 */
async function reportingScriptErrors<T>(options: ScriptOptions, save: () => Promise<T>): Promise<T> {
  try {
    return await save();
  } catch (error) {
    if (!isAppError(error, 'script_invalid') || !scriptErrorsOf(error.details)) throw error;
    const errors = scriptErrorsOf(error.details) as ScriptError[];
    const source = options.scriptFile ?? '<stdin>';
    cliIo().stderr.write(
      [`error: The script in ${source} has ${errors.length} ${errors.length === 1 ? 'error' : 'errors'}; nothing was saved:`, ...errors.map((one) => `  ${source}:${one.line}:${one.column}: ${one.message}`)]
        .map((line) => `${line}\n`)
        .join(''),
    );
    throw new CommandFailed();
  }
}

function scriptErrorsOf(details: unknown): ScriptError[] | undefined {
  if (typeof details !== 'object' || details === null || !('errors' in details) || !Array.isArray(details.errors)) return undefined;
  return details.errors as ScriptError[];
}

const windowText = (change: ChangeView): string => `window ${shortTime(change.startAt)} to ${shortTime(change.dueAt)}`;

const changeRow = (change: ChangeView): string[] => [
  change.name,
  change.title,
  change.status,
  shortTime(change.startAt),
  shortTime(change.dueAt),
  change.accessGroup,
  change.devices.join(','),
];

function printChange(change: ChangeView): void {
  printFields([
    ['Change', change.name],
    ['Title', change.title],
    ['Status', change.status],
    ['Partition', change.partition],
    ['Start', change.startAt],
    ['Due', change.dueAt],
    ['Access group', change.accessGroup],
    ['Devices', change.devices.join(', ')],
    ['Description', change.description],
    ['Script frozen', change.scriptFrozenAt ? `since ${change.scriptFrozenAt} (a session ran for it)` : 'no'],
    ['Cancelled', change.cancelledAt ? `${change.cancelledAt} by ${change.cancelledBy ?? '-'}${change.cancelReason ? `: ${change.cancelReason}` : ''}` : 'no'],
    ['Version', change.version],
    ['Created', `${shortTime(change.createdAt)} by ${change.createdBy}`],
    ['Updated', `${shortTime(change.updatedAt)} by ${change.updatedBy}`],
  ]);
  printLines('Script:', ...(change.script.trim() === '' ? ['  (empty)'] : numberedLines(change.script)));
}
