import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser } from '../../test/harness.ts';
import { openDatabase } from '../platform/database.ts';
import type { Notice } from './notice.ts';
import { PUBLIC_URL, startNotificationsTest, startSilentServer, startSmtpServer, type NotificationsTest } from './notifications.test-kit.ts';

// The clock never moves in this file, so a delivery left to retry by one test is not due in the next.
describe.each(DATABASE_KINDS)('e-mail notifications on %s', (kind) => {
  let n: NotificationsTest;
  beforeAll(async () => {
    n = await startNotificationsTest(kind, { emailEnabled: true });
  });
  afterAll(() => n.close());

  const notify = (notice: Notice) => n.t.cg.database.db.transaction().execute((trx) => n.notifications.notify(trx, notice));

  async function recipientWithEmail(email: string) {
    const user = await buildUser(n.t);
    expect((await n.t.admin.patch(`/users/${user.username}`, { email })).status).toBe(200);
    return { ...user, id: (await n.actorOf(user.username)).userId };
  }

  it('sends an e-mail that a real SMTP server receives: To, Subject, and the body with the full link', async () => {
    const smtp = await startSmtpServer();
    try {
      const dana = await recipientWithEmail('dana@example.test');
      const queued = await notify({
        kind: 'request.decided',
        recipients: [dana.id],
        title: 'CHG-42: your request was approved',
        body: 'bob approved your request to run CHG-42 on web01.',
        link: '/requests/42',
        data: { requestId: 42, decision: 'approved' },
      });
      expect(queued.emails).toBe(1);

      const attempts = await n.dispatcher({ smtpUrl: smtp.url }).runOnce();
      const mine = attempts.filter((attempt) => attempt.channel === 'email');
      expect(mine).toEqual([expect.objectContaining({ result: 'delivered', attempt: 1, statusCode: 250 })]);

      const mail = await smtp.mail.next();
      expect(mail.to).toEqual(['dana@example.test']);
      expect(mail.from).toBe('changegate@example.test');
      const [headers, body] = splitOnce(mail.raw, '\r\n\r\n');
      expect(headers).toMatch(/^To: dana@example\.test$/m);
      expect(headers).toMatch(/^Subject: CHG-42: your request was approved$/m);
      expect(headers).toMatch(/^X-Changegate-Event: request\.decided$/m);
      expect(headers).toMatch(/^Auto-Submitted: auto-generated$/m);
      expect(body).toContain('bob approved your request to run CHG-42 on web01.');
      expect(body).toContain(`${PUBLIC_URL}/requests/42`);

      const admin = await n.actorOf('admin');
      const [logged] = await n.deliveries.list(admin, { channel: 'email', status: 'delivered' });
      expect(logged).toMatchObject({
        id: mine[0]?.id,
        status: 'delivered',
        attempts: 1,
        lastError: null,
        nextAttemptAt: null,
        recipient: { username: dana.username, address: 'dana@example.test' },
        webhook: null,
      });
    } finally {
      await smtp.close();
    }
  });

  it('notify returns without touching the network while the SMTP server hangs; the send times out and is retried later', async () => {
    const silent = await startSilentServer();
    try {
      const erin = await recipientWithEmail('erin@example.test');
      const queued = await notify({ kind: 'request.created', recipients: [erin.id], title: 'A request awaits you', body: 'Please decide.', data: {} });
      expect(queued.emails).toBe(1);
      // notify only wrote rows: the hanging server has not even been connected to.
      expect(silent.connections.size).toBe(0);

      const attempts = await n.dispatcher({ smtpUrl: silent.url, sendTimeoutMs: 300 }).runOnce();
      await silent.connections.next();
      const [attempt] = attempts.filter((candidate) => candidate.channel === 'email');
      expect(attempt).toMatchObject({ result: 'retrying', attempt: 1 });
      expect(attempt?.error).toMatch(/greeting|timeout|timed out/i);
      expect(attempt?.nextAttemptAt).toEqual(new Date(n.t.clock.now().getTime() + 10_000));

      const logged = await n.deliveries.get(await n.actorOf('admin'), attempt?.id ?? '');
      expect(logged).toMatchObject({ status: 'pending', attempts: 1, lastError: attempt?.error, nextAttemptAt: attempt?.nextAttemptAt?.toISOString() });
    } finally {
      await silent.close();
    }
  });

  it('notify completes while the SMTP server is stopped; the attempt records the refusal', async () => {
    const smtp = await startSmtpServer();
    await smtp.close();
    const frank = await recipientWithEmail('frank@example.test');
    const queued = await notify({ kind: 'request.expired', recipients: [frank.id], title: 'Your request expired', body: 'Nobody decided in time.', data: {} });
    expect(queued).toMatchObject({ inApp: 1, emails: 1 });

    const attempts = await n.dispatcher({ smtpUrl: smtp.url }).runOnce();
    const [attempt] = attempts.filter((candidate) => candidate.channel === 'email');
    expect(attempt).toMatchObject({ result: 'retrying', attempt: 1 });
    expect(attempt?.error).toMatch(/ECONNREFUSED/);
    const inApp = await n.notifications.list(await n.actorOf(frank.username));
    expect(inApp.map((notification) => notification.title)).toEqual(['Your request expired']);
  });

  it.runIf(kind === 'postgres')('delivers each e-mail once when the dispatchers of two instances sharing the database run at once', async () => {
    const smtp = await startSmtpServer();
    const other = await openDatabase({ kind: 'postgres', url: n.t.databaseUrl as string });
    try {
      const recipients = await Promise.all(Array.from({ length: 8 }, (_, k) => recipientWithEmail(`twice-${k}@example.test`)));
      for (const recipient of recipients) {
        await notify({ kind: 'request.expired', recipients: [recipient.id], title: 'Request expired', body: 'The window closed.', link: '/requests/7', data: { request: 7 } });
      }
      // Instance A's dispatcher on the test's connection pool, instance B's on a pool of its own.
      const [onA, onB] = await Promise.all([n.dispatcher({ smtpUrl: smtp.url }).runOnce(), n.dispatcher({ smtpUrl: smtp.url, db: other.db }).runOnce()]);
      const delivered = [...onA, ...onB].filter((attempt) => attempt.channel === 'email' && attempt.result === 'delivered');
      expect(delivered).toHaveLength(recipients.length);
      expect(new Set(delivered.map((attempt) => attempt.id)).size).toBe(recipients.length);
      // Every send is over once runOnce resolves: the server has each message once, and nothing more.
      const received = await Promise.all(recipients.map(() => smtp.mail.next()));
      expect(received.flatMap((mail) => mail.to).sort()).toEqual(recipients.map((_, k) => `twice-${k}@example.test`).sort());
      expect(smtp.mail.size).toBe(0);
      // Neither has anything left to send.
      expect(await n.dispatcher({ smtpUrl: smtp.url, db: other.db }).runOnce()).toEqual([]);
    } finally {
      await other.close();
      await smtp.close();
    }
  });
});

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + separator.length)];
}
