import type { Kysely } from 'kysely';
import { requirePrivilege, SYSTEM, type Actor } from '../access/index.ts';
import type { Database } from '../platform/database.ts';
import { GENESIS_CHAIN_HASH, type HashedEventEntry } from '../eventlog/event.ts';
import { errors } from '../platform/errors.ts';
import { verifyEventLog, type VerifyReport } from '../eventlog/event-verify.ts';
import { listEntries, type EventQuery } from '../eventlog/event.store.ts';
import type { EventView } from './event.views.ts';

export type { VerifyReport } from '../eventlog/event-verify.ts';

/** A range of the log to verify, as a caller asks for it; nothing given: the whole log. */
export interface VerifyRangeRequest {
  readonly after?: number;
  readonly chainHash?: string;
  readonly limit?: number;
}

export const presentEvent = (entry: HashedEventEntry): EventView => ({ ...entry, time: entry.time.toISOString() });

/** Reading and verifying the event log; appending happens inside each use case (see `appendEvent`). */
export class EventLogService {
  constructor(private readonly deps: { readonly db: Kysely<Database> }) {}

  async list(actor: Actor, query: EventQuery): Promise<EventView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'EventLog.View', SYSTEM);
      return (await listEntries(trx, query)).map(presentEvent);
    });
  }

  /**
   * The whole log from its first entry, or one range of it: `limit` entries after `after`, whose
   * chain hash `chainHash` an earlier range reported (see `VerifyRange`).
   */
  async verify(actor: Actor, onProgress?: (verified: number) => void, range: VerifyRangeRequest = {}): Promise<VerifyReport> {
    await requirePrivilege(this.deps.db, actor, 'EventLog.Verify', SYSTEM);
    const continues = range.after !== undefined && range.after > 0;
    if (continues !== (range.chainHash !== undefined)) {
      throw errors.validation('Give `after` and `chainHash` together: a range continues after an entry an earlier range verified, with the chain hash it reported (headChainHash).', [
        { path: continues ? '/querystring/chainHash' : '/querystring/after', message: 'after and chainHash go together' },
      ]);
    }
    const start = { afterSeq: continues ? (range.after as number) : 0, chainHash: range.chainHash ?? GENESIS_CHAIN_HASH };
    return verifyEventLog(this.deps.db, onProgress, { ...start, ...(range.limit !== undefined && { limit: range.limit }) });
  }
}
