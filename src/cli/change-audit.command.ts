import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { AuditedSessionView, ChangeAuditView } from '../review/index.ts';
import { REPORT_FORMATS, type ReportFormat } from '../review/report.ts';
import { segment } from './api-client.ts';
import { withApi } from './api-connection.ts';
import { cliIo } from './cli-io.ts';
import { printFields } from './field-list.ts';
import { isoTime, wholeNumber } from './option-values.ts';
import { printJson, printLines, printTable, shortTime } from './output.ts';

const OUTCOMES = ['as_planned', 'incomplete', 'exceeded', 'incomplete_and_exceeded'] as const;
const score = wholeNumber('a score', 0, 100);

/** How each board row reads in a terminal: a mark, then the script step or the command. */
const MARKS: Record<string, string> = {
  matched: '  ok     ',
  missing: '  MISSING',
  extra: '  EXTRA  ',
  out_of_order: '  MOVED  ',
  failed_expectation: '  EXPECT ',
  skipped: '  skipped',
  session_end: '  end    ',
};

interface SessionsOptions {
  readonly change?: string;
  readonly user?: string;
  readonly device?: string;
  readonly from?: Date;
  readonly to?: Date;
  readonly outcome?: (typeof OUTCOMES)[number];
  readonly scoreMin?: number;
  readonly scoreMax?: number;
  readonly command?: string;
  readonly limit?: number;
  readonly json?: boolean;
}

/**
 * The change audit under `changegate audit`: audited sessions, a change's details and board, its
 * session logs, and its report as JSON, CSV or HTML.
 */
export function registerChangeAuditCommands(audit: Command): void {
  audit
    .command('sessions')
    .description('audited sessions with their change\'s score (needs Session.View)')
    .option('--change <id>', 'sessions of this change')
    .option('--user <username>', 'sessions of this user')
    .option('--device <device>', 'sessions on this device')
    .option('--from <time>', 'started at or after this ISO time', isoTime)
    .option('--to <time>', 'started before this ISO time', isoTime)
    .addOption(new Option('--outcome <outcome>', 'the change\'s outcome').choices(OUTCOMES))
    .option('--score-min <n>', 'the change\'s score at least n', score)
    .option('--score-max <n>', 'the change\'s score at most n', score)
    .option('--command <text>', 'sessions that ran a command containing this text, e.g. "rm -rf"')
    .option('--limit <n>', 'at most n sessions (default 200)', wholeNumber('a limit', 1, 1000))
    .option('--json', 'print the sessions as JSON')
    .action((options: SessionsOptions) =>
      withApi(async (api) => {
        const { json, ...filter } = options;
        const sessions = await api.get<AuditedSessionView[]>('/audit/sessions', filter);
        if (json) return printJson(sessions);
        printTable(['session', 'change', 'score', 'outcome', 'capture', 'user', 'source', 'device', 'started', 'duration', 'commands'], sessions.map(sessionRow), 'No audited session matches.');
        // The outcome of a change whose capture is limited is shown with its warning, whatever it is.
        const warnings = new Map(sessions.flatMap((session) => (session.changeCapture.warning ? [[session.change, session.changeCapture.warning] as const] : [])));
        for (const [change, warning] of warnings) printLines('', `${change}: ${warning}`);
      }),
    );

  audit
    .command('change')
    .description('a change\'s details, score and board: each script step and each command, per device')
    .argument('<change>', 'the change ID')
    .option('--json', 'print the audit as JSON')
    .action((name: string, options: { json?: boolean }) =>
      withApi(async (api) => {
        const view = await api.get<ChangeAuditView>(`/changes/${segment(name)}/audit`);
        if (options.json) return printJson(view);
        printAudit(view);
      }),
    );

  audit
    .command('logs')
    .description('the session logs of a change: every command with its time, session, exit status and output')
    .argument('<change>', 'the change ID')
    .option('--json', 'print the commands as JSON')
    .action((name: string, options: { json?: boolean }) =>
      withApi(async (api) => {
        const view = await api.get<ChangeAuditView>(`/changes/${segment(name)}/audit`);
        const logs = view.devices
          .flatMap((device) => device.rows.flatMap((row) => (row.command ? [{ device: device.device, ...row.command }] : [])))
          .sort((a, b) => a.time.localeCompare(b.time));
        if (options.json) return printJson(logs);
        if (logs.length === 0) return printLines('No command was captured.');
        for (const log of logs) {
          printLines(`${shortTime(log.time)}  ${log.device}  session ${log.session}  exit ${log.exitStatus ?? 'unknown'}${log.fromKeystrokes ? '  from keystrokes' : ''}`, `$ ${log.text}`);
          if (log.output) printLines(...log.output.replace(/\n$/, '').split('\n').map((line) => `  ${line}`));
          if (log.outputTruncated) printLines('  [output truncated]');
          printLines('');
        }
      }),
    );

  audit
    .command('report')
    .description('the audit of a change as a file to archive or mail: a self-contained HTML page, CSV or JSON')
    .argument('<change>', 'the change ID')
    .addOption(new Option('--format <format>', 'html, csv or json').choices(REPORT_FORMATS).default('html'))
    .option('--output <file>', 'write it to this file instead of standard output')
    .action((name: string, options: { format: ReportFormat; output?: string }) =>
      withApi(async (api) => {
        const body = Buffer.from(await (await api.send('GET', `/changes/${segment(name)}/audit/report`, { query: { format: options.format } })).arrayBuffer());
        if (!options.output) return void cliIo().stdout.write(body);
        await writeFile(options.output, body);
        printLines(`Wrote the ${options.format.toUpperCase()} audit of ${name} to ${options.output}.`);
      }),
    );
}

const sessionRow = (session: AuditedSessionView): string[] => [
  String(session.number),
  session.change,
  session.changeScore === null ? '-' : String(session.changeScore),
  session.changeOutcome ?? '-',
  session.changeCapture.status ?? 'unknown',
  session.user,
  session.sourcePort ? `${session.sourceIp}:${session.sourcePort}` : session.sourceIp,
  `${session.device} (${session.account})`,
  shortTime(session.startedAt),
  `${session.durationSeconds} s`,
  String(session.commandCount),
];

/** What follows an outcome whose board rests on a limited capture. */
const limited = (capture: ChangeAuditView['capture']) => (capture.status === 'limited' ? ' — capture limited' : '');

function printAudit(view: ChangeAuditView): void {
  printFields([
    ['Change', `${view.change.name}: ${view.change.title}`],
    ['Window', `${view.change.startAt} → ${view.change.dueAt} (${view.change.status})`],
    ['Score', `${view.score} (${view.outcome.replace(/_/g, ' ')}${limited(view.capture)})`],
    ['Capture', view.capture.warning ? `${view.capture.status ?? 'unknown'}. ${view.capture.warning}` : (view.capture.status ?? 'unknown')],
    ['Sessions', view.sessions.map((session) => `#${session.number} ${session.user} from ${session.sourceIp}, ${session.durationSeconds} s`).join('; ') || 'none yet'],
  ]);
  for (const device of view.devices) {
    printLines('', `${device.device}: score ${device.score} (${device.outcome.replace(/_/g, ' ')}${limited(device.capture)})`);
    for (const row of device.rows) {
      const text = row.command ? row.command.text : (row.step?.text ?? '');
      const where = row.command ? `   [session ${row.command.session} at ${row.command.offsetSeconds.toFixed(1)} s]` : row.step ? `   [script line ${row.step.line}]` : '';
      printLines(`${MARKS[row.kind] ?? row.kind}  ${text}${where}`);
    }
  }
}
