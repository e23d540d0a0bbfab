import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';

describe.each(DATABASE_KINDS)('checking a change script while it is written, on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind);
  });
  afterAll(() => t.close());

  it('gives a planner the steps of a good script, and every error of a bad one at its line and column, saving nothing', async () => {
    const planner = await buildUser(t, { grants: [{ privilege: 'Change.Create' }] });
    const good = await planner.client.post('/changes/script/check', { script: '# optional\nsystemctl stop nginx\n\nuptime \\\n  --pretty\n' });
    expect(good.status).toBe(200);
    expect(good.body).toEqual({ steps: 2, errors: [] });

    const bad = await planner.client.post('/changes/script/check', { script: 'echo {{ok}}\necho {{bad name}}\n# expect: (\nls' });
    expect(bad.status).toBe(200);
    expect(bad.body.steps).toBe(0);
    expect(bad.body.errors.map((error: { line: number; column: number }) => [error.line, error.column])).toEqual([
      [2, 6],
      [3, 11],
    ]);
    expect(bad.body.errors[0].message).toMatch(/placeholder/);
    expect((await t.admin.get('/changes')).body).toEqual([]);
  });

  it('is for planners: a user who may neither register nor edit a change is refused', async () => {
    const viewer = await buildUser(t, { grants: [{ privilege: 'Change.View' }] });
    const refused = await viewer.client.post('/changes/script/check', { script: 'uptime' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    const editor = await buildUser(t, { grants: [{ privilege: 'Change.Edit' }] });
    expect((await editor.client.post('/changes/script/check', { script: 'uptime' })).body).toEqual({ steps: 1, errors: [] });
  });

  it('refuses a script beyond the size a change may hold, and a body with other fields', async () => {
    const planner = await buildUser(t, { grants: [{ privilege: 'Change.Create' }] });
    const huge = await planner.client.post('/changes/script/check', { script: 'x'.repeat(1_000_001) });
    expect([huge.status, huge.body.error.code]).toEqual([400, 'validation_failed']);
    const extra = await planner.client.post('/changes/script/check', { script: 'uptime', save: true });
    expect([extra.status, extra.body.error.code]).toEqual([400, 'validation_failed']);
  });
});
