import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_TYPES_FILE, renderApiTypes } from '../../scripts/api-types.ts';
import { startTestChangegate, type TestChangegate } from '../../test/harness.ts';

describe("the web console's typed API client", () => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate('pglite');
  });
  afterAll(() => t.close());

  it('is generated from the API as it is now (after changing a route, run `npm run api:types`)', async () => {
    const expected = await renderApiTypes(t.cg.app.swagger());
    expect(expected).toContain('"/api/v1/changes"');
    const checkedIn = readFileSync(API_TYPES_FILE, 'utf8');
    expect(checkedIn === expected, 'web/src/api/schema.d.ts is out of date: run `npm run api:types`').toBe(true);
  });
});
