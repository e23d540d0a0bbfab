import { readFile, stat } from 'node:fs/promises';
import { zipSync } from 'fflate';
import type { Kysely } from 'kysely';
import { businessKey } from '../auditing/index.ts';
import { changeKind, findChangeByName, type Change, type ChangeView } from '../changes/index.ts';
import { findAccessGroup, usernamesOf } from '../changes/access-group.store.ts';
import type { AccessGroup } from '../changes/access-group.ts';
import { ChangeVisibility } from '../changes/change-visibility.ts';
import { planDigest, presentChange } from '../changes/change.ts';
import { presentRequest } from '../changes/request.ts';
import { decisionsOf } from '../changes/request.store.ts';
import { appendEvent, inclusionProof } from '../eventlog/index.ts';
import type { CheckpointView, LogKeyView } from '../eventlog/index.ts';
import { hasPrivilege, inPartition, requirePrivilege, SYSTEM, type Actor } from '../identity/index.ts';
import { findDevicesByIds } from '../inventory/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors, isAppError } from '../platform/errors.ts';
import type { ChangeAuditView } from '../review/index.ts';
import { commandsOf, presentSession } from '../sessions/index.ts';
import { BUNDLE_PATHS, buildManifest, bundleFileName, jsonFile, manifestHash, readme, sessionPaths } from './evidence-bundle.ts';
import { auditEntriesOf, eventsNaming, requestsOfChange, sessionsOfChange, storedReview, type LoggedEvent } from './evidence.store.ts';

/** The event log as the export needs it: its key, its latest checkpoint, and a way to have one signed now. */
export interface EvidenceLog {
  key(): LogKeyView;
  /** The latest signed checkpoint (`CheckpointService.latest`: it checks EventLog.View). */
  latest(actor: Actor): Promise<CheckpointView>;
  /** Signs a checkpoint if the log grew since the last one (`CheckpointPublisher.signNow`). */
  signNow(): Promise<unknown>;
}

/** The change audit's board, as `ReviewService.audit` answers it. */
export interface ChangeBoards {
  audit(actor: Actor, change: string): Promise<ChangeAuditView>;
}

export interface EvidenceServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly log: EvidenceLog;
  readonly boards: ChangeBoards;
  /** The most recording bytes one bundle holds, all sessions together (default `MAX_RECORDING_BYTES`). */
  readonly maxRecordingBytes?: number;
}

/**
 * A bundle is built in memory (its recordings, then the zip): past this many bytes of recordings
 * the export is refused (413 `evidence_too_large`) rather than running the server out of memory.
 */
export const MAX_RECORDING_BYTES = 1024 ** 3;

export interface EvidenceExport {
  readonly fileName: string;
  readonly zip: Uint8Array;
  /** The seq of the `evidence.export` entry that logged the manifest. */
  readonly exportSeq: number;
}

/** What the approvals of a change were given on: the fields `planDigest` hashes, as it hashes them. */
export interface ApprovedPlan {
  readonly accessGroup: string;
  readonly devices: string[];
  readonly dueAt: string;
  readonly script: string;
  readonly startAt: string;
}

const planOf = (change: Change): ApprovedPlan => ({
  accessGroup: change.accessGroupId,
  devices: [...new Set(change.devices)].sort(),
  dueAt: change.dueAt.toISOString(),
  script: change.script,
  startAt: change.startAt.toISOString(),
});

/** The dependency-free verifier, shipped verbatim in every bundle. */
const VERIFIER = new URL('./verify.mjs', import.meta.url);

/**
 * A change's evidence bundle (docs/evidence.md, "The evidence bundle"): everything about the change
 * that an auditor needs, the event-log entries it rests on with their inclusion proofs, a signed
 * checkpoint and the log's key, and `verify.mjs`, which checks it all offline.
 *
 * The export is itself logged: an `evidence.export` entry holds the manifest's SHA-256, so files
 * that have no log entry of their own are bound to the signed log through the manifest. That entry
 * must be committed before a checkpoint can cover it, so an export is three steps, not one
 * transaction: gather and log (one transaction), have a checkpoint signed, read the proofs.
 */
export class EvidenceService {
  constructor(private readonly deps: EvidenceServiceDeps) {}

  async export(actor: Actor, changeName: string): Promise<EvidenceExport> {
    // Refused before anything is read or logged.
    const sessions = await this.deps.db.transaction().execute(async (trx) => sessionsOfChange(trx, (await this.authorize(trx, actor, changeName)).id));
    // Recordings are read outside any transaction (no connection held while the disk is read), and
    // only when they all fit the bound.
    const recordings = await this.readRecordings(changeName, sessions);
    // Its own transaction (PGlite has one connection): read before ours opens. It needs Change.View;
    // an executor or approver who sees the change as a member of its group gets the stored score only.
    const board = await this.deps.boards.audit(actor, changeName).catch((error: unknown) => {
      if (isAppError(error, 'not_found')) return undefined;
      throw error;
    });
    const now = this.deps.clock.now();
    const { files, exportEvent, events } = await this.deps.db.transaction().execute(async (trx) => {
      const change = await this.authorize(trx, actor, changeName);
      const gathered = await this.gather(trx, actor, change, board, recordings);
      gathered.files.set(BUNDLE_PATHS.verifier, await readFile(VERIFIER));
      gathered.files.set(BUNDLE_PATHS.readme, Buffer.from(readme(change.name), 'utf8'));
      gathered.files.set(BUNDLE_PATHS.events, jsonFile(gathered.events));
      const manifest = jsonFile(buildManifest(gathered.files, { change: change.name, createdAt: now, createdBy: actor.username }));
      const entry = await appendEvent(trx, {
        actor: actor.username,
        action: 'evidence.export',
        subject: gathered.subject,
        data: { change: change.name, manifestSha256: manifestHash(manifest), files: gathered.files.size, events: gathered.events.length },
        time: now,
      });
      gathered.files.set(BUNDLE_PATHS.manifest, manifest);
      const exported: LoggedEvent = { seq: entry.seq, time: entry.time.toISOString(), actor: entry.actor, action: entry.action, subject: entry.subject, data: { ...entry.data } };
      return { files: gathered.files, exportEvent: exported, events: gathered.events };
    });

    const checkpoint = await this.checkpointCovering(actor, exportEvent.seq);
    const proofs = [];
    for (const event of [...events, exportEvent]) {
      const proof = await inclusionProof(this.deps.db, event.seq, checkpoint.size);
      if (proof.root.toString('base64') !== checkpoint.rootHash) {
        throw errors.unavailable(`The event log's root at ${checkpoint.size} entries is not the one its latest checkpoint signed: the log was rewritten. Run \`changegate verify\`.`);
      }
      proofs.push({ seq: event.seq, leafIndex: event.seq - 1, leafHash: proof.leafHash.toString('hex'), proof: proof.proof.map((hash) => hash.toString('base64')) });
    }
    files.set(BUNDLE_PATHS.exportEvent, jsonFile(exportEvent));
    files.set(BUNDLE_PATHS.proofs, jsonFile({ treeSize: checkpoint.size, rootHash: checkpoint.rootHash, proofs }));
    files.set(BUNDLE_PATHS.checkpoint, Buffer.from(checkpoint.note, 'utf8'));
    files.set(BUNDLE_PATHS.key, Buffer.from(`${this.deps.log.key().verifierKey}\n`, 'utf8'));
    const zip = zipSync(Object.fromEntries([...files.entries()].sort(([a], [b]) => (a < b ? -1 : 1))), { level: 6, mtime: now });
    return { fileName: bundleFileName(changeName), zip, exportSeq: exportEvent.seq };
  }

  /**
   * Seeing the change as its workflow allows (Change.View, or a member of its group), Session.View
   * in its partition (the bundle holds what was typed and printed), and EventLog.View (it holds log
   * entries). A change the caller may not see is "not found", as a missing one.
   */
  private async authorize(trx: Tx, actor: Actor, changeName: string): Promise<Change> {
    const change = await findChangeByName(trx, changeName);
    const group = change && (await findAccessGroup(trx, change.accessGroupId));
    if (!change || !(await new ChangeVisibility(trx, actor).change(change, group))) throw errors.notFound('change', changeName);
    if (!(await hasPrivilege(trx, actor, 'Session.View', inPartition(change.partitionId)))) {
      throw errors.forbidden(`Exporting the evidence of ${change.name} needs the Session.View privilege for its partition: the bundle holds its sessions' recordings.`);
    }
    await requirePrivilege(trx, actor, 'EventLog.View', SYSTEM);
    return change;
  }

  /** The latest checkpoint if it covers entry `seq` (and is signed by this log's key); else one signed now. */
  private async checkpointCovering(actor: Actor, seq: number): Promise<CheckpointView> {
    const keyId = this.deps.log.key().keyId;
    const covers = (checkpoint: CheckpointView | undefined) => checkpoint !== undefined && checkpoint.size >= seq && checkpoint.keyId === keyId;
    const latest = () => this.deps.log.latest(actor).catch((error: unknown) => (isAppError(error, 'unavailable') ? undefined : Promise.reject(error)));
    let checkpoint = await latest();
    if (!covers(checkpoint)) {
      await this.deps.log.signNow();
      checkpoint = await latest();
    }
    if (!checkpoint || !covers(checkpoint)) {
      throw errors.unavailable(
        `No checkpoint signed with this server's log key covers the export (entry ${seq}): the server logs why it signs none (see docs/evidence.md, "Signed checkpoints"). Try again in a few seconds.`,
      );
    }
    return checkpoint;
  }

  /** Each session's recording (undefined when its file is gone), if together they fit the bound. */
  private async readRecordings(changeName: string, sessions: ReadonlyArray<{ id: string; recording_path: string }>): Promise<Map<string, Buffer | undefined>> {
    const limit = this.deps.maxRecordingBytes ?? MAX_RECORDING_BYTES;
    const missing = (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error));
    let total = 0;
    for (const session of sessions) total += (await stat(session.recording_path).catch(missing))?.size ?? 0;
    if (total > limit) throw errors.evidenceTooLarge(changeName, total, limit);
    const recordings = new Map<string, Buffer | undefined>();
    let read = 0;
    for (const session of sessions) {
      const recording = await readFile(session.recording_path).catch(missing);
      read += recording?.length ?? 0;
      // A live session's recording grows between the sizes and the reads.
      if (read > limit) throw errors.evidenceTooLarge(changeName, read, limit);
      recordings.set(session.id, recording);
    }
    return recordings;
  }

  private async gather(trx: Tx, actor: Actor, change: Change, board: ChangeAuditView | undefined, recordings: ReadonlyMap<string, Buffer | undefined>) {
    const now = this.deps.clock.now();
    // What the caller could not read elsewhere stays out: the audit trail's full snapshots need
    // AuditTrail.View in the change's partition, a device's address and host key Device.View in its.
    const seesAuditTrail = await hasPrivilege(trx, actor, 'AuditTrail.View', inPartition(change.partitionId));
    const files = new Map<string, Uint8Array>();
    const partition = (await trx.selectFrom('partition').select('name').where('id', '=', change.partitionId).executeTakeFirst())?.name ?? change.partitionId;
    const group = (await findAccessGroup(trx, change.accessGroupId)) as AccessGroup;
    const devices = [];
    for (const device of await findDevicesByIds(trx, change.devices)) {
      devices.push((await hasPrivilege(trx, actor, 'Device.View', inPartition(device.partitionId))) ? device : { id: device.id, name: device.name, hidden: true as const });
    }
    const deviceNames = new Map(devices.map((device) => [device.id, device.name]));
    const requests = await requestsOfChange(trx, change.id);
    const decisions = await decisionsOf(trx, requests.map((request) => request.id));
    const sessions = await sessionsOfChange(trx, change.id);
    const users = await usernamesOf(trx, [...group.executors, ...group.approvers, ...requests.map((r) => r.requester_id), ...decisions.map((d) => d.approver_id)]);
    const name = (id: string) => users.get(id) ?? id;
    const auditEntries = await auditEntriesOf(trx, change.id);

    files.set(BUNDLE_PATHS.change, jsonFile(this.changeAsApproved(change, now, { partition, group, deviceNames, devices, auditEntries, decisions, requests, name })));
    files.set(
      BUNDLE_PATHS.requests,
      jsonFile(
        requests.map((request) =>
          presentRequest(
            request,
            decisions.filter((decision) => decision.request_id === request.id),
            { change, device: deviceNames.get(request.device_id) ?? request.device_id, approvers: group.approvers, approvalsRequired: group.approvalsRequired },
            users,
          ),
        ),
      ),
    );
    const stored = await storedReview(trx, change.id);
    files.set(
      BUNDLE_PATHS.review,
      jsonFile({
        board: board ?? null,
        ...(board === undefined && { note: 'The board needs the Change.View privilege; the stored score is shown.' }),
        stored: stored ? { score: stored.score, outcome: stored.outcome, counts: stored.counts, devices: stored.devices, computedAt: stored.computed_at.toISOString() } : null,
      }),
    );
    // Each entry with every field its logged SHA-256 covers (canonicalAuditEntry), so verify.mjs rehashes it.
    const auditTrail = auditEntries.map((entry) => ({
      seq: Number(entry.seq),
      time: entry.time.toISOString(),
      objectType: entry.object_type,
      objectId: entry.object_id,
      businessKey: entry.business_key,
      partitionId: entry.partition_id,
      action: entry.action,
      level: entry.level,
      user: entry.username,
      reason: entry.reason,
      objectVersion: entry.object_version,
      diff: entry.diff,
      before: entry.before,
      after: entry.after,
      ruleId: entry.rule_id,
      restoredFrom: entry.restored_from === null ? null : Number(entry.restored_from),
    }));
    const leftOut = `The audit trail of ${change.name} (its full snapshots) needs the AuditTrail.View privilege in its partition; it was left out.`;
    files.set(BUNDLE_PATHS.auditTrail, jsonFile(seesAuditTrail ? auditTrail : { entries: null, note: leftOut }));
    const requestNumbers = new Map(requests.map((request) => [request.id, request.number]));
    for (const session of sessions) {
      const paths = sessionPaths(session.number);
      const commands = await commandsOf(trx, session.id);
      if (!recordings.has(session.id)) throw errors.conflict(`A session of ${change.name} started while its evidence was being gathered: export it again.`);
      const recording = recordings.get(session.id);
      files.set(paths.session, jsonFile({ ...presentSession(session, now, commands.length, requestNumbers.get(session.request_id) ?? null), recordingInBundle: recording !== undefined }));
      files.set(
        paths.commands,
        jsonFile(
          commands.map((command) => ({
            seq: command.seq,
            time: command.time.toISOString(),
            offsetSeconds: command.offset_seconds,
            text: command.text,
            output: command.output,
            outputTruncated: command.output_truncated,
            exitStatus: command.exit_status,
          })),
        ),
      );
      if (recording) files.set(paths.recording, recording);
    }
    const subject = `change:${businessKey(partition, change.name)}`;
    const events = await eventsNaming(trx, {
      changeId: change.id,
      changeName: change.name,
      subjects: [subject, ...requests.map((request) => `request:${request.number}`), ...sessions.map((session) => `session:${session.id}`)],
      requestNumbers: requests.map((request) => request.number),
      requestIds: requests.map((request) => request.id),
      sessionIds: sessions.map((session) => session.id),
    });
    return { files, events, subject };
  }

  /**
   * The change as it is, and as approved: for each plan digest an approval names, the version of the
   * change with that plan (this one, or one the audit trail kept whole) and the plan's fields exactly
   * as `planDigest` hashes them, so the verifier can rehash them. A plan no version was kept of
   * (audited at Diff only) is listed by its digest.
   */
  private changeAsApproved(
    change: Change,
    now: Date,
    context: {
      partition: string;
      group: AccessGroup;
      deviceNames: Map<string, string>;
      devices: ReadonlyArray<{ id: string; name: string; hostname: string; port: number; hostKeyFingerprint: string | null } | { id: string; name: string; hidden: true }>;
      auditEntries: ReadonlyArray<{ object_version: number; before: Record<string, unknown> | null; after: Record<string, unknown> | null }>;
      decisions: ReadonlyArray<{ request_id: string; decision: string; digest: string | null }>;
      requests: ReadonlyArray<{ id: string; number: number }>;
      name: (id: string) => string;
    },
  ) {
    const { group, deviceNames, name } = context;
    const versions = new Map<string, { version: number; plan: ApprovedPlan }>();
    for (const entry of context.auditEntries) {
      for (const snapshot of [entry.before, entry.after]) {
        if (!snapshot) continue;
        const version = changeKind.fromSnapshot(snapshot);
        versions.set(planDigest(version), { version: version.version, plan: planOf(version) });
      }
    }
    versions.set(planDigest(change), { version: change.version, plan: planOf(change) });
    const approvals = new Map<string, number[]>();
    for (const decision of context.decisions) {
      if (decision.decision !== 'approve' || decision.digest === null) continue;
      const number = context.requests.find((request) => request.id === decision.request_id)?.number;
      if (number !== undefined) approvals.set(decision.digest, [...new Set([...(approvals.get(decision.digest) ?? []), number])]);
    }
    const view: ChangeView = presentChange(change, now, { partition: context.partition, accessGroup: group.name, devices: change.devices.map((id) => deviceNames.get(id) ?? id) });
    return {
      change: view,
      accessGroup: {
        id: group.id,
        name: group.name,
        executors: group.executors.map(name).sort(),
        approvers: group.approvers.map(name).sort(),
        approvalsRequired: group.approvalsRequired,
        requiresJustification: group.requiresJustification,
        plannerMayExecute: group.plannerMayExecute,
      },
      devices: context.devices.map((device) =>
        'hidden' in device
          ? { name: device.name, note: 'Its host name, port and host key need the Device.View privilege in its partition; they were left out.' }
          : { id: device.id, name: device.name, hostname: device.hostname, port: device.port, hostKeyFingerprint: device.hostKeyFingerprint },
      ),
      asApproved: [...approvals.entries()].flatMap(([digest, requests]) => {
        const found = versions.get(digest);
        return found ? [{ digest, version: found.version, plan: found.plan, requests }] : [];
      }),
      approvedPlansNotKept: [...approvals.entries()].filter(([digest]) => !versions.has(digest)).map(([digest, requests]) => ({ digest, requests })),
    };
  }
}
