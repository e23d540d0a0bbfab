import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type ssh2 from 'ssh2';
import { findChange, findRequestByNumber, type ChangeService, type RequestService, type RequestView } from '../changes/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import type { Actor } from '../identity/index.ts';
import { confirmedForHostKey, findDevice, type Credential, type CredentialService, type Device } from '../inventory/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import { isAppError } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import { CommandCapture, execCommand, type CapturedCommand } from './command-capture.ts';
import type { LiveSessions } from './live.ts';
import { OutputBatch, type OutputStream } from './output-batch.ts';
import { Recorder } from './recorder.ts';
import type { RecordingWrites } from './recording-log.ts';
import type { SessionEndReason, SessionKind, SessionTarget } from './session.ts';
import { endSession, insertCommand, insertSession } from './session.store.ts';
import { HostKeyMismatchError, type UpstreamConnector } from './upstream.ts';

/**
 * The user's side of a session: an SSH channel at the gateway, or a WebSocket from the web
 * terminal. The runner brokers, connects and records the same way behind either.
 */
export interface ClientSide {
  readonly kind: SessionKind;
  /** A terminal the user types into: questions can be asked, menus offered. */
  readonly interactive: boolean;
  readonly term: string;
  readonly cols: number;
  readonly rows: number;
  /** The command of an exec request (`ssh gateway 'uptime'`). */
  readonly command?: string;
  readonly sourceIp: string;
  readonly sourcePort: number | null;
  /** A message to the user before a policy refusal or the session: agent or port forwarding refused. */
  readonly notices: readonly string[];
  write(data: Buffer | string): void;
  writeError(data: Buffer | string): void;
  /**
   * When the user reads slower than the device writes: resolves once what was written has been
   * taken. Undefined while the user keeps up. The device's output is paused meanwhile, so a slow
   * reader cannot make the gateway buffer without bound.
   */
  backlogged(): Promise<void> | undefined;
  /**
   * Reads one line from the user before the device is connected; undefined when they cancel or
   * leave, or when `signal` withdraws the question (what they type next goes on to the device).
   */
  ask(question: string, options: { echo: boolean; anyKey?: boolean; signal?: AbortSignal }): Promise<string | undefined>;
  onInput(listener: (data: Buffer) => void): void;
  /**
   * Stops reading the user's input until `resumeInput`: while the device reads slower than the
   * user sends (a paste into a busy program), so that the gateway does not buffer it without bound.
   */
  pauseInput(): void;
  resumeInput(): void;
  onResize(listener: (cols: number, rows: number) => void): void;
  onSignal(listener: (signal: string) => void): void;
  onEof(listener: () => void): void;
  onClose(listener: () => void): void;
  /** Ends the user's side with the exit status (or signal) of the remote command. */
  exit(status: number | null, signal?: string): void;
  readonly closed: boolean;
}

export interface SessionRunnerDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly requests: RequestService;
  readonly changes: ChangeService;
  readonly credentials: CredentialService;
  readonly upstream: UpstreamConnector;
  readonly live: LiveSessions;
  readonly recordingsDir: string;
  readonly instanceId: string;
  /** Where each recording's writes are reported, for the event log (a `RecordingLog`). */
  readonly recordingLog?: RecordingWrites;
  /** How long before the due date the user is warned; default 5 minutes and 1 minute. */
  readonly warningsBeforeDueMs?: readonly number[];
  /** How often a waiting user's request is checked for a decision. */
  readonly decisionPollMs?: number;
  readonly logger?: Logger;
  /** Called after a session has ended and been stored (the change audit recomputes its score). */
  readonly onSessionEnd?: (sessionId: string) => Promise<void>;
  /**
   * Whether the user may still act: not disabled, and their sign-in not revoked since. Asked
   * again just before connecting, since a user may wait a long time for an approval.
   */
  readonly signIns?: { stillSignedIn(actor: Actor): Promise<boolean> };
}

/** Exit status for "your request waits for approval", so scripts can tell it from a refusal (1). */
export const EXIT_PENDING = 2;
const EXIT_REFUSED = 1;
/** An exec request's output kept for its command record (plain text cut to 64 KiB later). */
const MAX_EXEC_OUTPUT = 64 * 1024;
/** Captured commands waiting to be stored beyond which the device waits. */
const MAX_UNSTORED_COMMANDS = 256;
const DEFAULT_WARNINGS_MS = [5 * 60_000, 60_000];
/** setTimeout holds at most this; longer waits re-arm. */
const MAX_TIMER_MS = 2_147_000_000;

const line = (text: string) => `\r\nChangegate: ${text}\r\n`;

/**
 * Runs one brokered session end to end: asks the broker (`requestAccess`) whether the user may
 * reach the device now, helps them through a justification or a choice of change, waits for an
 * approval if they want to, picks the device account, connects upstream with the vaulted
 * credential and the pinned host key, relays and records the terminal, captures the commands,
 * warns before the due date and ends the session at it.
 */
export class SessionRunner {
  constructor(private readonly deps: SessionRunnerDeps) {}

  /** Why a request admitted earlier no longer lets the user in, or undefined while it still does. */
  private async stillAdmitted(actor: Actor, number: number, device: Device): Promise<string | undefined> {
    if (this.deps.signIns && !(await this.deps.signIns.stillSignedIn(actor))) {
      return 'your account was disabled, or its sign-in revoked, while you waited: nothing was opened.';
    }
    const row = await findRequestByNumber(this.deps.db, number);
    if (row?.status !== 'approved') {
      return `request #${number} is ${row?.status ?? 'gone'}${row?.close_reason ? ` (${row.close_reason})` : ''}: nothing was opened.`;
    }
    const now = await findDevice(this.deps.db, device.id);
    if (!now || now.hostname !== device.hostname || now.port !== device.port || now.hostKeyFingerprint !== device.hostKeyFingerprint) {
      return `device ${device.name} changed while you waited: connect again.`;
    }
    return undefined;
  }

  async run(client: ClientSide, actor: Actor, target: SessionTarget): Promise<void> {
    for (const notice of client.notices) client.writeError(line(notice));
    if (!target.device) {
      return this.refuse(client, 'say which device to reach: ssh -p <port> <you>@<device>@<gateway> (add :<account> or +<change> to choose).');
    }
    const request = await this.admit(client, actor, target.device, target.change);
    if (!request) return;
    const row = await findRequestByNumber(this.deps.db, request.number);
    const change = row && (await findChange(this.deps.db, row.change_id));
    const device = row && (await findDevice(this.deps.db, row.device_id));
    if (!row || !change || !device) return this.refuse(client, `request #${request.number} is no longer usable: connect again.`);
    if (!device.hostKey) {
      return this.refuse(client, `device ${device.name} has no pinned host key yet: an administrator must run a test connection first.`);
    }
    const credential = await this.pickCredential(client, device.id, device.name, target.account);
    if (!credential) return;
    // The wait for an approval and the account menu last as long as they like: whatever happened
    // meanwhile (a revoke, a disable, an edit of the plan or of the device) is read again here.
    const refusal = await this.stillAdmitted(actor, request.number, device);
    if (refusal) return this.refuse(client, refusal);
    // A password stored before the device's key was re-pinned may be on its way to someone else's
    // server: it stays in the vault until someone with Credential.Edit confirms it for the new key.
    if (credential.kind === 'password' && !confirmedForHostKey(credential, device.hostKeyFingerprint)) {
      await this.deps.db.transaction().execute(async (trx) => {
        const partition = await trx.selectFrom('partition').select('name').where('id', '=', credential.partitionId).executeTakeFirst();
        await appendEvent(trx, {
          actor: actor.username,
          action: 'credential.hostkey.unconfirmed',
          subject: `credential:${partition?.name ?? credential.partitionId}.${credential.name}`,
          data: { device: device.name, account: credential.account, pinned: device.hostKeyFingerprint, confirmedFor: credential.hostKeyFingerprint, request: request.number },
          time: this.deps.clock.now(),
        });
      });
      return this.refuse(
        client,
        `the password of ${credential.account}@${device.name} awaits confirmation for the device's new host key ${device.hostKeyFingerprint}: ` +
          'Changegate sent nothing to the device. Someone with Credential.Edit must confirm the credential for that key (POST /api/v1/credentials/<id>/confirm-host-key); then connect again.',
      );
    }

    const sessionId = randomUUID();
    const startedAt = this.deps.clock.now();
    const recordingPath = path.join(this.deps.recordingsDir, startedAt.toISOString().slice(0, 10), `${sessionId}.cast`);
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.changes.freezeScript(trx, change);
      await insertSession(trx, {
        id: sessionId,
        kind: client.kind,
        user_id: actor.userId,
        username: actor.username,
        source_ip: client.sourceIp,
        source_port: client.sourcePort,
        device_id: device.id,
        device_name: device.name,
        partition_id: device.partitionId,
        account: credential.account,
        change_id: change.id,
        change_name: change.name,
        request_id: row.id,
        exec_command: client.command ?? null,
        term: client.interactive ? client.term : null,
        started_at: startedAt,
        recording_path: recordingPath,
        instance_id: this.deps.instanceId,
        heartbeat_at: startedAt,
        ended_at: null,
        end_reason: null,
        ended_by: null,
        exit_status: null,
        bytes_in: 0,
        bytes_out: 0,
        recording_sha256: null,
        capture_lossy: false,
      });
      await appendEvent(trx, {
        actor: actor.username,
        action: 'session.start',
        subject: `session:${sessionId}`,
        data: { kind: client.kind, device: device.name, account: credential.account, change: change.name, request: request.number, sourceIp: client.sourceIp },
        time: startedAt,
      });
    });

    const recordingLog = this.deps.recordingLog;
    const recorder = await Recorder.create(
      recordingPath,
      { width: client.cols, height: client.rows, startedAt, title: `${change.name} ${actor.username}@${device.name}`, term: client.term },
      { onWrite: recordingLog && ((written) => recordingLog.report(sessionId, written)) },
    );
    const live = new LiveRun(this.deps, client, recorder, sessionId, actor, change.name, change.dueAt, startedAt);
    this.deps.live.add({
      id: sessionId,
      userId: actor.userId,
      deviceId: device.id,
      requestId: row.id,
      changeId: change.id,
      recorder,
      counters: () => live.counters(),
      terminate: (by, reason) => live.finish('terminated', by, reason),
      stop: () => live.finish('gateway_stopped'),
    });

    let connection: ssh2.Client;
    try {
      connection = await this.deps.upstream.connect({ hostname: device.hostname, port: device.port, hostKey: device.hostKey }, this.deps.credentials.unsealForSession(credential));
    } catch (error) {
      if (error instanceof HostKeyMismatchError) {
        await this.deps.db.transaction().execute((trx) =>
          appendEvent(trx, {
            actor: actor.username,
            action: 'device.hostkey.mismatch',
            subject: `device:${device.name}`,
            data: { pinned: device.hostKeyFingerprint, offered: error.offeredFingerprint, session: sessionId },
            time: this.deps.clock.now(),
          }),
        );
        client.writeError(line(`device ${device.name} presented host key ${error.offeredFingerprint}, not the pinned one: the session is refused (an administrator has been told through the event log).`));
      } else {
        client.writeError(line(`cannot connect to ${device.name}: ${(error as Error).message}`));
      }
      await live.finish('upstream_failed');
      return;
    }
    await live.attach(connection);
  }

  /**
   * Asks the broker until the user holds an approved request, helping them on the way: a
   * justification, a choice between changes, asking again after a denial, waiting for approvers.
   * Returns undefined when the session cannot go on (the user has been told why).
   */
  private async admit(client: ClientSide, actor: Actor, device: string, change: string | undefined): Promise<RequestView | undefined> {
    const query: { change?: string; justification?: string; again?: boolean } = { ...(change && { change }) };
    for (;;) {
      let outcome;
      try {
        outcome = await this.deps.requests.requestAccess(actor, device, query);
      } catch (error) {
        if (!isAppError(error)) throw error;
        if (isAppError(error, 'justification_required') && client.interactive && !query.justification) {
          const answer = await client.ask(`${error.message}\r\nJustification: `, { echo: true });
          if (!answer?.trim()) return this.refuse(client, 'a justification is required; nothing was requested.');
          query.justification = answer.trim();
          continue;
        }
        if (isAppError(error, 'change_ambiguous') && client.interactive) {
          const choices = ((error.details as { choices?: Array<{ change: string; title: string }> } | undefined)?.choices ?? []);
          const menu = choices.map((choice, index) => `  ${index + 1}) ${choice.change}  ${choice.title}`).join('\r\n');
          const answer = await client.ask(`Several open changes include ${device}:\r\n${menu}\r\nWhich one [1-${choices.length}]? `, { echo: true });
          const picked = choices[Number(answer) - 1];
          if (!picked) return this.refuse(client, 'no change chosen.');
          query.change = picked.change;
          continue;
        }
        return this.refuse(client, isAppError(error, 'change_ambiguous') ? `${error.message} Connect as <you>@${device}+<change>.` : error.message);
      }
      const request = outcome.request;
      const approvers = `${request.approvers.join(', ')} (${request.approvalsRequired} approval${request.approvalsRequired > 1 ? 's' : ''} needed)`;
      switch (request.status) {
        case 'approved':
          return request;
        case 'pending': {
          const said = outcome.created
            ? `request #${request.number} to run ${request.change} on ${request.device} is created; it needs approval by ${approvers}.`
            : `request #${request.number} to run ${request.change} on ${request.device} waits for approval by ${approvers}.`;
          if (!client.interactive) {
            this.refuse(client, `${said} Connect again once it is approved.`, EXIT_PENDING);
            return undefined;
          }
          client.writeError(line(said));
          const wait = await client.ask('Wait here for the decision? [y/N] ', { echo: true });
          if (!/^y(es)?$/i.test(wait?.trim() ?? '')) {
            this.refuse(client, 'you will be notified of the decision; connect again then.', EXIT_PENDING);
            return undefined;
          }
          const decided = await this.waitForDecision(client, actor, request.number);
          if (!decided) return undefined;
          continue;
        }
        case 'denied':
        case 'cancelled': {
          const last = request.decisions.find((decision) => decision.decision === 'deny');
          const why = request.status === 'denied' ? `was denied${last ? ` by ${last.approver}${last.comment ? `: ${last.comment}` : ''}` : ''}` : 'was cancelled';
          if (!client.interactive) return this.refuse(client, `request #${request.number} ${why}. Ask again with the API or \`changegate request create ${device} --again\`.`);
          const again = await client.ask(`${line(`request #${request.number} ${why}.`)}Ask again? [y/N] `, { echo: true });
          if (!/^y(es)?$/i.test(again?.trim() ?? '')) return this.refuse(client, 'nothing was requested.');
          query.again = true;
          continue;
        }
        default:
          return this.refuse(client, `request #${request.number} is ${request.status}: connect again.`);
      }
    }
  }

  /** Keeps the user connected until their request is decided; any key leaves. Returns false when they left or it was refused. */
  private async waitForDecision(client: ClientSide, actor: Actor, number: number): Promise<boolean> {
    client.writeError('Waiting for the decision (press any key to leave)…\r\n');
    let left = false;
    // Withdrawn once decided: the "any key" must not swallow the first keystrokes meant for the device.
    const decided = new AbortController();
    const leave = client.ask('', { echo: false, anyKey: true, signal: decided.signal }).then(() => {
      left = !decided.signal.aborted;
    });
    const poll = this.deps.decisionPollMs ?? 2000;
    try {
      while (!left && !client.closed) {
        const request = await this.deps.requests.get(actor, number);
        if (request.status === 'approved') {
          client.writeError(line(`request #${number} is approved: connecting.`));
          return true;
        }
        if (request.status !== 'pending') {
          // Back to the broker, which says why and offers to ask again.
          return true;
        }
        await Promise.race([leave, new Promise((resolve) => setTimeout(resolve, poll))]);
      }
    } finally {
      decided.abort();
    }
    if (!client.closed) this.refuse(client, 'you left before the decision; you will be notified of it.', EXIT_PENDING);
    return false;
  }

  /** The device account: the one named, the only one, or one the user picks from a menu. */
  private async pickCredential(client: ClientSide, deviceId: string, deviceName: string, account: string | undefined): Promise<Credential | undefined> {
    const credentials = await this.deps.credentials.ofDevice(this.deps.db, deviceId);
    const accounts = credentials.map((credential) => credential.account).join(', ');
    if (credentials.length === 0) return this.refuse(client, `device ${deviceName} has no account in the vault: an administrator must add a credential.`);
    if (account) {
      const named = credentials.find((credential) => credential.account === account);
      return named ?? this.refuse(client, `device ${deviceName} has no account "${account}" in the vault; it has ${accounts}.`);
    }
    if (credentials.length === 1) return credentials[0];
    if (!client.interactive) return this.refuse(client, `device ${deviceName} has several accounts (${accounts}): connect as <you>@${deviceName}:<account>.`);
    const menu = credentials.map((credential, index) => `  ${index + 1}) ${credential.account}`).join('\r\n');
    const answer = await client.ask(`Device ${deviceName} has several accounts:\r\n${menu}\r\nWhich one [1-${credentials.length}]? `, { echo: true });
    return credentials[Number(answer) - 1] ?? this.refuse(client, 'no account chosen.');
  }

  private refuse(client: ClientSide, message: string, status = EXIT_REFUSED): undefined {
    if (!client.closed) {
      client.writeError(line(message));
      client.exit(status);
    }
    return undefined;
  }
}

/** The connected part of a session: relaying, recording, capturing, the due date, and its one ending. */
class LiveRun {
  private bytesIn = 0;
  private bytesOut = 0;
  private exitStatus: number | null = null;
  private exitSignal: string | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly capture: CommandCapture | undefined;
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

  constructor(
    private readonly deps: SessionRunnerDeps,
    private readonly client: ClientSide,
    private readonly recorder: Recorder,
    private readonly sessionId: string,
    private readonly actor: Actor,
    private readonly changeName: string,
    private readonly dueAt: Date,
    private readonly startedAt: Date,
  ) {
    if (client.kind !== 'exec') {
      this.capture = new CommandCapture({
        cols: client.cols,
        rows: client.rows,
        clock: deps.clock,
        onCommand: (command) => this.store(command),
      });
    }
    this.scheduleWindow();
    client.onClose(() => void this.finish('client_closed'));
  }

  counters(): { bytesIn: number; bytesOut: number } {
    return { bytesIn: this.bytesIn, bytesOut: this.bytesOut };
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

  /**
   * Ends the session once, whatever ends it first, and stores how it ended. Never rejects: most
   * callers cannot wait (a closed socket), and a failure here must not take the server down.
   */
  finish(reason: SessionEndReason, by?: string, why?: string): Promise<void> {
    this.finishing ??= this.end(reason, by, why)
      .catch((error: unknown) => this.deps.logger?.error({ err: error, session: this.sessionId }, 'ending the session failed'))
      // Listed as live until it is stored: closing the server waits for sessions that are ending.
      .finally(() => this.deps.live.remove(this.sessionId));
    return this.finishing;
  }

  /** Relays a batch of the device's output to the user, the recording and the capture. */
  private relay(data: Buffer, stream: OutputStream): void {
    this.bytesOut += data.length;
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
    if (this.capture) this.capture.output(data, this.recorder.offsetSeconds);
    else if (this.execOutput.length + data.length <= MAX_EXEC_OUTPUT) this.execOutput += data.toString('utf8');
    else {
      this.execOutputCut = true;
      if (this.execOutput.length < MAX_EXEC_OUTPUT) this.execOutput += data.subarray(0, MAX_EXEC_OUTPUT - this.execOutput.length).toString('utf8');
    }
  }

  private store(command: CapturedCommand): void {
    this.recorder.marker(command.text);
    this.unstoredCommands++;
    this.commandWrites = this.commandWrites
      .then(() =>
        insertCommand(this.deps.db, {
          session_id: this.sessionId,
          seq: command.seq,
          time: command.time,
          offset_seconds: command.offsetSeconds,
          text: command.text,
          output: command.output,
          output_truncated: command.outputTruncated,
          exit_status: command.exitStatus,
        }),
      )
      .catch((error: unknown) => this.deps.logger?.error({ err: error, session: this.sessionId }, 'storing a captured command failed'))
      .finally(() => this.unstoredCommands--);
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

  private warn(message: string): void {
    this.output.flush();
    const text = line(message);
    this.client.writeError(text);
    this.recorder.output(text, 'stderr');
  }

  private async end(reason: SessionEndReason, by?: string, why?: string): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
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
    const { sha256 } = await this.recorder.close();
    await this.deps.db.transaction().execute(async (trx) => {
      const ended = await endSession(trx, this.sessionId, {
        endedAt,
        reason,
        endedBy: by ?? null,
        exitStatus: this.exitStatus,
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
        recordingSha256: sha256,
        captureLossy: this.capture?.lossy ?? false,
      });
      if (!ended) return;
      await appendEvent(trx, {
        actor: by ?? this.actor.username,
        action: 'session.end',
        subject: `session:${this.sessionId}`,
        data: { reason, ...(why && { why }), exitStatus: this.exitStatus, bytesIn: this.bytesIn, bytesOut: this.bytesOut, recordingSha256: sha256 },
        time: endedAt,
      });
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
