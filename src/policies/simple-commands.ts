import { historyDesignators } from './history-expansion.ts';

/** One simple command the shell would run: its name and arguments, as far as they can be known. */
export interface SimpleCommand {
  /**
   * The command name and its arguments after quote removal (`'r'm -rf /` → `rm`, `-rf`, `/`);
   * assignments before the name and redirections are not words. A word that is not static keeps the
   * source text of its expansions (`$HOME/x`, `$(date)`).
   */
  readonly words: readonly string[];
  /** The source text of the command (assignments and redirections included), trimmed. */
  readonly text: string;
  /** Whether a word is expanded by the shell: `$var`, `$(…)`, backticks, globs, brace expansion. */
  readonly dynamic: boolean;
  /** Present when the command gets arguments the line does not show: `xargs` appends what it reads. */
  readonly argumentsAppended?: true;
}

/** Every simple command a command line runs, and why the list may be incomplete. */
export interface SimpleCommandsResult {
  readonly commands: readonly SimpleCommand[];
  /** Why the line cannot be analysed with certainty; empty when it can. */
  readonly uncertain: readonly string[];
}

/** Lines longer than this are not analysed past it (the analysis is then uncertain). */
export const MAX_LINE_LENGTH = 64 * 1024;
/** Nesting (substitutions, compound commands, wrappers, `eval`/`bash -c` strings) analysed at most. */
export const MAX_DEPTH = 32;
/** Simple commands reported at most for one line. */
export const MAX_COMMANDS = 10_000;

/**
 * Every simple command bash (or a POSIX sh) would run for the command line `line`, which may hold
 * several lines. A lexer and recursive-descent parser after bash(1) "SHELL GRAMMAR", "QUOTING" and
 * "EXPANSION": lists (`;` `&` `&&` `||` newlines), pipelines (`|` `|&`), subshells, groups, `if`,
 * `while`/`until`, `for`/`select`, `case`, `[[ ]]`, `(( ))`, function definitions, and the commands
 * inside `$( )`, backticks, `<( )`/`>( )`, `${ }`, arithmetic and unquoted here-documents. Strings
 * that other commands run as commands are parsed too: `bash -c`/`sh -c`…, `eval`, `watch`, `su -c`,
 * `runuser -c`, `script -c`, `flock … -c`, `sg GROUP -c`, `mapfile -C`, `trap`, `alias`, a
 * here-string or here-document fed to a shell; and the command that a wrapper runs is reported
 * beside the wrapper (`sudo`, `env`, `xargs`, `nohup`, `nice`, `timeout`, `time`, `exec`,
 * `command`, `builtin`, `busybox`, `flock`, `runuser -u`, `find -exec`…).
 *
 * A command whose words hold brace expansions (`rm /x/{a,b}`) is also reported as bash expands it
 * (`rm /x/a /x/b`) and once per combination (`rm /x/a`, `rm /x/b`), up to 256. `$NAME` and `${NAME}`
 * of a variable assigned a literal earlier on the line (`d=/x; rm $d/a`, `export d=/x`) are
 * substituted in a further report (`rm /x/a`). Other expanded arguments (`rm $HOME/x`, `rm $(cat
 * f)`, `rm *`) are left as they are: the command is marked `dynamic` but not uncertain, which would
 * hold back most lines; a rule cannot see what they expand to (a known limit).
 *
 * What cannot be known is said in `uncertain`: a command name that is expanded (`$cmd`), `eval` of
 * an expansion, an unterminated quote, a function or alias defined (its commands run later), history
 * designators (`!!`) and `fc` re-running history, a shell reading commands from a pipe, what makes a
 * later key press or prompt run commands (`bind` other than listing, `complete -C`/`-F`, setting
 * PROMPT_COMMAND, PS0–PS4, EDITOR, VISUAL, FCEDIT, INPUTRC, BASH_ENV or ENV by assignment,
 * `declare`…, `read`, `printf -v`, `mapfile`), `stty` settings that change Ctrl-C/Ctrl-D, other names
 * for programs (`hash -p`, `enable -f`), `source` of an expanded file or of standard input, syntax
 * bash would reject, and lines past the limits (64 KiB, 32 levels of nesting, 10,000 commands, 256
 * brace expansions). `source FILE` of a literal path is, like `bash FILE`, a program run whose
 * content is not seen (a known limit). Work is linear in the line for each level of nesting, so a
 * hostile line cannot make it slow or exhaust the stack.
 *
 * @example
 * simpleCommands('ls; $(rm -rf /) && sudo -u root bash -lc "echo ok"').commands.map((c) => c.words.join(' '))
 * // ['ls', 'rm -rf /', '$(rm -rf /)', 'sudo -u root bash -lc echo ok', 'bash -lc echo ok', 'echo ok']
 */
export function simpleCommands(line: string): SimpleCommandsResult {
  const out: Collector = { commands: [], uncertain: new Set(), depth: 0, braceBudget: 4 * MAX_LINE_LENGTH * 16 };
  let source = line;
  if (source.length > MAX_LINE_LENGTH) {
    out.uncertain.add(`the line is longer than ${MAX_LINE_LENGTH} characters: only the start is analysed`);
    source = source.slice(0, MAX_LINE_LENGTH);
  }
  for (const physical of source.split('\n')) {
    if (historyDesignators(physical) !== undefined) {
      out.uncertain.add(`history expansion (${excerpt(physical)}): the shell runs a command from its history instead`);
      break;
    }
  }
  try {
    new Parser(source, out).parseProgram();
  } catch (error) {
    if (!(error instanceof Abort)) throw error;
    out.uncertain.add(error.message);
  }
  return { commands: out.commands, uncertain: [...out.uncertain] };
}

interface Collector {
  readonly commands: SimpleCommand[];
  readonly uncertain: Set<string>;
  depth: number;
  /** Characters brace expansion may still scan for this line: a hostile line cannot make it slow. */
  braceBudget: number;
}

/** Stops the analysis: the line is past a limit. */
class Abort extends Error {}

/** A word as read: its value after quote removal (expansions kept as source), where it is. */
interface Word {
  readonly value: string;
  /** No expansion at all: the value is what the command receives. */
  readonly static: boolean;
  /** Some part was quoted or escaped (so it is no reserved word and no file descriptor number). */
  readonly quoted: boolean;
  readonly start: number;
  readonly end: number;
  readonly source: string;
  /**
   * Per character of `value`: `L` unquoted literal (brace expansion applies), `Q` quoted or escaped,
   * `E` the source text of an expansion. Absent for words made up by the parser.
   */
  readonly mask?: string;
}

/** A here-document whose body comes after the next newline. */
interface PendingHeredoc {
  readonly delimiter: string;
  readonly stripTabs: boolean;
  /** A quoted delimiter: the body is not expanded. */
  readonly literal: boolean;
  /** Set once its command is read: a shell reads the body as commands. */
  feedsShell: boolean;
}

/** What a simple command does with its standard input, for a shell that reads commands from it. */
interface Stdin {
  piped: boolean;
  heredocs: PendingHeredoc[];
  herestrings: Word[];
}

const BLANK = new Set([' ', '\t']);
/** Characters that end an unquoted word. */
const WORD_END = new Set([' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')']);
/** Reserved words that end a list: the enclosing compound command reads them. */
const LIST_CLOSERS = ['then', 'elif', 'else', 'fi', 'do', 'done', 'esac', '}'];
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ksh93', 'mksh', 'ash', 'rbash', 'yash', 'posh', 'fish']);
/** Variables whose value the shell runs or expands later (before a prompt, at startup). */
const RUN_LATER_VARIABLE = /^(PROMPT_COMMAND|PS[0-4]|BASH_ENV|ENV|VISUAL|EDITOR|FCEDIT|INPUTRC)(\[[^\]]*\])?\+?=/;
/** The names of those variables (`read`, `printf -v`, `mapfile` name them without `=`). */
const RUN_LATER_NAME = /^(PROMPT_COMMAND|PS[0-4]|BASH_ENV|ENV|VISUAL|EDITOR|FCEDIT|INPUTRC)(\[.*\])?$/;
/** Brace expansion of one command: at most this many words or combinations, past it uncertain. */
const MAX_BRACE_RESULTS = 256;
/** `stty` settings that change what Ctrl-C, Ctrl-\, Ctrl-D or Ctrl-Z do, which the gateway relies on. */
const STTY_SIGNAL_SETTINGS = new Set(['intr', 'quit', 'eof', 'eol', 'eol2', 'susp', 'dsusp', 'swtch', '-isig', 'raw', 'cbreak', '-icanon', '-cooked']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/;

class Parser {
  private pos = 0;
  private readonly pending: PendingHeredoc[] = [];
  /** `NAME=literal` assignments read so far (`d=/tmp/x; rm $d/y` also reports `rm /tmp/x/y`). */
  private readonly variables = new Map<string, string>();
  /** Characters substitution may still add to the command being reported (see `variants`). */
  private substitutionBudget = 0;

  constructor(
    private readonly src: string,
    private readonly out: Collector,
  ) {}

  /** The whole source: lists until its end, skipping what bash would reject. */
  parseProgram(): void {
    for (;;) {
      this.parseList();
      if (this.pos >= this.src.length) break;
      this.syntax(this.pos);
      this.pos += this.closerLength();
    }
    if (this.pending.length > 0) this.uncertain('a here-document has no body: its command is incomplete');
  }

  // ---------------------------------------------------------------- structure

  private parseList(): void {
    for (;;) {
      this.skipBlanksAndNewlines();
      if (this.atListEnd()) return;
      const before = this.pos;
      this.parseAndOr();
      this.skipBlanks();
      const ch = this.src[this.pos];
      if (ch === ';' && !this.at(';;') && !this.at(';&')) this.pos++;
      else if (ch === '&' && !this.at('&&') && !this.at('&>')) this.pos++;
      else if (ch === '\n') this.newline();
      else if (this.atListEnd()) return;
      else {
        // Something bash would reject here (`(a) b`, `a (b)`, a stray `|`): note it, and read on
        // from it (a word is read as a command), stepping over an operator.
        this.syntax(this.pos);
        if (this.pos === before || WORD_END.has(this.src[this.pos] ?? '')) this.pos++;
      }
    }
  }

  /** At the end of the source, or at a token that ends a list: `)`, `;;`, a closing reserved word. */
  private atListEnd(): boolean {
    if (this.pos >= this.src.length) return true;
    const ch = this.src[this.pos];
    if (ch === ')' || this.at(';;') || this.at(';&')) return true;
    return LIST_CLOSERS.some((word) => this.reservedAt(word));
  }

  private closerLength(): number {
    if (this.at(';;&')) return 3;
    if (this.at(';;') || this.at(';&')) return 2;
    const word = LIST_CLOSERS.find((closer) => this.reservedAt(closer));
    return word === undefined ? 1 : word.length;
  }

  private parseAndOr(): void {
    this.parsePipeline();
    for (;;) {
      this.skipBlanks();
      if (!this.at('&&') && !this.at('||')) return;
      this.pos += 2;
      this.skipBlanksAndNewlines();
      this.parsePipeline();
    }
  }

  private parsePipeline(): void {
    this.skipBlanks();
    for (;;) {
      // `!` negates a pipeline; `time` times one when a compound command follows (otherwise it is
      // read as the wrapper command `time`, which reports the same commands).
      if (this.reservedAt('!')) {
        this.pos++;
        this.skipBlanks();
        continue;
      }
      if (this.reservedAt('time') && this.timesCompound()) {
        this.pos += 4;
        this.skipBlanks();
        if (this.reservedAt('-p')) this.pos += 2;
        this.skipBlanks();
        continue;
      }
      break;
    }
    this.parseCommand(false);
    for (;;) {
      this.skipBlanks();
      if (this.src[this.pos] !== '|' || this.at('||')) return;
      this.pos += this.at('|&') ? 2 : 1;
      this.skipBlanksAndNewlines();
      this.parseCommand(true);
    }
  }

  private timesCompound(): boolean {
    let k = this.pos + 4;
    while (BLANK.has(this.src[k] ?? '')) k++;
    if (this.src.startsWith('-p', k) && this.isDelimiter(k + 2)) {
      k += 2;
      while (BLANK.has(this.src[k] ?? '')) k++;
    }
    const rest = this.src.slice(k, k + 8);
    return /^(\(|\{\s|!\s|\[\[\s|(if|while|until|for|case|select)(\s|$))/.test(rest) || k >= this.src.length;
  }

  private parseCommand(piped: boolean): void {
    this.skipBlanks();
    if (this.atListEnd()) return;
    if (this.reservedAt('[[')) {
      this.parseCondition();
    } else if (this.reservedAt('function')) {
      this.parseFunction();
    } else if (this.reservedAt('coproc')) {
      this.pos += 6;
      this.nested(() => this.parseCommand(piped));
    } else if (this.src[this.pos] === '(' || ['{', 'if', 'while', 'until', 'for', 'select', 'case'].some((word) => this.reservedAt(word))) {
      this.enter();
      try {
        this.parseCompound();
      } finally {
        this.leave();
      }
      this.parseRedirections();
    } else {
      this.parseSimple(piped);
    }
  }

  private parseCompound(): void {
      if (this.at('((') && this.arithmeticCloses(this.pos + 2)) {
        this.pos += 2;
        this.scanArithmetic();
      } else if (this.src[this.pos] === '(') {
        this.pos++;
        this.parseList();
        this.expect(')');
      } else if (this.reservedAt('{')) {
        this.pos++;
        this.parseList();
        this.expectReserved('}');
      } else if (this.reservedAt('if')) {
        this.parseIf();
      } else if (this.reservedAt('while') || this.reservedAt('until')) {
        this.pos += 5;
        this.parseList();
        if (this.expectReserved('do')) {
          this.parseList();
          this.expectReserved('done');
        }
      } else if (this.reservedAt('for') || this.reservedAt('select')) {
        this.parseFor();
      } else {
        this.parseCase();
      }
  }

  private parseIf(): void {
    this.pos += 2;
    this.parseList();
    if (!this.expectReserved('then')) return;
    this.parseList();
    for (;;) {
      if (this.reservedAt('elif')) {
        this.pos += 4;
        this.parseList();
        if (!this.expectReserved('then')) return;
        this.parseList();
      } else if (this.reservedAt('else')) {
        this.pos += 4;
        this.parseList();
      } else {
        this.expectReserved('fi');
        return;
      }
    }
  }

  /** `for NAME [in WORDS]; do LIST; done`, `for ((…)); do …`, and `select`, which reads the same. */
  private parseFor(): void {
    this.pos += this.reservedAt('for') ? 3 : 6;
    this.skipBlanks();
    if (this.at('((')) {
      this.pos += 2;
      this.scanArithmetic();
    } else {
      this.readWord();
      this.skipBlanksAndNewlines();
      if (this.reservedAt('in')) {
        this.pos += 2;
        for (;;) {
          this.skipBlanks();
          const ch = this.src[this.pos];
          if (ch === undefined || ch === ';' || ch === '\n' || ch === '&' || ch === '|' || ch === '(' || ch === ')') break;
          if (ch === '<' || ch === '>') {
            this.syntax(this.pos);
            this.pos++;
            continue;
          }
          this.readWord();
        }
      }
    }
    this.skipBlanks();
    if (this.src[this.pos] === ';') this.pos++;
    this.skipBlanksAndNewlines();
    if (this.reservedAt('{')) {
      this.pos++;
      this.parseList();
      this.expectReserved('}');
    } else if (this.expectReserved('do')) {
      this.parseList();
      this.expectReserved('done');
    }
  }

  /** `case WORD in [(]PATTERN[|PATTERN]…) LIST ;; … esac`: the patterns are words, not commands. */
  private parseCase(): void {
    this.pos += 4;
    this.skipBlanks();
    this.readWord();
    this.skipBlanksAndNewlines();
    if (!this.expectReserved('in')) return;
    for (;;) {
      this.skipBlanksAndNewlines();
      if (this.reservedAt('esac')) {
        this.pos += 4;
        return;
      }
      if (this.pos >= this.src.length) {
        this.uncertain('a `case` is not closed by `esac`');
        return;
      }
      if (this.src[this.pos] === '(') this.pos++;
      for (;;) {
        this.skipBlanks();
        const ch = this.src[this.pos];
        if (ch === ')') {
          this.pos++;
          break;
        }
        if (ch === '|') {
          this.pos++;
          continue;
        }
        if (ch === undefined || WORD_END.has(ch)) {
          this.syntax(this.pos);
          return;
        }
        this.readWord();
      }
      this.parseList();
      this.skipBlanks();
      if (this.at(';;&')) this.pos += 3;
      else if (this.at(';;') || this.at(';&')) this.pos += 2;
      else if (!this.reservedAt('esac')) {
        this.syntax(this.pos);
        return;
      }
    }
  }

  /**
   * `[[ … ]]`: its operands are words (their substitutions run), its operators (`&&`, `<`, `(`…)
   * are not the shell's. Reported as one command, so that a rule can see it.
   */
  private parseCondition(): void {
    const start = this.pos;
    this.pos += 2;
    const words: Word[] = [this.literalWord('[[', start)];
    let regexNext = false;
    for (;;) {
      this.skipBlanks();
      if (this.src[this.pos] === '\n') {
        this.newline();
        continue;
      }
      if (this.pos >= this.src.length) {
        this.uncertain('a `[[` is not closed by `]]`');
        break;
      }
      if (this.src.startsWith(']]', this.pos) && this.isDelimiter(this.pos + 2)) {
        words.push(this.literalWord(']]', this.pos));
        this.pos += 2;
        break;
      }
      const operator = ['&&', '||', '(', ')', '<', '>'].find((op) => this.at(op));
      if (operator !== undefined && !this.at('<(') && !this.at('>(')) {
        words.push(this.literalWord(operator, this.pos));
        this.pos += operator.length;
        continue;
      }
      const before = this.pos;
      const word: Word = regexNext ? this.readRegexOperand() : this.readWord();
      if (this.pos === before) {
        this.syntax(this.pos);
        break;
      }
      regexNext = word.value === '=~' && !word.quoted;
      words.push(word);
    }
    this.report(words, this.src.slice(start, this.pos).trim());
    this.parseRedirections();
  }

  /** The right side of `=~`: unquoted parentheses and `|` belong to the regular expression. */
  private readRegexOperand(): Word {
    const start = this.pos;
    let parens = 0;
    let dynamic = false;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos] as string;
      if (parens === 0 && (BLANK.has(ch) || ch === '\n' || ch === ')')) break;
      if (ch === '(') parens++;
      else if (ch === ')') parens--;
      if (ch === '\\') this.pos += 2;
      else if (ch === "'") this.readSingleQuoted();
      else if (ch === '"') dynamic = !this.readDoubleQuoted().static || dynamic;
      else if (ch === '$' || ch === '`') dynamic = this.readDollarOrBacktick(false) || dynamic;
      else this.pos++;
    }
    const text = this.src.slice(start, this.pos);
    return { value: text, static: !dynamic, quoted: true, start, end: this.pos, source: this.src };
  }

  /** `function NAME [()] BODY` and `NAME () BODY`: the body's commands, reported; they run later. */
  private parseFunction(): void {
    this.pos += 8;
    this.skipBlanks();
    const name = this.readWord();
    this.skipBlanks();
    if (this.at('(')) {
      this.pos++;
      this.skipBlanks();
      this.expect(')');
    }
    this.functionBody(name.value);
  }

  private functionBody(name: string): void {
    this.uncertain(`defines function \`${excerpt(name)}\`: its commands run when it is called`);
    this.skipBlanksAndNewlines();
    this.nested(() => this.parseCommand(false));
  }

  /** Redirections after a compound command: `done < file`, `} 2>&1`. */
  private parseRedirections(): void {
    for (;;) {
      this.skipBlanks();
      if (this.redirectionAt(this.pos) === undefined) {
        const ch = this.src[this.pos];
        if (/^[0-9{]$/.test(ch ?? '') && this.fdPrefixEnd(this.pos) !== undefined) {
          this.pos = this.fdPrefixEnd(this.pos) ?? this.pos;
          continue;
        }
        return;
      }
      this.readRedirection(undefined);
    }
  }

  // ---------------------------------------------------------------- simple commands

  private parseSimple(piped: boolean): void {
    const start = this.pos;
    let end = this.pos;
    const words: Word[] = [];
    const assignments: Word[] = [];
    const stdin: Stdin = { piped, heredocs: [], herestrings: [] };
    for (;;) {
      this.skipBlanks();
      const ch = this.src[this.pos];
      if (ch === undefined || ch === '\n' || ch === ';' || ch === ')' || ch === '|') break;
      if (ch === '&' && !this.at('&>')) break;
      if (ch === '(') {
        const first = words[0];
        if (words.length === 1 && assignments.length === 0 && first !== undefined && this.emptyParensAt(this.pos)) {
          this.pos = this.emptyParensAt(this.pos) ?? this.pos;
          this.functionBody(first.value);
          return;
        }
        break; // `a (b)`: parseList reports the syntax error
      }
      const fdEnd = this.fdPrefixEnd(this.pos);
      if (fdEnd !== undefined) this.pos = fdEnd;
      if (this.redirectionAt(this.pos) !== undefined) {
        this.readRedirection(stdin);
        end = this.pos;
        continue;
      }
      const word = this.readWord();
      end = this.pos;
      if (words.length === 0 && ASSIGNMENT.test(word.source.slice(word.start, word.end))) assignments.push(word);
      else words.push(word);
    }
    for (const assignment of assignments) this.assignment(assignment);
    if (words.length === 0) {
      for (const assignment of assignments) this.remember(assignment);
      return;
    }
    const readsStdin = this.report(words, this.src.slice(start, end).trim());
    if (!readsStdin) return;
    for (const heredoc of stdin.heredocs) heredoc.feedsShell = true;
    for (const herestring of stdin.herestrings) this.runString([herestring], 'a shell');
    if (stdin.piped) this.uncertain(`a shell reads commands from a pipe (${excerpt(words.map((w) => w.value).join(' '))})`);
  }

  /** An assignment before a command, or alone: some variables hold commands the shell runs later. */
  private assignment(word: Word): void {
    const text = word.source.slice(word.start, word.end);
    if (!RUN_LATER_VARIABLE.test(text)) return;
    this.uncertain(`sets ${text.slice(0, text.search(/[[+=]/))}: the shell runs or expands it later`);
    const value = word.value.slice(word.value.indexOf('=') + 1);
    if (word.static && text.startsWith('PROMPT_COMMAND')) this.parseString(value);
  }

  /**
   * A command-less assignment `NAME=literal`: its value replaces `$NAME` and `${NAME}` in the
   * commands reported after it (see `report`). Only literal values without blanks or glob
   * characters (which the shell would split or expand); any other assignment forgets the name.
   */
  private remember(word: Word): void {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?(\+?)=/.exec(word.value);
    if (match === null) return;
    const name = match[1] as string;
    const value = word.value.slice(name.length + 1);
    if (match[2] === undefined && match[3] === '' && word.static && !/[\s*?[\]]/.test(value) && word.value.length < 4096) this.variables.set(name, value);
    else this.variables.delete(name);
  }

  /** `$NAME`/`${NAME}` (unquoted or double-quoted) replaced by their remembered literal values. */
  private substitute(value: string, mask: string | undefined): string {
    if (mask === undefined || this.variables.size === 0) return value;
    let length = value.length;
    const limit = Math.min(MAX_LINE_LENGTH, value.length + this.substitutionBudget);
    const result = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (text: string, braced: string | undefined, plain: string | undefined, offset: number) => {
      const known = this.variables.get(braced ?? plain ?? '');
      if (mask[offset] !== 'E' || known === undefined || length > limit) return text;
      length += known.length - text.length;
      return known;
    });
    if (length <= limit) {
      this.substitutionBudget -= length - value.length;
      return result;
    }
    this.substitutionBudget = 0;
    this.uncertain(`a command is longer than ${MAX_LINE_LENGTH} characters once its variables are substituted`);
    return value;
  }

  /**
   * The commands a simple command also is, once its braces are expanded (`rm /x/{a,b}` → `rm /x/a
   * /x/b`, and one command per combination: `rm /x/a`, `rm /x/b`) and the variables assigned a
   * literal earlier on the line substituted. Each as its words; undefined when the braces expand
   * past the bound.
   */
  private variants(words: readonly Word[]): string[][] | undefined {
    this.substitutionBudget = MAX_LINE_LENGTH;
    const forms: Array<Array<{ value: string; mask: string | undefined }>> = [];
    let combinations = 1;
    let expanded = false;
    for (const word of words) {
      const braces = word.mask !== undefined && word.mask.includes('L') && word.value.includes('{') ? braceExpand(word.value, word.mask, this.out) : undefined;
      if (braces === null) return undefined;
      if (braces === undefined || braces.length === 0) {
        forms.push([{ value: word.value, mask: word.mask }]);
        continue;
      }
      expanded = true;
      forms.push(braces);
      combinations *= braces.length;
      if (combinations > MAX_BRACE_RESULTS) return undefined;
    }
    const lists: string[][] = [];
    if (expanded) {
      // Bash drops the empty words brace expansion makes (`echo {a,}` runs `echo a`).
      const spliced = forms.flat().filter((form) => form.value !== '');
      if (spliced.length > words.length + MAX_BRACE_RESULTS || combinations * words.length > MAX_LINE_LENGTH) return undefined;
      lists.push(spliced.map((form) => this.substitute(form.value, form.mask)));
      let combos: Array<Array<{ value: string; mask: string | undefined }>> = [[]];
      for (const choices of forms) combos = combos.flatMap((combo) => choices.map((choice) => [...combo, choice]));
      if (combos.length > 1) for (const combo of combos) lists.push(combo.filter((form) => form.value !== '').map((form) => this.substitute(form.value, form.mask)));
    } else {
      lists.push(words.map((word) => this.substitute(word.value, word.mask)));
    }
    const original = words.map((word) => word.value).join('\u0000');
    const seen = new Set<string>([original]);
    return lists.filter((list) => {
      const key = list.join('\u0000');
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }

  /** `(` and `)` with only blanks between, at `at`: where they end, or undefined. */
  private emptyParensAt(at: number): number | undefined {
    let k = at + 1;
    while (BLANK.has(this.src[k] ?? '')) k++;
    return this.src[k] === ')' ? k + 1 : undefined;
  }

  /** A file descriptor before a redirection (`2>`, `{fd}>`): where it ends, or undefined. */
  private fdPrefixEnd(at: number): number | undefined {
    const match = /^(\d+|\{[A-Za-z_][A-Za-z0-9_]*\})[<>]/.exec(this.src.slice(at, at + 40));
    const prefix = match?.[1];
    return prefix === undefined ? undefined : at + prefix.length;
  }

  private redirectionAt(at: number): string | undefined {
    const rest = this.src.slice(at, at + 3);
    if (rest.startsWith('<(') || rest.startsWith('>(')) return undefined; // process substitution: a word
    return ['<<<', '<<-', '&>>', '<<', '<>', '<&', '>>', '>&', '>|', '&>', '<', '>'].find((op) => rest.startsWith(op));
  }

  private readRedirection(stdin: Stdin | undefined): void {
    const operator = this.redirectionAt(this.pos) ?? '';
    this.pos += operator.length;
    this.skipBlanks();
    const ch = this.src[this.pos];
    if (ch === undefined || (WORD_END.has(ch) && !this.at('<(') && !this.at('>('))) {
      this.syntax(this.pos);
      return;
    }
    const target = this.readWord();
    if (operator === '<<' || operator === '<<-') {
      const heredoc: PendingHeredoc = { delimiter: target.value, stripTabs: operator === '<<-', literal: target.quoted, feedsShell: false };
      this.pending.push(heredoc);
      stdin?.heredocs.push(heredoc);
    } else if (operator === '<<<') {
      stdin?.herestrings.push(target);
    }
  }

  /**
   * Reports a simple command, then what it runs in turn: the command behind a wrapper, the string
   * a shell or `eval` runs. `appended` marks arguments the line does not show (`xargs` and `find
   * -exec … +` add them). Returns whether the command is a shell that reads commands from its standard
   * input.
   */
  private report(words: readonly Word[], text: string, appended = false): boolean {
    const first = words[0];
    if (first === undefined) return false;
    if (this.out.commands.length >= MAX_COMMANDS) throw new Abort(`the line runs more than ${MAX_COMMANDS} commands: the rest is not analysed`);
    const values = words.map((word) => word.value);
    this.out.commands.push(appended ? { words: values, text, dynamic: true, argumentsAppended: true } : { words: values, text, dynamic: words.some((word) => !word.static) });
    const variants = this.variants(words);
    if (variants === undefined) this.uncertain(`brace expansion makes more than ${MAX_BRACE_RESULTS} words or commands (${excerpt(text)})`);
    for (const variant of variants ?? []) {
      if (this.out.commands.length >= MAX_COMMANDS) throw new Abort(`the line runs more than ${MAX_COMMANDS} commands: the rest is not analysed`);
      this.out.commands.push(appended ? { words: variant, text: variant.join(' '), dynamic: true, argumentsAppended: true } : { words: variant, text: variant.join(' '), dynamic: true });
    }
    if (!first.static) {
      this.uncertain(`the command name is expanded when the line runs (${excerpt(first.value)})`);
      return false;
    }
    this.enter();
    try {
      return this.runs(words);
    } finally {
      this.leave();
    }
  }

  /** What a command runs besides itself (see `report`). */
  private runs(words: readonly Word[]): boolean {
    const name = basename(words[0]?.value ?? '');
    const args = words.slice(1);
    if (SHELLS.has(name)) return this.shell(args);
    switch (name) {
      case 'eval': {
        const rest = args[0]?.value === '--' ? args.slice(1) : args;
        this.runString(rest, 'eval');
        return false;
      }
      case 'sudo':
      case 'doas':
        return this.wrapped(args, { withArg: 'uUgpCDhrtTRac', longWithArg: ['user', 'group', 'prompt', 'close-from', 'chdir', 'host', 'role', 'type', 'command-timeout', 'other-user', 'chroot', 'login-class', 'auth-type'], assignments: true });
      case 'env':
        return this.env(args);
      case 'nohup':
      case 'setsid':
      case 'builtin':
        return this.wrapped(args, { withArg: '', longWithArg: [] });
      case 'exec':
        return this.wrapped(args, { withArg: 'a', longWithArg: [] });
      case 'command':
        if (args.some((word) => /^-[a-zA-Z]*[vV]/.test(word.value))) return false; // describes, runs nothing
        return this.wrapped(args, { withArg: '', longWithArg: [] });
      case 'nice':
        return this.wrapped(args, { withArg: 'n', longWithArg: ['adjustment'] });
      case 'ionice':
        return this.wrapped(args, { withArg: 'cnp', longWithArg: ['class', 'classdata', 'pid', 'pgid', 'uid'] });
      case 'stdbuf':
        return this.wrapped(args, { withArg: 'ioe', longWithArg: ['input', 'output', 'error'] });
      case 'time':
        return this.wrapped(args, { withArg: 'fo', longWithArg: ['format', 'output'] });
      case 'timeout':
        return this.wrapped(args, { withArg: 'sk', longWithArg: ['signal', 'kill-after'], operands: 1 });
      case 'chroot':
        return this.wrapped(args, { withArg: '', longWithArg: ['userspec', 'groups'], operands: 1 });
      case 'xargs':
        this.xargs(args);
        return false;
      case 'watch':
        this.watch(args);
        return false;
      case 'find':
        this.findExec(args);
        return false;
      case 'su':
        this.su(args);
        return false;
      case 'runuser':
        // `runuser -u USER COMMAND…` runs the command itself; without -u it is su's `-c`.
        if (args.some((word) => /^-[a-zA-Z]*u$|^--user(=|$)/.test(word.value))) {
          return this.wrapped(args, { withArg: 'ugGsw', longWithArg: ['user', 'group', 'supp-group', 'shell', 'whitelist-environment'] });
        }
        this.su(args);
        return false;
      case 'script':
        return this.script(args);
      case 'flock':
        return this.flock(args);
      case 'busybox': {
        const rest = args[0]?.value.startsWith('-') === true ? [] : args;
        return rest.length > 0 && this.reportWrapped(rest, false);
      }
      case 'sg': {
        // `sg [-] GROUP [-c] COMMAND`: the command string is run by /bin/sh -c.
        let k = args[0]?.value === '-' ? 2 : 1;
        if (args[k]?.value === '-c') k++;
        const rest = args.slice(k);
        if (rest.length > 0) this.runString(rest, 'sg');
        return false;
      }
      case 'tmux':
      case 'screen':
      case 'byobu':
      case 'zellij':
      case 'dtach':
      case 'abduco':
      case 'dvtm':
        // Their panes run shells in the alternate screen, whose prompts may be anything: the lines
        // typed there cannot be told from a program's keys, so none of them could be checked.
        this.uncertain(`${name} runs shells in panes whose lines cannot be checked`);
        return false;
      case 'bind':
        this.bind(args);
        return false;
      case 'complete':
      case 'compgen':
        this.complete(args);
        return false;
      case 'stty':
        this.stty(args);
        return false;
      case 'fc':
        this.fc(args);
        return false;
      case 'hash':
        if (args.some((word) => !word.static || /^-[a-zA-Z]*p/.test(word.value))) this.uncertain('hash -p gives a program another name: a later line runs it under that name');
        return false;
      case 'enable':
        if (args.some((word) => !word.static || /^-[a-zA-Z]*f/.test(word.value))) this.uncertain('enable -f loads a builtin from a file: what it runs is not known');
        return false;
      case 'source':
      case '.':
        return this.source(args);
      case 'printf':
        for (let k = 0; k < args.length; k++) {
          const value = (args[k] as Word).value;
          if (value === '--' || !value.startsWith('-')) break;
          if (value === '-v') this.setsVariable(args[++k]);
          else if (value.startsWith('-v')) this.setsVariable({ ...(args[k] as Word), value: value.slice(2) });
        }
        return false;
      case 'read':
      case 'mapfile':
      case 'readarray':
        this.readsVariables(name, args);
        return false;
      case 'trap':
        this.trap(args);
        return false;
      case 'alias':
        this.alias(args);
        return false;
      case 'export':
      case 'declare':
      case 'typeset':
      case 'local':
      case 'readonly':
        for (const word of args) {
          if (ASSIGNMENT.test(word.value)) {
            this.assignment(word);
            this.remember(word);
          } else if (!word.static && !word.value.startsWith('-')) {
            this.uncertain(`${name} sets a variable whose name is expanded (${excerpt(word.value)})`);
          }
        }
        // `declare -n ref=PS1`: assigning `ref` later sets PS1.
        if (name !== 'export' && args.some((word) => /^-[a-zA-Z]*n/.test(word.value))) {
          for (const word of args) {
            const target = word.value.slice(word.value.indexOf('=') + 1);
            if (word.value.startsWith('-')) continue;
            if (!word.value.includes('=')) this.uncertain(`${name} -n ${excerpt(word.value)}: a later assignment to it sets the variable it names`);
            else if (RUN_LATER_NAME.test(target) || !word.static) this.uncertain(`${name} -n makes a name refer to ${excerpt(target)}: the shell runs or expands it later`);
          }
        }
        return false;
      default:
        return false;
    }
  }

  /**
   * The command after a wrapper's options (`sudo -u root rm` → `rm`): reported as a command of its
   * own. `withArg` lists the short options that take an argument, `operands` the operands before
   * the command (`timeout 5 cmd`).
   */
  private wrapped(args: readonly Word[], spec: { withArg: string; longWithArg: readonly string[]; assignments?: boolean; operands?: number }, dynamic = false): boolean {
    let k = skipOptions(args, spec);
    for (let operands = spec.operands ?? 0; operands > 0 && k < args.length; operands--) k++;
    const rest = args.slice(k);
    if (rest.length === 0) return false;
    return this.reportWrapped(rest, dynamic);
  }

  private reportWrapped(rest: readonly Word[], appended: boolean): boolean {
    const first = rest[0];
    const last = rest[rest.length - 1];
    if (first === undefined || last === undefined) return false;
    const text = first.source === last.source ? first.source.slice(first.start, last.end).trim() : rest.map((word) => word.value).join(' ');
    return this.report(rest, text, appended);
  }

  private env(args: readonly Word[]): boolean {
    let k = 0;
    while (k < args.length) {
      const word = args[k] as Word;
      const value = word.value;
      if (value === '--') {
        k++;
        break;
      }
      const split = /^-[a-zA-Z]*S(.*)$/.exec(value) ?? /^--split-string=(.*)$/.exec(value);
      if (split !== null || value === '--split-string') {
        // `env -S 'cmd args'` splits the string into the command and its arguments.
        const string = split?.[1] ? split[1] : args[k + 1]?.value;
        if (string !== undefined && (split?.[1] ? word.static : args[k + 1]?.static)) this.parseString(string);
        else this.uncertain('env -S runs an expanded string');
        return false;
      }
      if (value.startsWith('--')) k += /^--(unset|chdir)$/.test(value) ? 2 : 1;
      else if (value.startsWith('-') && value.length > 1) k += /^-[a-zA-Z0]*[uC]$/.test(value) ? 2 : 1;
      else if (ASSIGNMENT.test(value)) {
        this.assignment(word);
        k++;
      } else break;
    }
    const rest = args.slice(k);
    return rest.length > 0 && this.reportWrapped(rest, false);
  }

  /** `bash [options] -c STRING`, `sh -lc STRING`: the string is parsed as a command line. */
  private shell(args: readonly Word[]): boolean {
    let command = false;
    let stdin = false;
    let k = 0;
    for (; k < args.length; k++) {
      const value = (args[k] as Word).value;
      if (value === '--' || value === '-') {
        k++;
        break;
      }
      if (value.startsWith('--')) {
        if (value === '--rcfile' || value === '--init-file') k++;
        continue;
      }
      if (!/^[-+]./.test(value)) break;
      if (value.slice(1).includes('c')) command = true;
      if (value.slice(1).includes('s')) stdin = true;
      if (/[oO]/.test(value.slice(1))) k++;
    }
    const operand = args[k];
    if (command) {
      if (operand === undefined) this.syntax(this.pos);
      else this.runString([operand], 'a shell');
      return false;
    }
    return stdin || operand === undefined;
  }

  private xargs(args: readonly Word[]): void {
    // Short options with an argument; -e, -i and -l take theirs only attached (`-i{}`).
    const k = skipOptions(args, {
      withArg: 'adEILnPs',
      longWithArg: ['arg-file', 'delimiter', 'max-lines', 'max-args', 'max-procs', 'max-chars', 'process-slot-var'],
    });
    // With -I (or -i, --replace), each input line replaces the string in the arguments: those
    // words, a `sh -c` string among them, are not known.
    let replace: string | undefined;
    for (let j = 0; j < k; j++) {
      const value = (args[j] as Word).value;
      const option = /^-[a-zA-Z]*I(.*)$/.exec(value) ?? /^-[a-zA-Z]*i(.*)$/.exec(value) ?? /^--replace(?:=(.*))?$/.exec(value);
      if (option === null) continue;
      replace = option[1] || (value.endsWith('I') ? args[j + 1]?.value : '{}');
    }
    const rest = args.slice(k).map((word) => (replace !== undefined && replace !== '' && word.value.includes(replace) ? { ...word, static: false } : word));
    if (rest.length === 0) return;
    this.reportWrapped(rest, true);
  }

  /** `watch [options] COMMAND…` runs `sh -c` with the words joined, unless `-x`. */
  private watch(args: readonly Word[]): void {
    const k = skipOptions(args, { withArg: 'nq', longWithArg: ['interval', 'equexit'] });
    const rest = args.slice(k);
    if (rest.length === 0) return;
    const exec = args.slice(0, k).some((word) => /^-[a-zA-Z]*x|^--exec$/.test(word.value));
    if (exec) this.reportWrapped(rest, false);
    else this.runString(rest, 'watch');
  }

  /** `find … -exec COMMAND… ;` (and `-execdir`, `-ok`, `-okdir`; `+` ends one too). */
  private findExec(args: readonly Word[]): void {
    for (let k = 0; k < args.length; k++) {
      if (!/^-(exec|execdir|ok|okdir)$/.test((args[k] as Word).value)) continue;
      let end = k + 1;
      while (end < args.length && !/^[;+]$/.test((args[end] as Word).value)) end++;
      // `{}` is replaced by each file name, also inside a word (`sh -c 'rm {}'`).
      const command = args.slice(k + 1, end).map((word) => (word.value.includes('{}') ? { ...word, static: false } : word));
      if (command.length > 0) this.reportWrapped(command, false);
      k = end;
    }
  }

  /** `su [options] -c COMMAND`, `runuser … --command=COMMAND`: run by the user's shell. */
  private su(args: readonly Word[]): void {
    for (let k = 0; k < args.length; k++) {
      const value = (args[k] as Word).value;
      let command: Word | undefined;
      if (/^-[a-zA-Z]*c$/.test(value) || value === '--command' || value === '--session-command') command = args[k + 1];
      else if (/^--(session-)?command=/.test(value)) {
        const word = args[k] as Word;
        command = { ...word, value: value.slice(value.indexOf('=') + 1) };
      } else if (/^-[a-zA-Z]*[sgGw]$/.test(value) || /^--(shell|group|supp-group|whitelist-environment)$/.test(value)) k++;
      if (command === undefined) continue;
      this.runString([command], 'su');
      return;
    }
  }

  /** A variable that `read`, `printf -v`, `mapfile` set: some hold commands the shell runs later. */
  private setsVariable(word: Word | undefined): void {
    if (word === undefined) return;
    if (!word.static) this.uncertain(`sets a variable whose name is expanded (${excerpt(word.value)})`);
    else if (RUN_LATER_NAME.test(word.value)) this.uncertain(`sets ${word.value.replace(/\[.*$/, '')}: the shell runs or expands it later`);
  }

  /** `read [-a NAME] [NAME…]`, `mapfile [-C CALLBACK] [ARRAY]`: the variables they set. */
  private readsVariables(name: string, args: readonly Word[]): void {
    const read = name === 'read';
    const withArg = read ? 'adinNptu' : 'dnOsuCc';
    let k = 0;
    for (; k < args.length; k++) {
      const value = (args[k] as Word).value;
      if (value === '--') {
        k++;
        break;
      }
      if (!value.startsWith('-') || value === '-') break;
      for (let j = 1; j < value.length; j++) {
        const option = value.charAt(j);
        if (!withArg.includes(option)) continue;
        const argument: Word | undefined = j < value.length - 1 ? { ...(args[k] as Word), value: value.slice(j + 1) } : args[++k];
        if (read && option === 'a') this.setsVariable(argument);
        if (!read && option === 'C') {
          // The callback is evaluated as a command (with arguments appended) every few lines.
          this.uncertain('mapfile -C runs a callback command for the lines it reads');
          if (argument !== undefined) this.runString([argument], 'mapfile -C');
        }
        break;
      }
    }
    const names = args.slice(k);
    if (!read && names.length === 0) return;
    for (const word of read ? names : names.slice(0, 1)) this.setsVariable(word);
  }

  /** `bind`: anything but listing binds keys to commands or macros a later key press runs. */
  private bind(args: readonly Word[]): void {
    for (let k = 0; k < args.length; k++) {
      const word = args[k] as Word;
      const value = word.value;
      let listing = word.static && /^-[a-zA-Z]+$/.test(value);
      if (listing) {
        for (let j = 1; j < value.length; j++) {
          const option = value.charAt(j);
          if ('mqur'.includes(option)) {
            if (j === value.length - 1) k++; // its argument: a keymap, a function name, a key
            break;
          }
          if (!'lpPvVsSX'.includes(option)) listing = false;
        }
      }
      if (!listing) {
        this.uncertain(`bind changes what keys do (${excerpt(value)}): a later key press runs a command the line does not show`);
        return;
      }
    }
  }

  /** `complete`/`compgen -C COMMAND`, `-F FUNCTION`, `-W` with an expansion: run at Tab. */
  private complete(args: readonly Word[]): void {
    for (let k = 0; k < args.length; k++) {
      const word = args[k] as Word;
      const value = word.value;
      if (!word.static && value.startsWith('-')) {
        this.uncertain(`${excerpt(value)}: a completion option is expanded`);
        return;
      }
      if (!/^-[a-zA-Z]+$/.test(value)) continue;
      for (let j = 1; j < value.length; j++) {
        const option = value.charAt(j);
        if (!'oAGWFCXPS'.includes(option)) continue;
        const argument = j < value.length - 1 ? value.slice(j + 1) : args[++k]?.value;
        if (option === 'C' || option === 'F') {
          this.uncertain(`completion with -${option} runs ${excerpt(argument ?? '')} when Tab is pressed`);
          return;
        }
        if (option === 'W' && argument !== undefined && /[$`]/.test(argument)) {
          this.uncertain('completion with -W expands its word list, substitutions included, when Tab is pressed');
          return;
        }
        break;
      }
    }
  }

  /** `stty intr …`, `stty -isig`, `stty raw`: Ctrl-C or Ctrl-D no longer do what the gateway relies on. */
  private stty(args: readonly Word[]): void {
    for (const word of args) {
      const value = word.value;
      if (!word.static || STTY_SIGNAL_SETTINGS.has(value) || /^[0-9a-fA-F]+(:[0-9a-fA-F]+){4,}$/.test(value)) {
        this.uncertain(`stty ${excerpt(value)} changes what Ctrl-C or Ctrl-D do`);
        return;
      }
    }
  }

  /** `fc` runs lines from the history (edited, or `-s old=new`); only `fc -l` lists them. */
  private fc(args: readonly Word[]): void {
    const options = args.filter((word) => /^-[a-zA-Z]+$/.test(word.value)).map((word) => word.value).join('');
    if (/[lL]/.test(options) && !options.includes('s')) return;
    this.uncertain('fc runs a line from the history, which the gateway does not see');
  }

  /**
   * `source FILE`/`. FILE`: a file given by a literal path runs like `bash FILE`, a program whose
   * content the gateway does not see (a known limit, as for any script); one given by an expansion,
   * a process substitution or standard input (`/dev/stdin`, `/dev/fd/N`, `/proc/self/fd/N`) is
   * uncertain. Returns whether it reads commands from standard input.
   */
  private source(args: readonly Word[]): boolean {
    let k = 0;
    if (args[k]?.value === '--') k++;
    const file = args[k];
    if (file === undefined) return false;
    if (!file.static) {
      this.uncertain(`source reads commands from an expanded file name (${excerpt(file.value)})`);
      return false;
    }
    if (/^\/(dev\/(stdin|fd\/\d+)|proc\/[^/]+\/fd\/\d+)$/.test(file.value) || file.value === '-') {
      this.uncertain(`source reads commands from ${excerpt(file.value)}`);
      return /(stdin|\/0)$/.test(file.value);
    }
    return false;
  }

  /** `script [-q] -c COMMAND [FILE]` runs the command with `sh -c`; without -c, a shell on its input. */
  private script(args: readonly Word[]): boolean {
    for (let k = 0; k < args.length; k++) {
      const value = (args[k] as Word).value;
      let command: Word | undefined;
      if (/^-[a-zA-Z]*c$/.test(value) || value === '--command') command = args[k + 1];
      else if (/^--command=/.test(value) || /^-[aefkqw]*c./.test(value)) {
        const word = args[k] as Word;
        command = { ...word, value: value.slice(value.startsWith('--') ? value.indexOf('=') + 1 : value.indexOf('c') + 1) };
      } else if (/^-[a-zA-Z]*[EIOBTmo]$/.test(value) || /^--(echo|log-in|log-out|log-io|log-timing|logging-format|output-limit)$/.test(value)) k++;
      if (command === undefined) continue;
      this.runString([command], 'script');
      return false;
    }
    return true;
  }

  /** `flock [options] FILE -c COMMAND` (run by `sh -c`), `flock [options] FILE COMMAND…`. */
  private flock(args: readonly Word[]): boolean {
    let k = 0;
    for (; k < args.length; k++) {
      const value = (args[k] as Word).value;
      if (value === '--') {
        k++;
        break;
      }
      if (!value.startsWith('-') || value === '-') break;
      if (/^-[a-zA-Z]*[wE]$/.test(value) || /^--(timeout|wait|conflict-exit-code)$/.test(value)) k++;
    }
    const rest = args.slice(k + 1);
    const first = rest[0];
    if (first === undefined) return false;
    if (first.value === '-c' || first.value === '--command') {
      const command = rest[1];
      if (command !== undefined) this.runString([command], 'flock');
      return false;
    }
    return this.reportWrapped(rest, false);
  }

  /** `trap COMMAND SIGNAL…`: the command runs later, on the signal. */
  private trap(args: readonly Word[]): void {
    const rest = args[0]?.value === '--' ? args.slice(1) : args;
    const action = rest[0];
    if (action === undefined || rest.length < 2 || action.value.startsWith('-')) return;
    this.uncertain('sets a trap: its commands run later, on a signal');
    if (action.static) this.parseString(action.value);
  }

  /** `alias NAME=VALUE`: the value replaces NAME when a later line starts with it. */
  private alias(args: readonly Word[]): void {
    for (const word of args) {
      const at = word.value.indexOf('=');
      if (at <= 0) continue;
      this.uncertain(`defines alias \`${excerpt(word.value.slice(0, at))}\`: its commands run when a later line uses it`);
      if (word.static) this.parseString(word.value.slice(at + 1));
    }
  }

  /**
   * A command line that `who` runs, given as words joined by spaces (`eval a b`). When expanded,
   * what it will be is not known: its source is parsed all the same, so that `eval "rm $x"` still
   * shows `rm`, unless it holds a substitution (already parsed where it stands: parsing it again
   * would double the work at each level of nesting).
   */
  private runString(words: readonly Word[], who: string): void {
    const text = words.map((word) => word.value).join(' ');
    if (words.every((word) => word.static)) {
      this.parseString(text);
      return;
    }
    this.uncertain(`${who} runs an expanded string (${excerpt(text)})`);
    if (!/\$\(|`|[<>]\(/.test(text)) this.parseString(text);
  }

  /** Parses a string that a command runs as a command line (`eval`, `bash -c`, a here-string). */
  private parseString(text: string): void {
    this.enter();
    try {
      new Parser(text, this.out).parseProgram();
    } finally {
      this.leave();
    }
  }

  // ---------------------------------------------------------------- words

  /**
   * Reads one word at `pos`: quotes removed, escapes resolved, expansions kept as source and their
   * commands parsed in place.
   */
  private readWord(): Word {
    const start = this.pos;
    let value = '';
    let mask = ''; // per character of value: L unquoted literal, Q quoted, E expansion source
    let dynamic = false;
    let glob = false;
    let quoted = false;
    let braces = 0; // unquoted `{` seen, and then `,` or `..`: brace expansion
    let bracket = false;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos] as string;
      const next = this.src[this.pos + 1];
      if ((ch === '<' || ch === '>') && next === '(') {
        const from = this.pos;
        this.pos++;
        this.commandSubstitution();
        value += this.src.slice(from, this.pos);
        mask += 'E'.repeat(this.pos - from);
        dynamic = true;
        continue;
      }
      if (ch === '(' && ASSIGNMENT.test(this.src.slice(start, this.pos)) && this.src.slice(start, this.pos).endsWith('=')) {
        const from = this.pos;
        dynamic = this.readArray() || dynamic;
        value += this.src.slice(from, this.pos);
        mask += 'E'.repeat(this.pos - from);
        continue;
      }
      if (ch === '(' && /[?*+@!]/.test(this.src[this.pos - 1] ?? '') && this.pos > start) {
        const from = this.pos;
        this.skipBalanced();
        value += this.src.slice(from, this.pos);
        mask += 'E'.repeat(this.pos - from);
        glob = true;
        continue;
      }
      if (WORD_END.has(ch)) break;
      if (ch === '\\') {
        if (next === '\n') {
          this.pos += 2;
          continue;
        }
        if (next === undefined) {
          this.uncertain('the line ends with a backslash: the shell waits for more');
          this.pos++;
          break;
        }
        value += next;
        mask += 'Q';
        quoted = true;
        this.pos += 2;
        continue;
      }
      if (ch === "'") {
        const part = this.readSingleQuoted();
        value += part;
        mask += 'Q'.repeat(part.length);
        quoted = true;
        continue;
      }
      if (ch === '$' && next === "'") {
        this.pos++;
        const part = decodeAnsiC(this.readSingleQuoted(true));
        value += part;
        mask += 'Q'.repeat(part.length);
        quoted = true;
        continue;
      }
      if (ch === '"' || (ch === '$' && next === '"')) {
        if (ch === '$') this.pos++;
        const part = this.readDoubleQuoted();
        value += part.value;
        mask += part.mask;
        dynamic = dynamic || !part.static;
        quoted = true;
        continue;
      }
      if (ch === '$' || ch === '`') {
        const from = this.pos;
        const expanded = this.readDollarOrBacktick(false);
        value += this.src.slice(from, this.pos);
        mask += (expanded ? 'E' : 'L').repeat(this.pos - from);
        dynamic = dynamic || expanded;
        continue;
      }
      if (ch === '*' || ch === '?') glob = true;
      else if (ch === '[') bracket = true;
      else if (ch === ']' && bracket) glob = true;
      else if (ch === '{') braces = Math.max(braces, 1);
      else if (braces === 1 && (ch === ',' || (ch === '.' && next === '.'))) braces = 2;
      else if (ch === '}' && braces === 2) glob = true;
      value += ch;
      mask += 'L';
      this.pos++;
    }
    const assignment = ASSIGNMENT.test(this.src.slice(start, this.pos));
    return { value, static: !dynamic && (assignment || !glob), quoted, start, end: this.pos, source: this.src, mask };
  }

  private literalWord(value: string, start: number): Word {
    return { value, static: true, quoted: false, start, end: start + value.length, source: this.src };
  }

  /** `name=(a b c)`: the elements are words. Returns whether one is expanded. */
  private readArray(): boolean {
    return this.nested(() => this.readArrayElements());
  }

  private readArrayElements(): boolean {
    this.pos++;
    let dynamic = false;
    for (;;) {
      this.skipBlanksAndNewlines();
      const ch = this.src[this.pos];
      if (ch === ')') {
        this.pos++;
        return dynamic;
      }
      if (ch === undefined || WORD_END.has(ch)) {
        this.syntax(this.pos);
        return dynamic;
      }
      dynamic = !this.readWord().static || dynamic;
    }
  }

  /** An extglob group `@( … )`: skips it with its nested parentheses and quotes. */
  private skipBalanced(): void {
    let depth = 0;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos] as string;
      if (ch === '\\') this.pos += 2;
      else if (ch === "'") this.readSingleQuoted();
      else if (ch === '"') this.readDoubleQuoted();
      else if (ch === '$' || ch === '`') this.readDollarOrBacktick(false);
      else {
        this.pos++;
        if (ch === '(') depth++;
        else if (ch === ')' && --depth === 0) return;
      }
    }
    this.uncertain('a pattern group `( … )` is not closed');
  }

  /** Reads `'…'` at `pos` (or after `$`), returning the content. */
  private readSingleQuoted(ansi = false): string {
    const open = this.pos;
    let k = open + 1;
    while (k < this.src.length && this.src[k] !== "'") k += ansi && this.src[k] === '\\' ? 2 : 1;
    if (k >= this.src.length) {
      this.uncertain('a quote is not closed: the shell waits for more');
      this.pos = this.src.length;
      return this.src.slice(open + 1);
    }
    this.pos = k + 1;
    return this.src.slice(open + 1, k);
  }

  /** Reads `"…"` at `pos`: its value, and whether it holds an expansion. */
  private readDoubleQuoted(): { value: string; static: boolean; mask: string } {
    this.pos++;
    let value = '';
    let mask = '';
    let dynamic = false;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos] as string;
      const next = this.src[this.pos + 1];
      if (ch === '"') {
        this.pos++;
        return { value, static: !dynamic, mask };
      }
      if (ch === '\\' && next !== undefined && '$`"\\\n'.includes(next)) {
        if (next !== '\n') {
          value += next;
          mask += 'Q';
        }
        this.pos += 2;
      } else if (ch === '$' || ch === '`') {
        const from = this.pos;
        const expanded = this.readDollarOrBacktick(true);
        dynamic = expanded || dynamic;
        value += this.src.slice(from, this.pos);
        mask += (expanded ? 'E' : 'Q').repeat(this.pos - from);
      } else {
        value += ch;
        mask += 'Q';
        this.pos++;
      }
    }
    this.uncertain('a quote is not closed: the shell waits for more');
    return { value, static: !dynamic, mask };
  }

  /**
   * Reads an expansion at `pos` (`$name`, `${…}`, `$(…)`, `$((…))`, `$[…]`, backticks), parsing
   * the commands inside. Returns false when it is a literal `$`.
   */
  private readDollarOrBacktick(inDoubleQuotes: boolean): boolean {
    if (this.src[this.pos] === '`') {
      this.backtick(inDoubleQuotes);
      return true;
    }
    const next = this.src[this.pos + 1] ?? '';
    if (next === '(') {
      if (this.src[this.pos + 2] === '(' && this.arithmeticCloses(this.pos + 3)) {
        this.pos += 3;
        this.enter();
        try {
          this.scanArithmetic();
        } finally {
          this.leave();
        }
      } else {
        this.pos++;
        this.commandSubstitution();
      }
      return true;
    }
    if (next === '{') {
      this.pos += 2;
      this.enter();
      try {
        this.scanParameter(inDoubleQuotes);
      } finally {
        this.leave();
      }
      return true;
    }
    if (next === '[') {
      this.pos += 2;
      this.enter();
      try {
        this.scanUntil(']');
      } finally {
        this.leave();
      }
      return true;
    }
    if (/[A-Za-z_]/.test(next)) {
      this.pos++;
      while (/[A-Za-z0-9_]/.test(this.src[this.pos] ?? '')) this.pos++;
      return true;
    }
    if (/[0-9@*#?$!-]/.test(next) && next !== '') {
      this.pos += 2;
      return true;
    }
    this.pos++;
    return false;
  }

  /** `(…)` at `pos`, after `$`, `<` or `>`: its commands parsed in place. */
  private commandSubstitution(): void {
    this.pos++;
    this.enter();
    try {
      this.parseList();
      this.expect(')');
    } finally {
      this.leave();
    }
  }

  /** `` `…` ``: the content, with `\$`, `` \` `` and `\\` unescaped, parsed as a command line. */
  private backtick(inDoubleQuotes: boolean): void {
    let k = this.pos + 1;
    let content = '';
    while (k < this.src.length && this.src[k] !== '`') {
      const ch = this.src[k] as string;
      const next = this.src[k + 1];
      if (ch === '\\' && next !== undefined && ('$`\\'.includes(next) || (inDoubleQuotes && next === '"'))) {
        content += next;
        k += 2;
      } else {
        content += ch;
        k++;
      }
    }
    if (k >= this.src.length) this.uncertain('a backquote is not closed: the shell waits for more');
    this.pos = Math.min(k + 1, this.src.length);
    this.parseString(content);
  }

  /** `${…}` after the brace: nested expansions parsed, up to the matching `}`. */
  private scanParameter(inDoubleQuotes: boolean): void {
    let depth = 0;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos] as string;
      if (ch === '\\') this.pos += 2;
      else if (ch === "'" && !inDoubleQuotes) this.readSingleQuoted();
      else if (ch === '"') this.readDoubleQuoted();
      else if (ch === '$' || ch === '`') this.readDollarOrBacktick(inDoubleQuotes);
      else {
        this.pos++;
        if (ch === '{') depth++;
        else if (ch === '}' && depth-- === 0) return;
      }
    }
    this.uncertain('a `${` is not closed: the shell waits for more');
  }

  /** `$[ … ]` (old arithmetic) after the bracket. */
  private scanUntil(close: string): void {
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos] as string;
      if (ch === close) {
        this.pos++;
        return;
      }
      if (ch === '$' || ch === '`') this.readDollarOrBacktick(false);
      else this.pos++;
    }
    this.uncertain(`a \`${close}\` is missing`);
  }

  /**
   * Whether `((` (the text from `from` on) is arithmetic, closed by `))`, rather than two nested
   * subshells or substitutions: bash decides so too, by where the parentheses close. A pure scan, so
   * a failed guess costs no backtracking of what was parsed.
   */
  private arithmeticCloses(from: number): boolean {
    let depth = 0;
    for (let k = from; k < this.src.length; k++) {
      const ch = this.src[k];
      if (ch === '\\') k++;
      else if (ch === "'" || ch === '"' || ch === '`') {
        const close = this.src.indexOf(ch, k + 1);
        if (close === -1) return false;
        k = close;
      } else if (ch === '(') depth++;
      else if (ch === ')') {
        if (depth === 0) return this.src[k + 1] === ')';
        depth--;
      }
    }
    return false;
  }

  /** Arithmetic after `((`, up to the matching `))`: substitutions inside run. */
  private scanArithmetic(): void {
    let depth = 0;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos] as string;
      if (ch === '\\') this.pos += 2;
      else if (ch === '"') this.readDoubleQuoted();
      else if (ch === "'") this.readSingleQuoted();
      else if (ch === '$' || ch === '`') this.readDollarOrBacktick(false);
      else if (ch === '\n') this.newline();
      else {
        this.pos++;
        if (ch === '(') depth++;
        else if (ch === ')') {
          if (depth === 0 && this.src[this.pos] === ')') {
            this.pos++;
            return;
          }
          depth--;
        }
      }
    }
    this.uncertain('an arithmetic `((` is not closed');
  }

  // ---------------------------------------------------------------- here-documents and blanks

  /** Consumes a newline at `pos`, then the bodies of the here-documents its line opened. */
  private newline(): void {
    this.pos++;
    while (this.pending.length > 0) {
      const heredoc = this.pending.shift() as PendingHeredoc;
      const bodyStart = this.pos;
      let bodyEnd = -1;
      while (this.pos < this.src.length) {
        const eol = this.src.indexOf('\n', this.pos);
        const lineEnd = eol === -1 ? this.src.length : eol;
        const text = this.src.slice(this.pos, lineEnd);
        const lineStart = this.pos;
        this.pos = eol === -1 ? this.src.length : eol + 1;
        if ((heredoc.stripTabs ? text.replace(/^\t+/, '') : text) === heredoc.delimiter) {
          bodyEnd = lineStart;
          break;
        }
      }
      if (bodyEnd === -1) {
        this.uncertain('a here-document is not closed by its delimiter');
        bodyEnd = this.src.length;
      }
      this.heredocBody(this.src.slice(bodyStart, bodyEnd), heredoc);
    }
  }

  /** A here-document's body is data, but an unquoted one expands `$( )`, and a shell may read it. */
  private heredocBody(body: string, heredoc: PendingHeredoc): void {
    if (heredoc.feedsShell) {
      this.uncertain('a shell reads commands from a here-document');
      this.parseString(body);
      return;
    }
    if (heredoc.literal || !/[$`]/.test(body)) return;
    this.enter();
    try {
      new Parser(body, this.out).scanExpansions();
    } finally {
      this.leave();
    }
  }

  /** Parses only the expansions of a text (an unquoted here-document body). */
  scanExpansions(): void {
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos];
      if (ch === '\\') this.pos += 2;
      else if (ch === '$' || ch === '`') this.readDollarOrBacktick(true);
      else this.pos++;
    }
  }

  private skipBlanks(): void {
    for (;;) {
      const ch = this.src[this.pos];
      if (ch === ' ' || ch === '\t') this.pos++;
      else if (ch === '\\' && this.src[this.pos + 1] === '\n') this.pos += 2;
      else if (ch === '#') {
        const eol = this.src.indexOf('\n', this.pos);
        this.pos = eol === -1 ? this.src.length : eol;
      } else return;
    }
  }

  private skipBlanksAndNewlines(): void {
    for (;;) {
      this.skipBlanks();
      if (this.src[this.pos] !== '\n') return;
      this.newline();
    }
  }

  // ---------------------------------------------------------------- tokens

  private at(text: string): boolean {
    return this.src.startsWith(text, this.pos);
  }

  private isDelimiter(at: number): boolean {
    const ch = this.src[at];
    return ch === undefined || WORD_END.has(ch);
  }

  /** Whether the unquoted reserved word `word` is at `pos`, followed by a delimiter. */
  private reservedAt(word: string): boolean {
    return this.at(word) && this.isDelimiter(this.pos + word.length);
  }

  private expect(token: string): boolean {
    this.skipBlanks();
    if (this.at(token)) {
      this.pos += token.length;
      return true;
    }
    return this.missing(token);
  }

  private expectReserved(word: string): boolean {
    this.skipBlanksAndNewlines();
    if (this.reservedAt(word)) {
      this.pos += word.length;
      return true;
    }
    return this.missing(word);
  }

  /** `token` was expected here: the line ends before it (the shell waits for more), or has something else. */
  private missing(token: string): false {
    if (this.pos >= this.src.length) this.uncertain(`\`${token}\` is missing: the shell waits for more`);
    else this.syntax(this.pos);
    return false;
  }

  private syntax(at: number): void {
    this.uncertain(`syntax the shell rejects near \`${excerpt(this.src.slice(at, at + 20))}\``);
  }

  private uncertain(reason: string): void {
    this.out.uncertain.add(reason);
  }

  private enter(): void {
    this.out.depth++;
    if (this.out.depth > MAX_DEPTH) throw new Abort(`the line nests more than ${MAX_DEPTH} levels deep: the rest is not analysed`);
  }

  private leave(): void {
    this.out.depth--;
  }

  /** Runs `parse` one level deeper. */
  private nested<T>(parse: () => T): T {
    this.enter();
    try {
      return parse();
    } finally {
      this.leave();
    }
  }
}

/**
 * The index of the first operand after a command's options: `-x`, clusters (`-lc`), `--long`,
 * `--long=value`, the argument of an option in `withArg` (attached or next), `--` ending them.
 */
function skipOptions(args: readonly Word[], spec: { withArg: string; longWithArg: readonly string[]; assignments?: boolean }): number {
  let k = 0;
  while (k < args.length) {
    const value = (args[k] as Word).value;
    if (value === '--') return k + 1;
    if (value.startsWith('--')) {
      k += !value.includes('=') && spec.longWithArg.includes(value.slice(2)) ? 2 : 1;
    } else if (value.startsWith('-') && value.length > 1) {
      k++;
      for (let j = 1; j < value.length; j++) {
        if (!spec.withArg.includes(value.charAt(j))) continue;
        if (j === value.length - 1) k++; // the argument is the next word
        break;
      }
    } else if (spec.assignments === true && ASSIGNMENT.test(value)) {
      k++;
    } else {
      return k;
    }
  }
  return k;
}

interface Form {
  readonly value: string;
  readonly mask: string | undefined;
}

/**
 * Bash's brace expansion of one word (`a{b,c}d` → `abd acd`, `{1..3}`, `{a..c}`, `{01..10..2}`,
 * nested), on its unquoted characters only (`mask` `L`, see `Word`). Undefined when the word has
 * none; null when it expands past `MAX_BRACE_RESULTS` words or past the line's `braceBudget` of work.
 */
function braceExpand(value: string, mask: string, work: { braceBudget: number }): Form[] | null | undefined {
  const expand = (form: Form, from: number, depth: number): Form[] | null => {
    const { value: text } = form;
    const marks = form.mask ?? '';
    if (depth > 64) return null;
    for (let open = from; open < text.length; open++) {
      if (--work.braceBudget < 0) return null;
      if (text[open] !== '{' || marks[open] !== 'L') continue;
      // The matching `}`, and the commas at its level.
      let level = 0;
      const commas: number[] = [];
      let close = -1;
      for (let k = open + 1; k < text.length && close === -1; k++) {
        if (--work.braceBudget < 0) return null;
        if (marks[k] !== 'L') continue;
        const ch = text[k];
        if (ch === '{') level++;
        else if (ch === '}') {
          if (level === 0) close = k;
          else level--;
        } else if (ch === ',' && level === 0) commas.push(k);
      }
      if (close === -1) return [form];
      let parts: Form[];
      if (commas.length > 0) {
        const bounds = [open, ...commas, close];
        parts = bounds.slice(0, -1).map((at, i) => ({ value: text.slice(at + 1, bounds[i + 1]), mask: marks.slice(at + 1, bounds[i + 1]) }));
      } else {
        const inner = text.slice(open + 1, close);
        const sequence = marks.slice(open + 1, close).includes('E') || marks.slice(open + 1, close).includes('Q') ? undefined : braceSequence(inner);
        if (sequence === null) return null;
        if (sequence === undefined) continue; // `{a}`, `{}`: literal; look further on
        parts = sequence.map((item) => ({ value: item, mask: 'Q'.repeat(item.length) }));
      }
      if (parts.length > MAX_BRACE_RESULTS) return null;
      const before = text.slice(0, open);
      const beforeMask = marks.slice(0, open);
      const after = text.slice(close + 1);
      const afterMask = marks.slice(close + 1);
      const results: Form[] = [];
      for (const part of parts) {
        work.braceBudget -= text.length;
        const expanded = expand({ value: before + part.value + after, mask: beforeMask + (part.mask ?? '') + afterMask }, open, depth + 1);
        if (expanded === null) return null;
        results.push(...expanded);
        if (results.length > MAX_BRACE_RESULTS) return null;
      }
      return results;
    }
    return [form];
  };
  const results = expand({ value, mask }, 0, 0);
  if (results === null) return null;
  return results.length === 1 && results[0]?.value === value ? undefined : results;
}

/** `{1..5}`, `{05..1..2}`, `{a..e}`: the items; undefined when not a sequence; null when too long. */
function braceSequence(inner: string): string[] | null | undefined {
  const numeric = /^([-+]?\d+)\.\.([-+]?\d+)(?:\.\.([-+]?\d+))?$/.exec(inner);
  const letters = /^([A-Za-z])\.\.([A-Za-z])(?:\.\.([-+]?\d+))?$/.exec(inner);
  const match = numeric ?? letters;
  if (match === null) return undefined;
  const [, first = '', last = '', step] = match;
  const from = numeric ? Number(first) : first.charCodeAt(0);
  const to = numeric ? Number(last) : last.charCodeAt(0);
  const increment = Math.abs(Number(step ?? 1)) || 1;
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) return null;
  if (Math.floor(Math.abs(to - from) / increment) + 1 > MAX_BRACE_RESULTS) return null;
  const width = numeric && (/^[-+]?0\d/.test(first) || /^[-+]?0\d/.test(last)) ? Math.max(first.length, last.length) : 0;
  const items: string[] = [];
  for (let n = from; from <= to ? n <= to : n >= to; n += from <= to ? increment : -increment) {
    if (!numeric) items.push(String.fromCharCode(n));
    else items.push(n < 0 ? `-${String(-n).padStart(width - 1, '0')}` : String(n).padStart(width, '0'));
  }
  return items;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function excerpt(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

/** The value of `$'…'`: bash's ANSI-C escapes (`\n`, `\x72`, `\0162`, `\u…`, `\cX`…). */
function decodeAnsiC(text: string): string {
  const simple: Record<string, string> = { a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };
  return text.replace(/\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|c.|.)/gs, (escape, code: string) => {
    const head = code.charAt(0);
    if (simple[code] !== undefined) return simple[code];
    if (/^[0-7]/.test(code)) return String.fromCharCode(parseInt(code, 8) & 0xff);
    if (head === 'x' && code.length > 1) return String.fromCharCode(parseInt(code.slice(1), 16));
    if ((head === 'u' || head === 'U') && code.length > 1) {
      const point = parseInt(code.slice(1), 16);
      return point <= 0x10ffff ? String.fromCodePoint(point) : escape;
    }
    if (head === 'c' && code.length === 2) return String.fromCharCode(code.charCodeAt(1) & 0x1f);
    return escape;
  });
}
