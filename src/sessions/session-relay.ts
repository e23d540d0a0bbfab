import type { Kysely } from 'kysely';
import type ssh2 from 'ssh2';
import { StringDecoder } from 'node:string_decoder';
import type { Actor } from '../access/index.ts';
import type { CommandPolicySetting } from '../changes/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import { evaluateLine } from '../policies/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import type { Logger } from '../platform/logger.ts';
import { line } from './broker-dialogue.ts';
import type { ClientSide } from './client-side.ts';
import { CommandCapture, execCommand, type CapturedCommand } from './command-capture.ts';
import { CommandWriter, type CommandWrites } from './command-writer.ts';
import type { SessionDecisions } from './command-review.service.ts';
import { EnterGuard } from './enter-guard.ts';
import { PolicyGate, type GateDecision } from './policy-gate.ts';
import type { SessionProgress } from './session-progress.ts';
import type { LiveSessions } from './live.ts';
import { OutputBatch, type OutputStream } from './output-batch.ts';
import type { Recorder } from './recorder.ts';
import type { RecordingWrites } from './recording-log.ts';
import type { SessionEndReason } from './session.ts';
import type { SessionService } from './session.service.ts';

export interface SessionRelayDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly live: Pick<LiveSessions, 'remove'>;
  readonly sessions: Pick<SessionService, 'end'>;
  /** Where each recording's writes are reported, for the event log (a `RecordingLog`). */
  readonly recordingLog?: Pick<RecordingWrites, 'ended'>;
  /** Where captured commands are stored: the instance's `CommandWriter`, shared by its sessions; one of the session's own unless given. */
  readonly commands?: CommandWrites;
  /** How long before the due date the user is warned; default 5 minutes and 1 minute. */
  readonly warningsBeforeDueMs?: readonly number[];
  readonly logger?: Logger;
  /** Called after a session has ended and been stored (the change audit recomputes its score). */
  readonly onSessionEnd?: (sessionId: string) => Promise<void>;
  /** Counts the bytes relayed and the session's end (platform/metrics.ts). */
  readonly metrics?: RelayMetrics;
}

/** What a relay tells the instance's metrics. */
export interface RelayMetrics {
  /** `in`: the user's keystrokes to the device; `out`: the device's output to the user. */
  bytesRelayed(direction: 'in' | 'out', bytes: number): void;
  sessionEnded(reason: SessionEndReason): void;
}

/** An exec request's output kept for its command record (plain text cut to 64 KiB later). */
const MAX_EXEC_OUTPUT = 64 * 1024;
/** Captured commands waiting to be stored beyond which the device waits. */
const MAX_UNSTORED_COMMANDS = 256;
/** How long the device must be quiet, its prompt back, before the command that ran is taken as done. */
const PROMPT_SETTLE_MS = 100;
/** Lines let through and not yet read back that strict mode keeps in mind. */
const MAX_RAN_UNREAD = 64;
const DEFAULT_WARNINGS_MS = [5 * 60_000, 60_000];
/** setTimeout holds at most this; longer waits re-arm. */
const MAX_TIMER_MS = 2_147_000_000;

/** The connected part of a session: relaying, recording, capturing, the due date, and its one ending. */
export class SessionRelay {
  private bytesIn = 0;
  private bytesOut = 0;
  private exitStatus: number | null = null;
  private exitSignal: string | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly capture: CommandCapture | undefined;
  private readonly commands: CommandWrites;
  private execOutput = '';
  private execOutputCut = false;
  private commandWrites: Promise<void> = Promise.resolve();
  private unstoredCommands = 0;
  private finishing: Promise<void> | undefined;
  private connection: ssh2.Client | undefined;
  private readonly output = new OutputBatch((data, stream) => this.relay(data, stream));
  /** The device's channel once open, and whether its output is paused for a slow reader. */
  private upstream: ssh2.ClientChannel | undefined;
  private paused = false;
  /** Whether the user's input is paused while the device catches up with it. */
  private inputPaused = false;
  /** Under a command policy: holds each Enter until the line is checked (see enter-guard.ts). */
  private readonly guard: EnterGuard | undefined;
  private readonly keysDecoder = new StringDecoder('utf8');
  /** `performance.now()` of the device's last output: a lagging echo is awaited until it is quiet. */
  private lastOutputAt = 0;
  /** Set while output was relayed and the device has not been quiet for `PROMPT_SETTLE_MS` since. */
  private quietTimer: NodeJS.Timeout | undefined;
  /** Lines let through that the capture has not read back yet: strict mode's next step comes after them. */
  private readonly ranUnread: string[] = [];

  constructor(
    private readonly deps: SessionRelayDeps,
    private readonly client: ClientSide,
    private readonly recorder: Recorder,
    private readonly sessionId: string,
    private readonly actor: Actor,
    private readonly changeName: string,
    private readonly dueAt: Date,
    private readonly startedAt: Date,
    policy?: CommandPolicySetting,
    /** The device's board against the change's script, fed each captured command (see session-progress.ts). */
    private readonly progress?: SessionProgress,
    /** Where the policy's decisions are stored and held lines reviewed; without it, decisions are only logged and held lines refused. */
    private readonly decisions?: SessionDecisions,
  ) {
    this.commands = deps.commands ?? new CommandWriter({ db: deps.db, logger: deps.logger });
    if (client.kind !== 'exec') {
      const capture = new CommandCapture({
        cols: client.cols,
        rows: client.rows,
        clock: deps.clock,
        onCommand: (command) => this.store(command),
      });
      this.capture = capture;
      if (policy && (policy.rules.length > 0 || policy.strict)) {
        const gate = new PolicyGate({
          lineAtEnter: () => capture.lineAtEnter(),
          quiet: (ms, maxMs) => this.quiet(ms, maxMs),
          evaluate: (line) => evaluateLine(policy, line, policy.strict && progress ? { isNextStep: (typed) => progress.isNextStep(typed, this.ranUnread) } : {}),
          ran: (line) => {
            // Bounded: a capture that reads nothing back (a full-screen program) must not grow it.
            if (policy.strict && this.ranUnread.push(line) > MAX_RAN_UNREAD) this.ranUnread.shift();
          },
          record: (decision) => this.recordDecision(decision),
          ...(decisions && {
            review: async (decision: GateDecision) => {
              const verdict = await decisions.service.hold(decision, { ...decisions.session, offsetSeconds: this.recorder.offsetSeconds });
              // The session ended while the review was stored: the guard, closed already, would not withdraw it.
              if (this.finishing && verdict.action === 'review') verdict.cancel();
              return verdict;
            },
          }),
        });
        this.guard = new EnterGuard({
          forward: (data) => this.toDevice(data),
          tell: (message) => this.tell(message),
          check: (key) => gate.check(key),
          onError: (error) => deps.logger?.error({ err: error, session: sessionId }, 'checking a line against the command policy failed'),
        });
      }
    }
    this.scheduleWindow();
    client.onClose(() => void this.finish('client_closed'));
  }

  counters(): { bytesIn: number; bytesOut: number } {
    return { bytesIn: this.bytesIn, bytesOut: this.bytesOut };
  }

  /** Bytes waiting for the command capture to analyse them (0 for an exec request, which has none). */
  captureBacklogBytes(): number {
    return this.capture?.backlogBytes ?? 0;
  }

  /** Opens the shell or runs the command on the device and relays both ways. */
  async attach(connection: ssh2.Client): Promise<void> {
    this.connection = connection;
    connection.on('error', () => void this.finish('upstream_failed'));
    connection.on('close', () => void this.finish('client_closed'));
    if (this.finishing) return;
    const pty = { term: this.client.term, cols: this.client.cols, rows: this.client.rows, width: 0, height: 0 };
    let channel: ssh2.ClientChannel;
    try {
      channel = await new Promise<ssh2.ClientChannel>((resolve, reject) => {
        const done = (error: Error | undefined, opened: ssh2.ClientChannel) => (error ? reject(error) : resolve(opened));
        if (this.client.kind === 'exec') connection.exec(this.client.command ?? '', this.client.interactive ? { pty } : {}, done);
        else connection.shell(pty, done);
      });
    } catch (error) {
      this.client.writeError(line(`the device refused the session: ${(error as Error).message}`));
      return this.finish('upstream_failed');
    }
    this.upstream = channel;
    channel.on('data', (data: Buffer) => this.output.add(data, 'stdout'));
    channel.stderr.on('data', (data: Buffer) => this.output.add(data, 'stderr'));
    channel.on('exit', (code: number | null, signal?: string) => {
      this.exitStatus = code ?? null;
      this.exitSignal = signal ?? undefined;
    });
    // ssh2 emits 'exit' as soon as it reads the device's exit status, which can come in the same
    // read as the exec reply, before the listener above is attached; 'close' repeats it.
    channel.on('close', (code?: number | null, signal?: string) => {
      if (this.exitStatus === null && this.exitSignal === undefined) {
        this.exitStatus = code ?? null;
        this.exitSignal = signal ?? undefined;
      }
      void this.finish('client_closed');
    });
    this.client.onInput((data) => {
      // The capture must see what the device printed before this keystroke first.
      this.output.flush();
      this.bytesIn += data.length;
      this.deps.metrics?.bytesRelayed('in', data.length);
      if (this.guard) this.guard.input(this.keysDecoder.write(data));
      else this.toDevice(data);
    });
    this.client.onResize((cols, rows) => {
      this.output.flush();
      channel.setWindow(rows, cols, 0, 0);
      this.recorder.resize(cols, rows);
      this.capture?.resize(cols, rows);
    });
    this.client.onSignal((signal) => channel.signal(signal));
    this.client.onEof(() => channel.end());
  }

  /** Keys for the device, and for the capture in the same order. */
  private toDevice(data: Buffer | string): void {
    const channel = this.upstream;
    if (!channel) return;
    if (!channel.write(data) && !this.inputPaused) {
      // The device's window is shut: stop reading the user until it drains.
      this.inputPaused = true;
      this.client.pauseInput();
      const resume = () => {
        channel.off('drain', resume);
        channel.off('close', resume);
        this.inputPaused = false;
        this.client.resumeInput();
      };
      channel.on('drain', resume);
      channel.on('close', resume);
    }
    this.capture?.input(data, this.recorder.offsetSeconds);
  }

  /** Resolves once the device printed nothing for `ms` from now (an echo on its way has time to come), or after `maxMs`. */
  private async quiet(ms: number, maxMs: number): Promise<void> {
    const asked = performance.now();
    const deadline = asked + maxMs;
    for (;;) {
      const now = performance.now();
      const silentFor = now - Math.max(this.lastOutputAt, asked);
      if (silentFor >= ms || now >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(ms - silentFor, deadline - now)));
    }
  }

  /** A line checked against the command policy and not simply allowed: stored with its event-log entry (only the entry in rigs without the service). */
  private recordDecision(decision: GateDecision): void {
    const time = this.deps.clock.now();
    const logged = this.decisions
      ? this.decisions.service.record(decision, { ...this.decisions.session, offsetSeconds: this.recorder.offsetSeconds })
      : this.deps.db.transaction().execute((trx) =>
          appendEvent(trx, {
            actor: this.actor.username,
            action: 'session.command_policy',
            subject: `session:${this.sessionId}`,
            data: { change: this.changeName, line: decision.line, decision: decision.decision, reasons: decision.reasons, where: decision.where, fromKeystrokes: decision.fromKeystrokes },
            time,
          }),
        );
    logged.catch((error: unknown) => this.deps.logger?.error({ err: error, session: this.sessionId }, 'logging a command policy decision failed'));
  }

  /**
   * Ends the session once, whatever ends it first, and stores how it ended. Never rejects: most
   * callers cannot wait (a closed socket), and a failure here must not take the server down.
   */
  finish(reason: SessionEndReason, by?: string, why?: string): Promise<void> {
    this.finishing ??= this.end(reason, by, why)
      .catch((error: unknown) => this.deps.logger?.error({ err: error, session: this.sessionId }, 'ending the session failed'))
      // Listed as live until it is stored: closing the server waits for sessions that are ending.
      .finally(() => {
        this.deps.live.remove(this.sessionId);
        this.deps.metrics?.sessionEnded(reason);
      });
    return this.finishing;
  }

  /** Relays a batch of the device's output to the user, the recording and the capture. */
  private relay(data: Buffer, stream: OutputStream): void {
    this.bytesOut += data.length;
    this.deps.metrics?.bytesRelayed('out', data.length);
    if (stream === 'stdout') this.client.write(data);
    else this.client.writeError(data);
    this.recorder.output(data, stream);
    this.observe(data);
    const waiting = this.upstream && !this.paused ? this.behind() : undefined;
    if (waiting && this.upstream) {
      // Stop reading from the device: ssh2 then stops opening its window, and the device waits.
      const channel = this.upstream;
      this.paused = true;
      channel.pause();
      channel.stderr.pause();
      void waiting.then(() => {
        this.paused = false;
        channel.resume();
        channel.stderr.resume();
      });
    }
  }

  /**
   * Whatever the device's output goes to and is behind (the user, the recording's file, the
   * command store): resolves once all have caught up. The device is paused meanwhile.
   */
  private behind(): Promise<unknown> | undefined {
    const waits = [this.client.backlogged(), this.recorder.backlogged(), this.unstoredCommands > MAX_UNSTORED_COMMANDS ? this.commandWrites : undefined].filter(
      (wait) => wait !== undefined,
    );
    return waits.length > 0 ? Promise.all(waits) : undefined;
  }

  private observe(data: Buffer): void {
    this.lastOutputAt = performance.now();
    if (this.capture) {
      this.capture.output(data, this.recorder.offsetSeconds);
      this.quietTimer ??= setTimeout(() => this.quietAfterOutput(), PROMPT_SETTLE_MS);
    }
    else if (this.execOutput.length + data.length <= MAX_EXEC_OUTPUT) this.execOutput += data.toString('utf8');
    else {
      this.execOutputCut = true;
      if (this.execOutput.length < MAX_EXEC_OUTPUT) this.execOutput += data.subarray(0, MAX_EXEC_OUTPUT - this.execOutput.length).toString('utf8');
    }
  }

  /** One timer per burst of output: once the device is quiet, a command back at its prompt is done. */
  private quietAfterOutput(): void {
    const quietFor = performance.now() - this.lastOutputAt;
    if (quietFor < PROMPT_SETTLE_MS) {
      this.quietTimer = setTimeout(() => this.quietAfterOutput(), PROMPT_SETTLE_MS - quietFor);
      return;
    }
    this.quietTimer = undefined;
    if (!this.finishing) this.capture?.quiet();
  }

  private store(command: CapturedCommand): void {
    // The line let through is read back: from now on the board counts it.
    const read = this.ranUnread.indexOf(command.text);
    this.ranUnread.splice(0, read >= 0 ? read + 1 : Math.min(1, this.ranUnread.length));
    // The board first: a watcher sent the marker reads the board with this command on it.
    try {
      this.progress?.add(command);
    } catch (error) {
      this.deps.logger?.error({ err: error, session: this.sessionId }, 'updating the live board failed');
    }
    this.recorder.marker(command.text);
    this.unstoredCommands++;
    // Not after the previous write: the writer keeps the order, and a burst (a paste) goes in one batch.
    const written = this.commands
      .write({
        sessionId: this.sessionId,
        seq: command.seq,
        time: command.time,
        offsetSeconds: command.offsetSeconds,
        text: command.text,
        typed: command.typed ?? null,
        ...(command.fromKeystrokes && { fromKeystrokes: true }),
        output: command.output,
        outputTruncated: command.outputTruncated,
        exitStatus: command.exitStatus,
      })
      .catch((error: unknown) => this.deps.logger?.error({ err: error, session: this.sessionId }, 'storing a captured command failed'))
      .finally(() => this.unstoredCommands--);
    this.commandWrites = Promise.all([this.commandWrites, written]).then(() => undefined);
  }

  private scheduleWindow(): void {
    const now = this.deps.clock.now().getTime();
    const due = this.dueAt.getTime();
    const at = (when: number, action: () => void) => {
      const delay = when - now;
      // Past already, or beyond what a timer holds (the re-armed schedule will take it).
      if (delay <= 0 || delay > MAX_TIMER_MS) return;
      this.timers.push(setTimeout(action, delay));
    };
    for (const lead of this.deps.warningsBeforeDueMs ?? DEFAULT_WARNINGS_MS) {
      at(due - lead, () => this.warn(`the window of ${this.changeName} closes in ${describe(lead)} (at ${this.dueAt.toISOString()}): the session will end then.`));
    }
    const endsIn = due - now;
    if (endsIn <= 0) return void this.finish('due_date_reached');
    this.timers.push(
      setTimeout(() => {
        // A window longer than a timer can hold is re-armed from the time left.
        if (endsIn > MAX_TIMER_MS) return this.scheduleWindow();
        this.warn(`the window of ${this.changeName} closed at ${this.dueAt.toISOString()}: the session ends now.`);
        void this.finish('due_date_reached');
      }, Math.min(endsIn, MAX_TIMER_MS)),
    );
  }

  /** Tells the user something from Changegate, as the due date's warnings are told (the drain's notice). */
  tell(message: string): void {
    if (!this.finishing) this.warn(message);
  }

  private warn(message: string): void {
    this.output.flush();
    // A reason given by someone else (a revoke, a cancellation) cannot steer the user's terminal: `line` shows control characters as such.
    const text = line(message);
    this.client.writeError(text);
    this.recorder.output(text, 'stderr');
  }

  private async end(reason: SessionEndReason, by?: string, why?: string): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    clearTimeout(this.quietTimer);
    this.guard?.close();
    this.output.flush();
    if (reason === 'terminated' && by) this.warn(`the session was terminated by ${by}${why ? `: ${why}` : ''}.`);
    if (reason === 'gateway_stopped') this.warn('Changegate is stopping: the session ends now.');
    this.connection?.end();
    const endedAt = this.deps.clock.now();
    if (this.capture) {
      await this.capture.finish().catch(() => []);
    } else {
      this.store(execCommand(this.client.command ?? '', this.startedAt, 0, this.execOutput, this.exitStatus, this.execOutputCut));
    }
    await this.commandWrites;
    // Deviations still held for their burst are alerted now.
    await this.progress?.close().catch((error: unknown) => this.deps.logger?.error({ err: error, session: this.sessionId }, 'closing the live board failed'));
    const { sha256 } = await this.recorder.close();
    await this.deps.sessions.end(this.sessionId, this.actor, {
      endedAt,
      reason,
      endedBy: by ?? null,
      exitStatus: this.exitStatus,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      recordingSha256: sha256,
      captureLossy: this.capture?.lossy ?? false,
      // An exec request's command is its own record: complete.
      captureNotes: this.capture?.notes ?? [],
      ...(why && { why }),
    });
    // The end's hash covers the whole file: a session that ended between two appends of the
    // recordings' progress adds nothing more to the log.
    this.deps.recordingLog?.ended(this.sessionId);
    if (!this.client.closed) this.client.exit(reason === 'client_closed' ? this.exitStatus : (this.exitStatus ?? 255), this.exitSignal);
    await this.deps.onSessionEnd?.(this.sessionId).catch((error: unknown) => this.deps.logger?.error({ err: error }, 'after-session work failed'));
  }
}

function describe(milliseconds: number): string {
  if (milliseconds % 60_000 === 0) return `${milliseconds / 60_000} minute${milliseconds === 60_000 ? '' : 's'}`;
  return `${Math.round(milliseconds / 1000)} seconds`;
}
