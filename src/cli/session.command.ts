import { createHash } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import type { CommandView, SessionView } from '../sessions/index.ts';
import { parseCast, type CastEvent } from '../sessions/recorder.ts';
import type { ApiClient } from './api-client.ts';
import { withApi } from './api-connection.ts';
import { cliIo } from './cli-io.ts';
import { CommandError, CommandFailed, EXIT } from './command-error.ts';
import { printFields } from './field-list.ts';
import { isoTime, positiveNumber, wholeNumber } from './option-values.ts';
import { printJson, printLines, printTable, shortTime } from './output.ts';
import { listenForStop } from './stop-signals.ts';

const NUMBER = 'the session number, such as 42';

interface ListOptions {
  readonly user?: string;
  readonly device?: string;
  readonly change?: string;
  readonly live?: boolean;
  readonly from?: Date;
  readonly to?: Date;
  readonly command?: string;
  readonly limit?: number;
  readonly json?: boolean;
}

/** `changegate session list|show|download|play|terminate`: brokered sessions, their commands and recordings. */
export function registerSessionCommands(program: Command): void {
  const session = program
    .command('session')
    .description('list and show brokered sessions with their commands, download and play their recordings, terminate one');

  session
    .command('list')
    .description('list sessions, newest first: your own, and with Session.View those in its partitions')
    .option('--user <username>', 'only sessions of this user')
    .option('--device <device>', 'only sessions on this device (its name, or PARTITION.name)')
    .option('--change <id>', 'only sessions of this change')
    .option('--live', 'only sessions still running')
    .option('--from <time>', 'only sessions started at or after this time: ISO 8601 with a time zone', isoTime)
    .option('--to <time>', 'only sessions started before this time', isoTime)
    .option('--command <text>', 'only sessions that ran a command containing this text, such as "rm -rf"')
    .option('--limit <n>', 'at most this many (default: 200)', wholeNumber('a number of sessions', 1, 1000))
    .option('--json', 'print the sessions as JSON')
    .action((options: ListOptions) =>
      withApi(async (api) => {
        const { json, live, ...filter } = options;
        const found = await api.get<SessionView[]>('/sessions', { ...filter, ...(live && { live: true }) });
        if (json) return printJson(found);
        printTable(['number', 'user', 'device', 'account', 'change', 'start', 'duration', 'end reason', 'commands'], found.map(sessionRow), 'No sessions match.');
      }),
    );

  session
    .command('show')
    .description('show one session: every field of its record, and each command with its time, offset, exit status and output')
    .argument('<number>', NUMBER, sessionNumber)
    .option('--json', 'print the session and its commands as JSON')
    .action((number: number, options: { json?: boolean }) =>
      withApi(async (api) => {
        const [shown, commands] = await Promise.all([api.get<SessionView>(`/sessions/${number}`), api.get<CommandView[]>(`/sessions/${number}/commands`)]);
        const recordingUrl = `${api.baseUrl}/api/v1/sessions/${number}/recording`;
        if (options.json) return printJson({ ...shown, recordingUrl, commands });
        printSession(shown, recordingUrl, commands);
      }),
    );

  session
    .command('download')
    .description("save a session's recording (asciicast v2, plays in `asciinema play`) and check it against the hash recorded when the session ended")
    .argument('<number>', NUMBER, sessionNumber)
    .option('--output <file>', 'where to write it (default: session-<number>.cast in the current directory)')
    .addHelpText('after', '\nPrints where it was written and its SHA-256; exits 1 when an ended session\'s file no longer has the hash recorded at its end.')
    .action((number: number, options: { output?: string }) =>
      withApi(async (api) => {
        const recording = await fetchRecording(api, number);
        const target = path.resolve(options.output ?? `session-${number}.cast`);
        const { sha256, bytes } = await saveRecording(recording.body, target);
        printLines(`Saved the recording of session ${number} to ${target} (${bytes} bytes).`, `SHA-256: ${sha256}`);
        if (recording.live) return printLines('The session is still running: this is what it recorded so far, and its hash is recorded when it ends.');
        if (recording.sha256 === null) return printLines('No hash was recorded for this session (its recording was missing when it was closed), so the file cannot be checked.');
        if (recording.sha256 !== sha256) {
          throw new CommandError(
            `The recording of session ${number} does not match the SHA-256 recorded when the session ended (${recording.sha256}): the file was changed since. ` +
              `The copy in ${target} is kept for inspection.`,
          );
        }
        printLines('It matches the hash recorded when the session ended.');
      }),
    );

  session
    .command('play')
    .description("play a session's recording in this terminal with its timing, like `asciinema play`; Ctrl+C stops")
    .argument('<number>', NUMBER, sessionNumber)
    .option('--speed <n>', 'play this many times faster, such as 2, or 0.5 for slower (default: 1)', positiveNumber('a speed'))
    .option('--idle-limit <seconds>', 'cut every pause longer than this to this many seconds (default: the recording\'s own limit, else none)', positiveNumber('a number of seconds'))
    .action(async (number: number, options: { speed?: number; idleLimit?: number }) => {
      const { stdout, stderr } = cliIo();
      const recording = await withApi((api) => fetchRecording(api, number));
      const { header, events } = parseCast(await new Response(recording.body).text());
      if (!header) throw new CommandError(`The recording of session ${number} is empty or not an asciicast file.`);
      if (recording.live) stderr.write(`Session ${number} is still running: playing what it recorded so far.\n`);
      const headerLimit = typeof header.idle_time_limit === 'number' && header.idle_time_limit > 0 ? header.idle_time_limit : undefined;
      const schedule = playbackSchedule(events, { speed: options.speed ?? 1, idleLimit: options.idleLimit ?? headerLimit });
      const stop = listenForStop(() => {});
      const length = ((schedule.at(-1)?.atMs ?? 0) / 1000).toFixed(1);
      stderr.write(`Playing the recording of session ${number} (${length} s); Ctrl+C stops.\n`);
      try {
        if (!(await play(schedule, stdout, stop.requested))) {
          // Leave the terminal usable: the recording may have been cut inside a colour or with the cursor hidden.
          if (stdout.isTTY) stdout.write('\u001b[0m\u001b[?25h');
          stderr.write(`\nStopped playing session ${number}.\n`);
          throw new CommandFailed(EXIT.interrupted);
        }
      } finally {
        stop.dispose();
      }
    });

  session
    .command('terminate')
    .description('end a running session at once (needs Session.Terminate); its user sees who ended it, and why when --reason says')
    .argument('<number>', NUMBER, sessionNumber)
    .option('--reason <text>', "why, in one line of at most 500 characters: shown in the user's terminal and kept with the session")
    .action((number: number, options: { reason?: string }) =>
      withApi(async (api) => {
        const ended = await api.post<SessionView>(`/sessions/${number}/terminate`, options.reason === undefined ? {} : { reason: options.reason });
        printLines(`Terminated session ${ended.number} of ${ended.user} on ${ended.device}; ${ended.user} was told${ended.terminationReason ? `: ${visible(ended.terminationReason)}` : ''}.`);
      }),
    );
}

/** A session number, as users quote it: `42` or `#42`. */
function sessionNumber(raw: string): number {
  return wholeNumber('a session number', 1)(raw.replace(/^#/, ''));
}

interface Recording {
  readonly body: ReadableStream<Uint8Array>;
  /** The hash recorded when the session ended; null while it runs, or when its file was missing then. */
  readonly sha256: string | null;
  readonly live: boolean;
}

/** The recording as the server sends it, with the session's state and recorded hash. */
async function fetchRecording(api: ApiClient, number: number): Promise<Recording> {
  const session = await api.get<SessionView>(`/sessions/${number}`);
  const response = await api.send('GET', `/sessions/${number}/recording`);
  if (!response.body) throw new CommandError(`The server sent no recording for session ${number}.`);
  return { body: response.body, sha256: session.recordingSha256, live: session.live };
}

/** Saves what arrives while hashing it (a live recording grows); the target appears whole or not at all. */
async function saveRecording(body: ReadableStream<Uint8Array>, target: string): Promise<{ sha256: string; bytes: number }> {
  const partial = `${target}.partial`;
  const hash = createHash('sha256');
  let bytes = 0;
  const output = await open(partial, 'w', 0o640);
  try {
    for await (const chunk of Readable.fromWeb(body as WebReadableStream<Uint8Array>)) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      await output.write(chunk as Buffer);
    }
    await output.close();
    await rename(partial, target);
  } catch (error) {
    await output.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** One moment of playback: what to write, in milliseconds from the start. */
export interface PlaybackStep {
  readonly atMs: number;
  readonly data: string;
}

/**
 * When each output event of a recording is shown, as `asciinema play -i <idleLimit> -s <speed>`
 * does: every pause between two events is cut to `idleLimit` seconds, then all of it divided by
 * `speed`. Resizes and markers are not shown.
 */
export function playbackSchedule(events: readonly CastEvent[], options: { speed: number; idleLimit?: number | undefined }): PlaybackStep[] {
  const steps: PlaybackStep[] = [];
  let previous = 0;
  let clock = 0;
  for (const [time, code, data] of events) {
    const pause = Math.max(0, time - previous);
    previous = Math.max(previous, time);
    clock += options.idleLimit === undefined ? pause : Math.min(pause, options.idleLimit);
    if (code === 'o') steps.push({ atMs: (clock * 1000) / options.speed, data });
  }
  return steps;
}

/** Writes the steps on time; false when `stopped` settled first. Steps due together are written at once. */
export async function play(steps: readonly PlaybackStep[], out: NodeJS.WritableStream, stopped: Promise<unknown>): Promise<boolean> {
  let stop = false;
  void stopped.then(() => (stop = true));
  const start = performance.now();
  let next = 0;
  const dueIn = () => (steps[next] as PlaybackStep).atMs - (performance.now() - start);
  while (next < steps.length) {
    // A timer may fire a fraction of a millisecond early: wait again until the step is due.
    for (let wait = dueIn(); wait > 0 && !stop; wait = dueIn()) await untilOrStopped(wait, stopped);
    if (stop) return false;
    let chunk = (steps[next++] as PlaybackStep).data;
    const now = performance.now() - start;
    while (next < steps.length && (steps[next] as PlaybackStep).atMs <= now) chunk += (steps[next++] as PlaybackStep).data;
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
  }
  return !stop;
}

async function untilOrStopped(ms: number, stopped: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), stopped]);
  clearTimeout(timer);
}

const END_REASONS: Record<NonNullable<SessionView['endReason']>, string> = {
  client_closed: 'client closed',
  due_date_reached: 'due date reached',
  terminated: 'terminated',
  upstream_failed: 'upstream failed',
  gateway_stopped: 'gateway stopped',
  interrupted: 'interrupted',
};

/** How a session ended, for people: `terminated by admin`, `live` while it runs. */
function endReasonOf(session: SessionView): string {
  if (session.endReason === null) return 'live';
  const reason = END_REASONS[session.endReason];
  return session.endReason === 'terminated' && session.endedBy ? `${reason} by ${session.endedBy}` : reason;
}

/** `45s`, `3m05s`, `2h07m`. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Terminal text as plain lines: control characters other than newline and tab are shown in caret
 * notation (`^[`), so a captured command's output cannot move the cursor or retitle the reader's terminal.
 */
function visible(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (char) => {
    const code = char.charCodeAt(0);
    return code < 0x20 ? `^${String.fromCharCode(code + 0x40)}` : code === 0x7f ? '^?' : `\\x${code.toString(16)}`;
  });
}

const sessionRow = (session: SessionView): string[] => [
  String(session.number),
  session.user,
  session.device,
  session.account,
  session.change,
  shortTime(session.startedAt),
  formatDuration(session.durationSeconds),
  endReasonOf(session),
  String(session.commandCount),
];

/** A time to the second, in UTC: `2026-11-21 14:05:09Z`. */
const secondTime = (iso: string | null) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z` : null);

/** The capture status and each reason with when it began: `limited: a terminal multiplexer ran on the device (from 2026-11-21 14:05:09Z, +12.5s)`. */
function captureText(session: SessionView): string {
  const { capture } = session;
  if (!capture) {
    if (session.live) return 'known when the session ends';
    const unknown = session.endReason === 'interrupted' ? 'unknown: the session was interrupted' : 'unknown: the session ended before capture statuses were kept';
    return session.captureLossy ? `${unknown}; lossy: some commands may be missing or cut` : unknown;
  }
  const reasons = capture.reasons.map((reason) => `${reason.text} (from ${secondTime(reason.since)}, +${reason.offsetSeconds.toFixed(1)}s)`);
  return reasons.length === 0 ? capture.status : `${capture.status}: ${reasons.join('; ')}`;
}

function printSession(session: SessionView, recordingUrl: string, commands: readonly CommandView[]): void {
  printFields([
    ['Session', session.number],
    ['ID', session.id],
    ['Kind', session.kind === 'exec' && session.execCommand !== null ? `exec: ${visible(session.execCommand)}` : session.kind],
    ['User', session.user],
    ['Source', session.sourcePort === null ? session.sourceIp : `${session.sourceIp} port ${session.sourcePort}`],
    ['Device', session.device],
    ['Account', session.account],
    ['Change', session.change],
    ['Request', session.request === null ? null : `#${session.request}`],
    ['Started', secondTime(session.startedAt)],
    ['Ended', session.live ? 'still running' : secondTime(session.endedAt)],
    ['Duration', `${formatDuration(session.durationSeconds)}${session.live ? ' so far' : ''}`],
    ['End reason', session.terminationReason === null ? endReasonOf(session) : `${endReasonOf(session)}: ${visible(session.terminationReason)}`],
    ['Exit status', session.exitStatus ?? 'unknown'],
    ['Bytes in', session.bytesIn],
    ['Bytes out', session.bytesOut],
    ['Recording', recordingUrl],
    ['SHA-256', session.recordingSha256 ?? (session.live ? 'recorded when the session ends' : null)],
    ['Capture', captureText(session)],
  ]);
  printLines('', commands.length === 0 ? 'No commands were captured.' : `Commands (${commands.length}):`);
  for (const captured of commands) {
    const exit = `exit ${captured.exitStatus ?? 'unknown'}`;
    printLines(`  ${captured.seq}  ${secondTime(captured.time)}  +${captured.offsetSeconds.toFixed(1)}s  ${exit}  ${visible(captured.text)}${captured.fromKeystrokes ? '  (from keystrokes)' : ''}`);
    const output = captured.output.replace(/\n$/, '');
    if (output) printLines(...visible(output).split('\n').map((line) => `      ${line}`.trimEnd()));
    if (captured.outputTruncated) printLines('      (output truncated)');
  }
}
