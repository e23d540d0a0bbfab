import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { businessKey, partitionName } from '../objects/index.ts';
import { changeKind, decisionsOf, findChangeByName, requestsOfChange, type Change, type ChangeView } from '../changes/index.ts';
import { findAccessGroup } from '../changes/access-group.store.ts';
import type { AccessGroup } from '../changes/access-group.ts';
import { ChangeVisibility } from '../changes/change-visibility.ts';
import { planDigest, presentChange } from '../changes/change.ts';
import { presentRequest } from '../changes/request.ts';
import { appendEvent, inclusionProof } from '../eventlog/index.ts';
import type { CheckpointView, LogKeyView } from './checkpoint.service.ts';
import { hasPrivilege, inPartition, requirePrivilege, SYSTEM, type Actor } from '../access/index.ts';
import { entriesOfObject } from '../auditing/index.ts';
import { usernamesByIds } from '../identity/index.ts';
import { findDevicesByIds } from '../inventory/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors, isAppError } from '../platform/errors.ts';
import { storedReview, type ChangeAuditView } from '../review/index.ts';
import { commandsOf, presentCommand, presentSession, sessionsOfChange, type RecordingStores, type Session } from '../sessions/index.ts';
import { BUNDLE_PATHS, buildManifest, bundleFileName, byPath, jsonFile, manifestHash, readme, sessionPaths } from './evidence-bundle.ts';
import { bundleZip, inMemory, type BundleEntry } from './evidence-zip.ts';
import { eventsNaming, type LoggedEvent } from './evidence-events.ts';

/** The event log as the export needs it: its key, its latest checkpoint, and a way to wait for one covering the export. */
export interface EvidenceLog {
  key(): LogKeyView;
  /** The latest signed checkpoint (`CheckpointService.latest`: it checks EventLog.View). */
  latest(actor: Actor): Promise<CheckpointView>;
  /**
   * Resolves once a checkpoint covers the first `size` entries: at once, or with the publisher's
   * next scheduled pass, shared by every export waiting (`CheckpointPublisher.checkpointCovering`).
   * Rejects with a 503 saying why when none comes.
   */
  checkpointCovering(size: number): Promise<unknown>;
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
  /** Where sessions' recordings are kept: each is read from the store its session names. */
  readonly recordings: Pick<RecordingStores, 'for'>;
  /** The most bytes the files of one bundle hold together, recordings included (default `MAX_BUNDLE_BYTES`). */
  readonly maxBundleBytes?: number;
}

/**
 * The most bytes the files of one bundle hold together (413 `evidence_too_large` past it). Not for
 * the server's memory (the zip is streamed), but so that the bundle can be verified: it is a zip
 * without Zip64 (under 4 GiB), and both verifiers read files whole with Node.js, which reads at
 * most 2 GiB at once (`changegate verify-evidence` the whole zip, verify.mjs each file). The 16 MiB
 * kept back cover the zip's headers and deflate's worst case on data that does not compress.
 */
export const MAX_BUNDLE_BYTES = 2 * 1024 ** 3 - 16 * 1024 ** 2;

export interface EvidenceExport {
  readonly fileName: string;
  /**
   * The zip, written as it is read. Everything that can be refused was checked before it was
   * returned; it errors mid-way only if a recording changes in its store or cannot be read meanwhile,
   * and is then never finished (no zip tool takes it for whole).
   */
  readonly zip: Readable;
  /** The seq of the `evidence.export` entry that logged the manifest. */
  readonly exportSeq: number;
}

/** A recording as the manifest lists it: how to read it, and its size and SHA-256 when the export hashed it. */
interface RecordingFile {
  readonly read: () => AsyncIterable<Buffer>;
  readonly size: number;
  readonly sha256: string;
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
 *
 * Recordings are never held whole: they are hashed in a first pass over their files (the manifest
 * needs their hashes before the export is logged), and read again, in chunks, as the zip is sent.
 * Everything that can be refused (privileges, an unknown change, the size bound, no checkpoint) is
 * decided before the zip's first byte, so a refusal is a plain JSON error.
 */
export class EvidenceService {
  constructor(private readonly deps: EvidenceServiceDeps) {}

  async export(actor: Actor, changeName: string): Promise<EvidenceExport> {
    // Refused before anything is read or logged.
    const sessions = await this.deps.db.transaction().execute(async (trx) => sessionsOfChange(trx, (await this.authorize(trx, actor, changeName)).id, 'number'));
    // Recordings are hashed outside any transaction (no connection held while the disk is read), and
    // only when they fit the bound.
    const limit = this.deps.maxBundleBytes ?? MAX_BUNDLE_BYTES;
    const recordings = await this.fingerprintRecordings(changeName, sessions, limit);
    // Its own transaction (PGlite has one connection): read before ours opens. It needs Change.View;
    // an executor or approver who sees the change as a member of its group gets the stored score only.
    const board = await this.deps.boards.audit(actor, changeName).catch((error: unknown) => {
      if (isAppError(error, 'not_found')) return undefined;
      throw error;
    });
    const now = this.deps.clock.now();
    const { files, manifest, exportEvent, events } = await this.deps.db.transaction().execute(async (trx) => {
      const change = await this.authorize(trx, actor, changeName);
      const gathered = await this.gather(trx, actor, change, board, recordings);
      gathered.files.push(
        inMemory(BUNDLE_PATHS.verifier, await readFile(VERIFIER)),
        inMemory(BUNDLE_PATHS.readme, Buffer.from(readme(change.name), 'utf8')),
        inMemory(BUNDLE_PATHS.events, jsonFile(gathered.events)),
      );
      const listed = byPath(gathered.files);
      const manifest = jsonFile(buildManifest(listed, { change: change.name, createdAt: now, createdBy: actor.username }));
      // Refused here, the export is not logged (the transaction rolls back).
      checkBound(changeName, [...listed, inMemory(BUNDLE_PATHS.manifest, manifest)], limit);
      const entry = await appendEvent(trx, {
        actor: actor.username,
        action: 'evidence.export',
        subject: gathered.subject,
        data: { change: change.name, manifestSha256: manifestHash(manifest), files: listed.length, events: gathered.events.length },
        time: now,
      });
      const exported: LoggedEvent = { seq: entry.seq, time: entry.time.toISOString(), actor: entry.actor, action: entry.action, subject: entry.subject, data: { ...entry.data } };
      return { files: listed, manifest, exportEvent: exported, events: gathered.events };
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
    // The manifest and what anchors it come last: a download cut short lacks them, and fails to verify
    // even in a tool that extracts the entries it finds before the cut.
    const entries = [
      ...files,
      inMemory(BUNDLE_PATHS.manifest, manifest),
      inMemory(BUNDLE_PATHS.exportEvent, jsonFile(exportEvent)),
      inMemory(BUNDLE_PATHS.proofs, jsonFile({ treeSize: checkpoint.size, rootHash: checkpoint.rootHash, proofs })),
      inMemory(BUNDLE_PATHS.checkpoint, Buffer.from(checkpoint.note, 'utf8')),
      inMemory(BUNDLE_PATHS.key, Buffer.from(`${this.deps.log.key().verifierKey}\n`, 'utf8')),
    ];
    // The proofs, unknown until the export is logged, are small beside the recordings; still, a bundle
    // they push past the bound is refused rather than sent unverifiable (the export stays logged).
    checkBound(changeName, entries, limit);
    return { fileName: bundleFileName(changeName), zip: bundleZip(entries, now), exportSeq: exportEvent.seq };
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

  /** The latest checkpoint if it covers entry `seq` (and is signed by this log's key); else the next scheduled one. */
  private async checkpointCovering(actor: Actor, seq: number): Promise<CheckpointView> {
    const keyId = this.deps.log.key().keyId;
    const covers = (checkpoint: CheckpointView | undefined) => checkpoint !== undefined && checkpoint.size >= seq && checkpoint.keyId === keyId;
    const latest = () => this.deps.log.latest(actor).catch((error: unknown) => (isAppError(error, 'unavailable') ? undefined : Promise.reject(error)));
    let checkpoint = await latest();
    if (!covers(checkpoint)) {
      await this.deps.log.checkpointCovering(seq);
      checkpoint = await latest();
    }
    if (!checkpoint || !covers(checkpoint)) {
      throw errors.unavailable(
        `No checkpoint signed with this server's log key covers the export (entry ${seq}): the server logs why it signs none (see docs/evidence.md, "Signed checkpoints"). Try again in a few seconds.`,
      );
    }
    return checkpoint;
  }

  /**
   * Each session's recording with its size and SHA-256, read in chunks from the store that holds it
   * (undefined when it is gone). Sizes first: recordings that cannot fit the bound are not read at all.
   */
  private async fingerprintRecordings(changeName: string, sessions: readonly Session[], limit: number): Promise<Map<string, RecordingFile | undefined>> {
    let total = 0;
    for (const session of sessions) total += (await this.deps.recordings.for(session).size(session.recordingPath)) ?? 0;
    if (total > limit) throw errors.evidenceTooLarge(changeName, total, limit);
    const recordings = new Map<string, RecordingFile | undefined>();
    for (const session of sessions) {
      const store = this.deps.recordings.for(session);
      const found = await store.stat(session.recordingPath);
      recordings.set(session.id, found && { read: () => store.read(session.recordingPath), size: found.bytes, sha256: found.sha256 });
    }
    return recordings;
  }

  private async gather(trx: Tx, actor: Actor, change: Change, board: ChangeAuditView | undefined, recordings: ReadonlyMap<string, RecordingFile | undefined>) {
    const now = this.deps.clock.now();
    // What the caller could not read elsewhere stays out: the audit trail's full snapshots need
    // AuditTrail.View in the change's partition, a device's address and host key Device.View in its.
    const seesAuditTrail = await hasPrivilege(trx, actor, 'AuditTrail.View', inPartition(change.partitionId));
    const files: BundleEntry[] = [];
    const partition = (await partitionName(trx, change.partitionId)) ?? change.partitionId;
    const group = (await findAccessGroup(trx, change.accessGroupId)) as AccessGroup;
    const devices = [];
    for (const device of await findDevicesByIds(trx, change.devices)) {
      devices.push((await hasPrivilege(trx, actor, 'Device.View', inPartition(device.partitionId))) ? device : { id: device.id, name: device.name, hidden: true as const });
    }
    const deviceNames = new Map(devices.map((device) => [device.id, device.name]));
    const requests = await requestsOfChange(trx, change.id);
    const decisions = await decisionsOf(trx, requests.map((request) => request.id));
    const sessions = await sessionsOfChange(trx, change.id, 'number');
    const users = await usernamesByIds(trx, [...group.executors, ...group.approvers, ...requests.map((r) => r.requesterId), ...decisions.map((d) => d.approverId)]);
    const name = (id: string) => users.get(id) ?? id;
    const auditEntries = await entriesOfObject(trx, change.id);

    files.push(inMemory(BUNDLE_PATHS.change, jsonFile(this.changeAsApproved(change, now, { partition, group, deviceNames, devices, auditEntries, decisions, requests, name }))));
    files.push(
      inMemory(
        BUNDLE_PATHS.requests,
        jsonFile(
          requests.map((request) =>
            presentRequest(
              request,
              decisions.filter((decision) => decision.requestId === request.id),
              { change, device: deviceNames.get(request.deviceId) ?? request.deviceId, approvers: group.approvers, approvalsRequired: group.approvalsRequired },
              users,
            ),
          ),
        ),
      ),
    );
    const stored = await storedReview(trx, change.id);
    files.push(
      inMemory(
        BUNDLE_PATHS.review,
        jsonFile({
          board: board ?? null,
          ...(board === undefined && { note: 'The board needs the Change.View privilege; the stored score is shown.' }),
          stored: stored ? { score: stored.score, outcome: stored.outcome, counts: stored.counts, devices: stored.devices, computedAt: stored.computedAt.toISOString() } : null,
        }),
      ),
    );
    // Each entry with every field its logged SHA-256 covers (canonicalAuditEntry), so verify.mjs rehashes it.
    const auditTrail = auditEntries.map((entry) => ({ ...entry, time: entry.time.toISOString() }));
    const leftOut = `The audit trail of ${change.name} (its full snapshots) needs the AuditTrail.View privilege in its partition; it was left out.`;
    files.push(inMemory(BUNDLE_PATHS.auditTrail, jsonFile(seesAuditTrail ? auditTrail : { entries: null, note: leftOut })));
    const requestNumbers = new Map(requests.map((request) => [request.id, request.number]));
    for (const session of sessions) {
      const paths = sessionPaths(session.number);
      const commands = await commandsOf(trx, session.id);
      if (!recordings.has(session.id)) throw errors.conflict(`A session of ${change.name} started while its evidence was being gathered: export it again.`);
      const recording = recordings.get(session.id);
      files.push(inMemory(paths.session, jsonFile({ ...presentSession(session, now, commands.length, requestNumbers.get(session.requestId) ?? null), recordingInBundle: recording !== undefined })));
      files.push(inMemory(paths.commands, jsonFile(commands.map(presentCommand))));
      if (recording) files.push({ path: paths.recording, size: recording.size, sha256: recording.sha256, content: { read: recording.read } });
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
      auditEntries: ReadonlyArray<{ objectVersion: number; before: Readonly<Record<string, unknown>> | null; after: Readonly<Record<string, unknown>> | null }>;
      decisions: ReadonlyArray<{ requestId: string; decision: string; digest: string | null }>;
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
      const number = context.requests.find((request) => request.id === decision.requestId)?.number;
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

/** Refuses a bundle whose files hold more than `limit` bytes together. */
function checkBound(change: string, files: readonly BundleEntry[], limit: number): void {
  const bytes = files.reduce((sum, file) => sum + file.size, 0);
  if (bytes > limit) throw errors.evidenceTooLarge(change, bytes, limit);
}
