import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CONSOLE_DIR } from '../../src/platform/console.ts';

/** The console's first load: the scripts its page loads before any area is opened. */
const FIRST_LOAD_BUDGET_BYTES = 350 * 1024;

describe('the web console’s first load', () => {
  it('is at most 350 KB of gzipped JavaScript, and each area is a chunk of its own loaded later', () => {
    const page = readFileSync(path.join(CONSOLE_DIR, 'index.html'), 'utf8');
    const scripts = [...page.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\/(assets\/[^"]+\.js)"/g)].map((match) => match[1] as string);
    expect(scripts.length).toBeGreaterThan(1);
    const gzipped = scripts.reduce((sum, script) => sum + gzipSync(readFileSync(path.join(CONSOLE_DIR, script)), { level: 9 }).length, 0);
    expect(gzipped).toBeGreaterThan(50 * 1024);
    expect(gzipped).toBeLessThanOrEqual(FIRST_LOAD_BUDGET_BYTES);
    // The pages are not in the first load.
    for (const area of ['ChangesPage', 'ChangePage', 'RequestsPage', 'RequestPage', 'AuditedSessionPage', 'SessionVideo', 'XtermView']) {
      expect(scripts.some((script) => script.includes(area)), area).toBe(false);
    }
  });
});
