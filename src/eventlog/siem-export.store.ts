import type { Executor } from '../platform/database.ts';

/** The last entry `sink` accepted; 0 before the first. */
export async function ackedSeq(db: Executor, sink: string): Promise<number> {
  const row = await db.selectFrom('siem_export').select('acked_seq').where('sink', '=', sink).executeTakeFirst();
  return row ? Number(row.acked_seq) : 0;
}

/**
 * Records that `sink` accepted every entry up to `seq`. It only ever moves forward: an instance
 * that lost the lease while sending (and sent again what another had sent) never moves it back.
 */
export async function advanceAckedSeq(db: Executor, sink: string, seq: number, now: Date): Promise<void> {
  await db
    .insertInto('siem_export')
    .values({ sink, acked_seq: seq, acked_at: now })
    .onConflict((conflict) =>
      conflict
        .column('sink')
        .doUpdateSet((eb) => ({ acked_seq: eb.ref('excluded.acked_seq'), acked_at: eb.ref('excluded.acked_at') }))
        .where('siem_export.acked_seq', '<', seq),
    )
    .execute();
}
