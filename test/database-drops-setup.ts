/** Setup file: each test file waits at its end for the databases it dropped (test/database-drops.ts). */
import { afterAll } from 'vitest';
import { dropsFinished } from './database-drops.ts';

afterAll(() => dropsFinished());
