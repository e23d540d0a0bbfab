import type { BoardCaptureView, BoardRowView, ChangeAuditView } from './review.views.ts';
import type { SessionView } from '../sessions/index.ts';

export type ReportFormat = 'json' | 'csv' | 'html';
export const REPORT_FORMATS: readonly ReportFormat[] = ['json', 'csv', 'html'];

const CONTENT_TYPES: Record<ReportFormat, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
};

/** A change audit as a file an auditor can archive or mail: its content, type and a file name. */
export function renderReport(audit: ChangeAuditView, format: ReportFormat): { body: string; contentType: string; fileName: string } {
  const body = format === 'json' ? `${JSON.stringify(audit, null, 2)}\n` : format === 'csv' ? reportCsv(audit) : reportHtml(audit);
  return { body, contentType: CONTENT_TYPES[format], fileName: `${audit.change.name}-audit.${format}` };
}

const KIND_LABELS: Record<BoardRowView['kind'], string> = {
  matched: 'matched',
  missing: 'missing (not executed)',
  extra: 'extra (not in the script)',
  out_of_order: 'out of order',
  failed_expectation: 'expectation failed',
  skipped: 'optional, skipped',
  session_end: 'ended the session (not counted)',
};

/**
 * What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection"): a cell starting with
 * one of these gets a `'` in front, so a command such as `=HYPERLINK(…)` or `@SUM(…)` typed on a
 * device shows as text when an auditor opens the report.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/** RFC 4180: quote every field, double the quotes inside; text that a spreadsheet would run is neutralised first. */
export function csvField(value: string | number | null): string {
  let text = value === null ? '' : String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

/** A capture status as the reports write it: `unknown` where it is not known. */
const captureStatusText = (status: BoardCaptureView['status']): string => status ?? 'unknown';

/** A session's capture in words: its status, and each reason with when it began. */
export function sessionCaptureText(capture: SessionView['capture']): string {
  if (!capture) return 'unknown';
  return capture.reasons.length === 0 ? capture.status : `${capture.status}: ${capture.reasons.map((reason) => `${reason.text} (from ${reason.since})`).join('; ')}`;
}

/**
 * One line per board row, every device, with the script line and the command it pairs with, and
 * the capture status of the device's board and of the command's session (a missing step on a
 * limited board may have run unseen).
 */
function reportCsv(audit: ChangeAuditView): string {
  const header = [
    'change',
    'device',
    'row',
    'kind',
    'script_line',
    'script_step',
    'command',
    'session',
    'user',
    'time',
    'offset_seconds',
    'exit_status',
    'linked_row',
    'device_capture',
    'session_capture',
    'from_keystrokes',
  ];
  const userOf = new Map(audit.sessions.map((session) => [session.number, session.user]));
  const captureOf = new Map(audit.sessions.map((session) => [session.number, session.capture?.status ?? 'unknown']));
  const lines = [header.map(csvField).join(',')];
  for (const device of audit.devices) {
    device.rows.forEach((row, index) => {
      lines.push(
        [
          audit.change.name,
          device.device,
          index,
          row.kind,
          row.step?.line ?? null,
          row.step?.text ?? null,
          row.command?.text ?? null,
          row.command?.session ?? null,
          row.command ? (userOf.get(row.command.session) ?? null) : null,
          row.command?.time ?? null,
          row.command?.offsetSeconds ?? null,
          row.command ? exitStatusText(row.command.exitStatus) : null,
          row.linkedRow,
          captureStatusText(device.capture.status),
          row.command ? (captureOf.get(row.command.session) ?? 'unknown') : null,
          row.command ? (row.command.fromKeystrokes ? 'yes' : 'no') : null,
        ]
          .map(csvField)
          .join(','),
      );
    });
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** A command's exit status as reports show it: "unknown" where the shell did not report one. */
const exitStatusText = (status: number | null): string | number => status ?? 'unknown';

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** A board's capture warning, set apart where the outcome is: none when there is nothing to warn of. */
const captureWarning = (capture: BoardCaptureView) => (capture.warning ? `<p class="capture-warning" role="note"><strong>Capture:</strong> ${escapeHtml(capture.warning)}</p>\n` : '');

/**
 * One self-contained HTML page (no script, no external resource): the change details, the board
 * per device with the seed's colours (red: missing, green: extra), and the session logs.
 */
function reportHtml(audit: ChangeAuditView): string {
  const e = escapeHtml;
  const details = [
    ['Change', `${audit.change.name} — ${audit.change.title}`],
    ['Partition', audit.change.partition],
    ['Window', `${audit.change.startAt} → ${audit.change.dueAt} (${audit.change.status})`],
    ['Devices', audit.change.devices.join(', ')],
    ['Score', `${audit.score} (${audit.outcome.replace(/_/g, ' ')}${audit.capture.status === 'limited' ? ' — capture limited' : ''})`],
    ['Capture', captureStatusText(audit.capture.status)],
    ['Generated', audit.generatedAt],
  ];
  const sessions = audit.sessions
    .map(
      (session) =>
        `<tr><td>${session.number}</td><td>${e(session.user)}</td><td>${e(session.sourceIp)}${session.sourcePort ? `:${session.sourcePort}` : ''}</td><td>${e(session.device)}</td><td>${e(session.account)}</td><td>${e(session.startedAt)}</td><td>${session.durationSeconds} s</td><td>${e(session.endReason ?? 'running')}${session.endedBy ? ` by ${e(session.endedBy)}` : ''}${session.terminationReason ? `: ${e(session.terminationReason)}` : ''}</td><td>${e(sessionCaptureText(session.capture))}</td><td><code>${e(session.recordingSha256 ?? '')}</code></td></tr>`,
    )
    .join('\n');
  const boards = audit.devices
    .map((device) => {
      const rows = device.rows
        .map(
          (row, index) =>
            `<tr class="${row.kind}"><td>${index}</td><td>${e(KIND_LABELS[row.kind])}${row.linkedRow !== null ? ` (row ${row.linkedRow})` : ''}</td><td>${row.step ? `${row.step.line}: <code>${e(row.step.text)}</code>${row.step.optional ? ' <em>optional</em>' : ''}${row.step.expect ? ` <em>expect /${e(row.step.expect)}/</em>` : ''}` : ''}</td><td>${row.command ? `<code>${e(row.command.text)}</code>${row.command.fromKeystrokes ? ' <em>from keystrokes</em>' : ''}` : ''}</td><td>${row.command ? `#${row.command.session} at ${row.command.offsetSeconds.toFixed(1)} s` : ''}</td></tr>`,
        )
        .join('\n');
      return `<h3>${e(device.device)} — score ${device.score} (${e(device.outcome.replace(/_/g, ' '))}${device.capture.status === 'limited' ? ' — capture limited' : ''})</h3>
${captureWarning(device.capture)}<table class="board"><thead><tr><th>#</th><th>Result</th><th>Script</th><th>Executed</th><th>Session</th></tr></thead><tbody>
${rows}
</tbody></table>`;
    })
    .join('\n');
  const logs = audit.devices
    .flatMap((device) => device.rows.filter((row) => row.command).map((row) => ({ device: device.device, command: row.command as NonNullable<BoardRowView['command']> })))
    .sort((a, b) => a.command.time.localeCompare(b.command.time))
    .map(
      ({ device, command }) =>
        `<div class="log"><div><strong>${e(command.time)}</strong> ${e(device)} session #${command.session}, exit ${exitStatusText(command.exitStatus)}${command.fromKeystrokes ? ', from keystrokes' : ''}</div><pre>$ ${e(command.text)}\n${e(command.output)}${command.outputTruncated ? '\n[output truncated]' : ''}</pre></div>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Change audit ${e(audit.change.name)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}
tr.missing{background:#fbd5d5}
tr.extra{background:#d4f5d4}
tr.out_of_order{background:#fde8c8}
tr.failed_expectation{background:#fff3b0}
tr.skipped,tr.session_end{color:#777}
pre{background:#f7f7f7;padding:6px;white-space:pre-wrap;margin:2px 0 10px}
code{font-family:ui-monospace,monospace}
.capture-warning{border:2px solid #b03a0a;background:#fde8c8;padding:6px 10px;margin:0.5em 0 1em}
</style></head><body>
<h1>Change audit: ${e(audit.change.name)}</h1>
<table>${details.map(([label, value]) => `<tr><th>${e(label as string)}</th><td>${e(value as string)}</td></tr>`).join('')}</table>
${captureWarning(audit.capture)}<h2>Sessions</h2>
<table><thead><tr><th>#</th><th>User</th><th>Source</th><th>Device</th><th>Account</th><th>Started</th><th>Duration</th><th>Ended</th><th>Capture</th><th>Recording SHA-256</th></tr></thead><tbody>
${sessions}
</tbody></table>
<h2>Board</h2>
<p>Red: a script step never executed. Green: a command executed that is not in the script.</p>
${boards}
<h2>Session logs</h2>
${logs || '<p>No command was captured.</p>'}
<h2>Script</h2>
<pre>${e(audit.change.script)}</pre>
</body></html>
`;
}
