import { sql } from 'kysely';
import type { Executor } from '../platform/database.ts';

/** A chunk of a recording kept in the database, as it is appended. */
export interface NewRecordingChunk {
  readonly sessionId: string;
  readonly seq: number;
  readonly data: Buffer;
}

/** Rows per INSERT statement: four parameters each, far below PostgreSQL's 65,535. */
const ROWS_PER_STATEMENT = 1000;

/** Appends chunks of any sessions, all stamped `writtenAt`: one multi-row INSERT (more past a thousand rows). */
export async function insertRecordingChunks(db: Executor, chunks: readonly NewRecordingChunk[], writtenAt: Date): Promise<void> {
  for (let start = 0; start < chunks.length; start += ROWS_PER_STATEMENT) {
    const rows = chunks.slice(start, start + ROWS_PER_STATEMENT).map((chunk) => ({ session_id: chunk.sessionId, seq: chunk.seq, data: chunk.data, written_at: writtenAt }));
    await db.insertInto('recording_chunk').values(rows).execute();
  }
}

/** The seq of the chunk holding byte `fromByte` of the session's recording, and where that chunk starts; undefined past the end. */
export async function chunkHolding(db: Executor, sessionId: string, fromByte: number): Promise<{ seq: number; start: number } | undefined> {
  // octet_length of a bytea reads its stored size, not its bytes: this walks the sizes only.
  const { rows } = await sql<{ seq: number; start: number }>`
    SELECT seq, start FROM (
      SELECT seq, (sum(octet_length(data)) OVER (ORDER BY seq))::bigint - octet_length(data) AS start, octet_length(data) AS length
      FROM recording_chunk WHERE session_id = ${sessionId}
    ) AS chunk
    WHERE start + length > ${fromByte}
    ORDER BY seq LIMIT 1`.execute(db);
  const [row] = rows;
  return row && { seq: Number(row.seq), start: Number(row.start) };
}

/** The length of the session's recording without reading it; undefined when it has no chunk. */
export async function recordingSize(db: Executor, sessionId: string): Promise<number | undefined> {
  const row = await db
    .selectFrom('recording_chunk')
    .select((eb) => [eb.fn.countAll().as('chunks'), eb.fn.sum<number>(sql`octet_length(data)`).as('bytes')])
    .where('session_id', '=', sessionId)
    .executeTakeFirst();
  return row && Number(row.chunks) > 0 ? Number(row.bytes) : undefined;
}

/** Up to `limit` chunks of the session's recording from `fromSeq` on, in order. */
export async function recordingChunksFrom(db: Executor, sessionId: string, fromSeq: number, limit: number): Promise<Array<{ seq: number; data: Buffer; writtenAt: Date }>> {
  const rows = await db
    .selectFrom('recording_chunk')
    .select(['seq', 'data', 'written_at'])
    .where('session_id', '=', sessionId)
    .where('seq', '>=', fromSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ seq: row.seq, data: asBuffer(row.data), writtenAt: row.written_at }));
}

/** PGlite hands a bytea out as a Uint8Array, pg as a Buffer: the same bytes, without a copy. */
const asBuffer = (data: Uint8Array): Buffer => (Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));

/** Removes every chunk of the session's recording. */
export async function deleteRecordingChunks(db: Executor, sessionId: string): Promise<void> {
  await db.deleteFrom('recording_chunk').where('session_id', '=', sessionId).execute();
}

