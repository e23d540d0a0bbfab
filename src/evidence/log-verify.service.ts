import type { Kysely } from 'kysely';
import { requirePrivilege, SYSTEM, type Actor } from '../access/index.ts';
import type { Database } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { verifyAgainstCheckpoint, type CheckpointVerifyReport } from '../eventlog/checkpoint-verify.ts';
import type { LogSigningKey } from '../eventlog/log-signing-key.ts';
import { NoteError, parseVerifierKey, type VerifierKey } from '../eventlog/signed-note.ts';

export type { CheckpointVerifyReport } from '../eventlog/checkpoint-verify.ts';

export interface CheckpointVerifyRequest {
  /** The signed checkpoint note, as saved. */
  readonly checkpoint: string;
  /** A verifier key the auditor obtained independently; this log's own key when absent. */
  readonly verifierKey?: string;
}

/**
 * Reads a verifier key an auditor gives; a key that does not parse is a clear 400, not a failed
 * verification (the checkpoint has not been looked at yet).
 */
export function givenVerifierKey(text: string): VerifierKey {
  try {
    return parseVerifierKey(text);
  } catch (error) {
    if (error instanceof NoteError) throw errors.validation(`The verifier key is not valid: ${error.message}. Give it as <origin>+<key ID>+<base64 key>, as \`changegate log key\` prints it.`, [{ path: '/body/verifierKey', message: error.message }]);
    throw error;
  }
}

/** Verifying the stored event log against a checkpoint kept elsewhere (EventLog.Verify). */
export class LogVerifyService {
  constructor(private readonly deps: { readonly db: Kysely<Database>; readonly signingKey: Pick<LogSigningKey, 'key' | 'origin'> }) {}

  /**
   * Reads the whole log in pages, outside any one transaction: entries are only ever appended, so a
   * page read stays what is stored, and a long log holds no long transaction open.
   */
  async verify(actor: Actor, request: CheckpointVerifyRequest, onProgress?: (verified: number) => void): Promise<CheckpointVerifyReport> {
    await requirePrivilege(this.deps.db, actor, 'EventLog.Verify', SYSTEM);
    const key = request.verifierKey === undefined ? this.deps.signingKey.key : givenVerifierKey(request.verifierKey);
    return verifyAgainstCheckpoint(this.deps.db, { note: request.checkpoint, key, keySource: request.verifierKey === undefined ? 'log' : 'given', logOrigin: this.deps.signingKey.origin }, onProgress);
  }
}
