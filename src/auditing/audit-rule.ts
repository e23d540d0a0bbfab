import { RE2JS, RE2Set } from 're2js';
import type { FieldProblem } from '../platform/errors.ts';
import { OBJECT_TYPES, type ObjectMeta, type ObjectType } from '../objects/object.ts';

/** Diff only (1) keeps the changed fields; Full (2) keeps the whole object before and after, so it can be restored. */
export type AuditLevel = 1 | 2;
export const LEVEL_NAMES = { 1: 'diff_only', 2: 'full_audit' } as const;
export type LevelName = (typeof LEVEL_NAMES)[AuditLevel];
export const levelOf = (name: LevelName): AuditLevel => (name === 'full_audit' ? 2 : 1);

/** The seed's "GLOB or regular expression, in case-sensitive or insensitive mode". */
export const MATCH_TYPES = ['glob', 'glob_ignore_case', 'regex', 'regex_ignore_case'] as const;
export type MatchType = (typeof MATCH_TYPES)[number];

/** The seed's application rules. */
export const APPLICATION_RULES = ['all_objects', 'any_application', 'exact_application', 'no_application', 'sub_application'] as const;
export type ApplicationRule = (typeof APPLICATION_RULES)[number];
export const needsApplication = (rule: ApplicationRule): boolean => rule === 'exact_application' || rule === 'sub_application';

/** Who may view, edit and delete a rule, on top of the AuditingRule privileges: usernames, or null for everyone holding the privilege. */
export interface RuleSecurity {
  readonly view: readonly string[] | null;
  readonly edit: readonly string[] | null;
  readonly delete: readonly string[] | null;
}
export const OPEN_SECURITY: RuleSecurity = { view: null, edit: null, delete: null };

/** An audit rule: which writes of which objects the audit trail captures, and at which level. */
export interface AuditRule extends ObjectMeta {
  readonly description: string;
  readonly objectType: ObjectType;
  readonly level: AuditLevel;
  readonly namePattern: string;
  readonly nameMatch: MatchType;
  readonly applicationRule: ApplicationRule;
  /** The application of the Exact and Sub application rules. */
  readonly matchApplicationId: string | null;
  readonly partitionPattern: string;
  readonly partitionMatch: MatchType;
  readonly enabled: boolean;
  /** The rule that audits every audit rule: nobody may edit, disable or delete it. */
  readonly builtin: boolean;
  readonly security: RuleSecurity;
}

/** The built-in rule: every change to an audit rule, in any partition, at Full. */
export const BUILTIN_RULE_NAME = 'AUDIT_RULES';
export const BUILTIN_RULE_REFUSAL = 'The built-in rule AUDIT_RULES audits every change to an audit rule: it cannot be edited, disabled or deleted, so nobody can escape auditing.';

/** Rule names are the second half of business keys and of permalinks: no spaces or slashes. */
export const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const PATTERN_MAX = 500;

/** A pattern, compiled once: GLOB or RE2 regular expression, both matched against the whole text. */
export type Matcher = (text: string) => boolean;

/**
 * Compiles a pattern to a matcher, or explains why it cannot. Regular expressions run on RE2
 * (re2js): linear in the text whatever the pattern, so no rule can stall a write; look-arounds and
 * back-references, which need backtracking, are refused. GLOB: `*` any run of characters, `?` one
 * character, everything else literal. Both match the whole name, as the seed's `JCprdFin.*` shows.
 * GLOBs never reach the regular-expression engine: common ones (`*`, a literal, `prefix*`) are
 * plain string tests, the others a wildcard scan that allocates nothing.
 */
export function compilePattern(pattern: string, type: MatchType): { ok: true; matcher: Matcher } | { ok: false; problem: string } {
  if (pattern.length > PATTERN_MAX) return { ok: false, problem: `is longer than ${PATTERN_MAX} characters` };
  const ignoreCase = type === 'glob_ignore_case' || type === 'regex_ignore_case';
  if (type === 'glob' || type === 'glob_ignore_case') return { ok: true, matcher: globMatcher(pattern, ignoreCase) };
  try {
    const compiled = RE2JS.compile(pattern, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
    return { ok: true, matcher: (text) => compiled.matches(text) };
  } catch (error) {
    return { ok: false, problem: `is not a valid RE2 regular expression: ${(error as Error).message}` };
  }
}

function globMatcher(pattern: string, ignoreCase: boolean): Matcher {
  const fold = (text: string) => (ignoreCase ? text.toLowerCase() : text);
  if (pattern === '*') return () => true;
  const wild = /[*?]/;
  if (!wild.test(pattern)) {
    const literal = fold(pattern);
    return (text) => fold(text) === literal;
  }
  if (pattern.endsWith('*') && !wild.test(pattern.slice(0, -1))) {
    const prefix = fold(pattern.slice(0, -1));
    return (text) => fold(text).startsWith(prefix);
  }
  const glob = [...fold(pattern)];
  // `?` is one character, not one UTF-16 unit: split the text into code points only when it has pairs.
  return (text) => {
    const folded = fold(text);
    return globMatches(glob, /[\uD800-\uDFFF]/.test(folded) ? [...folded] : folded);
  };
}

/**
 * Whole-text wildcard matching (`*`, `?`) by the classic two-pointer scan: on a mismatch after a
 * `*`, the star absorbs one more character and the scan resumes. At most length(pattern) ×
 * length(text) steps, never exponential, and nothing allocated.
 */
export function globMatches(pattern: readonly string[], text: ArrayLike<string>): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const char = pattern[p];
    if (char !== undefined && char !== '*' && (char === '?' || char === text[t])) {
      p += 1;
      t += 1;
    } else if (char === '*') {
      star = p;
      p += 1;
      resume = t;
    } else if (star !== -1) {
      p = star + 1;
      resume += 1;
      t = resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p += 1;
  return p === pattern.length;
}

/** What a rule is matched against: the object's type, name, partition name and application. */
export interface AuditTarget {
  readonly type: ObjectType;
  readonly name: string;
  readonly partition: string;
  /** The object's application, or null. */
  readonly application: { readonly id: string; readonly partitionId: string; readonly path: string } | null;
}

/** A rule ready to match: its patterns compiled, its application resolved. */
export interface CompiledRule {
  readonly id: string;
  readonly level: AuditLevel;
  readonly objectType: ObjectType;
  readonly applicationRule: ApplicationRule;
  /** For the Exact and Sub rules: the application, or null when it no longer exists (nothing matches then). */
  readonly application: { readonly id: string; readonly partitionId: string; readonly path: string } | null;
  readonly name: Matcher;
  readonly partition: Matcher;
}

/** Compiles a stored rule; a pattern that no longer compiles (it was checked on save) matches nothing. */
export function compileRule(rule: AuditRule, application: CompiledRule['application'], nameMatcher?: Matcher): CompiledRule {
  const matcher = (pattern: string, type: MatchType): Matcher => {
    const compiled = compilePattern(pattern, type);
    return compiled.ok ? compiled.matcher : () => false;
  };
  return {
    id: rule.id,
    level: rule.level,
    objectType: rule.objectType,
    applicationRule: rule.applicationRule,
    application,
    name: nameMatcher ?? matcher(rule.namePattern, rule.nameMatch),
    partition: matcher(rule.partitionPattern, rule.partitionMatch),
  };
}

/**
 * Compiles the enabled rules for the audit hook: by object type, Full rules first (`rulesByType`),
 * and the regular-expression name patterns of each type merged into one RE2 set per case mode, so
 * a name is scanned once for all of them — one DFA pass, linear in the name — instead of once per
 * rule. Should the set fail (a DFA over its memory budget), each pattern is matched on its own.
 */
export function compileRuleSet(rules: readonly AuditRule[], applicationOf: (id: string) => CompiledRule['application']): Map<ObjectType, CompiledRule[]> {
  const byType = new Map<ObjectType, AuditRule[]>();
  for (const rule of rules) byType.set(rule.objectType, [...(byType.get(rule.objectType) ?? []), rule]);
  const compiled: CompiledRule[] = [];
  for (const list of byType.values()) {
    const nameMatchers = new Map<AuditRule, Matcher>();
    for (const type of ['regex', 'regex_ignore_case'] as const) {
      const regexRules = list.filter((rule) => rule.nameMatch === type && compilePattern(rule.namePattern, type).ok);
      if (regexRules.length < 2) continue;
      const oracle = regexSetOracle(regexRules.map((rule) => rule.namePattern), type === 'regex_ignore_case');
      if (!oracle) continue;
      regexRules.forEach((rule, index) => nameMatchers.set(rule, (text) => oracle(text).has(index)));
    }
    for (const rule of list) compiled.push(compileRule(rule, rule.matchApplicationId ? applicationOf(rule.matchApplicationId) : null, nameMatchers.get(rule)));
  }
  return rulesByType(compiled);
}

/** The indices of the patterns that match a text, from one RE2 set; the last text's answer is kept, as every rule of a type asks about the same name. */
function regexSetOracle(patterns: readonly string[], ignoreCase: boolean): ((text: string) => ReadonlySet<number>) | undefined {
  const flags = ignoreCase ? RE2JS.CASE_INSENSITIVE : 0;
  let set: RE2Set;
  try {
    set = new RE2Set(RE2Set.ANCHOR_BOTH, flags);
    for (const pattern of patterns) set.add(pattern);
    set.compile();
  } catch {
    return undefined;
  }
  let single: RE2JS[] | undefined;
  let lastText: string | undefined;
  let lastHits: ReadonlySet<number> = new Set();
  return (text) => {
    if (text === lastText) return lastHits;
    try {
      lastHits = new Set(set.match(text));
    } catch {
      single ??= patterns.map((pattern) => RE2JS.compile(pattern, flags));
      lastHits = new Set(single.flatMap((pattern, index) => (pattern.matches(text) ? [index] : [])));
    }
    lastText = text;
    return lastHits;
  };
}

/** Does the application of the object satisfy the rule's application rule? */
export function applicationMatches(rule: Pick<CompiledRule, 'applicationRule' | 'application'>, application: AuditTarget['application']): boolean {
  switch (rule.applicationRule) {
    case 'all_objects':
      return true;
    case 'any_application':
      return application !== null;
    case 'no_application':
      return application === null;
    case 'exact_application':
      return application !== null && rule.application !== null && application.id === rule.application.id;
    case 'sub_application':
      // A child at any depth, in the same partition: Finance/Reporting and Finance/Reporting/Daily are under Finance.
      return (
        application !== null &&
        rule.application !== null &&
        application.partitionId === rule.application.partitionId &&
        application.path.startsWith(`${rule.application.path}/`)
      );
  }
}

export function ruleMatches(rule: CompiledRule, target: AuditTarget): boolean {
  return rule.objectType === target.type && rule.name(target.name) && rule.partition(target.partition) && applicationMatches(rule, target.application);
}

/** The rules of one type, Full ones first, so the search can stop at the first Full match. */
export function rulesByType(rules: readonly CompiledRule[]): Map<ObjectType, CompiledRule[]> {
  const byType = new Map<ObjectType, CompiledRule[]>();
  for (const rule of [...rules].sort((a, b) => b.level - a.level)) {
    const list = byType.get(rule.objectType) ?? [];
    list.push(rule);
    byType.set(rule.objectType, list);
  }
  return byType;
}

/**
 * The level at which a write is audited: the highest level of the enabled rules that match, or
 * undefined when none does. A deletion of an audited object is always Full, so that it can be
 * restored from the Trash Can; a deletion no rule matches is not audited (the seed: "deletion of
 * audited objects").
 */
export function auditDecision(
  rules: readonly CompiledRule[] | undefined,
  target: Omit<AuditTarget, 'application'>,
  action: 'C' | 'M' | 'D',
  application: () => AuditTarget['application'],
): { level: AuditLevel; ruleId: string } | undefined {
  if (!rules || rules.length === 0) return undefined;
  let best: { level: AuditLevel; ruleId: string } | undefined;
  let app: AuditTarget['application'] | undefined;
  for (const rule of rules) {
    if (best && rule.level <= best.level) break;
    if (!rule.name(target.name) || !rule.partition(target.partition)) continue;
    if (rule.applicationRule !== 'all_objects') {
      app ??= application();
      if (!applicationMatches(rule, app)) continue;
    }
    best = { level: rule.level, ruleId: rule.id };
    if (best.level === 2) break;
  }
  if (!best) return undefined;
  return action === 'D' ? { level: 2, ruleId: best.ruleId } : best;
}

/** The fields of a rule a caller sets. */
export interface AuditRuleInput {
  readonly name?: string;
  readonly objectType?: string;
  readonly namePattern?: string;
  readonly nameMatch?: MatchType;
  readonly partitionPattern?: string;
  readonly partitionMatch?: MatchType;
  readonly applicationRule?: ApplicationRule;
}

/** The field problems of a rule: name, object type, patterns that do not compile (with the reason). */
export function ruleProblems(input: AuditRuleInput, hasApplication: boolean): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (input.name !== undefined && !RULE_NAME.test(input.name)) {
    problems.push({ path: '/name', message: 'letters, digits, "_", "." and "-", starting with a letter or digit, at most 100' });
  }
  if (input.objectType !== undefined && !(OBJECT_TYPES as readonly string[]).includes(input.objectType)) {
    problems.push({ path: '/objectType', message: `"${input.objectType}" is not an object type: one of ${OBJECT_TYPES.join(', ')}` });
  }
  for (const [field, pattern, type] of [
    ['namePattern', input.namePattern, input.nameMatch],
    ['partitionPattern', input.partitionPattern, input.partitionMatch],
  ] as const) {
    if (pattern === undefined) continue;
    if (pattern === '') {
      problems.push({ path: `/${field}`, message: 'must not be empty: * matches every name' });
      continue;
    }
    const compiled = compilePattern(pattern, type ?? 'glob');
    if (!compiled.ok) problems.push({ path: `/${field}`, message: compiled.problem });
  }
  if (input.applicationRule !== undefined && needsApplication(input.applicationRule) && !hasApplication) {
    problems.push({ path: '/matchApplication', message: `the ${input.applicationRule} rule needs the application to match` });
  }
  if (input.applicationRule !== undefined && !needsApplication(input.applicationRule) && hasApplication) {
    problems.push({ path: '/matchApplication', message: `only the exact_application and sub_application rules take an application` });
  }
  return problems;
}

/** May this user do this to the rule, as far as its security lists go? (The privilege is checked apart.) */
export function securityAllows(security: RuleSecurity, action: keyof RuleSecurity, username: string): boolean {
  const list = security[action];
  return list === null || list.includes(username);
}
