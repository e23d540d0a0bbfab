import { createChangegate, type Changegate } from '../changegate.ts';
import type { TestChangegate } from '../../test/harness.ts';

/** Resolves with what `probe` finds once it finds something; polls every 50 ms, fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The seq of the log's last entry. */
export async function lastSeq(cg: Changegate): Promise<number> {
  const row = await cg.database.db.selectFrom('event').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
  return Number(row?.seq ?? 0);
}

/** Waits until the SIEM sink accepted every entry logged so far; returns the last seq. */
export async function exportedAll(cg: Changegate): Promise<number> {
  const last = await lastSeq(cg);
  const siem = cg.siemExport;
  if (!siem) throw new Error('no SIEM export is configured');
  await waitFor(async () => ((await siem.acknowledged()) >= last ? true : undefined), `the SIEM export to reach entry ${last}`);
  return last;
}

/**
 * The same installation started again after `t.cg` was closed: its configuration, data directory
 * (instance id, keys) and database. Close it, then `finish` the test's database and directory.
 */
export async function restart(t: TestChangegate): Promise<Changegate> {
  const cg = await createChangegate({ config: t.cg.config, clock: t.clock, database: t.cg.database });
  await cg.startBackground();
  return cg;
}
