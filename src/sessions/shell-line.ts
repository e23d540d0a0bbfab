/** Why shell input needs more lines before the shell runs it. */
export type Incomplete = 'backslash' | 'quote' | 'heredoc' | 'compound';

/** Lines typed at a shell prompt, read the way the shell groups them into commands. */
export interface ShellInput {
  /**
   * The complete commands, in order, white space kept as typed (bash's history keeps it too): a
   * backslash-newline is removed (`echo a \` + `b` → `echo a b`), every other newline is kept
   * (inside quotes, here-documents and compound commands); blank lines are no command.
   */
  readonly commands: readonly string[];
  /** Why the text after the last complete command is not complete yet, or null when it is. */
  readonly incomplete: Incomplete | null;
}

/** Reserved words that open a compound command that a later word closes. */
const OPENERS = new Set(['if', 'case', 'for', 'while', 'until', 'select', '{']);
const CLOSERS = new Set(['fi', 'esac', 'done', '}']);
/** Reserved words after which the next word is again a command (so may be a reserved word). */
const COMMAND_POSITION_AFTER = new Set(['if', 'then', 'else', 'elif', 'do', 'while', 'until', '{', '!', 'time']);
/** Characters that end a word and put the next word at command position. */
const COMMAND_SEPARATORS = new Set([';', '&', '|', '(', ')']);

/**
 * Splits what was typed at a shell prompt (lines joined with `\n`) into the commands a POSIX shell
 * (bash) would run, and tells whether more lines are needed: an odd trailing backslash, an open
 * quote (`'`, `"`, `$'`, backtick), a here-document whose delimiter has not come, or an open
 * compound command (`if`/`for`/`while`/`until`/`case`/`select`/`{`, parentheses). Newlines inside
 * those belong to the command; a newline at the top level ends one. `;` does not split: bash's
 * history keeps `a; b` as one entry too. This is a lexer, not a parser: reserved words count only
 * at command position, which is how the shell sees them (see "Reserved Words" and "Quoting" in
 * bash(1)); unusual syntax (a `case` pattern inside `$( )`, `[[ ]]` over several lines) may be
 * misjudged, and the capture then relies on the shell's own PS2 prompt instead.
 *
 * @example
 * splitShellInput('echo "a\nb"\nls \\\n-l') // { commands: ['echo "a\nb"', 'ls -l'], incomplete: null }
 */
export function splitShellInput(text: string): ShellInput {
  const commands: string[] = [];
  let current = '';
  let word = '';
  let wordQuoted = false;
  let commandPosition = true;
  let afterFunction = 0;
  let depth = 0;
  let parens = 0;
  const heredocs: { delimiter: string; stripTabs: boolean }[] = [];

  const endWord = (): void => {
    if (word === '' && !wordQuoted) return;
    const keyword = wordQuoted ? undefined : word;
    if (afterFunction === 2) {
      afterFunction = 1; // `function NAME`: NAME is not a command; `{` after it opens the body
      commandPosition = true;
    } else if (commandPosition && keyword !== undefined && (OPENERS.has(keyword) || CLOSERS.has(keyword))) {
      if (OPENERS.has(keyword)) depth++;
      else depth = Math.max(0, depth - 1);
      commandPosition = COMMAND_POSITION_AFTER.has(keyword);
    } else if (commandPosition && keyword === 'function') {
      afterFunction = 2;
      commandPosition = false;
    } else {
      commandPosition = commandPosition && keyword !== undefined && COMMAND_POSITION_AFTER.has(keyword);
      afterFunction = 0;
    }
    word = '';
    wordQuoted = false;
  };
  const endCommand = (): void => {
    if (current.trim() !== '') commands.push(current.endsWith('\n') ? current.slice(0, -1) : current);
    current = '';
  };

  let k = 0;
  while (k < text.length) {
    const ch = text.charAt(k);
    if (ch === '\\') {
      if (k + 1 >= text.length) return { commands, incomplete: 'backslash' };
      if (text.charAt(k + 1) === '\n') {
        k += 2; // line continuation: both characters disappear
        continue;
      }
      current += text.slice(k, k + 2);
      word += text.charAt(k + 1);
      wordQuoted = true;
      k += 2;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`' || (ch === '$' && text.charAt(k + 1) === "'")) {
      const start = ch === '$' ? k + 2 : k + 1;
      const close = closingQuote(text, start, ch === '$' ? "$'" : ch);
      if (close === -1) return { commands, incomplete: 'quote' };
      const raw = text.slice(k, close + 1);
      // Inside single quotes a backslash is literal; elsewhere backslash-newline still continues.
      const quoted = ch === "'" ? raw : raw.replace(/\\\n/g, '');
      current += quoted;
      word += quoted;
      wordQuoted = true;
      k = close + 1;
      continue;
    }
    if (ch === '#' && word === '' && !wordQuoted) {
      const end = text.indexOf('\n', k);
      current += text.slice(k, end === -1 ? text.length : end);
      k = end === -1 ? text.length : end;
      continue;
    }
    if (ch === '<' && text.startsWith('<<<', k)) {
      endWord();
      current += '<<<'; // a here-string: the word after it is on the same line
      k += 3;
      continue;
    }
    if (ch === '<' && text.startsWith('<<', k)) {
      endWord();
      const heredoc = readHeredocOperator(text, k);
      current += text.slice(k, heredoc.end);
      if (heredoc.delimiter !== undefined) heredocs.push({ delimiter: heredoc.delimiter, stripTabs: heredoc.stripTabs });
      k = heredoc.end;
      commandPosition = false;
      continue;
    }
    if (ch === '\n') {
      endWord();
      current += ch;
      k++;
      while (heredocs.length > 0) {
        const heredoc = heredocs[0];
        if (heredoc === undefined) break;
        const end = text.indexOf('\n', k);
        if (end === -1 && k >= text.length) return { commands, incomplete: 'heredoc' };
        const line = text.slice(k, end === -1 ? text.length : end);
        current += end === -1 ? line : `${line}\n`;
        k = end === -1 ? text.length : end + 1;
        if ((heredoc.stripTabs ? line.replace(/^\t+/, '') : line) === heredoc.delimiter) heredocs.shift();
        else if (end === -1) return { commands, incomplete: 'heredoc' };
      }
      if (depth === 0 && parens === 0) endCommand();
      commandPosition = true;
      continue;
    }
    if (ch === ' ' || ch === '\t') {
      endWord();
      current += ch;
      k++;
      continue;
    }
    if (COMMAND_SEPARATORS.has(ch)) {
      const substitution = ch === '(' && word.endsWith('$');
      if (!substitution) endWord();
      if (ch === '(') parens++;
      else if (ch === ')') parens = Math.max(0, parens - 1);
      current += ch;
      if (substitution) word += ch;
      else commandPosition = true;
      k++;
      continue;
    }
    current += ch;
    word += ch;
    k++;
  }
  endWord();
  if (heredocs.length > 0) return { commands, incomplete: 'heredoc' };
  if (depth > 0 || parens > 0) return { commands, incomplete: 'compound' };
  endCommand();
  return { commands, incomplete: null };
}

/** Index of the quote that closes one opened before `from`, or -1 when the text ends first. */
function closingQuote(text: string, from: number, quote: string): number {
  const escapes = quote !== "'";
  const close = quote === "$'" ? "'" : quote;
  for (let k = from; k < text.length; k++) {
    const ch = text.charAt(k);
    if (escapes && ch === '\\') k++;
    else if (ch === close) return k;
  }
  return -1;
}

/** Reads `<<WORD`, `<<-WORD`, `<< 'WORD'` or `<<"WORD"` at `at`; the delimiter is the word unquoted. */
function readHeredocOperator(text: string, at: number): { end: number; delimiter?: string; stripTabs: boolean } {
  let k = at + 2;
  const stripTabs = text.charAt(k) === '-';
  if (stripTabs) k++;
  while (text.charAt(k) === ' ' || text.charAt(k) === '\t') k++;
  let delimiter = '';
  while (k < text.length) {
    const ch = text.charAt(k);
    if (ch === "'" || ch === '"') {
      const close = text.indexOf(ch, k + 1);
      if (close === -1) break;
      delimiter += text.slice(k + 1, close);
      k = close + 1;
    } else if (ch === '\\' && k + 1 < text.length) {
      delimiter += text.charAt(k + 1);
      k += 2;
    } else if (/[\s;&|<>()]/.test(ch)) {
      break;
    } else {
      delimiter += ch;
      k++;
    }
  }
  return delimiter === '' ? { end: k, stripTabs } : { end: k, delimiter, stripTabs };
}
