/**
 * Setup file: passwords are hashed at a low scrypt cost in tests (1 MiB and a few milliseconds
 * instead of 32 MiB and a tenth of a second), as the suite signs in thousands of times. The tests
 * of hashing itself, the flood of password checks, and every test that runs `changegate` as a
 * process keep the production cost (`withProductionPasswordCost`).
 */
import { afterAll, beforeAll } from 'vitest';
import { setPasswordCostForTests } from '../src/identity/password.ts';

export const TEST_PASSWORD_COST = 10;

setPasswordCostForTests(TEST_PASSWORD_COST);

/** In the describe block that calls it (before its other hooks), passwords are hashed at the production cost. */
export function withProductionPasswordCost(): void {
  beforeAll(() => setPasswordCostForTests(undefined));
  afterAll(() => setPasswordCostForTests(TEST_PASSWORD_COST));
}
