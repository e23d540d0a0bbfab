import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commandMatchesStep, formatScriptError, parseScript, type Script } from '../changes/script.ts';
import { diffArrays } from 'diff';
import { alignByThresholds, compareChange, compareDevice, endsSession, scoreOf, type BoardRow, type ExecutedCommand, type Outcome } from './comparison.ts';

function buildScript(text: string): Script {
  const result = parseScript(text);
  if (!result.ok) throw new Error(result.errors.map(formatScriptError).join('\n'));
  return result.script;
}

/** A command line as a test writes it: text, or text with its output, or a full override. */
type CommandSpec = string | { text: string; output?: string; sessionId?: string; at?: number; endsShell?: boolean };

const START = Date.parse('2026-11-21T10:00:00Z');

/** Commands one second apart (or at `at` seconds), in session `s1` unless told. */
function buildCommands(specs: readonly CommandSpec[]): ExecutedCommand[] {
  return specs.map((spec, k) => {
    const { text, output, sessionId = 's1', at = k, endsShell } = typeof spec === 'string' ? { text: spec } : spec;
    return {
      id: `c${k}`,
      sessionId,
      time: new Date(START + at * 1000),
      offsetSeconds: at,
      text,
      ...(output === undefined ? {} : { output }),
      ...(endsShell === undefined ? {} : { lastOfExitedShell: endsShell }),
    };
  });
}

/** The board as short strings: `matched step-text`, `extra command-text`, … */
function boardOf(rows: readonly BoardRow[]): string[] {
  return rows.map((row) => {
    switch (row.kind) {
      case 'matched':
      case 'failed_expectation':
        return `${row.kind} ${row.command.text}`;
      case 'missing':
        return row.outOfOrderRow === undefined ? `missing ${row.step.text}` : `missing ${row.step.text} (ran at row ${row.outOfOrderRow})`;
      case 'skipped':
        return `skipped ${row.step.text}`;
      case 'extra':
        return `extra ${row.command.text}`;
      case 'session_end':
        return `session_end ${row.command.text}`;
      case 'out_of_order':
        return `out_of_order ${row.command.text} (planned at row ${row.missingRow})`;
    }
  });
}

interface BoardCase {
  name: string;
  script: string;
  commands: CommandSpec[];
  board: string[];
  score: number;
  outcome: Outcome;
}

const STATUS_OK = '● nginx.service\n   Active: active (running) since Sat\n';
const STATUS_FAILED = '● nginx.service\n   Active: failed (Result: exit-code)\n';

const cases: BoardCase[] = [
  {
    name: 'exactly as planned',
    script: 'apt-get update\napt-get install -y nginx\nsystemctl enable --now nginx',
    commands: ['apt-get update', 'apt-get install -y nginx', 'systemctl enable --now nginx'],
    board: ['matched apt-get update', 'matched apt-get install -y nginx', 'matched systemctl enable --now nginx'],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'the worked example of compareDevice',
    script: 'apt-get update\n# optional\napt-get upgrade -y\nsystemctl restart nginx\n# expect: active \\(running\\)\nsystemctl status nginx',
    commands: ['apt-get update', 'vim /etc/nginx/nginx.conf', 'systemctl  restart nginx', { text: 'systemctl status nginx', output: 'Active: active (running)' }],
    board: ['matched apt-get update', 'skipped apt-get upgrade -y', 'extra vim /etc/nginx/nginx.conf', 'matched systemctl  restart nginx', 'matched systemctl status nginx'],
    score: 75,
    outcome: 'exceeded',
  },
  {
    name: 'a missing step',
    script: 'cp nginx.conf nginx.conf.bak\nsed -i s/80/8080/ nginx.conf\nsystemctl reload nginx',
    commands: ['cp nginx.conf nginx.conf.bak', 'systemctl reload nginx'],
    board: ['matched cp nginx.conf nginx.conf.bak', 'missing sed -i s/80/8080/ nginx.conf', 'matched systemctl reload nginx'],
    score: 67,
    outcome: 'incomplete',
  },
  {
    name: 'an extra command',
    script: 'systemctl stop nginx\nsystemctl start nginx',
    commands: ['systemctl stop nginx', 'cat /etc/shadow', 'systemctl start nginx'],
    board: ['matched systemctl stop nginx', 'extra cat /etc/shadow', 'matched systemctl start nginx'],
    score: 67,
    outcome: 'exceeded',
  },
  {
    name: 'a missing step and an extra command in the same place',
    script: 'a\nb\nc',
    commands: ['a', 'x', 'c'],
    board: ['matched a', 'missing b', 'extra x', 'matched c'],
    score: 50,
    outcome: 'incomplete_and_exceeded',
  },
  {
    name: 'two steps swapped',
    script: 'a\nb\nc\nd',
    commands: ['a', 'c', 'b', 'd'],
    board: ['matched a', 'missing b (ran at row 3)', 'matched c', 'out_of_order b (planned at row 1)', 'matched d'],
    score: 75,
    outcome: 'incomplete',
  },
  {
    name: 'placeholders',
    script: 'systemctl restart {{service}}\ncp {{file}} {{file}}.bak\necho {{a}}{{b}}',
    commands: ['systemctl restart php8.2-fpm', 'cp /etc/hosts /tmp/elsewhere.bak', 'echo x'],
    board: ['matched systemctl restart php8.2-fpm', 'matched cp /etc/hosts /tmp/elsewhere.bak', 'missing echo {{a}}{{b}}', 'extra echo x'],
    score: 50,
    outcome: 'incomplete_and_exceeded',
  },
  {
    name: 'a placeholder needs non-empty text',
    script: 'systemctl restart {{service}}',
    commands: ['systemctl restart'],
    board: ['missing systemctl restart {{service}}', 'extra systemctl restart'],
    score: 0,
    outcome: 'incomplete_and_exceeded',
  },
  {
    name: 'an optional step skipped',
    script: 'apt-get update\n# optional\napt-get upgrade -y\nreboot',
    commands: ['apt-get update', 'reboot'],
    board: ['matched apt-get update', 'skipped apt-get upgrade -y', 'matched reboot'],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'an optional step run',
    script: 'apt-get update\n# optional\napt-get upgrade -y\nreboot',
    commands: ['apt-get update', 'apt-get upgrade -y', 'reboot'],
    board: ['matched apt-get update', 'matched apt-get upgrade -y', 'matched reboot'],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'an optional step run at the wrong place is extra',
    script: 'apt-get update\n# optional\napt-get upgrade -y\nreboot',
    commands: ['apt-get update', 'reboot', 'apt-get upgrade -y'],
    board: ['matched apt-get update', 'skipped apt-get upgrade -y', 'matched reboot', 'extra apt-get upgrade -y'],
    score: 67,
    outcome: 'exceeded',
  },
  {
    name: 'an optional step never takes the command of a required one',
    script: '# optional\nrm {{file}}\nrm /tmp/lock',
    commands: ['rm /tmp/lock'],
    board: ['skipped rm {{file}}', 'matched rm /tmp/lock'],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'only optional steps, none run',
    script: '# optional\nuptime',
    commands: [],
    board: ['skipped uptime'],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'an expectation met',
    script: 'systemctl restart nginx\n# expect: active \\(running\\)\nsystemctl status nginx',
    commands: ['systemctl restart nginx', { text: 'systemctl status nginx', output: STATUS_OK }],
    board: ['matched systemctl restart nginx', 'matched systemctl status nginx'],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'an expectation failed',
    script: 'systemctl restart nginx\n# expect: active \\(running\\)\nsystemctl status nginx',
    commands: ['systemctl restart nginx', { text: 'systemctl status nginx', output: STATUS_FAILED }],
    board: ['matched systemctl restart nginx', 'failed_expectation systemctl status nginx'],
    score: 50,
    outcome: 'incomplete',
  },
  {
    name: 'an expectation without captured output fails',
    script: '# expect: ok\n./check.sh',
    commands: ['./check.sh'],
    board: ['failed_expectation ./check.sh'],
    score: 0,
    outcome: 'incomplete',
  },
  {
    name: 'an expectation met on the second try, after a fix',
    script: 'systemctl restart nginx\n# expect: active \\(running\\)\nsystemctl status nginx\nlogout',
    commands: [
      'systemctl restart nginx',
      { text: 'systemctl status nginx', output: STATUS_FAILED },
      'vi /etc/nginx/nginx.conf',
      'systemctl restart nginx',
      { text: 'systemctl  status nginx', output: STATUS_OK },
      'logout',
    ],
    board: [
      'matched systemctl restart nginx',
      'extra systemctl status nginx',
      'extra vi /etc/nginx/nginx.conf',
      'extra systemctl restart nginx',
      'matched systemctl  status nginx',
      'matched logout',
    ],
    score: 50,
    outcome: 'exceeded',
  },
  {
    name: 'a change run over two sessions, merged in time order',
    script: 'a\nb\nc\nd',
    commands: [
      { text: 'c', sessionId: 's2', at: 100 },
      { text: 'd', sessionId: 's2', at: 101 },
      { text: 'a', sessionId: 's1', at: 1 },
      { text: 'b', sessionId: 's1', at: 2 },
    ],
    board: ['matched a', 'matched b', 'matched c', 'matched d'],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'a session with no commands',
    script: 'a\n# optional\nb\nc',
    commands: [],
    board: ['missing a', 'skipped b', 'missing c'],
    score: 0,
    outcome: 'incomplete',
  },
  {
    name: 'a script with comments and continuations',
    script: '#!/bin/bash\n# back up first\ntar czf /backup/etc.tgz \\\n    /etc/nginx \\\n    /etc/ssl\n\n# then the change\nsystemctl reload nginx',
    commands: ['tar czf /backup/etc.tgz /etc/nginx /etc/ssl', 'systemctl reload nginx'],
    board: ['matched tar czf /backup/etc.tgz /etc/nginx /etc/ssl', 'matched systemctl reload nginx'],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'white space outside quotes is ignored',
    script: 'grep -r "listen  80" /etc/nginx',
    commands: ['  grep\t-r   "listen  80"    /etc/nginx  '],
    board: ['matched   grep\t-r   "listen  80"    /etc/nginx  '],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'white space inside quotes counts',
    script: 'grep -r "listen  80" /etc/nginx',
    commands: ['grep -r "listen 80" /etc/nginx'],
    board: ['missing grep -r "listen  80" /etc/nginx', 'extra grep -r "listen 80" /etc/nginx'],
    score: 0,
    outcome: 'incomplete_and_exceeded',
  },
  {
    name: 'the exit that ends the session is not extra',
    script: 'apt-get update\nsystemctl restart nginx',
    commands: ['apt-get update', 'systemctl restart nginx', { text: 'exit', endsShell: true }],
    board: ['matched apt-get update', 'matched systemctl restart nginx', 'session_end exit'],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'nor is a logout, or an exit with a status, ending each of two sessions',
    script: 'a\nb',
    commands: ['a', { text: 'logout', endsShell: true, sessionId: 's1' }, { text: 'b', sessionId: 's2' }, { text: '  exit   3 ', endsShell: true, sessionId: 's2' }],
    board: ['matched a', 'session_end logout', 'matched b', 'session_end   exit   3 '],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'an exit that did not end the session (leaving su) is a command like any other',
    script: 'su - postgres\npsql -c vacuum\nsystemctl restart app',
    commands: ['su - postgres', 'psql -c vacuum', 'exit', 'systemctl restart app', { text: 'exit', endsShell: true }],
    board: ['matched su - postgres', 'matched psql -c vacuum', 'extra exit', 'matched systemctl restart app', 'session_end exit'],
    score: 75,
    outcome: 'exceeded',
  },
  {
    name: 'an exit the script plans is matched, and only the closing one is not counted',
    script: 'su - postgres\npsql -c vacuum\nexit\nsystemctl restart app',
    commands: ['su - postgres', 'psql -c vacuum', 'exit', 'systemctl restart app', { text: 'exit', endsShell: true }],
    board: ['matched su - postgres', 'matched psql -c vacuum', 'matched exit', 'matched systemctl restart app', 'session_end exit'],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'a script that ends with exit matches the closing exit',
    script: 'uptime\nexit',
    commands: ['uptime', { text: 'exit', endsShell: true }],
    board: ['matched uptime', 'matched exit'],
    score: 100,
    outcome: 'as_planned',
  },
  {
    name: 'the last command, if not exit or logout, counts even when the shell then exited',
    script: 'uptime',
    commands: ['uptime', { text: 'exit-now', endsShell: true }, { text: 'exit now please', endsShell: true }],
    board: ['matched uptime', 'extra exit-now', 'extra exit now please'],
    score: 33,
    outcome: 'exceeded',
  },
  {
    name: 'a closing exit never stands in for a missing step',
    script: 'su - postgres\nexit\nuptime',
    commands: ['su - postgres', 'uptime', { text: 'exit', endsShell: true }],
    board: ['matched su - postgres', 'missing exit', 'matched uptime', 'session_end exit'],
    score: 67,
    outcome: 'incomplete',
  },
  {
    name: 'a repeated step: the second run is extra',
    script: 'a\nb',
    commands: ['a', 'a', 'b'],
    board: ['matched a', 'extra a', 'matched b'],
    score: 67,
    outcome: 'exceeded',
  },
];

describe('compareDevice', () => {
  it.each(cases)('$name', ({ script, commands, board, score, outcome }) => {
    const result = compareDevice(buildScript(script), buildCommands(commands));
    expect(boardOf(result.rows)).toEqual(board);
    expect(result.score).toBe(score);
    expect(result.outcome).toBe(outcome);
  });

  it('counts every kind of row', () => {
    const script = buildScript('a\n# optional\nb\n# expect: ok\nc\nd\ne\n# optional\nf');
    const result = compareDevice(script, buildCommands(['a', 'x', { text: 'c', output: 'not yet' }, 'e', 'd', 'f']));
    expect(boardOf(result.rows)).toEqual([
      'matched a',
      'skipped b',
      'extra x',
      'failed_expectation c',
      'missing d (ran at row 6)',
      'matched e',
      'out_of_order d (planned at row 4)',
      'matched f',
    ]);
    expect(result.counts).toEqual({ matched: 3, missing: 1, skipped: 1, extra: 1, outOfOrder: 1, failedExpectation: 1, requiredSteps: 4, optionalRun: 1 });
    // 3 matched ÷ (4 required + 1 optional run + 1 extra) = 50.
    expect(result.score).toBe(50);
    expect(result.outcome).toBe('incomplete_and_exceeded');
  });

  it('keeps the commands on the rows, for the links to the session logs and the replay', () => {
    const commands = buildCommands([{ text: 'ls', sessionId: 's7', at: 42 }]);
    const [row] = compareDevice(buildScript('ls'), commands).rows;
    expect(row).toEqual({ kind: 'matched', step: expect.objectContaining({ text: 'ls', line: 1 }), command: commands[0] });
  });
});

describe('endsSession', () => {
  const command = (text: string, lastOfExitedShell?: boolean): ExecutedCommand => ({
    id: 'c',
    sessionId: 's',
    time: new Date(START),
    offsetSeconds: 0,
    text,
    ...(lastOfExitedShell === undefined ? {} : { lastOfExitedShell }),
  });
  it.each([
    ['exit', true, true],
    ['logout', true, true],
    ['exit 0', true, true],
    ['  exit\t$? ', true, true],
    ['exit', false, false],
    ['exit', undefined, false],
    ['exit 0; rm -rf /', true, false],
    ['exit && reboot', true, false],
    ['exitcode', true, false],
    ['echo exit', true, false],
  ] as const)('%j, last of an exited shell %s: %s', (text, last, ends) => {
    expect(endsSession(command(text, last))).toBe(ends);
  });
});

describe('a script run backwards', () => {
  it('is aligned by the threshold method once the diff would need too many edits', () => {
    const lines = Array.from({ length: 1_500 }, (_, i) => `cp a${i} b${i}`);
    const result = compareDevice(buildScript(lines.join('\n')), buildCommands([...lines].reverse()));
    expect(result.counts).toMatchObject({ matched: 1, missing: 1_499, outOfOrder: 1_499, extra: 0 });
    expect(result.rows.filter((row) => row.kind === 'out_of_order')).toHaveLength(1_499);
    expect([result.score, result.outcome]).toEqual([1, 'incomplete']);
  });
});

describe('alignByThresholds', () => {
  it('finds a longest common subsequence, as jsdiff does, for any match relation', () => {
    const relation = fc.array(fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), { maxLength: 10 });
    fc.assert(
      fc.property(relation, (matrix) => {
        // matrix[j][i]: command j matches step i, an arbitrary relation like placeholders make.
        const candidates = matrix.map((row) => row.flatMap((hit, i) => (hit ? [i] : [])));
        const pairs = alignByThresholds(candidates);
        pairs.forEach(([i, j], k) => {
          expect(matrix[j]?.[i]).toBe(true);
          if (k > 0) expect(i > (pairs[k - 1]?.[0] ?? -1) && j > (pairs[k - 1]?.[1] ?? -1)).toBe(true);
        });
        const steps = [0, 1, 2, 3, 4, 5];
        const commands = matrix.map((_, j) => j);
        const common = diffArrays(steps, commands, { comparator: (i, j) => matrix[j]?.[i] === true })
          .filter((change) => !change.added && !change.removed)
          .reduce((total, change) => total + change.count, 0);
        expect(pairs).toHaveLength(common);
        // And both as long as the textbook dynamic programme says.
        const table = Array.from({ length: matrix.length + 1 }, () => new Array<number>(7).fill(0));
        for (let j = 1; j <= matrix.length; j++) {
          for (let i = 1; i <= 6; i++) {
            const [row, above] = [table[j] ?? [], table[j - 1] ?? []];
            row[i] = matrix[j - 1]?.[i - 1] ? (above[i - 1] ?? 0) + 1 : Math.max(above[i] ?? 0, row[i - 1] ?? 0);
          }
        }
        expect(pairs).toHaveLength(table[matrix.length]?.[6] ?? -1);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('compareChange', () => {
  it('scores each device and the whole change', () => {
    const script = buildScript('a\nb\nc');
    const result = compareChange(
      script,
      new Map([
        ['web01', buildCommands(['a', 'b', 'c'])],
        ['web02', buildCommands(['a', 'c', 'rm -rf /tmp/cache'])],
      ]),
    );
    expect(result.devices.map((d) => [d.device, boardOf(d.rows), d.score, d.outcome])).toEqual([
      ['web01', ['matched a', 'matched b', 'matched c'], 100, 'as_planned'],
      ['web02', ['matched a', 'missing b', 'matched c', 'extra rm -rf /tmp/cache'], 50, 'incomplete_and_exceeded'],
    ]);
    // (3 + 2) matched ÷ ((3 + 3) required + 1 extra) = 71.4.
    expect(result.counts).toMatchObject({ matched: 5, missing: 1, extra: 1, requiredSteps: 6 });
    expect(result.score).toBe(71);
    expect(result.outcome).toBe('incomplete_and_exceeded');
  });

  it('is as planned when every device is', () => {
    const result = compareChange(buildScript('a'), new Map([['db01', buildCommands(['a'])], ['db02', buildCommands(['a'])]]));
    expect([result.score, result.outcome]).toEqual([100, 'as_planned']);
  });
});

describe('scoreOf', () => {
  const counts = { matched: 0, missing: 0, skipped: 0, extra: 0, outOfOrder: 0, failedExpectation: 0, requiredSteps: 0, optionalRun: 0 };

  it('rounds, but reaches 100 and 0 only when exact', () => {
    expect(scoreOf({ ...counts, matched: 299, requiredSteps: 300 })).toBe(99);
    expect(scoreOf({ ...counts, matched: 1, requiredSteps: 300 })).toBe(1);
    expect(scoreOf({ ...counts, matched: 2, requiredSteps: 3 })).toBe(67);
    expect(scoreOf(counts)).toBe(100);
  });
});

describe('properties', () => {
  const word = fc.constantFrom('ls', '-l', '/etc', 'nginx', 'systemctl', 'restart', '"a  b"', "'c d'", '{{svc}}', '{{path}}', 'x=1', '$HOME');
  /** A step as its words; the script joins them with one space. */
  const stepWords = fc.array(word, { minLength: 1, maxLength: 4 });
  const scriptSteps = fc.array(stepWords, { minLength: 1, maxLength: 12 });
  const fill = fc.stringMatching(/^[a-z0-9./_-]{1,6}$/);
  const gap = fc.constantFrom(' ', '  ', '\t', ' \t ');
  const scriptOf = (steps: readonly (readonly string[])[]) => buildScript(steps.map((words) => words.join(' ')).join('\n'));

  /** A command that carries out the step: placeholders filled, white space between words varied. */
  const execution = (words: readonly string[]) =>
    fc.tuple(fc.array(fc.tuple(gap, fill), { minLength: words.length, maxLength: words.length }), gap).map(([parts, edge]) =>
      words.map((w, k) => (k === 0 ? edge : (parts[k]?.[0] ?? ' ')) + (w.startsWith('{{') ? (parts[k]?.[1] ?? 'v') : w)).join('') + edge,
    );

  const runOf = (steps: readonly (readonly string[])[]) => fc.tuple(...steps.map(execution));

  it('executing exactly the steps scores 100, as planned', () => {
    fc.assert(
      fc.property(
        scriptSteps.chain((steps) => fc.tuple(fc.constant(steps), runOf(steps))),
        ([steps, run]) => {
          const result = compareDevice(scriptOf(steps), buildCommands(run));
          expect(result.rows.every((row) => row.kind === 'matched')).toBe(true);
          expect([result.score, result.outcome]).toEqual([100, 'as_planned']);
        },
      ),
    );
  });

  it('a score of 100 means the commands are the steps, in order', () => {
    // The exact execution, then up to three edits: drop, repeat, swap, or replace a command with
    // another step's execution or with noise. Some edits keep the score at 100 (a placeholder
    // step replaced by a command it also matches); the property says they must keep it a match.
    type Edit = { kind: 'drop' | 'repeat' | 'swap' | 'replace'; at: number; other: number; text: string };
    const edit = fc.record({
      kind: fc.constantFrom<Edit['kind']>('drop', 'repeat', 'swap', 'replace'),
      at: fc.nat(),
      other: fc.nat(),
      text: fc.oneof(stepWords.map((w) => w.join(' ')), fc.constant('noise')),
    });
    const applyEdits = (run: readonly string[], edits: readonly Edit[]) => {
      const out = [...run];
      for (const { kind, at, other, text } of edits) {
        if (out.length === 0) break;
        const i = at % out.length;
        const j = other % out.length;
        const [a, b] = [out[i] ?? '', out[j] ?? ''];
        if (kind === 'drop') out.splice(i, 1);
        else if (kind === 'repeat') out.splice(i, 0, a);
        else if (kind === 'swap') [out[i], out[j]] = [b, a];
        else out[i] = other % 2 === 0 ? b : text;
      }
      return out;
    };
    const scenario = scriptSteps.chain((steps) =>
      fc.tuple(fc.constant(steps), runOf(steps), fc.array(edit, { minLength: 1, maxLength: 3 })).map(([s, run, edits]) => [s, applyEdits(run, edits)] as const),
    );
    fc.assert(
      fc.property(scenario, ([steps, run]) => {
        const script = scriptOf(steps);
        const result = compareDevice(script, buildCommands(run));
        if (result.score !== 100) return;
        expect(run).toHaveLength(script.steps.length);
        script.steps.forEach((step, k) => expect(commandMatchesStep(step, run[k] ?? '')).toBe(true));
        expect(result.outcome).toBe('as_planned');
      }),
      { numRuns: 1000 },
    );
  });

  it('adding a command that matches no step never raises the score', () => {
    const scenario = scriptSteps.chain((steps) =>
      fc.tuple(
        fc.constant(steps),
        fc.array(fc.oneof(fc.constantFrom(...steps).chain(execution), stepWords.map((w) => w.join(' '))), { maxLength: 14 }),
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.nat(),
      ),
    );
    fc.assert(
      fc.property(scenario, ([steps, run, noise, at]) => {
        const script = scriptOf(steps);
        fc.pre(script.steps.every((step) => !commandMatchesStep(step, noise)));
        const before = compareDevice(script, buildCommands(run));
        const position = at % (run.length + 1);
        const after = compareDevice(script, buildCommands([...run.slice(0, position), noise, ...run.slice(position)]));
        expect(after.score).toBeLessThanOrEqual(before.score);
        expect(after.counts.extra).toBe(before.counts.extra + 1);
      }),
      { numRuns: 500 },
    );
  });
});
