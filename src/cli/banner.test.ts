import { describe, expect, it } from 'vitest';
import { loadConfig } from '../platform/config.ts';
import { describeDatabase, firstStartNotes, localUrl, serveBanner } from './banner.ts';

const config = loadConfig({ env: { CHANGEGATE_DATA_DIR: '/srv/changegate' } });

describe('the serve banner', () => {
  it('gives the address a local browser reaches', () => {
    expect(localUrl('0.0.0.0', 8080)).toBe('http://localhost:8080');
    expect(localUrl('::', 8080)).toBe('http://localhost:8080');
    expect(localUrl('127.0.0.1', 9000)).toBe('http://127.0.0.1:9000');
    expect(localUrl('::1', 9000)).toBe('http://[::1]:9000');
  });

  it('names the database without the password a PostgreSQL URL holds', () => {
    expect(describeDatabase(config)).toBe('embedded PGlite in /srv/changegate/db');
    const described = describeDatabase({ ...config, databaseUrl: 'postgres://cg:s3cret@db.internal:5432/changegate?password=other' });
    expect(described).toBe('PostgreSQL db.internal:5432/changegate');
  });

  it('tells the generated admin password and a new master key once, and says nothing on later starts', () => {
    const first = firstStartNotes({ config, bootstrap: { adminCreated: true, generatedAdminPassword: 'pw-123' }, masterKeyCreated: true });
    expect(first).toEqual([
      'Sign in as "admin" with password: pw-123',
      expect.stringContaining('shown only once'),
      expect.stringMatching(/^Created the master key \/srv\/changegate\/master\.key: back it up/),
    ]);
    const configured = firstStartNotes({ config, bootstrap: { adminCreated: true }, masterKeyCreated: false });
    expect(configured).toEqual(['Created the administrator "admin" with the configured password (CHANGEGATE_ADMIN_PASSWORD).']);
    expect(firstStartNotes({ config, bootstrap: { adminCreated: false }, masterKeyCreated: false })).toEqual([]);
  });

  it('lines up the facts with the port actually bound', () => {
    const lines = serveBanner({ version: '1.2.3', config: { ...config, httpPort: 0 }, port: 41234, notes: ['a note'] });
    expect(lines).toEqual([
      'Changegate 1.2.3 is running.',
      '  URL:             http://localhost:41234',
      '  API docs:        http://localhost:41234/api/docs',
      '  Database:        embedded PGlite in /srv/changegate/db',
      '  Data directory:  /srv/changegate',
      '',
      'a note',
      '',
      'Press Ctrl+C to stop.',
    ]);
  });

  it("prints the log's verifier key, and tells of a new signing key file once", () => {
    const lines = serveBanner({ version: '1.2.3', config, port: 8080, notes: [], logKey: 'localhost:8080+0badc0de+AQID' });
    expect(lines).toContain('  Log key:         localhost:8080+0badc0de+AQID');
    const notes = firstStartNotes({ config, bootstrap: { adminCreated: false }, masterKeyCreated: false, logSigningKey: { created: true, file: '/srv/changegate/log-signing.key' } });
    expect(notes).toEqual([expect.stringMatching(/^Created the event log's signing key \/srv\/changegate\/log-signing\.key: back it up/)]);
    expect(firstStartNotes({ config, bootstrap: { adminCreated: false }, masterKeyCreated: false, logSigningKey: { created: false, file: '/srv/changegate/log-signing.key' } })).toEqual([]);
  });
});
