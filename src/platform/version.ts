import { readFileSync } from 'node:fs';

/** Changegate's version, as package.json gives it (dist/ sits beside src/, so the path holds for both). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
