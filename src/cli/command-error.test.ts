import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../platform/config.ts';
import { errors } from '../platform/errors.ts';
import { CommandError, CommandFailed, reportError } from './command-error.ts';

function report(error: unknown): { code: number; text: string } {
  const stderr = new PassThrough();
  const code = reportError(error, stderr);
  return { code, text: String(stderr.read() ?? '') };
}

describe('reportError', () => {
  it('prints a bad configuration as it is, naming each setting, with exit code 2', () => {
    const { code, text } = report(new ConfigError(['CHANGEGATE_HTTP_PORT = "abc" is not valid: expected a port number from 0 to 65535.']));
    expect(code).toBe(2);
    expect(text).toBe('Changegate cannot start: the configuration is not valid.\n  - CHANGEGATE_HTTP_PORT = "abc" is not valid: expected a port number from 0 to 65535.\n');
  });

  it('prints an application error and each field problem on its own line, with exit code 1', () => {
    const error = errors.validation('The user cannot be created: fix the fields listed.', [
      { path: '/email', message: 'is not an e-mail address' },
      { path: '/timeZone', message: '"Mars" is not an IANA time zone' },
    ]);
    expect(report(error)).toEqual({
      code: 1,
      text: 'error: The user cannot be created: fix the fields listed.\n  /email: is not an e-mail address\n  /timeZone: "Mars" is not an IANA time zone\n',
    });
    expect(report(errors.forbidden('You need the User.Admin privilege system-wide.'))).toEqual({
      code: 1,
      text: 'error: You need the User.Admin privilege system-wide.\n',
    });
  });

  it('keeps the exit code of a command error, and prints nothing for a failure the command already reported', () => {
    expect(report(new CommandError('Cancelled: nothing was changed.', 130))).toEqual({ code: 130, text: 'error: Cancelled: nothing was changed.\n' });
    expect(report(new CommandFailed(1))).toEqual({ code: 1, text: '' });
  });

  it('prints the message of anything else, never a stack trace or [object Object]', () => {
    expect(report(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toEqual({ code: 1, text: 'error: connect ECONNREFUSED 127.0.0.1:5432\n' });
    expect(report({ message: 'could not open file' })).toEqual({ code: 1, text: 'error: could not open file\n' });
  });
});
