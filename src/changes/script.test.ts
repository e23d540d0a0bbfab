import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import {
  commandMatchesStep,
  formatScriptError,
  matchesPattern,
  normalizeCommand,
  outputMeetsExpectation,
  parseScript,
  type Script,
  type ScriptError,
} from './script.ts';

function parsed(text: string): Script {
  const result = parseScript(text);
  if (!result.ok) throw new Error(result.errors.map(formatScriptError).join('\n'));
  return result.script;
}

function errorsOf(text: string): ScriptError[] {
  const result = parseScript(text);
  if (result.ok) throw new Error('expected the script to be rejected');
  return result.errors;
}

function firstStep(text: string) {
  const step = parsed(text).steps[0];
  if (!step) throw new Error('no step');
  return step;
}

describe('parseScript', () => {
  it('reads one command per line, skipping comments and blank lines', () => {
    const script = parsed('#!/bin/sh\n# stop the service first\n\nsystemctl stop nginx\n   \n  rm -f /tmp/x  \n');
    expect(script.steps).toEqual([
      { index: 0, line: 4, endLine: 4, text: 'systemctl stop nginx', optional: false, placeholders: [] },
      { index: 1, line: 6, endLine: 6, text: 'rm -f /tmp/x', optional: false, placeholders: [] },
    ]);
  });

  it('joins continued lines with one space and keeps the first and last line', () => {
    const script = parsed('apt-get install -y \\\n    nginx \\\n    certbot\nuptime\r\n');
    expect(script.steps.map((s) => [s.text, s.line, s.endLine])).toEqual([
      ['apt-get install -y nginx certbot', 1, 3],
      ['uptime', 4, 4],
    ]);
  });

  it('does not continue a line that ends in an escaped backslash', () => {
    expect(parsed('echo a\\\\\necho b').steps.map((s) => s.text)).toEqual(['echo a\\\\', 'echo b']);
  });

  it('takes a continuation line verbatim, even one starting with #', () => {
    expect(parsed('grep -v \\\n#comment file').steps.map((s) => s.text)).toEqual(['grep -v #comment file']);
  });

  it('lists placeholder names once each, in order', () => {
    expect(firstStep('cp {{file}} {{ backup-dir }}/{{file}}.{{n_2}}').placeholders).toEqual(['file', 'backup-dir', 'n_2']);
  });

  it('applies directives to the next command, across blank lines and plain comments', () => {
    const script = parsed('# optional\n# expect: active \\(running\\)\n\n# check it\nsystemctl status nginx\nuptime');
    expect(script.steps[0]).toMatchObject({ optional: true, expect: { pattern: 'active \\(running\\)', line: 2 } });
    expect(script.steps[1]).toMatchObject({ optional: false });
    expect(script.steps[1]?.expect).toBeUndefined();
  });

  it('accepts directives in any letter case and without a space after #', () => {
    const script = parsed('#optional\n#EXPECT:ok\nls\n  #  Optional  \n# Expect :  a b  \npwd');
    expect(script.steps.map((s) => [s.optional, s.expect?.pattern])).toEqual([
      [true, 'ok'],
      [true, 'a b'],
    ]);
  });

  it.each([
    ['ls {{name', 1, 4, '"{{" is not closed'],
    ['ls\necho {{}}', 2, 6, 'the placeholder has no name'],
    ['ls {{a}} {{a b}}', 1, 10, 'placeholder name "a b" may hold only letters, digits'],
    ['ls {{a.b}}', 1, 4, 'placeholder name "a.b"'],
    ['# expect:\nls', 1, 10, '"# expect:" needs a regular expression'],
    ['# expect:   \nls', 1, 13, '"# expect:" needs a regular expression'],
    ['  # expect:  a(b\nls', 1, 14, 'the regular expression is invalid: missing closing ): `a(b`'],
    ['# expect: (?=lookahead)\nls', 1, 11, 'invalid or unsupported Perl syntax'],
    ['# expect running\nls', 1, 1, 'with a colon after "expect"'],
    ['ls\n# optional', 2, 1, '"# optional" applies to the next command, but none follows'],
    ['ls\n\n    # expect: x\n# a note', 3, 5, '"# expect:" applies to the next command, but none follows'],
    ['echo a \\', 1, 8, 'the line ends with "\\" but the script ends here'],
    ['echo a \\\n\necho b', 1, 8, 'line 2 is blank'],
    ['# optinal\nls', 1, 3, '"optinal" is not a directive'],
    ['# Expected: ok\nls', 1, 3, '"Expected" is not a directive'],
    ['# options\nls', 1, 3, '"options" is not a directive'],
    ['# optional: only on RHEL\nls', 1, 1, '"# optional" stands alone on its line'],
    ['# expect: a\n# expect: b\nls', 2, 1, 'already has "# expect:" at line 1'],
    ['', 1, 1, 'the script must hold at least one command'],
    ['# only comments\n\n', 1, 1, 'the script must hold at least one command'],
  ])('rejects %j at line %i, column %i', (text, line, column, message) => {
    const errors = errorsOf(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line, column });
    expect(errors[0]?.message).toContain(message);
  });

  it('keeps plain comments that merely mention a directive word', () => {
    expect(parsed('# expectations are checked below\n# the optional part\nls').steps).toHaveLength(1);
  });

  it('reports every error, in line order', () => {
    const errors = errorsOf('ls {{\n# expect: [\necho ok\nrm \\');
    expect(errors.map(formatScriptError)).toEqual([
      'line 1, column 4: "{{" is not closed: write a placeholder as {{name}}',
      'line 2, column 11: the regular expression is invalid: missing closing ]: `[`',
      'line 4, column 4: the line ends with "\\" but the script ends here: remove the "\\" or add the rest of the command',
    ]);
  });

  it('gives the column of a placeholder on a continuation line', () => {
    expect(errorsOf('cp a \\\n  b {{x y}}')[0]).toMatchObject({ line: 2, column: 5 });
  });
});

describe('normalizeCommand', () => {
  it.each([
    ['  ls   -l\t/etc  ', 'ls -l /etc'],
    ['echo "a   b"   c', 'echo "a   b" c'],
    ["echo 'a \t b'  \"c  d\"", "echo 'a \t b' \"c  d\""],
    ['echo "a \\"  b"  c', 'echo "a \\"  b" c'],
    ["echo 'a\\'  b'  c", "echo 'a\\' b'  c"],
    ['touch a\\  b', 'touch a\\  b'],
    ['echo "unclosed   quote  ', 'echo "unclosed   quote  '],
    ['   ', ''],
  ])('%j → %j', (text, normalized) => {
    expect(normalizeCommand(text)).toBe(normalized);
  });

  it('is idempotent', () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('a', ' ', '\t', '"', "'", '\\') }), (text) => {
      const once = normalizeCommand(text);
      expect(normalizeCommand(once)).toBe(once);
    }));
  });
});

describe('commandMatchesStep', () => {
  it.each([
    ['systemctl restart nginx', 'systemctl   restart nginx ', true],
    ['systemctl restart nginx', 'systemctl restart nginx2', false],
    ['systemctl restart {{service}}', 'systemctl restart php-fpm', true],
    ['systemctl restart {{service}}', 'systemctl restart ', false],
    ['systemctl restart {{service}}', 'systemctl restart  a  b', true],
    ['cp {{a}} {{b}}', 'cp x y', true],
    ['cp {{a}} {{b}}', 'cp x', false],
    ['cp {{a}}{{b}}', 'cp xy', true],
    ['cp {{a}}{{b}}', 'cp x', false],
    ['{{anything}}', 'rm -rf /', true],
    ['echo {{x}}.bak', 'echo a.bak.bak', true],
    ['grep -E "a.*b" {{file}}', 'grep -E "aXXb" f', false],
    ['grep -E "a.*b" {{file}}', 'grep -E "a.*b" f', true],
    ['echo "a  b"', 'echo "a b"', false],
    ['echo "a  b"', 'echo   "a  b"', true],
    ['ls $(pwd) [x] ^y$', 'ls $(pwd) [x] ^y$', true],
  ])('step %j, command %j → %s', (text, command, matches) => {
    expect(commandMatchesStep(firstStep(text), command)).toBe(matches);
  });

  it('behaves as the anchored regex with the literal parts quoted', () => {
    const unit = fc.constantFrom('a', 'b', ' ', '.', '*');
    fc.assert(
      fc.property(fc.array(fc.string({ unit, maxLength: 3 }), { minLength: 1, maxLength: 4 }), fc.string({ unit, maxLength: 10 }), (segments, text) => {
        const regex = RE2JS.compile(`^${segments.map((s) => RE2JS.quote(s)).join('(.+)')}$`, RE2JS.DOTALL);
        expect(matchesPattern({ segments }, text)).toBe(regex.test(text));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('outputMeetsExpectation', () => {
  const step = firstStep('# expect: ^\\s*Active: active \\(running\\)$\nsystemctl status nginx');

  it('finds the regex anywhere in the output, with ^ and $ at line ends and CRLF as LF', () => {
    expect(outputMeetsExpectation(step, '● nginx.service\r\n   Active: active (running) since Mon\r\n')).toBe(false);
    expect(outputMeetsExpectation(step, '● nginx.service\r\n   Active: active (running)\r\n   Docs: man:nginx(8)\r\n')).toBe(true);
  });

  it('fails without output and passes a step without expectation', () => {
    expect(outputMeetsExpectation(step, undefined)).toBe(false);
    expect(outputMeetsExpectation(firstStep('uptime'), undefined)).toBe(true);
  });
});
