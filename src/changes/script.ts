import { RE2JS } from 're2js';

/** One step of a change script: a logical command and the directives written above it. */
export interface ScriptStep {
  /** Position in `Script.steps`, from 0. */
  readonly index: number;
  /** 1-based line the command starts on. */
  readonly line: number;
  /** 1-based line the command ends on (differs from `line` when `\` continues it). */
  readonly endLine: number;
  /** The command as written, continuation pieces trimmed and joined with one space. */
  readonly text: string;
  /** `# optional` stood above it: the step may be skipped. */
  readonly optional: boolean;
  /** `# expect: REGEX` stood above it: the command's output must match `pattern`. */
  readonly expect?: { readonly pattern: string; readonly line: number };
  /** Names of its `{{placeholders}}`, each once, in order of first appearance. */
  readonly placeholders: readonly string[];
}

export interface Script {
  readonly steps: readonly ScriptStep[];
}

/** What is wrong with a script and where: 1-based line and column (UTF-16 units, a tab counts 1). */
export interface ScriptError {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export type ParsedScript = { ok: true; script: Script } | { ok: false; errors: ScriptError[] };

const PLACEHOLDER_NAME = /^[A-Za-z0-9_-]+$/;
/** A placeholder in a step that parsed: `{{name}}`, white space allowed inside the braces. */
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_-]+)\s*\}\}/g;
/** A comment's first word and whether a colon follows it: `# Expect: …` → `Expect`, `:`. */
const COMMENT_WORD = /^([A-Za-z]+)\s*(:?)/;

interface PendingDirective {
  readonly kind: 'optional' | 'expect';
  readonly line: number;
  readonly column: number;
}

/**
 * Parses a change script. One command per line; blank lines and lines starting with `#` are
 * skipped; a line ending in an odd number of `\` continues on the next line; `{{name}}` matches
 * any non-empty text; `# optional` and `# expect: REGEX` (any letter case, space after `#`
 * optional) apply to the next command, across blank lines and plain comments. A comment that
 * looks like a misspelt directive (`# expect foo`, `# optinal`, `# expected: ok`) is an error
 * rather than silently a plain comment, because a lost directive changes the audit's verdict.
 * Every error is reported, in line order.
 *
 * @example
 * parseScript('apt-get update\n# optional\napt-get upgrade -y\n# expect: active \\(running\\)\nsystemctl status {{service}}')
 */
export function parseScript(text: string): ParsedScript {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const errors: ScriptError[] = [];
  const steps: ScriptStep[] = [];
  let pending: PendingDirective[] = [];
  let optional = false;
  let expect: { pattern: string; line: number } | undefined;
  let expectLine: number | undefined;

  let i = 0;
  while (i < lines.length) {
    const raw = lines[i] ?? '';
    const lineNumber = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '') {
      i++;
      continue;
    }
    if (trimmed.startsWith('#')) {
      const directive = readComment(raw, lineNumber, errors);
      if (directive?.kind === 'optional') {
        optional = true;
        pending.push(directive);
      } else if (directive?.kind === 'expect') {
        if (expectLine !== undefined) {
          errors.push({
            line: lineNumber,
            column: directive.column,
            message: `the next command already has "# expect:" at line ${expectLine}; a step takes one expectation: combine both into one regex`,
          });
        } else {
          expectLine = lineNumber;
          if (directive.pattern !== undefined) expect = { pattern: directive.pattern, line: lineNumber };
        }
        pending.push(directive);
      }
      i++;
      continue;
    }

    const pieces: string[] = [];
    const names: string[] = [];
    let last = i;
    for (;;) {
      const piece = (lines[last] ?? '').trimEnd();
      const continued = endsWithContinuation(piece);
      const body = continued ? piece.slice(0, -1) : piece;
      scanPlaceholders(body, last + 1, names, errors);
      pieces.push(body.trim());
      if (!continued) break;
      const next = lines[last + 1];
      if (next === undefined || next.trim() === '') {
        errors.push({
          line: last + 1,
          column: piece.length,
          message:
            next === undefined
              ? 'the line ends with "\\" but the script ends here: remove the "\\" or add the rest of the command'
              : `the line ends with "\\" but line ${last + 2} is blank: remove the "\\" or the blank line`,
        });
        break;
      }
      last++;
    }
    steps.push({
      index: steps.length,
      line: lineNumber,
      endLine: last + 1,
      text: pieces.filter((p) => p !== '').join(' '),
      optional,
      ...(expect ? { expect } : {}),
      placeholders: [...new Set(names)],
    });
    pending = [];
    optional = false;
    expect = undefined;
    expectLine = undefined;
    i = last + 1;
  }

  for (const directive of pending) {
    errors.push({
      line: directive.line,
      column: directive.column,
      message: `"# ${directive.kind === 'optional' ? 'optional' : 'expect:'}" applies to the next command, but none follows: add the command below it or remove the directive`,
    });
  }
  if (steps.length === 0) errors.push({ line: 1, column: 1, message: 'the script must hold at least one command' });
  if (errors.length > 0) {
    errors.sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, errors };
  }
  return { ok: true, script: { steps } };
}

/** "line 3, column 7: …", the way the UI and the CLI show a script error. */
export function formatScriptError(error: ScriptError): string {
  return `line ${error.line}, column ${error.column}: ${error.message}`;
}

type Directive = PendingDirective & { readonly pattern?: string };

/** Reads a comment line: returns its directive, pushes an error for a malformed one, else nothing. */
function readComment(raw: string, line: number, errors: ScriptError[]): Directive | undefined {
  const hash = raw.indexOf('#');
  const afterHash = raw.slice(hash + 1);
  const bodyStart = hash + 1 + (afterHash.length - afterHash.trimStart().length);
  const body = raw.slice(bodyStart).trimEnd();
  const match = COMMENT_WORD.exec(body);
  if (!match) return undefined;
  const word = (match[1] ?? '').toLowerCase();
  const colon = match[2] === ':';
  const rest = body.slice(match[0].length).trim();
  const column = hash + 1;

  if (word === 'optional') {
    if (!colon && rest === '') return { kind: 'optional', line, column };
    errors.push({ line, column, message: '"# optional" stands alone on its line: move the note to a comment line of its own' });
    return undefined;
  }
  if (word === 'expect') {
    if (!colon) {
      errors.push({ line, column, message: 'write "# expect: REGEX", with a colon after "expect"' });
      return undefined;
    }
    const colonAt = bodyStart + match[0].length - 1;
    const afterColon = raw.slice(colonAt + 1);
    const patternColumn = colonAt + 2 + (afterColon.length - afterColon.trimStart().length);
    const pattern = afterColon.trim();
    if (pattern === '') {
      errors.push({ line, column: patternColumn, message: '"# expect:" needs a regular expression after the colon, e.g. "# expect: active \\(running\\)"' });
      return { kind: 'expect', line, column };
    }
    const problem = regexProblem(pattern);
    if (problem !== undefined) {
      errors.push({ line, column: patternColumn, message: `the regular expression is invalid: ${problem}` });
      return { kind: 'expect', line, column };
    }
    return { kind: 'expect', line, column, pattern };
  }
  if ((colon || rest === '') && looksLikeDirective(word)) {
    errors.push({
      line,
      column: bodyStart + 1,
      message: `"${match[1] ?? ''}" is not a directive: the directives are "# optional" and "# expect: REGEX"; reword the comment if it is a plain one`,
    });
  }
  return undefined;
}

function looksLikeDirective(word: string): boolean {
  return (
    word.startsWith('expect') || word.startsWith('option') || editDistance(word, 'expect') <= 1 || editDistance(word, 'optional') <= 2
  );
}

/** Levenshtein distance; the words compared here are short. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** A trailing `\` continues the line, unless it is itself escaped (`\\`). */
function endsWithContinuation(line: string): boolean {
  let count = 0;
  for (let k = line.length - 1; k >= 0 && line[k] === '\\'; k--) count++;
  return count % 2 === 1;
}

function scanPlaceholders(body: string, line: number, names: string[], errors: ScriptError[]): void {
  let from = 0;
  for (;;) {
    const open = body.indexOf('{{', from);
    if (open === -1) return;
    const close = body.indexOf('}}', open + 2);
    if (close === -1) {
      errors.push({ line, column: open + 1, message: '"{{" is not closed: write a placeholder as {{name}}' });
      return;
    }
    const name = body.slice(open + 2, close).trim();
    if (name === '') {
      errors.push({ line, column: open + 1, message: 'the placeholder has no name: write {{name}} with letters, digits, "_" or "-"' });
    } else if (!PLACEHOLDER_NAME.test(name)) {
      errors.push({ line, column: open + 1, message: `placeholder name "${name}" may hold only letters, digits, "_" and "-"` });
    } else {
      names.push(name);
    }
    from = close + 2;
  }
}

function regexProblem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message.replace(/^error parsing regexp: /, '') : String(error);
  }
}

/**
 * Collapses each run of white space to one space and trims the ends, leaving white space inside
 * single or double quotes, and a backslash-escaped character, as they are: `ls   -l "a  b"` →
 * `ls -l "a  b"`. An unclosed quote runs to the end of the text.
 */
export function normalizeCommand(text: string): string {
  if (SIMPLE_COMMAND.test(text)) return text;
  let out = '';
  let quote: string | undefined;
  let space = false;
  for (let k = 0; k < text.length; k++) {
    const ch = text.charAt(k);
    if (quote !== undefined) {
      out += ch;
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && k + 1 < text.length) out += text.charAt(++k);
      continue;
    }
    if (isWhiteSpace(ch)) {
      space = out.length > 0;
      continue;
    }
    if (space) {
      out += ' ';
      space = false;
    }
    out += ch;
    if (ch === '\\' && k + 1 < text.length) out += text.charAt(++k);
    else if (ch === '"' || ch === "'") quote = ch;
  }
  return out;
}

/** Already normalized: words of neither white space, quotes nor backslashes, one space apart. */
const SIMPLE_COMMAND = /^[^\s"'\\]+(?: [^\s"'\\]+)*$/;

/** `\s` as JavaScript's regular expressions define it, the ASCII cases first. */
function isWhiteSpace(ch: string): boolean {
  const code = ch.charCodeAt(0);
  if (code < 128) return code === 32 || (code >= 9 && code <= 13);
  return /\s/.test(ch);
}

/**
 * A step compiled for matching: its normalized text cut at the placeholders. `segments` has one
 * more element than there are placeholders; a step without placeholders has one segment.
 */
export interface StepPattern {
  readonly segments: readonly string[];
}

const patterns = new WeakMap<ScriptStep, StepPattern>();

/** The step's compiled pattern, computed once per step. */
export function stepPattern(step: ScriptStep): StepPattern {
  let pattern = patterns.get(step);
  if (!pattern) {
    pattern = { segments: normalizeCommand(step.text).split(PLACEHOLDER).filter((_, k) => k % 2 === 0) };
    patterns.set(step, pattern);
  }
  return pattern;
}

/**
 * Whether an already normalized command matches a pattern. It behaves as the anchored regex
 * `^S0(.+)S1(.+)…Sn$` with each segment `S` taken literally and `.` matching any character, but
 * needs no escaping and runs in linear time: each middle segment is placed at its leftmost
 * position that leaves a non-empty gap, which never rules out a match that a later position allows.
 */
export function matchesPattern(pattern: StepPattern, normalized: string): boolean {
  const { segments } = pattern;
  const first = segments[0] ?? '';
  if (segments.length === 1) return normalized === first;
  if (!normalized.startsWith(first)) return false;
  let position = first.length;
  for (let k = 1; k < segments.length - 1; k++) {
    const segment = segments[k] ?? '';
    const found = normalized.indexOf(segment, position + 1);
    if (found === -1) return false;
    position = found + segment.length;
  }
  const lastSegment = segments[segments.length - 1] ?? '';
  return normalized.endsWith(lastSegment) && normalized.length - lastSegment.length >= position + 1;
}

/**
 * Whether an executed command carries out a step: both normalized with `normalizeCommand`, text
 * outside placeholders compared literally, each placeholder standing for any non-empty text.
 */
export function commandMatchesStep(step: ScriptStep, command: string): boolean {
  return matchesPattern(stepPattern(step), normalizeCommand(command));
}

const expectations = new WeakMap<ScriptStep, RE2JS>();

/**
 * Whether a command's output satisfies the step's `# expect:` regex: true when the step has
 * none; false when there is no output. The regex may match anywhere in the output (as grep
 * does), `^` and `$` match at line ends, and `\r\n` counts as `\n`. re2js runs in linear time.
 */
export function outputMeetsExpectation(step: ScriptStep, output: string | undefined): boolean {
  if (!step.expect) return true;
  if (output === undefined) return false;
  let regex = expectations.get(step);
  if (!regex) {
    regex = RE2JS.compile(step.expect.pattern, RE2JS.MULTILINE);
    expectations.set(step, regex);
  }
  return regex.test(output.replace(/\r\n?/g, '\n'));
}
