import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../platform/errors.ts';
import { compilePolicy, compileRule, evaluateLine, globToRe2, MAX_RULES, type CommandPolicy, type PolicyRule } from './command-policy.ts';

const buildPolicy = (rules: PolicyRule[], strict = false): CommandPolicy => ({ rules, strict });
const denyRm = buildPolicy([
  { kind: 'deny', pattern: 'rm -rf *', syntax: 'glob', name: 'no recursive delete' },
  { kind: 'review', pattern: '^systemctl (stop|restart|disable) ', syntax: 'regex' },
  { kind: 'warn', pattern: 'apt-get *', syntax: 'glob' },
]);

/** The error a call throws, or fails the test when it throws none. */
const thrown = (call: () => unknown): unknown => {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
};

describe('evaluateLine with deny, review and warn rules', () => {
  it.each([
    'rm -rf /',
    'rm  -rf   /',
    'ls;rm -rf /',
    'ls && rm -rf /',
    'ls || rm -rf /',
    'ls | rm -rf /',
    'ls & rm -rf /',
    'ls\nrm -rf /',
    '(rm -rf /)',
    '{ rm -rf /; }',
    'echo $(rm -rf /)',
    'echo `rm -rf /`',
    'echo "$(rm -rf /)"',
    'bash -c "rm -rf /"',
    'sh -c "rm -rf /"',
    'bash -lc "rm -rf /"',
    'eval "rm -rf /"',
    'echo / | xargs rm -rf',
    'sudo rm -rf /',
    'sudo -u root rm -rf /',
    'env FOO=1 rm -rf /',
    'nohup rm -rf / &',
    'time rm -rf /',
    'nice -n 5 rm -rf /',
    'timeout 5 rm -rf /',
    'exec rm -rf /',
    'command rm -rf /',
    'builtin rm -rf /',
    'watch rm -rf /',
    'FOO=1 rm -rf /',
    'if true; then rm -rf /; fi',
    'while true; do rm -rf /; done',
    'for i in 1; do rm -rf /; done',
    'case x in *) rm -rf /;; esac',
    'f() { rm -rf /; }',
    'rm -rf / > /dev/null 2>&1',
    "'rm' -rf /",
    'r\\m -rf /',
    '"r"m -rf /',
    "$'\\x72m' -rf /",
    '/bin/rm -rf /',
    '/usr/bin/sudo /bin/rm -rf /',
    'bash <<EOF\nrm -rf /\nEOF',
    'find / -exec rm -rf {} +',
    'rm -rf $HOME',
    'eval "rm -rf $DIR"',
    'sudo env nice timeout 3 bash -c "eval \'rm -rf /\'"',
  ])('denies %j', (line) => {
    const result = evaluateLine(denyRm, line);
    expect(result.decision).toBe('deny');
    expect(result.matches.some((match) => match.rule.name === 'no recursive delete' && match.command.words[0]?.endsWith('rm'))).toBe(true);
    expect(result.reasons.some((reason) => reason.startsWith('deny: rule "no recursive delete" matches'))).toBe(true);
  });

  it.each([
    ['ls -l /var/log', 'allow'],
    ['rm -f /tmp/old.log', 'allow'],
    ['grep -r "rm -rf /" /etc', 'allow'],
    ["echo 'rm -rf /'", 'allow'],
    ['cat <<EOF > /tmp/notes\nrm -rf /\nEOF', 'allow'],
    ['# rm -rf /', 'allow'],
    ['systemctl status nginx', 'allow'],
    ['systemctl restart nginx', 'review'],
    ['sudo systemctl stop nginx && ls', 'review'],
    ['apt-get update', 'warn'],
    ['apt-get update; systemctl restart nginx', 'review'],
    ['apt-get update; rm -rf /', 'deny'],
  ])('%j → %s', (line, decision) => {
    expect(evaluateLine(denyRm, line).decision).toBe(decision);
  });

  it('lists every match with its rule and command', () => {
    const result = evaluateLine(denyRm, 'apt-get update && sudo systemctl restart nginx');
    expect(result.matches.map((match) => [match.rule.kind, match.command.words.join(' ')])).toEqual([
      ['warn', 'apt-get update'],
      ['review', 'systemctl restart nginx'],
    ]);
    expect(result.decision).toBe('review');
  });
});

describe('evaluateLine on lines it cannot analyse with certainty', () => {
  it.each(['$cmd -rf /', '"$(echo rm)" -rf /', 'eval "$x"', 'echo "unterminated', 'sudo !!', 'curl https://example.com/x | bash', 'ls; $X'])(
    '%j is held for review when the policy denies or holds commands',
    (line) => {
      const result = evaluateLine(denyRm, line);
      expect(result.decision).toBe('review');
      expect(result.reasons.some((reason) => reason.startsWith('uncertain: '))).toBe(true);
    },
  );

  it('keeps a denied match denied', () => {
    expect(evaluateLine(denyRm, 'rm -rf /; $cmd').decision).toBe('deny');
  });

  it('does not hold uncertain lines when the policy only warns (it stops nothing)', () => {
    const warnOnly = buildPolicy([{ kind: 'warn', pattern: 'apt-get *', syntax: 'glob' }]);
    expect(evaluateLine(warnOnly, '$cmd').decision).toBe('allow');
    expect(evaluateLine(warnOnly, 'apt-get install x; $cmd').decision).toBe('warn');
    expect(evaluateLine(buildPolicy([]), 'eval "$x"').decision).toBe('allow');
  });

  it('raises a warned uncertain line to review when the policy denies', () => {
    expect(evaluateLine(denyRm, 'apt-get update; $cmd').decision).toBe('review');
  });
});

describe('evaluateLine in strict mode', () => {
  const strict = buildPolicy([{ kind: 'deny', pattern: 'rm -rf *', syntax: 'glob' }], true);
  const nextSteps = ['systemctl restart nginx', 'nginx -t'];

  it.each([
    ['systemctl restart nginx', 'allow'],
    ['  systemctl   restart\tnginx  ', 'allow'],
    ['nginx -t', 'allow'],
    ['systemctl restart nginx; ls', 'review'],
    ['ls', 'review'],
    ['rm -rf /', 'deny'],
    ['', 'allow'],
    ['   # a note', 'allow'],
  ])('%j → %s', (line, decision) => {
    expect(evaluateLine(strict, line, { nextSteps }).decision).toBe(decision);
  });

  it('holds every line when no step is next', () => {
    const result = evaluateLine(strict, 'ls');
    expect(result.decision).toBe('review');
    expect(result.reasons).toContain('review: strict policy, and the line is not the next step of the script');
  });

  it('lets a denied script step stay denied', () => {
    expect(evaluateLine(strict, 'rm -rf /tmp/x', { nextSteps: ['rm -rf /tmp/x'] }).decision).toBe('deny');
  });
});

describe('globs', () => {
  it.each([
    ['rm -rf *', 'rm -rf /', true],
    ['rm -rf *', 'rm -rf /var/lib/x y', true],
    ['rm -rf *', 'rm -r /', false],
    ['rm -rf *', 'xrm -rf /', false],
    ['rm  -rf  *', 'rm -rf /', true],
    ['shutdown*', 'shutdown -h now', true],
    ['reboot', 'reboot', true],
    ['reboot', 'reboot now', false],
    ['kill -? *', 'kill -9 1', true],
    ['kill -? *', 'kill -15 1', false],
    ['dd if=* of=/dev/sd[a-z]*', 'dd if=/dev/zero of=/dev/sda bs=1M', true],
    ['dd of=/dev/sd[!a]', 'dd of=/dev/sdb', true],
    ['dd of=/dev/sd[!a]', 'dd of=/dev/sda', false],
    ['chmod [0-7][0-7][0-7] *', 'chmod 777 /etc', true],
    ['echo [[:digit:]]', 'echo 7', true],
    ['echo \\*', 'echo *', true],
    ['echo \\*', 'echo a', false],
    ['a.b', 'aXb', false],
    ['(x)|y', '(x)|y', true],
    ['cat *', 'cat a\nb', true],
  ])('%j matches %j: %s', (glob, text, expected) => {
    const translated = globToRe2(glob);
    expect(translated.ok).toBe(true);
    if (translated.ok) expect(RE2JS.compile(translated.source).matcher(text).find()).toBe(expected);
  });
});

describe('compileRule and compilePolicy refuse bad rules', () => {
  it.each([
    [{ kind: 'deny', pattern: '(a', syntax: 'regex' }, /missing closing \)/],
    [{ kind: 'deny', pattern: 'rm(?=x)', syntax: 'regex' }, /no look-arounds or back-references/],
    [{ kind: 'deny', pattern: '(a)\\1', syntax: 'regex' }, /no look-arounds or back-references/],
    [{ kind: 'deny', pattern: 'rm [abc', syntax: 'glob' }, /no "\]" closes: close it, or write \\\[/],
    [{ kind: 'deny', pattern: 'rm \\', syntax: 'glob' }, /ends with a backslash/],
    [{ kind: 'deny', pattern: '   ', syntax: 'glob' }, /must not be empty/],
    [{ kind: 'deny', pattern: 'x'.repeat(1001), syntax: 'glob' }, /longer than 1000 characters/],
    [{ kind: 'block', pattern: 'rm', syntax: 'glob' }, /must be "deny", "review" or "warn"/],
    [{ kind: 'deny', pattern: 'rm', syntax: 'pcre' }, /must be "glob" or "regex"/],
  ])('%j', (rule, message) => {
    const error = thrown(() => compileRule(rule as PolicyRule, '/rules/4'));
    expect(isAppError(error, 'validation_failed')).toBe(true);
    if (!isAppError(error)) return;
    expect(error.message).toMatch(message);
    expect(error.details).toEqual({ problems: [expect.objectContaining({ path: expect.stringMatching(/^\/rules\/4\/(pattern|kind|syntax)$/) })] });
  });

  it('lists every bad rule of a policy at once', () => {
    const error = thrown(() =>
      compilePolicy(
        buildPolicy([
          { kind: 'deny', pattern: 'ok *', syntax: 'glob' },
          { kind: 'deny', pattern: '(', syntax: 'regex' },
          { kind: 'warn', pattern: '[', syntax: 'glob' },
        ]),
      ),
    );
    expect(isAppError(error, 'validation_failed')).toBe(true);
    if (!isAppError(error)) return;
    expect((error.details as { problems: { path: string }[] }).problems.map((problem) => problem.path)).toEqual(['/rules/1/pattern', '/rules/2/pattern']);
  });

  it(`refuses more than ${MAX_RULES} rules`, () => {
    const rules = Array.from({ length: MAX_RULES + 1 }, (_, index): PolicyRule => ({ kind: 'warn', pattern: `cmd${index}`, syntax: 'glob' }));
    const error = thrown(() => compilePolicy(buildPolicy(rules)));
    expect(isAppError(error, 'validation_failed')).toBe(true);
    expect((error as Error).message).toMatch(/keep at most 200/);
    expect(compilePolicy(buildPolicy(rules.slice(0, MAX_RULES))).rules).toHaveLength(MAX_RULES);
  });

  it('refuses a bad policy when a line is evaluated against it', () => {
    expect(isAppError(thrown(() => evaluateLine(buildPolicy([{ kind: 'deny', pattern: '(', syntax: 'regex' }]), 'ls')), 'validation_failed')).toBe(true);
  });
});

describe('evaluateLine on hostile input', () => {
  it('runs a regex that backtracks catastrophically elsewhere in linear time', () => {
    // `(a+)+$` on "aaaa…b" takes exponential time in a backtracking engine; RE2 reads it once.
    const policy = buildPolicy([{ kind: 'deny', pattern: '(a+)+$', syntax: 'regex' }]);
    expect(evaluateLine(policy, `echo ${'a'.repeat(50_000)}b`).decision).toBe('allow');
    expect(evaluateLine(policy, `echo ${'a'.repeat(50_000)}`).decision).toBe('deny');
  });

  it('matches a 100 KiB line against 200 rules and says it is uncertain', () => {
    const rules = Array.from({ length: MAX_RULES }, (_, index): PolicyRule => ({ kind: 'deny', pattern: `(x+x+)+y${index}`, syntax: 'regex' }));
    const result = evaluateLine(buildPolicy(rules), `echo ${'x'.repeat(100 * 1024)}`);
    expect(result.decision).toBe('review');
    expect(result.reasons.some((reason) => /longer than 65536/.test(reason))).toBe(true);
  });

  it('gives an answer for 10,000 nested substitutions', () => {
    const result = evaluateLine(denyRm, `${'$('.repeat(10_000)}rm -rf /${')'.repeat(10_000)}`);
    expect(result.decision).toBe('review');
    expect(result.reasons.some((reason) => /nests more than 32 levels/.test(reason))).toBe(true);
  });

  it('gives an answer for thousands of commands', () => {
    const result = evaluateLine(denyRm, `${'echo a; '.repeat(8_000)}rm -rf /`);
    expect(result.decision).toBe('deny');
  });
});

describe('the rules run together as they would one by one', () => {
  const rules: PolicyRule[] = [
    { kind: 'deny', pattern: 'rm -rf *', syntax: 'glob' },
    { kind: 'review', pattern: '^systemctl', syntax: 'regex' },
    { kind: 'warn', pattern: 'restart', syntax: 'regex' },
    { kind: 'warn', pattern: '*restart', syntax: 'glob' },
    { kind: 'deny', pattern: '\\bdd\\b.*of=/dev/', syntax: 'regex' },
  ];
  it.each(['rm -rf /', 'systemctl restart x', 'service x restart', 'x restart y', 'dd if=/dev/zero of=/dev/sda', 'ls'])('%j', (line) => {
    const together = evaluateLine(buildPolicy(rules), line).matches.map((match) => rules.indexOf(match.rule));
    const oneByOne = rules.flatMap((rule, index) => (evaluateLine(buildPolicy([rule]), line).matches.length > 0 ? [index] : []));
    expect(together).toEqual(oneByOne);
    expect(oneByOne.every((index) => RE2JS.compile(compileRule(rules[index] as PolicyRule).source).matcher(line).find())).toBe(true);
  });
});
