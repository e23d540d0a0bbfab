import { describe, expect, it } from 'vitest';
import { expandedCommand, historyDesignators } from './history-expansion.ts';

describe('history designators in a typed line', () => {
  it.each([
    ['sudo !!', ['sudo ', '']],
    ['echo !$ and !-2:1', ['echo ', ' and ', '']],
    ['!systemctl --now', ['', ' --now']],
    ['^old^new', []],
    ['!?restart? again', ['', ' again']],
    ['echo !ech:s/echo/ECHO/ end', ['echo ', ' end']],
    ['echo "!!"', ['echo "', '"']],
  ] as const)('%j has designators between %j', (typed, literals) => {
    expect(historyDesignators(typed)).toEqual(literals);
  });

  it.each(['echo hi!', 'echo "hi!"', "echo '!!'", 'echo \\!\\!', '[ ! -f x ]', 'x!=y', 'echo !(extglob)', 'ls'])('%j expands nothing', (typed) => {
    expect(historyDesignators(typed)).toBeUndefined();
  });
});

describe('the command bash ran for an expanded line', () => {
  it('is the echoed first line when it keeps the typed text around the designators', () => {
    expect(expandedCommand('sudo !!', 'sudo systemctl restart nginx\nJob done\n')).toEqual({ text: 'sudo systemctl restart nginx', output: 'Job done\n' });
    expect(expandedCommand('^nginx^apache2', 'systemctl restart apache2\n')).toEqual({ text: 'systemctl restart apache2', output: '' });
  });

  it('is none when bash ran nothing, put the line back to edit, or printed output that is not an echo', () => {
    expect(expandedCommand('sudo !nope', '-bash: !nope: event not found\n')).toBeUndefined();
    expect(expandedCommand('^a^b', 'bash: :s^a^b: substitution failed\n')).toBeUndefined();
    expect(expandedCommand('sudo !!', '')).toBeUndefined();
    // With `set +H`, output made to look like an expansion does not keep the typed prefix.
    expect(expandedCommand("printf 'rm -rf /\\n' # !!", 'rm -rf /\n')).toBeUndefined();
    expect(expandedCommand('^a^b', '-bash: ^a^b: command not found\n')).toBeUndefined();
    expect(expandedCommand('^a^zzz', 'something else\n')).toBeUndefined();
  });
});
