import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type ssh2 from 'ssh2';
import { findAccessGroup, findChange, findRequestByNumber, type CommandPolicySetting, type RequestChanges, type RequestService } from '../changes/index.ts';
import { evaluateLine } from '../policies/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import type { Actor } from '../access/index.ts';
import { confirmedForHostKey, findDevice, type CredentialService } from '../inventory/index.ts';
import { partitionName } from '../objects/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import type { Logger } from '../platform/logger.ts';
import { BrokerDialogue, line } from './broker-dialogue.ts';
import type { ClientSide } from './client-side.ts';
import type { LiveSessions } from './live.ts';
import { Recorder } from './recorder.ts';
import type { CommandWrites } from './command-writer.ts';
import type { RecordingWrites } from './recording-log.ts';
import type { RecordingStore } from './recording-store.ts';
import type { ProgressTracking } from './session-progress.ts';
import type { SessionDecisions } from './command-review.service.ts';
import type { SessionTarget } from './session.ts';
import { SessionRelay, type RelayMetrics } from './session-relay.ts';
import type { SessionService } from './session.service.ts';
import { HostKeyMismatchError, type UpstreamConnector } from './upstream.ts';

export { EXIT_PENDING } from './broker-dialogue.ts';
export type { ClientSide } from './client-side.ts';

export interface SessionRunnerDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly requests: Pick<RequestService, 'requestAccess' | 'get'>;
  /** Where a session's start and end are stored. */
  readonly sessions: Pick<SessionService, 'start' | 'end'>;
  readonly credentials: Pick<CredentialService, 'ofDevice' | 'unsealForSession'>;
  readonly upstream: UpstreamConnector;
  readonly live: Pick<LiveSessions, 'add' | 'remove'>;
  /** Where new recordings are written (`RecordingStores.forNew`); the session row names it. */
  readonly recordings: RecordingStore;
  readonly instanceId: string;
  /** Where each recording's writes are reported, for the event log (a `RecordingLog`). */
  readonly recordingLog?: RecordingWrites;
  /** Where captured commands are stored, batched across the sessions (a `CommandWriter`). */
  readonly commands?: CommandWrites;
  /** How long before the due date the user is warned; default 5 minutes and 1 minute. */
  readonly warningsBeforeDueMs?: readonly number[];
  /** How often a waiting user's request is checked for a decision. */
  readonly decisionPollMs?: number;
  /** Announces a request's new status as it changes on any instance: a waiting user connects at once. */
  readonly requestChanges?: Pick<RequestChanges, 'changed'>;
  readonly logger?: Logger;
  /** Called after a session has ended and been stored (the change audit recomputes its score). */
  readonly onSessionEnd?: (sessionId: string) => Promise<void>;
  /**
   * Whether the user may still act: not disabled, and their sign-in not revoked since. Asked
   * again just before connecting, since a user may wait a long time for an approval.
   */
  readonly signIns?: { stillSignedIn(actor: Actor): Promise<boolean> };
  /** Keeps each session's board against its change's script as commands are captured (the change audit's `LiveBoards`). */
  readonly progress?: ProgressTracking;
  /** Stores what command policies decide in the sessions and holds lines for review; without it, decisions are only logged and held lines refused. */
  readonly reviews?: SessionDecisions['service'];
  /** Counts sessions started and ended and the bytes they relay (platform/metrics.ts). */
  readonly metrics?: SessionMetrics;
}

/** What the sessions tell the instance's metrics. */
export interface SessionMetrics extends RelayMetrics {
  sessionStarted(): void;
}

/**
 * Runs one brokered session end to end: the broker dialogue (`BrokerDialogue`) until the user
 * holds an approved request and has a device account, the session's start (`SessionService`),
 * the upstream connection with the vaulted credential and the pinned host key, then the relay
 * (`SessionRelay`), which records, captures, warns before the due date and ends the session.
 */
/** What a user connecting to a draining instance is told. */
const STOPPING = 'Changegate on this server is stopping and starts no new sessions: connect again to continue on another instance.';

export class SessionRunner {
  private readonly dialogue: BrokerDialogue;
  /** Set once the instance drains: no new session starts here. */
  private refusingNew = false;

  constructor(private readonly deps: SessionRunnerDeps) {
    this.dialogue = new BrokerDialogue(deps);
  }

  /**
   * Starts no new session from now on, at the gateway or in the web terminal (this instance is
   * stopping); the sessions under way go on. A user who connects is told to connect again: the
   * load balancer sends them to another instance.
   */
  refuseNewSessions(): void {
    this.refusingNew = true;
  }

  async run(client: ClientSide, actor: Actor, target: SessionTarget): Promise<void> {
    for (const notice of client.notices) client.writeError(line(notice));
    if (this.refusingNew) return this.dialogue.refuse(client, STOPPING);
    if (!target.device) {
      return this.dialogue.refuse(client, 'say which device to reach: ssh -p <port> <you>@<device>@<gateway> (add :<account> or +<change> to choose).');
    }
    const request = await this.dialogue.admit(client, actor, target.device, target.change);
    if (!request) return;
    const row = await findRequestByNumber(this.deps.db, request.number);
    const change = row && (await findChange(this.deps.db, row.changeId));
    const device = row && (await findDevice(this.deps.db, row.deviceId));
    if (!row || !change || !device) return this.dialogue.refuse(client, `request #${request.number} is no longer usable: connect again.`);
    if (!device.hostKey) {
      return this.dialogue.refuse(client, `device ${device.name} has no pinned host key yet: an administrator must run a test connection first.`);
    }
    const credential = await this.dialogue.pickCredential(client, device.id, device.name, target.account);
    if (!credential) return;
    // The wait for an approval and the account menu last as long as they like: whatever happened
    // meanwhile (a revoke, a disable, an edit of the plan or of the device) is read again here.
    const refusal = await this.dialogue.stillAdmitted(actor, request.number, device);
    if (refusal) return this.dialogue.refuse(client, refusal);
    // A password stored before the device's key was re-pinned may be on its way to someone else's
    // server: it stays in the vault until someone with Credential.Edit confirms it for the new key.
    if (credential.kind === 'password' && !confirmedForHostKey(credential, device.hostKeyFingerprint)) {
      await this.deps.db.transaction().execute(async (trx) => {
        const partition = await partitionName(trx, credential.partitionId);
        await appendEvent(trx, {
          actor: actor.username,
          action: 'credential.hostkey.unconfirmed',
          subject: `credential:${partition ?? credential.partitionId}.${credential.name}`,
          data: { device: device.name, account: credential.account, pinned: device.hostKeyFingerprint, confirmedFor: credential.hostKeyFingerprint, request: request.number },
          time: this.deps.clock.now(),
        });
      });
      return this.dialogue.refuse(
        client,
        `the password of ${credential.account}@${device.name} awaits confirmation for the device's new host key ${device.hostKeyFingerprint}: ` +
          'Changegate sent nothing to the device. Someone with Credential.Edit must confirm the credential for that key (POST /api/v1/credentials/<id>/confirm-host-key); then connect again.',
      );
    }

    // The group's command policy as the session starts (src/policies/): checked at each Enter, and
    // here for the command of an exec request, which runs with no Enter to hold.
    const policy = (await findAccessGroup(this.deps.db, change.accessGroupId))?.commandPolicy;
    if (policy && client.kind === 'exec') {
      const refusal = await this.checkExec(actor, change.name, policy, client.command ?? '');
      if (refusal) return this.dialogue.refuse(client, refusal);
    }

    // The wait for an approval may have outlasted this instance's serving.
    if (this.refusingNew) return this.dialogue.refuse(client, STOPPING);
    const sessionId = randomUUID();
    const startedAt = this.deps.clock.now();
    const recordingLog = this.deps.recordingLog;
    const recordings = this.deps.recordings;
    const recorder = await Recorder.create(
      recordings,
      sessionId,
      { width: client.cols, height: client.rows, startedAt, title: `${change.name} ${actor.username}@${device.name}`, term: client.term },
      { onWrite: recordingLog && ((written) => recordingLog.report(sessionId, written)) },
    );
    // The recording exists before the session is stored, and the session is among the live ones
    // as soon as it is stored: a watcher who finds it running always finds it to follow.
    try {
      await this.deps.sessions.start({
        id: sessionId,
        kind: client.kind,
        actor,
        sourceIp: client.sourceIp,
        sourcePort: client.sourcePort,
        device,
        account: credential.account,
        change,
        request: { id: row.id, number: request.number },
        execCommand: client.command ?? null,
        term: client.interactive ? client.term : null,
        startedAt,
        recordingStore: recordings.kind,
        recordingPath: recorder.location,
        instanceId: this.deps.instanceId,
      });
    } catch (error) {
      recordingLog?.ended(sessionId);
      await recorder.close().catch(() => undefined);
      await recordings.remove(recorder.location);
      throw error;
    }
    // Without its board the session still runs: strict mode then holds every line for review.
    const progress = await this.deps.progress?.open(sessionId).catch((error: unknown) => {
      this.deps.logger?.error({ err: error, session: sessionId }, 'opening the live board failed');
      return undefined;
    });
    const reviews = this.deps.reviews;
    const decisions = reviews && {
      service: reviews,
      session: {
        sessionId,
        actor,
        changeId: change.id,
        changeName: change.name,
        deviceId: device.id,
        deviceName: device.name,
        accessGroupId: change.accessGroupId,
        onChange: () => progress?.decided(),
      },
    };
    const relay = new SessionRelay(this.deps, client, recorder, sessionId, actor, change.name, change.dueAt, startedAt, policy, progress, decisions);
    this.deps.live.add({
      id: sessionId,
      userId: actor.userId,
      deviceId: device.id,
      requestId: row.id,
      changeId: change.id,
      recorder,
      counters: () => relay.counters(),
      captureBacklogBytes: () => relay.captureBacklogBytes(),
      terminate: (by, reason) => relay.finish('terminated', by, reason),
      stop: () => relay.finish('gateway_stopped'),
      tell: (message) => relay.tell(message),
      progress: () => progress?.current(),
      onProgress: (listener) => progress?.onChange(listener) ?? (() => undefined),
    });
    this.deps.metrics?.sessionStarted();

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
      await relay.finish('upstream_failed');
      return;
    }
    await relay.attach(connection);
  }

  /**
   * The command of an exec request (`ssh …@device 'command'`) against the policy, before anything
   * reaches the device: a command the policy denies or holds, or one that is not the script's next
   * step under a strict policy, is refused with the reason and logged. No one can be asked to
   * review it while an exec request waits: it is to be run in an interactive session.
   */
  private async checkExec(actor: Actor, changeName: string, policy: CommandPolicySetting, command: string): Promise<string | undefined> {
    if (policy.rules.length === 0 && !policy.strict) return undefined;
    // Strict: an exec request runs no step of the script in turn, since no board follows it; it is reviewed like any line off the plan.
    const evaluation = evaluateLine(policy, command);
    if (evaluation.decision === 'allow') return undefined;
    await this.deps.db.transaction().execute((trx) =>
      appendEvent(trx, {
        actor: actor.username,
        action: 'session.command_policy',
        subject: `change:${changeName}`,
        data: { change: changeName, line: command, decision: evaluation.decision, reasons: evaluation.reasons, where: 'exec', fromKeystrokes: false },
        time: this.deps.clock.now(),
      }),
    );
    if (evaluation.decision === 'warn') return undefined;
    const why = evaluation.reasons.join('; ');
    const held = evaluation.decision === 'review' ? ' It needs an approver: run it in an interactive session (ssh -t), where it can wait for one.' : '';
    return `this command may not run: ${why}.${held}`;
  }
}
