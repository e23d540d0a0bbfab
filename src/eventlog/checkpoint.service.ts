import type { Kysely } from 'kysely';
import { requirePrivilege, SYSTEM, type Actor } from '../access/index.ts';
import type { Database } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { cosignaturesOf, latestCheckpoint, type StoredCheckpoint, type StoredCosignature } from './checkpoint.store.ts';
import type { LogSigningKey } from './log-signing-key.ts';
import { NoteError, parseSignatureLines } from './signed-note.ts';

/** The log's public key: public on purpose, so anyone can verify a checkpoint they hold. */
export interface LogKeyView {
  readonly origin: string;
  /** `<origin>+<key ID>+<base64(0x01 ‖ public key)>`, a C2SP signed-note verifier key. */
  readonly verifierKey: string;
  readonly keyId: string;
  readonly algorithm: 'Ed25519';
}

export interface CosignatureView {
  readonly witness: string;
  readonly keyName: string;
  readonly keyId: string;
  readonly line: string;
  readonly receivedAt: string;
}

export interface CheckpointView {
  readonly origin: string;
  readonly size: number;
  /** Base64, as in the checkpoint's third line. */
  readonly rootHash: string;
  readonly keyId: string;
  readonly createdAt: string;
  /** The signed note: the checkpoint, a blank line, the log's signature, then the witnesses' lines. */
  readonly note: string;
  readonly cosignatures: CosignatureView[];
}

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
 * served only as a verifier can read it: one line per witness and per key name, none under the
 * log's own name, at most MAX_SERVED_COSIGNATURES of them, in the order they came.
 */
export function presentCheckpoint(checkpoint: StoredCheckpoint, stored: readonly StoredCosignature[]): CheckpointView {
  const witnesses = new Set<string>();
  const keyNames = new Set<string>([checkpoint.origin]);
  const cosignatures: StoredCosignature[] = [];
  for (const cosignature of stored) {
    if (cosignatures.length >= MAX_SERVED_COSIGNATURES) break;
    if (witnesses.has(cosignature.witness) || keyNames.has(cosignature.keyName) || !isOneSignatureLine(cosignature)) continue;
    witnesses.add(cosignature.witness);
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

/** A stored line is served only if it is one signature line under the key name stored beside it. */
function isOneSignatureLine(cosignature: StoredCosignature): boolean {
  try {
    const lines = parseSignatureLines(cosignature.line);
    return lines.length === 1 && lines[0]?.name === cosignature.keyName;
  } catch (error) {
    if (error instanceof NoteError) return false;
    throw error;
  }
}

/** The log's public key and its latest signed checkpoint. */
export class CheckpointService {
  constructor(private readonly deps: { readonly db: Kysely<Database>; readonly signingKey: LogSigningKey }) {}

  key(): LogKeyView {
    return presentLogKey(this.deps.signingKey);
  }

  async latest(actor: Actor): Promise<CheckpointView> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'EventLog.View', SYSTEM);
      const checkpoint = await latestCheckpoint(trx);
      if (!checkpoint) throw errors.unavailable('No checkpoint of the event log is signed yet: a serving instance signs one as it starts and whenever the log grows. Try again in a few seconds.');
      return presentCheckpoint(checkpoint, await cosignaturesOf(trx, checkpoint.size));
    });
  }
}
