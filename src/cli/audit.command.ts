import { readFile, writeFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { OBJECT_TYPES } from '../objects/object.ts';
import { parseDuration } from '../auditing/duration.ts';
import type { AuditEntryView, AuditRuleView, EntryPage, ImportReport, NewAuditRule, PromoteResult, RestoreResult, RulePatch } from '../auditing/index.ts';
import { registerChangeAuditCommands } from './change-audit.command.ts';
import { CommandError, EXIT } from './command-error.ts';
import { printFields } from './field-list.ts';
import { segment } from './api-client.ts';
import { withApi } from './api-connection.ts';
import { cliIo } from './cli-io.ts';
import { wholeNumber } from './option-values.ts';
import { printJson, printLines, printTable, shortTime, yesNo } from './output.ts';
import { readAll, readLine } from './secret-input.ts';

const RULE_REF = 'the rule: its name, PARTITION.name or id';
const LEVELS = ['diff_only', 'full_audit'] as const;
const MATCHES = ['glob', 'glob_ignore_case', 'regex', 'regex_ignore_case'] as const;
const APPLICATION_RULES = ['all_objects', 'any_application', 'exact_application', 'no_application', 'sub_application'] as const;

interface RuleOptions {
  readonly type?: string;
  readonly level?: (typeof LEVELS)[number];
  readonly namePattern?: string;
  readonly nameMatch?: (typeof MATCHES)[number];
  readonly applicationRule?: (typeof APPLICATION_RULES)[number];
  readonly matchApplication?: string | false;
  readonly partitionPattern?: string;
  readonly partitionMatch?: (typeof MATCHES)[number];
  readonly description?: string;
  readonly enabled?: boolean;
  readonly reason?: string;
  readonly json?: boolean;
}

interface PromoteOptions {
  readonly target: string;
  readonly tokenStdin?: boolean;
  readonly related?: boolean;
  readonly dryRun?: boolean;
  readonly json?: boolean;
}

/** An ISO-8601 duration such as P365D, checked before any database is opened. */
function duration(raw: string): string {
  const parsed = parseDuration(raw);
  if (!parsed.ok) throw new InvalidArgumentError(`${parsed.problem}.`);
  return raw;
}

const sequence = wholeNumber('an audit entry number', 1);

/** The options a rule's fields take, for `create` and `edit`. */
function ruleOptions(command: Command): Command {
  return command
    .addOption(new Option('--name-pattern <pattern>', 'the object names to audit (default *)'))
    .addOption(new Option('--name-match <type>', 'GLOB or RE2 regular expression, case-sensitive or not (default glob)').choices(MATCHES))
    .addOption(new Option('--application-rule <rule>', 'which applications (default all_objects)').choices(APPLICATION_RULES))
    .option('--match-application <application>', 'for exact_application and sub_application: PARTITION.Path, or a path in the rule\'s partition')
    .option('--partition-pattern <pattern>', 'the partition names to audit (default *)')
    .addOption(new Option('--partition-match <type>', 'how the partition pattern matches (default glob)').choices(MATCHES))
    .option('--description <text>', 'what the rule is for')
    .option('--reason <text>', 'why: written into the audit entry')
    .option('--json', 'print the rule as JSON');
}

const ruleFields = (options: RuleOptions) => ({
  ...(options.namePattern !== undefined && { namePattern: options.namePattern }),
  ...(options.nameMatch !== undefined && { nameMatch: options.nameMatch }),
  ...(options.applicationRule !== undefined && { applicationRule: options.applicationRule }),
  ...(options.matchApplication !== undefined && { matchApplication: options.matchApplication === false ? null : options.matchApplication }),
  ...(options.partitionPattern !== undefined && { partitionPattern: options.partitionPattern }),
  ...(options.partitionMatch !== undefined && { partitionMatch: options.partitionMatch }),
  ...(options.description !== undefined && { description: options.description }),
  ...(options.enabled !== undefined && { enabled: options.enabled }),
  ...(options.level !== undefined && { level: options.level }),
  ...(options.reason !== undefined && { reason: options.reason }),
});

/** A promotion token: from standard input, or CHANGEGATE_PROMOTE_TOKEN; never on the command line, where `ps` shows it. */
async function promoteToken(options: PromoteOptions): Promise<string> {
  const token = options.tokenStdin ? await readLine() : cliIo().env.CHANGEGATE_PROMOTE_TOKEN;
  if (!token) throw new CommandError('Give the other instance\'s API token on standard input (--token-stdin) or in CHANGEGATE_PROMOTE_TOKEN.', EXIT.usage);
  return token.trim();
}

async function readJsonFile(path: string): Promise<unknown> {
  const text = path === '-' ? await readAll() : await readFile(path, 'utf8').catch((error: Error) => {
    throw new CommandError(`Cannot read ${path}: ${error.message}`);
  });
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CommandError(`${path} is not JSON: ${(error as Error).message}`);
  }
}

/** `changegate audit …`: audit rules, the audit trail, restore, the Trash Can, bundles and retention. */
export function registerAuditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description('the change audit (sessions, boards, logs, reports), audit rules, the audit trail and its search, restore, the Trash Can, export, import, promotion and purge');
  registerChangeAuditCommands(audit);
  const rules = audit.command('rules').description('list, show, create, edit, disable, enable, delete, export, import and promote audit rules');

  rules
    .command('list')
    .description('list the audit rules you may view (needs AuditingRule.View)')
    .option('--query <query>', 'narrow them: n:Fin* o:Device l:2 e:yes p:GLOBAL')
    .option('--filter <filter>', 'a saved filter of audit rules')
    .option('--json', 'print the rules as JSON')
    .action((options: { query?: string; filter?: string; json?: boolean }) =>
      withApi(async (api) => {
        const found = await api.get<AuditRuleView[]>('/audit/rules', { q: options.query, filter: options.filter });
        if (options.json) return printJson(found);
        printTable(['rule', 'object type', 'level', 'name pattern', 'application rule', 'partition pattern', 'enabled'], found.map(ruleRow), 'No audit rules match.');
      }),
    );

  rules
    .command('show')
    .description('show one audit rule')
    .argument('<rule>', RULE_REF)
    .option('--json', 'print the rule as JSON')
    .action((ref: string, options: { json?: boolean }) =>
      withApi(async (api) => {
        const rule = await api.get<AuditRuleView>(`/audit/rules/${segment(ref)}`);
        if (options.json) return printJson(rule);
        printRule(rule);
      }),
    );

  ruleOptions(
    rules
      .command('create')
      .description('create an audit rule (needs AuditingRule.Create)')
      .argument('<name>', 'letters, digits, "_", "." and "-"')
      .addOption(new Option('--type <object type>', 'the type of object to audit').choices(OBJECT_TYPES).makeOptionMandatory())
      .addOption(new Option('--level <level>', 'diff_only keeps the changed fields; full_audit the whole object, so it can be restored').choices(LEVELS).makeOptionMandatory())
      .option('--partition <name>', 'where the rule lives (default GLOBAL)')
      .option('--disabled', 'create it disabled'),
  ).action((name: string, options: RuleOptions & { partition?: string; disabled?: boolean }) =>
    withApi(async (api) => {
      // Commander makes both mandatory; this satisfies the types.
      if (!options.type || !options.level) throw new CommandError('Give --type and --level.', EXIT.usage);
      const input: NewAuditRule = { ...ruleFields(options), name, objectType: options.type, level: options.level, partition: options.partition, ...(options.disabled && { enabled: false }) };
      const created = await api.post<AuditRuleView>('/audit/rules', input);
      if (options.json) return printJson(created);
      printLines(`Created audit rule ${created.businessKey}.`);
    }),
  );

  ruleOptions(
    rules
      .command('edit')
      .description('edit an audit rule (needs AuditingRule.Edit; never the built-in AUDIT_RULES)')
      .argument('<rule>', RULE_REF)
      .addOption(new Option('--type <object type>', 'the type of object to audit').choices(OBJECT_TYPES))
      .addOption(new Option('--level <level>', 'the level of auditing').choices(LEVELS))
      .option('--no-match-application', 'clear the application matched'),
  ).action((ref: string, options: RuleOptions) =>
    withApi(async (api) => {
      const patch: RulePatch = { ...ruleFields(options), ...(options.type !== undefined && { objectType: options.type }) };
      const edited = await api.patch<AuditRuleView>(`/audit/rules/${segment(ref)}`, patch);
      if (options.json) return printJson(edited);
      printLines(`Edited audit rule ${edited.businessKey} (version ${edited.version}).`);
    }),
  );

  for (const enabled of [false, true]) {
    rules
      .command(enabled ? 'enable' : 'disable')
      .description(enabled ? 'enable an audit rule' : 'disable an audit rule: it audits nothing until enabled (never the built-in AUDIT_RULES)')
      .argument('<rule>', RULE_REF)
      .option('--reason <text>', 'why: written into the audit entry')
      .action((ref: string, options: { reason?: string }) =>
        withApi(async (api) => {
          const rule = await api.post<AuditRuleView>(`/audit/rules/${segment(ref)}/${enabled ? 'enable' : 'disable'}`, { reason: options.reason });
          printLines(`${enabled ? 'Enabled' : 'Disabled'} audit rule ${rule.businessKey}.`);
        }),
      );
  }

  rules
    .command('delete')
    .description('delete an audit rule (needs AuditingRule.Delete; never the built-in AUDIT_RULES); it stays in the Trash Can')
    .argument('<rule>', RULE_REF)
    .option('--reason <text>', 'why: written into the audit entry')
    .action((ref: string, options: { reason?: string }) =>
      withApi(async (api) => {
        await api.delete(`/audit/rules/${segment(ref)}`, { reason: options.reason });
        printLines(`Deleted audit rule ${ref}.`);
      }),
    );

  rules
    .command('export')
    .description('export an audit rule as a bundle (JSON), to a file or standard output')
    .argument('<rule>', RULE_REF)
    .option('--related', 'include its partition and the applications it names')
    .option('--output <file>', 'write the bundle here instead of standard output')
    .action((ref: string, options: { related?: boolean; output?: string }) =>
      withApi(async (api) => {
        const bundle = await api.get<{ objects: unknown[] }>(`/audit/rules/${segment(ref)}/export`, { related: options.related });
        const text = `${JSON.stringify(bundle, null, 2)}\n`;
        if (!options.output) return void cliIo().stdout.write(text);
        await writeFile(options.output, text);
        printLines(`Exported ${bundle.objects.length} object(s) to ${options.output}.`);
      }),
    );

  rules
    .command('import')
    .description('import a bundle: idempotent; prints what was created, updated, unchanged and in conflict')
    .argument('<file>', 'the bundle, or - for standard input')
    .option('--dry-run', 'report without writing')
    .option('--overwrite', 'replace objects that exist here with other values')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, options: { dryRun?: boolean; overwrite?: boolean; json?: boolean }) => {
      const bundle = await readJsonFile(file);
      await withApi(async (api) => {
        const report = await api.post<ImportReport>('/audit/import', bundle, { dryRun: options.dryRun, overwrite: options.overwrite });
        if (options.json) return printJson(report);
        printReport(report);
      });
    });

  const promote = (name: string, description: string, argument: [string, string]) =>
    rules
      .command(name)
      .description(description)
      .argument(...argument)
      .requiredOption('--target <name>', 'the other instance, by the name an administrator gave it (see `changegate audit promote-targets`)')
      .option('--token-stdin', "read that instance's API token from standard input (else CHANGEGATE_PROMOTE_TOKEN)")
      .option('--dry-run', 'have the other instance report what it would do, writing nothing')
      .option('--json', 'print the report as JSON');

  promote('promote', 'promote an audit rule to another Changegate instance', ['<rule>', RULE_REF])
    .option('--related', 'include its partition and the applications it names')
    .action(async (ref: string, options: PromoteOptions) => {
      const token = await promoteToken(options);
      await withApi(async (api) => {
        const result = await api.post<PromoteResult>(`/audit/rules/${segment(ref)}/promote`, { target: options.target, token, related: options.related, dryRun: options.dryRun });
        if (options.json) return printJson(result);
        printLines(`Promoted to ${result.target} (${result.url}):`);
        printReport(result.report);
      });
    });

  promote('promote-bundle', 'edit further then promote: push a bundle file you edited to another instance', ['<file>', 'the bundle, or - for standard input']).action(
    async (file: string, options: PromoteOptions) => {
      if (file === '-' && options.tokenStdin) throw new CommandError('Standard input cannot hold both the bundle and the token: put the token in CHANGEGATE_PROMOTE_TOKEN.', EXIT.usage);
      const bundle = await readJsonFile(file);
      const token = await promoteToken(options);
      await withApi(async (api) => {
        const result = await api.post<PromoteResult>('/audit/promote', { target: options.target, token, dryRun: options.dryRun, bundle });
        if (options.json) return printJson(result);
        printLines(`Promoted to ${result.target} (${result.url}):`);
        printReport(result.report);
      });
    },
  );

  audit
    .command('promote-targets')
    .description('list the other Changegate instances rules and filters may be promoted to, as an administrator configured them (CHANGEGATE_PROMOTE_TARGETS)')
    .option('--json', 'print the targets as JSON')
    .action((options: { json?: boolean }) =>
      withApi(async (api) => {
        const targets = await api.get<Array<{ name: string; url: string }>>('/audit/promote-targets');
        if (options.json) return printJson(targets);
        printTable(['NAME', 'URL'], targets.map((target) => [target.name, target.url]), 'No promotion target is configured: an administrator sets CHANGEGATE_PROMOTE_TARGETS.');
      }),
    );

  audit
    .command('trail')
    .description('search the audit trail, newest first: t:14:05-14:06 u:jdoe o:Device k:GLOBAL.web a:M r:"disk full" l:2 cb:P30D (needs AuditTrail.View)')
    .argument('[query...]', 'the search; times are in your time zone')
    .option('--filter <filter>', 'a saved filter of the audit trail')
    .option('--limit <n>', 'at most this many entries', wholeNumber('a number of entries', 1, 500), 50)
    .option('--json', 'print the entries as JSON, with their snapshots')
    .action((words: string[], options: { filter?: string; limit: number; json?: boolean }) =>
      withApi(async (api) => {
        const page = await api.get<EntryPage>('/audit/entries', { q: words.join(' '), filter: options.filter, limit: options.limit, expand: options.json });
        if (options.json) return printJson(page);
        printEntries(page.entries, 'No audit entries match.');
      }),
    );

  audit
    .command('show')
    .description('show one audit entry, with the object before and after')
    .argument('<seq>', 'the entry number', sequence)
    .option('--json', 'print the entry as JSON')
    .action((seq: number, options: { json?: boolean }) =>
      withApi(async (api) => {
        const entry = await api.get<AuditEntryView>(`/audit/entries/${seq}`);
        if (options.json) return printJson(entry);
        printFields([
          ['Entry', `#${entry.seq}`],
          ['Time', entry.time],
          ['Object', `${entry.objectType} ${entry.businessKey}`],
          ['Action', entry.action],
          ['Level', entry.level === 2 ? '2 (Full)' : '1 (Diff only)'],
          ['User', entry.user],
          ['Reason', entry.reason],
          ['Restores', entry.restoredFrom === null ? null : `#${entry.restoredFrom}`],
          ['Can restore', [entry.restore.before && 'before', entry.restore.after && 'after'].filter(Boolean).join(', ') || 'no'],
        ]);
        for (const [field, change] of Object.entries(entry.diff)) {
          const { before, after } = change as { before: unknown; after: unknown };
          printLines(`  ${field}: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
        }
      }),
    );

  audit
    .command('restore')
    .description('restore the object of an entry to before or after its change (needs AuditTrail.Restore); itself audited, so it can be restored again')
    .argument('<seq>', 'the entry number', sequence)
    .option('--before', 'to before the change: undo it and every later change')
    .option('--after', 'to after the change: undo every later change')
    .option('--reason <text>', 'why: written into the new audit entry')
    .option('--json', 'print the result as JSON')
    .action((seq: number, options: { before?: boolean; after?: boolean; reason?: string; json?: boolean }) => {
      if (options.before === options.after) throw new CommandError('Say which: --before or --after.', EXIT.usage);
      return withApi(async (api) => {
        const result = await api.post<RestoreResult>(`/audit/entries/${seq}/restore-${options.before ? 'before' : 'after'}`, { reason: options.reason });
        if (options.json) return printJson(result);
        printLines(`Restored ${result.objectType} ${result.businessKey} to ${result.side} entry #${seq} (version ${result.version}${result.entry ? `, entry #${result.entry.seq}` : ''}).`);
      });
    });

  audit
    .command('trash')
    .description('the Trash Can: audited objects deleted and not brought back; restore one with `audit restore <seq> --before`')
    .argument('[query...]', 'narrow it with the search syntax')
    .option('--json', 'print the entries as JSON, with their snapshots')
    .action((words: string[], options: { json?: boolean }) =>
      withApi(async (api) => {
        const page = await api.get<EntryPage>('/audit/trash', { q: words.join(' '), limit: 500, expand: options.json });
        if (options.json) return printJson(page);
        printEntries(page.entries, 'The Trash Can is empty.');
      }),
    );

  audit
    .command('purge')
    .description('remove audit entries older than a duration, and log the purge (needs AuditTrail.Restore at Admin level, system-wide)')
    .requiredOption('--changed-before <duration>', 'an ISO-8601 duration, such as P365D or P1Y', duration)
    .option('--json', 'print the result as JSON')
    .action((options: { changedBefore: string; json?: boolean }) =>
      withApi(async (api) => {
        const result = await api.post<{ cutoff: string; purged: number }>('/audit/purge', { changedBefore: options.changedBefore });
        if (options.json) return printJson(result);
        printLines(`Purged ${result.purged} audit entr${result.purged === 1 ? 'y' : 'ies'} written before ${result.cutoff}.`);
      }),
    );
}

const ruleRow = (rule: AuditRuleView): string[] => [
  rule.businessKey + (rule.builtin ? ' (built-in)' : ''),
  rule.objectType,
  rule.level,
  `${rule.namePattern} (${rule.nameMatch})`,
  rule.applicationRule + (rule.matchApplication ? ` ${rule.matchApplication}` : ''),
  `${rule.partitionPattern} (${rule.partitionMatch})`,
  yesNo(rule.enabled),
];

function printRule(rule: AuditRuleView): void {
  const list = (users: string[] | null) => (users === null ? 'everyone with the privilege' : users.join(', ') || 'nobody');
  printFields([
    ['Rule', rule.businessKey],
    ['Description', rule.description],
    ['Object type', rule.objectType],
    ['Level', rule.level],
    ['Name pattern', `${rule.namePattern} (${rule.nameMatch})`],
    ['Application rule', rule.applicationRule],
    ['Application', rule.matchApplication],
    ['Partition pattern', `${rule.partitionPattern} (${rule.partitionMatch})`],
    ['Enabled', yesNo(rule.enabled)],
    ['Built in', yesNo(rule.builtin)],
    ['May view', list(rule.security.view)],
    ['May edit', list(rule.security.edit)],
    ['May delete', list(rule.security.delete)],
    ['Version', rule.version],
    ['Updated', `${shortTime(rule.updatedAt)} by ${rule.updatedBy}`],
  ]);
}

function printEntries(entries: readonly AuditEntryView[], empty: string): void {
  printTable(
    ['seq', 'time', 'type', 'business key', 'action', 'level', 'user', 'reason'],
    entries.map((entry) => [String(entry.seq), shortTime(entry.time), entry.objectType, entry.businessKey, entry.action, String(entry.level), entry.user, entry.reason ?? '']),
    empty,
  );
}

function printReport(report: ImportReport): void {
  const items = (label: string, list: ReadonlyArray<{ type: string; businessKey: string }>) =>
    list.length === 0 ? [] : [`${label}:`, ...list.map((item) => `  ${item.type} ${item.businessKey}`)];
  printLines(
    ...(report.dryRun ? ['Dry run: nothing was written.'] : []),
    ...items('Created', report.created),
    ...items('Updated', report.updated),
    ...items('Unchanged', report.unchanged),
    ...(report.conflicts.length === 0 ? [] : ['Conflicts:', ...report.conflicts.map((conflict) => `  ${conflict.type} ${conflict.businessKey}: ${conflict.message}`)]),
  );
}
