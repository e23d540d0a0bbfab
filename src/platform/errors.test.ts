import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError, ERROR_CATALOGUE, errors, isAppError, isErrorCode, type ErrorKind } from './errors.ts';

const PAGE = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

interface DocumentedCode {
  readonly code: string;
  /** Every status its Status cell names ("409 or 403"). */
  readonly statuses: readonly number[];
  readonly action: string;
}

/** The rows of the page's tables: `| \`code\` | status | when | what to do |`. */
function documentedCodes(markdown: string): DocumentedCode[] {
  const rows: DocumentedCode[] = [];
  for (const line of markdown.split('\n')) {
    const cells = /^\|\s*`([a-z_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!cells) continue;
    const [status = '', , action = ''] = (cells[2] ?? '').split('|').map((cell) => cell.trim());
    rows.push({ code: cells[1] ?? '', statuses: (status.match(/\b\d{3}\b/g) ?? []).map(Number), action });
  }
  return rows;
}

/** Where the page and a catalogue disagree, one line each; none when they agree. */
function disagreements(markdown: string, catalogue: Readonly<Record<string, ErrorKind>>): string[] {
  const documented = documentedCodes(markdown);
  const problems: string[] = [];
  for (const [code, kind] of Object.entries(catalogue)) {
    const rows = documented.filter((row) => row.code === code);
    if (rows.length === 0) {
      problems.push(`${code} is not documented`);
      continue;
    }
    if (rows.length > 1) problems.push(`${code} is documented ${rows.length} times`);
    const row = rows[0] as DocumentedCode;
    const statuses = [kind.status, ...(kind.alsoStatus === undefined ? [] : [kind.alsoStatus])];
    if (row.statuses.join(',') !== statuses.join(',')) problems.push(`${code} is documented with status ${row.statuses.join(' or ')}, not ${statuses.join(' or ')}`);
    if (row.action !== kind.action) problems.push(`${code} is documented with another "What to do" than the catalogue's`);
  }
  for (const row of documented) if (!Object.hasOwn(catalogue, row.code)) problems.push(`${row.code} is documented but no longer exists`);
  return problems;
}

describe('the error catalogue', () => {
  it('is documented in docs/errors.md, code by code, with the same status and what to do', () => {
    expect(documentedCodes(PAGE).length).toBeGreaterThan(0);
    expect(disagreements(PAGE, ERROR_CATALOGUE)).toEqual([]);
  });

  it('finds the page wrong when a code is missing, no longer exists, or has another status', () => {
    const added = { ...ERROR_CATALOGUE, lease_expired: { status: 409, action: 'Take the lease again.' } };
    expect(disagreements(PAGE, added)).toEqual(['lease_expired is not documented']);

    const { session_elsewhere: _removed, ...withoutOne } = ERROR_CATALOGUE;
    expect(disagreements(PAGE, withoutOne)).toEqual(['session_elsewhere is documented but no longer exists']);

    const restatused = PAGE.replace('| `session_ended` | 409 |', '| `session_ended` | 410 |');
    expect(restatused).not.toBe(PAGE);
    expect(disagreements(restatused, ERROR_CATALOGUE)).toEqual(['session_ended is documented with status 410, not 409']);

    const withoutAlso = PAGE.replace('| `change_cancelled` | 409 or 403 |', '| `change_cancelled` | 409 |');
    expect(withoutAlso).not.toBe(PAGE);
    expect(disagreements(withoutAlso, ERROR_CATALOGUE)).toEqual(['change_cancelled is documented with status 409, not 409 or 403']);
  });

  it("answers each error with its code's status from the catalogue", () => {
    expect(errors.sessionEnded(7, 'closed').status).toBe(409);
    expect(errors.totpRequired().status).toBe(401);
    expect(errors.evidenceTooLarge('CHG-1', 10, 5).status).toBe(413);
    // The documented exceptions: a refusal to run a cancelled change, and the framework's own 4xx.
    expect(errors.changeCancelled('CHG-1', new Date(0)).status).toBe(409);
    expect(errors.changeCancelledForRequest('CHG-1', 'web01', null).status).toBe(403);
    expect(errors.badRequest('The URL is not valid.', 414).status).toBe(414);
  });

  it('lets a caller branch on codes, not on strings', () => {
    const error: unknown = errors.accountLocked(new Date(0));
    expect(isAppError(error)).toBe(true);
    expect(isAppError(error, 'account_locked')).toBe(true);
    expect(isAppError(error, 'totp_required', 'account_locked')).toBe(true);
    expect(isAppError(error, 'totp_required')).toBe(false);
    expect(isAppError(new Error('account_locked'), 'account_locked')).toBe(false);
    expect(isAppError({ code: 'account_locked', status: 423, message: '' }, 'account_locked')).toBe(false);
    if (isAppError(error, 'account_locked')) expect(error.details).toEqual({ lockedUntil: '1970-01-01T00:00:00.000Z' });
  });

  it('tells codes it knows from codes a newer server may send', () => {
    expect(isErrorCode('window_closed')).toBe(true);
    expect(isErrorCode('lease_expired')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
    expect(new AppError('window_closed', 'read back', undefined, 403).status).toBe(403);
  });
});
