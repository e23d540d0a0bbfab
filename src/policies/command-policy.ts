// RE2 engine: re2js, already a dependency (src/auditing/audit-rule.ts and src/changes/script.ts use
// it). It is a pure JavaScript port of RE2: no native build, no dependencies of its own, `engines`
// `>=20.0.0` (so Node 20, 22 and 24), maintained (2.10.0). Matching is linear in the text whatever
// the pattern, which is what a rule typed by an administrator and a line typed by anyone need.
// re2-wasm was the alternative: a WebAssembly build to load, for no gain here.
import { RE2JS, RE2Set } from 're2js';
import { errors, isAppError, type FieldProblem } from '../platform/errors.ts';
import { simpleCommands, type SimpleCommand } from './simple-commands.ts';

/** What a rule does to a line with a command it matches; the strongest matching rule wins. */
export type PolicyKind = 'deny' | 'review' | 'warn';

/** What happens to a line: run it, refuse it, hold it until someone reviews it, or run it with a warning. */
export type PolicyDecision = 'allow' | PolicyKind;

/** One rule of an access group's command policy. */
export interface PolicyRule {
  readonly kind: PolicyKind;
  /** A glob (whole command, anchored) or an RE2 regular expression (found anywhere in it). */
  readonly pattern: string;
  readonly syntax: 'glob' | 'regex';
  readonly name?: string;
}

/** The rules of an access group, and whether only the change's script may run. */
export interface CommandPolicy {
  readonly rules: readonly PolicyRule[];
  /** Every line that is not the next step of the script (or an optional step) is held for review. */
  readonly strict: boolean;
}

/** A rule checked and translated to RE2. */
export interface CompiledRule {
  readonly rule: PolicyRule;
  /** The RE2 pattern that runs: the regex itself, or the glob translated and anchored. */
  readonly source: string;
}

/** A policy whose rules are compiled, matched together in one pass over each command. */
export interface CompiledPolicy {
  readonly policy: CommandPolicy;
  readonly rules: readonly CompiledRule[];
  /** Whether a rule denies or holds for review: uncertain lines are then held too. */
  readonly blocks: boolean;
  readonly set: RE2Set | null;
}

/** A rule that matched one of the commands of a line. */
export interface PolicyMatch {
  readonly rule: PolicyRule;
  readonly command: SimpleCommand;
}

/** What a policy decides of a line, and why. */
export interface LineEvaluation {
  readonly decision: PolicyDecision;
  readonly matches: readonly PolicyMatch[];
  /** Sentences a user or reviewer reads: each match, each uncertainty, the strict-mode check. */
  readonly reasons: readonly string[];
}

export const MAX_PATTERN_LENGTH = 1000;
export const MAX_RULES = 200;
/** Each text matched is cut to this many characters. */
export const MAX_MATCHED_TEXT = 64 * 1024;
/** All texts matched for one line, together: past it the rest is not matched and the line is uncertain. */
export const MAX_MATCHED_TOTAL = 256 * 1024;

const KINDS: readonly PolicyKind[] = ['deny', 'review', 'warn'];
const RANK: Record<PolicyDecision, number> = { allow: 0, warn: 1, review: 2, deny: 3 };

/**
 * Checks a rule and translates it to RE2, or throws `validation_failed` naming the field to fix
 * (`at` is the rule's JSON pointer in the request, e.g. `/rules/3`).
 *
 * @example
 * compileRule({ kind: 'deny', pattern: 'rm -rf *', syntax: 'glob' }).source // '^(?:rm -rf (?s:.*))$'
 */
export function compileRule(rule: PolicyRule, at = ''): CompiledRule {
  const fail = (field: string, message: string): never => {
    throw errors.validation(`The command policy rule cannot be used: ${field} ${message}.`, [{ path: `${at}/${field}`, message }]);
  };
  if (!KINDS.includes(rule.kind)) fail('kind', 'must be "deny", "review" or "warn"');
  if (rule.syntax !== 'glob' && rule.syntax !== 'regex') fail('syntax', 'must be "glob" or "regex"');
  if (typeof rule.pattern !== 'string' || rule.pattern.trim() === '') fail('pattern', 'must not be empty');
  if (rule.pattern.length > MAX_PATTERN_LENGTH) fail('pattern', `is longer than ${MAX_PATTERN_LENGTH} characters: split it into several rules`);
  if (rule.pattern.includes('\0')) fail('pattern', 'must not hold a NUL character');
  let source: string;
  if (rule.syntax === 'glob') {
    const translated = globToRe2(rule.pattern);
    if (!translated.ok) return fail('pattern', translated.problem);
    source = translated.source;
  } else {
    source = rule.pattern;
  }
  try {
    RE2JS.compile(source);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const hint = /perl|backreference|look/i.test(detail) || /\\[1-9]/.test(source) ? ' (RE2 has no look-arounds or back-references: rewrite the pattern without them)' : '';
    fail('pattern', `is not a valid RE2 regular expression: ${detail}${hint}`);
  }
  return { rule, source };
}

/**
 * Checks and compiles every rule of a policy, or throws `validation_failed` listing each bad rule
 * (`/rules/3/pattern`…). evaluateLine compiles (once per policy object) through it.
 */
export function compilePolicy(policy: CommandPolicy): CompiledPolicy {
  if (policy.rules.length > MAX_RULES) {
    throw errors.validation(`The command policy has ${policy.rules.length} rules: keep at most ${MAX_RULES}, merging similar ones into one pattern.`, [
      { path: '/rules', message: `at most ${MAX_RULES} rules` },
    ]);
  }
  const rules: CompiledRule[] = [];
  const problems: FieldProblem[] = [];
  policy.rules.forEach((rule, index) => {
    try {
      rules.push(compileRule(rule, `/rules/${index}`));
    } catch (error) {
      if (!isAppError(error, 'validation_failed') || error.details === undefined || !('problems' in error.details)) throw error;
      problems.push(...(error.details.problems as FieldProblem[]));
    }
  });
  if (problems.length > 0) {
    throw errors.validation(`The command policy cannot be used: ${problems.map((problem) => `${problem.path} ${problem.message}`).join('; ')}.`, problems);
  }
  let set: RE2Set | null = null;
  if (rules.length > 0) {
    // One automaton for all the rules: each text is read once, whatever the number of rules.
    set = new RE2Set(RE2Set.UNANCHORED);
    for (const rule of rules) set.add(rule.source);
    set.compile();
  }
  return { policy, rules, blocks: rules.some((rule) => rule.rule.kind !== 'warn'), set };
}

const compiled = new WeakMap<CommandPolicy, CompiledPolicy>();

/**
 * What `policy` decides of the command line `line` typed in a session, checked at Enter.
 *
 * Each simple command the shell would run (see `simpleCommands`: after `;`, in `$( )`, behind
 * `sudo`, in `bash -c` strings…) is matched against every rule, as the texts `matchTexts` lists;
 * the strongest kind among the matches wins (deny > review > warn > allow).
 *
 * A line that cannot be analysed with certainty (`$cmd`, `eval "$x"`, an open quote, `!!`) may
 * run a command no rule saw: it is held for review — unless it is denied already — but only when
 * the policy has a deny or review rule. Without one the policy stops nothing, so holding such lines
 * would stop work without protecting anything; with one, letting them through would be the way
 * around it.
 *
 * In strict mode, a line that is not one of `nextSteps` (the next step of the script and the
 * optional steps the caller allows, compared after trimming and collapsing blanks), nor a line
 * `isNextStep` accepts (the change audit's own matching, placeholders included), is held for
 * review too; a blank or comment-only line runs nothing and passes.
 *
 * @example
 * evaluateLine({ rules: [{ kind: 'deny', pattern: 'rm -rf *', syntax: 'glob' }], strict: false }, 'ls; sudo rm -rf /').decision // 'deny'
 */
export function evaluateLine(
  policy: CommandPolicy,
  line: string,
  options: { readonly nextSteps?: readonly string[]; readonly isNextStep?: (line: string) => boolean } = {},
): LineEvaluation {
  let compiledPolicy = compiled.get(policy);
  if (compiledPolicy === undefined) {
    compiledPolicy = compilePolicy(policy);
    compiled.set(policy, compiledPolicy);
  }
  const analysis = simpleCommands(line);
  const matches: PolicyMatch[] = [];
  const reasons: string[] = [];
  const uncertain = [...analysis.uncertain];
  let decision: PolicyDecision = 'allow';

  const { set } = compiledPolicy;
  if (set !== null) {
    let budget = MAX_MATCHED_TOTAL;
    for (const command of analysis.commands) {
      const texts = matchTexts(command);
      const length = texts.reduce((sum, text) => sum + text.length, 0);
      if (length > budget) {
        uncertain.push(`the line is too large to match every command against the policy (over ${MAX_MATCHED_TOTAL} characters)`);
        break;
      }
      budget -= length;
      const matched = new Set<number>();
      for (const text of texts) for (const index of set.match(text)) matched.add(index);
      for (const index of [...matched].sort((a, b) => a - b)) {
        const rule = compiledPolicy.rules[index]?.rule;
        if (rule === undefined) continue;
        matches.push({ rule, command });
        reasons.push(`${rule.kind}: rule ${describeRule(rule)} matches \`${excerpt(command.text)}\``);
        if (RANK[rule.kind] > RANK[decision]) decision = rule.kind;
      }
    }
  }

  for (const reason of uncertain) reasons.push(`uncertain: ${reason}`);
  if (uncertain.length > 0 && compiledPolicy.blocks && RANK[decision] < RANK.review) {
    decision = 'review';
    reasons.push('review: the line cannot be analysed with certainty, and the policy denies or holds commands');
  }

  if (policy.strict && !runsNothing(line, analysis.commands.length)) {
    const typed = normalizeStep(line);
    const next = (options.nextSteps ?? []).some((step) => normalizeStep(step) === typed) || options.isNextStep?.(line) === true;
    if (!next) {
      reasons.push('review: strict policy, and the line is not the next step of the script');
      if (RANK[decision] < RANK.review) decision = 'review';
    }
  }
  return { decision, matches, reasons };
}

/**
 * The texts of a command that rules are matched against, so that quoting, spacing and paths do
 * not get around a rule: its words after quote removal joined by single spaces (`'rm'  -rf /` and
 * `r\m -rf /` read `rm -rf /`); the same with the command name's directory removed (`/bin/rm` reads
 * `rm`); and its source text with line continuations removed and runs of blanks collapsed (for
 * rules about redirections or quoting). When `xargs` appends arguments, the words are matched with
 * ` …` after them too, so that `ls | xargs rm -rf` meets the glob `rm -rf *`. Each text is cut to
 * MAX_MATCHED_TEXT characters.
 */
export function matchTexts(command: SimpleCommand): string[] {
  const texts = new Set<string>();
  const words = command.words.join(' ');
  texts.add(words);
  const name = command.words[0] ?? '';
  const base = name.includes('/') ? [name.slice(name.lastIndexOf('/') + 1), ...command.words.slice(1)].join(' ') : words;
  texts.add(base);
  if (command.argumentsAppended === true) texts.add(`${base} …`);
  texts.add(command.text.replace(/\\\n/g, '').replace(/[ \t]+/g, ' ').trim());
  return [...texts].map((text) => (text.length > MAX_MATCHED_TEXT ? text.slice(0, MAX_MATCHED_TEXT) : text));
}

/** A script step or typed line as compared in strict mode: each line trimmed, runs of blanks made one space. */
export function normalizeStep(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim().replace(/[ \t]+/g, ' '))
    .join('\n')
    .trim();
}

/**
 * Translates a glob to an anchored RE2 pattern: `*` any run of characters (`/`, spaces and newlines
 * too), `?` one character, `[abc]`, `[a-z]`, `[!abc]`/`[^abc]` and `[[:digit:]]` classes, `\x`
 * the character x; runs of blanks are one space, as in the texts matched (see `matchTexts`).
 */
export function globToRe2(glob: string): { ok: true; source: string } | { ok: false; problem: string } {
  const pattern = glob.trim().replace(/[ \t]+/g, ' ');
  let out = '';
  for (let k = 0; k < pattern.length; k++) {
    const ch = pattern.charAt(k);
    if (ch === '*') {
      out += '(?s:.*)';
    } else if (ch === '?') {
      out += '(?s:.)';
    } else if (ch === '\\') {
      if (k + 1 >= pattern.length) return { ok: false, problem: 'ends with a backslash: write \\\\ for a backslash' };
      k++;
      out += quote(pattern.charAt(k));
    } else if (ch === '[') {
      const end = classEnd(pattern, k);
      if (end === -1) return { ok: false, problem: `opens a class "[" at character ${k + 1} that no "]" closes: close it, or write \\[ for a bracket` };
      out += translateClass(pattern.slice(k + 1, end));
      k = end;
    } else {
      out += quote(ch);
    }
  }
  return { ok: true, source: `^(?:${out})$` };
}

/** Index of the `]` that closes the class opened at `open`, or -1. A `]` first in the class is literal. */
function classEnd(pattern: string, open: number): number {
  let k = open + 1;
  if (pattern.charAt(k) === '!' || pattern.charAt(k) === '^') k++;
  if (pattern.charAt(k) === ']') k++;
  for (; k < pattern.length; k++) {
    const ch = pattern.charAt(k);
    if (ch === '\\') k++;
    else if (ch === '[' && pattern.charAt(k + 1) === ':') {
      const close = pattern.indexOf(':]', k + 2);
      if (close !== -1) k = close + 1;
    } else if (ch === ']') return k;
  }
  return -1;
}

function translateClass(body: string): string {
  let k = 0;
  let out = '[';
  if (body.charAt(0) === '!' || body.charAt(0) === '^') {
    out += '^';
    k = 1;
  }
  for (; k < body.length; k++) {
    const ch = body.charAt(k);
    if (ch === '[' && body.charAt(k + 1) === ':') {
      const close = body.indexOf(':]', k + 2);
      if (close !== -1) {
        out += body.slice(k, close + 2); // [:alpha:] and the like: RE2 knows them
        k = close + 1;
        continue;
      }
    }
    if (ch === '\\' && k + 1 < body.length) {
      k++;
      out += `\\${body.charAt(k)}`.replace(/^\\([A-Za-z0-9])$/, '$1');
    } else if (ch === '-' && k > 0 && k < body.length - 1 && !(k === 1 && out === '[^')) {
      out += '-';
    } else {
      out += /[\]\\^\-[]/.test(ch) ? `\\${ch}` : ch;
    }
  }
  return `${out}]`;
}

/** A character as an RE2 literal. */
function quote(ch: string): string {
  return /[.*+?^${}()|[\]\\]/.test(ch) ? `\\${ch}` : ch;
}

function runsNothing(line: string, commands: number): boolean {
  if (commands > 0) return false;
  return line.split('\n').every((text) => text.trim() === '' || text.trim().startsWith('#'));
}

function describeRule(rule: PolicyRule): string {
  return rule.name !== undefined && rule.name !== '' ? `"${rule.name}"` : `\`${rule.pattern}\``;
}

function excerpt(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}
