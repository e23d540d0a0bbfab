import { describe, expect, it } from 'vitest';
import { rebuildFromKeys } from './keystroke-line.ts';

describe('rebuildFromKeys', () => {
  it('gives plain keys back as typed, wide characters included', () => {
    expect(rebuildFromKeys('echo héllo 世界')).toBe('echo héllo 世界');
    expect(rebuildFromKeys('')).toBe('');
  });

  it('applies readline\'s emacs editing keys as bash does', () => {
    const cases: Array<[string, string]> = [
      ['echo twx\x7fo', 'echo two'], // Backspace
      ['echo tw\x08o', 'echo to'], // Ctrl-H
      ['rm -rf /\x15echo safe', 'echo safe'], // Ctrl-U
      ['echo a b\x17c', 'echo a c'], // Ctrl-W to the blank before the word
      ['echo abc\x01# \x05!', '# echo abc!'], // Ctrl-A, Ctrl-E
      ['echo abc\x02\x02\x04', 'echo ac'], // Ctrl-B, Ctrl-D under the cursor
      ['echo abc\x1b[D\x1b[D\x1b[3~', 'echo ac'], // Left, Delete
      ['cho\x1b[Hе\x1b[F', 'еcho'], // Home, End (a Cyrillic е typed)
      ['echo a\x1bOD\x1bODx\x1bOCy', 'echox ya'], // SS3 arrows
      ['echo one two\x1bb\x1bb\x0b', 'echo '], // Alt-B twice, Ctrl-K
      ['echo one two\x01\x1bf\x1bd', 'echo two'], // Alt-F, Alt-D
      ['echo one-two\x1b\x7f', 'echo one-'], // Alt-Backspace: words are letters and digits
      ['echo ab\x14', 'echo ba'], // Ctrl-T at the end swaps the last two
      ['abc def\x17\x17\x19', 'abc def'], // consecutive kills gathered, then yanked
      ['echo x\x0c', 'echo x'], // Ctrl-L redraws only
    ];
    for (const [keys, line] of cases) expect(rebuildFromKeys(keys), JSON.stringify(keys)).toBe(line);
  });

  it('gives nothing, never a guess, when the line depends on what only the shell knows', () => {
    for (const keys of ['ls /et\t', 'ec\x1b[A', '\x12ssh', 'echo \x10', 'echo a\x1b', 'echo \x1b[', 'echo\x18\x05']) {
      expect(rebuildFromKeys(keys), JSON.stringify(keys)).toBeUndefined();
    }
  });
});
