import { isAppError, type FieldProblem } from '../platform/errors.ts';
import { compileRule } from '../policies/index.ts';
import type { CommandPolicySetting } from './access-group.ts';

/** A command policy as an API caller gives it: a rule's name may be left out. */
export interface CommandPolicyInput {
  readonly rules: readonly { readonly kind: 'deny' | 'review' | 'warn'; readonly syntax: 'glob' | 'regex'; readonly pattern: string; readonly name?: string }[];
  readonly strict?: boolean;
}

/**
 * Checks a command policy before it is saved: each rule's pattern must compile (a glob, or an RE2
 * expression), and no two rules may be the same. Each problem is added at its rule's field; the
 * policy to store is returned, names trimmed.
 */
export function checkCommandPolicy(input: CommandPolicyInput, problems: FieldProblem[]): CommandPolicySetting {
  const seen = new Set<string>();
  const rules = input.rules.map((rule, index) => {
    const name = rule.name?.trim() ?? '';
    const stored = { kind: rule.kind, syntax: rule.syntax, pattern: rule.pattern, ...(name !== '' && { name }) };
    try {
      compileRule(stored, `/commandPolicy/rules/${index}`);
    } catch (error) {
      if (!isAppError(error, 'validation_failed') || error.details === undefined || !('problems' in error.details)) throw error;
      problems.push(...(error.details.problems as FieldProblem[]));
    }
    const key = `${rule.syntax} ${rule.pattern}`;
    if (seen.has(key)) problems.push({ path: `/commandPolicy/rules/${index}/pattern`, message: `the same ${rule.syntax} as an earlier rule: keep one` });
    seen.add(key);
    return stored;
  });
  return { rules, strict: input.strict ?? false };
}
