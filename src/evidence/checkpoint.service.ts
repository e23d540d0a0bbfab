import type { Kysely } from 'kysely';
import { requirePrivilege, SYSTEM, type Actor } from '../access/index.ts';
import type { Database } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import type { Witness } from '../eventlog/checkpoint-sinks.ts';
import { cosignaturesOf, type StoredCheckpoint, type StoredCosignature } from '../eventlog/checkpoint.store.ts';
import { latestTrustedCheckpoint } from '../eventlog/checkpoint-trust.ts';
import { cosignatureProblem, type WitnessKey } from '../eventlog/cosignature.ts';
import type { LogSigningKey } from '../eventlog/log-signing-key.ts';
import { formatKeyId, NoteError, parseNote, parseSignatureLines, verifierOf, type NoteSignature } from '../eventlog/signed-note.ts';
import type { CheckpointView, CosignatureView, LogKeyView } from './checkpoint.views.ts';

export type { CheckpointView, LogKeyView } from './checkpoint.views.ts';

export const presentLogKey = (key: LogSigningKey): LogKeyView => ({ origin: key.origin, verifierKey: key.verifierKey, keyId: key.keyId, algorithm: 'Ed25519' });

/**
 * Witness lines served with a checkpoint at most: with the log's own line, 16 signatures, what the
 * spec asks every verifier to read (Go's note.Open reads up to 100).
 */
export const MAX_SERVED_COSIGNATURES = 15;

/**
 * A checkpoint as served: its note, the log's own signature line first, then the witnesses' lines.
 * A signed note may carry several signatures and verifiers skip those of keys they do not know, so
 * the whole is still a note an auditor verifies with the log's key alone. What the table holds is
 * served only if it verifies now, with the key configured for its witness (`witnesses`, by name;
 * a row inserted by hand, or of a witness whose key is no longer configured, is not served), and
 * only as a verifier can read it: one line per witness and per key name, none under the log's own
 * name, at most MAX_SERVED_COSIGNATURES of them, in the order they came.
 */
export function presentCheckpoint(checkpoint: StoredCheckpoint, stored: readonly StoredCosignature[], witnesses: readonly Witness[]): CheckpointView {
  const keys = new Map(witnesses.flatMap((witness) => (witness.key ? [[witness.name, witness.key] as const] : [])));
  const text = parseNote(checkpoint.note).text;
  const served = new Set<string>();
  const keyNames = new Set<string>([checkpoint.origin]);
  const cosignatures: StoredCosignature[] = [];
  for (const cosignature of stored) {
    if (cosignatures.length >= MAX_SERVED_COSIGNATURES) break;
    if (served.has(cosignature.witness) || keyNames.has(cosignature.keyName)) continue;
    if (!verifiesWith(text, cosignature, keys.get(cosignature.witness))) continue;
    served.add(cosignature.witness);
    keyNames.add(cosignature.keyName);
    cosignatures.push(cosignature);
  }
  return {
    origin: checkpoint.origin,
    size: checkpoint.size,
    rootHash: checkpoint.rootHash.toString('base64'),
    keyId: checkpoint.keyId,
    createdAt: checkpoint.createdAt.toISOString(),
    note: checkpoint.note + cosignatures.map((cosignature) => cosignature.line).join(''),
    cosignatures: cosignatures.map((cosignature) => ({
      witness: cosignature.witness,
      keyName: cosignature.keyName,
      keyId: cosignature.keyId,
      line: cosignature.line,
      receivedAt: cosignature.receivedAt.toISOString(),
    })),
  };
}

/** A stored line is served only if it is one signature line, under the key name stored beside it, that verifies with its witness's key. */
function verifiesWith(text: string, cosignature: StoredCosignature, key: WitnessKey | undefined): boolean {
  if (!key || cosignature.keyName !== key.name || cosignature.keyId !== formatKeyId(key.keyId)) return false;
  try {
    const lines = parseSignatureLines(cosignature.line);
    return lines.length === 1 && cosignatureProblem(text, lines[0] as NoteSignature, key) === undefined;
  } catch (error) {
    if (error instanceof NoteError) return false;
    throw error;
  }
}

export interface CheckpointServiceDeps {
  readonly db: Kysely<Database>;
  readonly signingKey: LogSigningKey;
  /** The configured witnesses: their cosignatures are served only when they verify with these keys. */
  readonly witnesses: readonly Witness[];
}

/** The log's public key and its latest signed checkpoint. */
export class CheckpointService {
  constructor(private readonly deps: CheckpointServiceDeps) {}

  key(): LogKeyView {
    return presentLogKey(this.deps.signingKey);
  }

  /**
   * The latest checkpoint this log signed: the largest stored row whose note verifies with the
   * log's key and origin. A row planted above it is passed over (the publisher reports it).
   */
  async latest(actor: Actor): Promise<CheckpointView> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'EventLog.View', SYSTEM);
      const { signingKey } = this.deps;
      const { trusted } = await latestTrustedCheckpoint(trx, { origin: signingKey.origin, key: verifierOf(signingKey.key) });
      if (!trusted) throw errors.unavailable('No checkpoint of the event log is signed yet: a serving instance signs one as it starts and whenever the log grows. Try again in a few seconds.');
      return presentCheckpoint(trusted, await cosignaturesOf(trx, trusted.size), this.deps.witnesses);
    });
  }
}
