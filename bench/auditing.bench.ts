import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { createEmptyPostgresDatabase } from '../test/databases.ts';
import { AuditRecorder, auditRuleKind, AuditTrailService, parseEntrySearch, type AuditRule } from '../src/auditing/index.ts';
import { ObjectStore } from '../src/objects/index.ts';
import { bootstrapInstallation, findUserByName, timeZoneOf } from '../src/identity/index.ts';
import { type Actor } from '../src/access/index.ts';
import { auditDecision } from '../src/auditing/audit-rule.ts';
import { deviceKind, findDevice } from '../src/inventory/index.ts';
import { ManualClock } from '../src/platform/clock.ts';
import { migrate, openDatabase, type Database } from '../src/platform/database.ts';
import { percentile, random, timeAll } from './bench-kit.ts';
import type { Benchmark, BenchResult } from './run.ts';

/**
 * Active auditing on PostgreSQL with 1,000,000 audit entries: the search (t: ranges, u:, k: and a
 * combination) through the service at p50 and p95, beside the same query written by hand; and what
 * 100 enabled audit rules add to a save.
 */
const ENTRIES = 1_000_000;
const USERS = 200;
const OBJECTS = 50_000;
/** The trail spans a year up to "now". */
const NOW = new Date('2026-11-21T12:00:00Z');
const YEAR_SECONDS = 365 * 24 * 3600;
const RUNS = 200;

/** One million entries, written by SQL in one statement: a year of changes by 200 users to 50,000 objects in 20 partitions. */
async function seed(db: Kysely<Database>): Promise<void> {
  await sql`
    INSERT INTO audit_entry (seq, time, object_type, object_id, business_key, partition_id, action, level, username, reason, object_version, diff, before, after)
    SELECT i,
           ${NOW}::timestamptz - make_interval(secs => ${YEAR_SECONDS} - (i::float8 * ${YEAR_SECONDS} / ${ENTRIES})),
           (ARRAY['Device','Credential','AccessGroup','Change','AuditRule','User'])[1 + i % 6],
           md5((i % ${OBJECTS})::text)::uuid,
           'P' || (i % ${OBJECTS}) % 20 || '.obj-' || (i % ${OBJECTS}),
           md5('p' || (i % ${OBJECTS}) % 20)::uuid,
           (ARRAY['C','M','M','M','D'])[1 + (i / 7) % 5],
           1 + (i % 3 = 0)::int,
           'user' || (i::bigint * 7919) % ${USERS},
           CASE WHEN i % 10 = 0 THEN 'ticket INC-' || i ELSE NULL END,
           1 + i / ${OBJECTS},
           jsonb_build_object('description', jsonb_build_object('before', 'v' || i, 'after', 'v' || (i + 1))),
           NULL, NULL
    FROM generate_series(1, ${ENTRIES}) AS i`.execute(db);
  await sql`SELECT setval('audit_entry_seq', ${ENTRIES})`.execute(db);
  await sql`ANALYZE audit_entry`.execute(db);
}

export const benchmarks: Benchmark[] = [
  {
    name: 'auditing on PostgreSQL',
    async run(): Promise<BenchResult[]> {
      const empty = await createEmptyPostgresDatabase();
      const handle = await openDatabase({ kind: 'postgres', url: empty.url });
      const results: BenchResult[] = [];
      try {
        const db = handle.db;
        await migrate(db);
        const clock = new ManualClock(NOW);
        await bootstrapInstallation(db, clock, { adminPassword: 'bench-admin-password' });
        const admin = await findUserByName(db, 'admin');
        if (!admin) throw new Error('no admin');
        const actor: Actor = { userId: admin.id, username: admin.username };
        const objects = new ObjectStore(clock);
        objects.register(deviceKind, auditRuleKind);
        const recorder = new AuditRecorder();
        objects.addHook(recorder);
        const trail = new AuditTrailService({ db, clock, objects, users: { timeZoneOf } });

        // --- the cost of audit rules on a save -----------------------------------------------------
        // Two installations side by side, alike but for the rules: 100 enabled rules on devices in
        // one, none in the other. Saves alternate between them one by one, so whatever else loads
        // the machine weighs on both alike; no rule changes while measuring, so nothing recompiles.
        // Measured before the million entries are written, whose vacuum would run beside it.
        const bare = await installation(clock);
        const here = { db, objects, recorder, actor, deviceId: await firstDevice(db, objects, actor) };
        const hundred: number[] = [];
        const none: number[] = [];
        const hookHundred: number[] = [];
        const hookNone: number[] = [];
        // Two halves, the rules in one installation then in the other, so that whatever tells the
        // two databases apart weighs on both sides alike.
        for (const [withRules, without] of [
          [here, bare],
          [bare, here],
        ] as const) {
          await without.db.deleteFrom('audit_rule').where('builtin', '=', false).execute();
          await withRules.db.transaction().execute(async (trx) => {
            const global = await trx.selectFrom('partition').select('id').where('name', '=', 'GLOBAL').executeTakeFirstOrThrow();
            for (const rule of hundredRules(global.id, actor.username)) await auditRuleKind.insert(trx, rule);
          });
          const sides = [
            { side: withRules, saves: hundred, hooks: hookHundred },
            { side: without, saves: none, hooks: hookNone },
          ];
          for (let k = 0; k < 620; k++) {
            for (const { side, saves, hooks } of k % 2 === 0 ? sides : [...sides].reverse()) {
              const timing = await timedSave(side, k);
              if (k >= 20) {
                saves.push(timing.save);
                hooks.push(timing.hook);
              }
            }
          }
        }
        // The rules as the hook holds them compiled, for the measure of their evaluation below.
        const deviceRules = (await bare.recorder.rules(bare.db)).get('Device') ?? [];
        await bare.close();
        const mean = (times: number[]) => times.reduce((sum, time) => sum + time, 0) / times.length;
        results.push({ name: 'save, 100 enabled rules (mean)', ms: mean(hundred), baseline: { name: 'save, no rules (mean)', ms: mean(none) } });
        results.push({ name: 'save, 100 enabled rules (p50)', ms: percentile(hundred, 50), baseline: { name: 'save, no rules (p50)', ms: percentile(none, 50) } });
        results.push({ name: 'added to a save by 100 enabled rules (p50 difference)', ms: Math.max(0, percentile(hundred, 50) - percentile(none, 50)), targetMs: 0.2 });
        results.push({ name: 'audit hook in a save, 100 enabled rules (p50)', ms: percentile(hookHundred, 50), baseline: { name: 'audit hook, no rules (p50)', ms: percentile(hookNone, 50) } });
        results.push({ name: 'added to the audit hook by 100 enabled rules (p50 difference)', ms: Math.max(0, percentile(hookHundred, 50) - percentile(hookNone, 50)), targetMs: 0.2 });

        // The rules' own work, apart from the database: a write checked against the 100 compiled
        // rules, a different name each time (no answer kept from the name before).
        const evaluate = await timeAll(2000, async (k) => {
          auditDecision(deviceRules, { type: 'Device', name: `bench-web01-${k}`, partition: 'GLOBAL' }, 'M', () => null);
        });
        results.push({ name: `rule evaluation alone, ${deviceRules.length} rules (p50)`, ms: percentile(evaluate, 50), targetMs: 0.2 });

        await seed(db);

        // --- search ---------------------------------------------------------------------------
        const next = random(42);
        const pick = (n: number) => Math.floor(next() * n);
        const clockAt = (k: number) => {
          // A time of day on a day of the past year, as hh:mm on that date.
          const day = new Date(NOW.getTime() - (1 + (k % 300)) * 86_400_000).toISOString().slice(0, 10);
          const hour = String(pick(24)).padStart(2, '0');
          return { day, hhmm: `${hour}:${String(pick(60)).padStart(2, '0')}` };
        };
        const cases: Array<{ name: string; query: (k: number) => string }> = [
          { name: 't:date hh:mm (±15 min)', query: (k) => { const { day, hhmm } = clockAt(k); return `t:${day}T${hhmm}`; } },
          { name: 't:hh:mm-hh:mm today', query: () => `t:${String(pick(11)).padStart(2, '0')}:00-${String(11 + pick(1)).padStart(2, '0')}:30` },
          { name: 'u:user', query: () => `u:user${pick(USERS)}` },
          { name: 'k:prefix', query: () => `k:P${pick(20)}.obj-${pick(OBJECTS)}` },
          { name: 'u: k: a: combined', query: () => `u:user${pick(USERS)} k:P${pick(20)}.obj-1 a:M` },
          { name: 't:day u: o: combined', query: (k) => `t:${clockAt(k).day} u:user${pick(USERS)} o:Device` },
        ];
        for (const testCase of cases) {
          const queries = Array.from({ length: RUNS + 5 }, (_, k) => testCase.query(k));
          const service = await timeAll(RUNS, (k) => trail.search(actor, { q: queries[k] ?? '', limit: 50 }));
          // The same question, written by hand: the terms as plain SQL on the same table.
          const handWritten = await timeAll(RUNS, async (k) => {
            const parsed = parseEntrySearch(queries[k] ?? '', { now: NOW, timeZone: 'UTC' });
            if (!parsed.ok) throw new Error(parsed.error.message);
            const where: ReturnType<typeof sql>[] = [];
            for (const term of parsed.terms) {
              if (term.field === 'time') where.push(sql`time BETWEEN ${term.from} AND ${term.to}`);
              else if (term.field === 'user' && 'equals' in term) where.push(sql`username = ${term.equals}`);
              else if (term.field === 'businessKey') where.push(sql`business_key LIKE ${term.like}`);
              else if (term.field === 'action') where.push(sql`action = ${term.value}`);
              else if (term.field === 'objectType') where.push(sql`object_type = ${term.value}`);
            }
            await sql`SELECT * FROM audit_entry WHERE ${sql.join(where, sql` AND `)} ORDER BY seq DESC LIMIT 51`.execute(db);
          });
          results.push({
            name: `search ${testCase.name}, p50`,
            ms: percentile(service, 50),
            baseline: { name: 'hand-written SQL p50', ms: percentile(handWritten, 50) },
          });
          results.push({
            name: `search ${testCase.name}, p95`,
            ms: percentile(service, 95),
            baseline: { name: 'hand-written SQL p95', ms: percentile(handWritten, 95) },
            targetMs: 50,
          });
        }


        return results;
      } finally {
        await handle.close();
        await empty.drop();
      }
    },
  },
];

interface SaveSide {
  readonly db: Kysely<Database>;
  readonly objects: ObjectStore;
  readonly recorder: AuditRecorder;
  readonly actor: Actor;
  readonly deviceId: string;
}

/** A second installation on its own PostgreSQL database, with the audit hook and one device. */
async function installation(clock: ManualClock): Promise<SaveSide & { close(): Promise<void> }> {
  const empty = await createEmptyPostgresDatabase();
  const handle = await openDatabase({ kind: 'postgres', url: empty.url });
  await migrate(handle.db);
  await bootstrapInstallation(handle.db, clock, { adminPassword: 'bench-admin-password' });
  const admin = await findUserByName(handle.db, 'admin');
  if (!admin) throw new Error('no admin');
  const actor = { userId: admin.id, username: admin.username };
  const objects = new ObjectStore(clock);
  objects.register(deviceKind, auditRuleKind);
  const recorder = new AuditRecorder();
  objects.addHook(recorder);
  return {
    db: handle.db,
    objects,
    recorder,
    actor,
    deviceId: await firstDevice(handle.db, objects, actor),
    close: async () => {
      await handle.close();
      await empty.drop();
    },
  };
}

async function firstDevice(db: Kysely<Database>, objects: ObjectStore, actor: Actor): Promise<string> {
  const global = await db.selectFrom('partition').select('id').where('name', '=', 'GLOBAL').executeTakeFirstOrThrow();
  const id = randomUUID();
  const fields = { partitionId: global.id, applicationId: null, name: 'bench-web01', hostname: '192.0.2.1', port: 22, protocol: 'ssh' as const, description: '', tags: [], hostKey: null, hostKeyFingerprint: null };
  await db.transaction().execute((trx) => objects.create(trx, deviceKind, fields, actor, { id }));
  return id;
}

/** One save of the device, in its own transaction, and the part of it the audit hook took. */
async function timedSave(side: SaveSide, k: number): Promise<{ save: number; hook: number }> {
  let hook = 0;
  const start = performance.now();
  await side.db.transaction().execute(async (trx) => {
    const device = await findDevice(trx, side.deviceId);
    if (!device) throw new Error('no device');
    const written = await side.objects.update(trx, deviceKind, device, { description: `edit ${k}` }, side.actor);
    // The hook once more, timed alone, on the same write inside the same transaction.
    const hookStart = performance.now();
    await side.recorder.afterWrite(trx, { kind: deviceKind, action: 'M', businessKey: 'GLOBAL.bench-web01', before: device, after: written, actor: side.actor, time: NOW });
    hook = performance.now() - hookStart;
  });
  return { save: performance.now() - start - hook, hook };
}

/** 100 enabled rules on devices, none matching the device saved: the worst case, every rule is tried. */
function hundredRules(partitionId: string, by: string): AuditRule[] {
  const now = NOW;
  return Array.from({ length: 100 }, (_, k): AuditRule => {
    const kind = k % 4;
    return {
      id: randomUUID(),
      partitionId,
      name: `bench-rule-${k}`,
      applicationId: null,
      description: '',
      objectType: 'Device',
      level: k % 2 === 0 ? 1 : 2,
      namePattern: kind === 0 ? `db-${k}-*` : kind === 1 ? `(app|db)-${k}-[0-9]+` : kind === 2 ? `*-${k}-?x` : `cache${k}`,
      nameMatch: kind === 0 ? 'glob' : kind === 1 ? 'regex_ignore_case' : kind === 2 ? 'glob_ignore_case' : 'glob',
      applicationRule: kind === 3 ? 'any_application' : 'all_objects',
      matchApplicationId: null,
      partitionPattern: k % 5 === 0 ? 'PLANT-.*' : '*',
      partitionMatch: k % 5 === 0 ? 'regex' : 'glob',
      enabled: true,
      builtin: false,
      security: { view: null, edit: null, delete: null },
      version: 1,
      createdAt: now,
      createdBy: by,
      updatedAt: now,
      updatedBy: by,
    };
  });
}

