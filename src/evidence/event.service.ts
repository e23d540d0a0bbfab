import type { Kysely } from 'kysely';
import { requirePrivilege, SYSTEM, type Actor } from '../access/index.ts';
import type { Database } from '../platform/database.ts';
import type { HashedEventEntry } from '../eventlog/event.ts';
import { verifyEventLog, type VerifyReport } from '../eventlog/event-verify.ts';
import { listEntries, type EventQuery } from '../eventlog/event.store.ts';
import type { EventView } from './event.views.ts';

export type { VerifyReport } from '../eventlog/event-verify.ts';

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

  async verify(actor: Actor, onProgress?: (verified: number) => void): Promise<VerifyReport> {
    await requirePrivilege(this.deps.db, actor, 'EventLog.Verify', SYSTEM);
    return verifyEventLog(this.deps.db, onProgress);
  }
}
