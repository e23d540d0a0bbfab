import { diffArrays } from 'diff';
import { parseScript, type Script } from '../src/changes/script.ts';
import { compareDevice, type ExecutedCommand } from '../src/review/comparison.ts';
import { random } from './bench-kit.ts';
import type { Benchmark, BenchResult, Measure } from './run.ts';

/** A script line like a real change's: mostly distinct, some repeated, 5% with placeholders. */
function scriptLine(i: number, next: () => number): string {
  const r = next();
  if (r < 0.05) {
    const forms = ['kill -HUP {{pid}}', `echo "deployed {{version}}" >> /var/log/deploy-${i}.log`, `mv /tmp/{{name}}.tar.gz /srv/releases/${i}/`];
    return forms[i % forms.length] ?? '';
  }
  if (r < 0.1) return 'systemctl daemon-reload';
  if (r < 0.2) return `systemctl restart app-${i % 50}`;
  const forms = [
    `sed -i 's/timeout=${i}/timeout=${i + 1}/' /etc/app/app-${i % 97}.conf`,
    `cp /etc/app/app-${i}.conf /backup/app-${i}.conf.bak`,
    `chown app:app /var/lib/app/data-${i}`,
    `grep -q "listen ${i}" /etc/nginx/sites-enabled/site-${i}`,
  ];
  return forms[i % forms.length] ?? '';
}

interface Scenario {
  readonly text: string;
  readonly steps: readonly string[];
  readonly commands: readonly ExecutedCommand[];
}

/** `lines` script lines; 10% of them deviate: a third missing, a third followed by an extra command, a third changed. */
function scenario(lines: number, seed: number): Scenario {
  const next = random(seed);
  const steps = Array.from({ length: lines }, (_, i) => scriptLine(i, next));
  const texts: string[] = [];
  const fill = () => `v${Math.floor(next() * 1e6)}`;
  const execute = (step: string) => {
    const filled = step.replace(/\{\{\w+\}\}/g, fill);
    return next() < 0.1 ? `  ${filled.replace(/ /g, '   ')} ` : filled;
  };
  for (const step of steps) {
    const r = next();
    if (r >= 0.1) texts.push(execute(step));
    else if (r < 0.1 / 3) continue;
    else if (r < 0.2 / 3) texts.push(execute(step), `ls -la /tmp/x${Math.floor(next() * 1e6)}`);
    else texts.push(`${execute(step)} --force`);
  }
  const start = Date.parse('2026-11-21T10:00:00Z');
  const commands = texts.map((text, k) => ({ id: `c${k}`, sessionId: 's1', time: new Date(start + k * 1000), offsetSeconds: k, text }));
  return { text: steps.join('\n'), steps, commands };
}

function parse(text: string): Script {
  const result = parseScript(text);
  if (!result.ok) throw new Error('the benchmark script does not parse');
  return result.script;
}

function boardBench(name: string, data: Scenario, measure: Measure, { targetMs, slowBaseline = false }: { targetMs?: number; slowBaseline?: boolean } = {}): BenchResult {
  const texts = data.commands.map((c) => c.text);
  const baseline = measure(() => diffArrays([...data.steps], texts), slowBaseline ? { runs: 1, warmup: 0 } : { runs: 5 });
  // Parse every time: the step patterns are cached per parsed step, and a review parses anew.
  const ms = measure(() => compareDevice(parse(data.text), data.commands), { runs: 5 });
  return { name, ms, baseline: { name: 'plain diffArrays of the strings', ms: baseline }, ...(targetMs === undefined ? {} : { targetMs }) };
}

export const benchmarks: Benchmark[] = [
  {
    name: 'change audit board',
    run(measure) {
      const small = scenario(1_000, 1);
      const large = scenario(10_000, 2);
      // Times stay ascending: compareDevice puts commands in time order.
      const reversed: Scenario = { ...large, commands: [...large.commands].reverse().map((c, k) => ({ ...c, time: large.commands[k]?.time ?? c.time })) };
      for (const [name, data] of [['10,000 lines', large], ['reversed', reversed]] as const) {
        const board = compareDevice(parse(data.text), data.commands);
        console.log(`${name}: score ${board.score}, counts ${JSON.stringify(board.counts)}`);
      }
      return [
        { name: 'parse a 10,000-line script', ms: measure(() => parse(large.text), { runs: 5 }) },
        boardBench('board, 1,000 lines, 10% deviations', small, measure),
        boardBench('board, 10,000 lines, 10% deviations', large, measure, { targetMs: 200 }),
        boardBench('board, 10,000 lines run in reverse (worst case)', reversed, measure, { slowBaseline: true }),
      ];
    },
  },
];
