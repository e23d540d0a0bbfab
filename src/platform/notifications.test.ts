import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { waitUntil } from '../../test/gateway-kit.ts';
import { openDatabase, type DatabaseHandle } from './database.ts';
import { MAX_PAYLOAD_BYTES, notify } from './notifications.ts';

/** Waits until `condition` holds. */
const until = (condition: () => boolean | Promise<boolean>, what: string) => waitUntil(async () => ((await condition()) ? true : undefined), what);

/** Collects what arrives on a channel, so a test can wait for it. */
function inbox() {
  const received: string[] = [];
  return { received, handler: (payload: string) => void received.push(payload) };
}

describe.each(DATABASE_KINDS)('notifications between instances on %s', (kind) => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.close();
  });

  it('delivers a message sent in a transaction when it commits, and never one rolled back', async () => {
    const box = inbox();
    const unlisten = await database.notifications.listen('test_commit', box.handler);
    try {
      await database.db
        .transaction()
        .execute(async (trx) => {
          await notify(trx, 'test_commit', 'rolled back');
          throw new Error('undo');
        })
        .catch(() => undefined);
      await database.db.transaction().execute(async (trx) => {
        await notify(trx, 'test_commit', 'first');
        // Not yet: the transaction has not committed.
        await sql`SELECT 1`.execute(trx);
        expect(box.received).toEqual([]);
      });
      await notify(database.db, 'test_commit', 'second');
      await until(() => box.received.length >= 2, 'both committed messages');
      expect(box.received).toEqual(['first', 'second']);
    } finally {
      await unlisten();
    }
  });

  it('calls every handler of a channel, keeps channels apart, and stops after unlisten', async () => {
    const a = inbox();
    const b = inbox();
    const other = inbox();
    const stopA = await database.notifications.listen('test_fanout', a.handler);
    const stopB = await database.notifications.listen('test_fanout', b.handler);
    const stopOther = await database.notifications.listen('test_other', other.handler);
    await notify(database.db, 'test_fanout', 'one');
    await until(() => a.received.length === 1 && b.received.length === 1, 'both handlers');
    await stopA();
    await notify(database.db, 'test_fanout', 'two');
    // A message on a channel still listened to comes after the one above: when it is in, so is that.
    await notify(database.db, 'test_other', 'marker');
    await until(() => other.received.length === 1 && b.received.length === 2, 'the marker and the second message');
    expect(a.received).toEqual(['one']);
    expect(b.received).toEqual(['one', 'two']);
    expect(other.received).toEqual(['marker']);
    await stopB();
    await stopOther();
  });

  it('refuses a payload PostgreSQL would refuse, and a channel name that is not one', async () => {
    await expect(notify(database.db, 'test_big', 'x'.repeat(MAX_PAYLOAD_BYTES + 1))).rejects.toThrow(/over 7000/);
    await expect(notify(database.db, 'test"; DROP TABLE event; --', 'x')).rejects.toThrow(/not a channel name/);
    await expect(database.notifications.listen('Bad Channel', () => undefined)).rejects.toThrow(/not a channel name/);
  });

  it.runIf(kind === 'postgres')('reaches another instance on the same database, and listens again after its connection is cut', async () => {
    const other: DatabaseHandle = await openDatabase({ kind: 'postgres', url: database.url as string });
    try {
      const box = inbox();
      await other.notifications.listen('test_across', box.handler);
      await notify(database.db, 'test_across', 'from the first instance');
      await until(() => box.received.length === 1, 'the message from the other instance');
      // An administrator or a failover cuts the listening connection: it comes back by itself.
      const cut = await sql<{ ended: boolean }>`SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`.execute(database.db);
      expect(cut.rows.some((row) => row.ended)).toBe(true);
      await until(
        async () => {
          await notify(database.db, 'test_across', 'after the cut');
          return box.received.includes('after the cut');
        },
        'a message after the listening connection came back',
      );
      expect(box.received[0]).toBe('from the first instance');
    } finally {
      await other.close();
    }
  });
});
