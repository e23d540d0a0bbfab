import { writeFileSync } from 'node:fs';
import { it } from 'vitest';
import { startTestChangegate } from './harness.ts';
it('dumps', async () => {
  const t = await startTestChangegate('postgres');
  writeFileSync(process.env.OUT as string, JSON.stringify(t.cg.app.swagger(), null, 1));
  await t.close();
});
