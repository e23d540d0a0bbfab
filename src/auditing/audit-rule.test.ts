import { describe, expect, it } from 'vitest';
import {
  auditDecision,
  compilePattern,
  compileRule,
  ruleMatches,
  ruleProblems,
  rulesByType,
  securityAllows,
  type ApplicationRule,
  type AuditRule,
  type AuditTarget,
  type CompiledRule,
  type MatchType,
} from './audit-rule.ts';

let counter = 0;
/** A rule with every field at its default; override what the case needs. */
function buildRule(fields: Partial<AuditRule> = {}): AuditRule {
  counter += 1;
  const now = new Date('2026-11-21T12:00:00Z');
  return {
    id: `rule-${counter}`,
    partitionId: 'p-global',
    name: `Rule${counter}`,
    applicationId: null,
    description: '',
    objectType: 'Device',
    level: 1,
    namePattern: '*',
    nameMatch: 'glob',
    applicationRule: 'all_objects',
    matchApplicationId: null,
    partitionPattern: '*',
    partitionMatch: 'glob',
    enabled: true,
    builtin: false,
    security: { view: null, edit: null, delete: null },
    version: 1,
    createdAt: now,
    createdBy: 'admin',
    updatedAt: now,
    updatedBy: 'admin',
    ...fields,
  };
}

const finance = { id: 'app-fin', partitionId: 'p-global', path: 'Finance' };
const reporting = { id: 'app-rep', partitionId: 'p-global', path: 'Finance/Reporting' };
const daily = { id: 'app-daily', partitionId: 'p-global', path: 'Finance/Reporting/Daily' };
const financeElsewhere = { id: 'app-fin-2', partitionId: 'p-plant', path: 'Finance/Reporting' };
const hr = { id: 'app-hr', partitionId: 'p-global', path: 'HR' };

const target = (fields: Partial<AuditTarget> = {}): AuditTarget => ({ type: 'Device', name: 'web01', partition: 'GLOBAL', application: null, ...fields });

describe('application rules', () => {
  const cases: Array<[ApplicationRule, AuditTarget['application'], AuditTarget['application'], boolean]> = [
    ['all_objects', null, null, true],
    ['all_objects', null, finance, true],
    ['any_application', null, null, false],
    ['any_application', null, hr, true],
    ['no_application', null, null, true],
    ['no_application', null, hr, false],
    ['exact_application', finance, finance, true],
    ['exact_application', finance, reporting, false],
    ['exact_application', finance, null, false],
    ['sub_application', finance, reporting, true],
    ['sub_application', finance, daily, true],
    ['sub_application', finance, finance, false],
    ['sub_application', finance, hr, false],
    ['sub_application', finance, financeElsewhere, false],
    ['sub_application', finance, null, false],
    // The application a rule names was deleted: Exact and Sub match nothing until it is restored.
    ['exact_application', null, finance, false],
  ];
  it.each(cases)('%s with application %j matches an object in %j: %s', (rule, ruleApplication, objectApplication, expected) => {
    const compiled = compileRule(buildRule({ applicationRule: rule }), ruleApplication);
    expect(ruleMatches(compiled, target({ application: objectApplication }))).toBe(expected);
  });

  it('needs the application for Exact and Sub, and refuses one for the others', () => {
    expect(ruleProblems({ applicationRule: 'exact_application' }, false)).toEqual([{ path: '/matchApplication', message: expect.stringContaining('needs') }]);
    expect(ruleProblems({ applicationRule: 'sub_application' }, false)).toHaveLength(1);
    expect(ruleProblems({ applicationRule: 'no_application' }, true)).toEqual([{ path: '/matchApplication', message: expect.stringContaining('only') }]);
    expect(ruleProblems({ applicationRule: 'exact_application' }, true)).toEqual([]);
  });
});

describe('name and partition patterns', () => {
  const cases: Array<[string, MatchType, string, boolean]> = [
    ['*', 'glob', 'anything', true],
    ['web*', 'glob', 'web01', true],
    ['web*', 'glob', 'WEB01', false],
    ['web*', 'glob_ignore_case', 'WEB01', true],
    ['web??', 'glob', 'web01', true],
    ['web??', 'glob', 'web001', false],
    ['*01', 'glob', 'web01', true],
    ['w*b.0?', 'glob', 'web.01', true],
    ['w*b.0?', 'glob', 'webx01', false],
    ['web01', 'glob', 'web01', true],
    ['web01', 'glob', 'Web01', false],
    ['web01', 'glob_ignore_case', 'Web01', true],
    ['a+b', 'glob', 'a+b', true],
    ['a+b', 'glob', 'aab', false],
    ['JCprdFin.*', 'regex', 'JCprdFinQtrRep', true],
    ['JCprdFin.*', 'regex', 'jcprdfinQtrRep', false],
    ['JCprdFin.*', 'regex_ignore_case', 'jcprdfinQtrRep', true],
    ['JCprdFin.*', 'regex', 'xJCprdFinQtrRep', false],
    ['web0[1-3]', 'regex', 'web02', true],
    ['web0[1-3]', 'regex', 'web04', false],
    ['(a|b)+', 'regex', 'abba', true],
    ['a*b*c', 'glob', 'aXbYbZc', true],
    ['a*b*c', 'glob', 'aXbYbZ', false],
    ['*?', 'glob', '', false],
    ['*?', 'glob', 'x', true],
    ['**x**', 'glob', 'abxcd', true],
    ['Gr??e', 'glob_ignore_case', 'GRÜßE', true],
    ['gr?sse', 'glob_ignore_case', 'GRÜSSE', true],
    ['web-?', 'glob', 'web-😀', true],
    ['[ab]*', 'glob', '[ab]x', true],
    ['[ab]*', 'glob', 'ax', false],
  ];
  it.each(cases)('%s (%s) against %s: %s', (pattern, type, text, expected) => {
    const compiled = compilePattern(pattern, type);
    expect(compiled.ok).toBe(true);
    if (compiled.ok) expect(compiled.matcher(text)).toBe(expected);
  });

  it('matches partitions by pattern too', () => {
    const rule = compileRule(buildRule({ partitionPattern: 'PLANT-*', partitionMatch: 'glob_ignore_case' }), null);
    expect(ruleMatches(rule, target({ partition: 'Plant-A' }))).toBe(true);
    expect(ruleMatches(rule, target({ partition: 'GLOBAL' }))).toBe(false);
    const regex = compileRule(buildRule({ partitionPattern: 'Plant-[AB]', partitionMatch: 'regex' }), null);
    expect(ruleMatches(regex, target({ partition: 'Plant-B' }))).toBe(true);
    expect(ruleMatches(regex, target({ partition: 'Plant-C' }))).toBe(false);
    expect(ruleMatches(regex, target({ partition: 'plant-a' }))).toBe(false);
  });

  it.each([
    ['(a', 'missing closing )'],
    ['(?=a)b', 'Perl syntax'],
    ['(a)\\1', 'escape'],
    ['a{1001}', 'repeat count'],
  ])('refuses the regular expression %s on save, saying why', (pattern, why) => {
    const problems = ruleProblems({ namePattern: pattern, nameMatch: 'regex' }, false);
    expect(problems).toEqual([{ path: '/namePattern', message: expect.stringContaining(why) }]);
  });

  it('runs a pattern that would backtrack for ever in linear time', () => {
    const compiled = compilePattern('(a+)+$', 'regex');
    expect(compiled.ok).toBe(true);
    const start = performance.now();
    if (compiled.ok) expect(compiled.matcher(`${'a'.repeat(50_000)}!`)).toBe(false);
    expect(performance.now() - start).toBeLessThan(1000);
  });

  it('matches an adversarial GLOB quickly: no backtracking blow-up', () => {
    const compiled = compilePattern(`${'*a'.repeat(200)}*b`, 'glob');
    expect(compiled.ok).toBe(true);
    const start = performance.now();
    if (compiled.ok) expect(compiled.matcher('a'.repeat(500))).toBe(false);
    expect(performance.now() - start).toBeLessThan(1000);
  });

  it('refuses an empty pattern and an unknown object type', () => {
    expect(ruleProblems({ namePattern: '', objectType: 'Chain' }, false).map((problem) => problem.path)).toEqual(['/objectType', '/namePattern']);
  });
});

describe('the audit decision', () => {
  const decide = (rules: CompiledRule[], action: 'C' | 'M' | 'D' = 'M', fields: Partial<AuditTarget> = {}) => {
    const wanted = target(fields);
    return auditDecision(rulesByType(rules).get(wanted.type), wanted, action, () => wanted.application);
  };

  it('audits nothing when no rule matches', () => {
    expect(decide([])).toBeUndefined();
    expect(decide([compileRule(buildRule({ objectType: 'Change' }), null)])).toBeUndefined();
    expect(decide([compileRule(buildRule({ namePattern: 'db*' }), null)])).toBeUndefined();
  });

  it('takes the highest level of the rules that match', () => {
    const diff = compileRule(buildRule({ level: 1 }), null);
    const full = compileRule(buildRule({ level: 2, namePattern: 'web*' }), null);
    const fullOther = compileRule(buildRule({ level: 2, namePattern: 'db*' }), null);
    expect(decide([diff, fullOther])).toEqual({ level: 1, ruleId: diff.id });
    expect(decide([diff, full, fullOther])).toEqual({ level: 2, ruleId: full.id });
    expect(decide([full, diff])).toEqual({ level: 2, ruleId: full.id });
  });

  it('audits a deletion at Full even when only a Diff rule matches', () => {
    const diff = compileRule(buildRule({ level: 1 }), null);
    expect(decide([diff], 'D')).toEqual({ level: 2, ruleId: diff.id });
    expect(decide([diff], 'C')).toEqual({ level: 1, ruleId: diff.id });
  });

  it('does not audit the deletion of an object no rule matches', () => {
    expect(decide([compileRule(buildRule({ namePattern: 'db*' }), null)], 'D')).toBeUndefined();
  });

  it('looks the application up only when a rule needs it', () => {
    let lookups = 0;
    const rules = rulesByType([compileRule(buildRule({ level: 2 }), null), compileRule(buildRule({ applicationRule: 'any_application' }), null)]);
    auditDecision(rules.get('Device'), target(), 'M', () => {
      lookups += 1;
      return null;
    });
    expect(lookups).toBe(0);
  });
});

describe('rule security', () => {
  it('lets everyone holding the privilege when a list is null, and only those listed otherwise', () => {
    const security = { view: null, edit: ['alice'], delete: [] };
    expect(securityAllows(security, 'view', 'bob')).toBe(true);
    expect(securityAllows(security, 'edit', 'alice')).toBe(true);
    expect(securityAllows(security, 'edit', 'bob')).toBe(false);
    expect(securityAllows(security, 'delete', 'alice')).toBe(false);
  });
});

describe('the compiled rule set', () => {
  it('decides as the rules one by one do, with the regular expressions of a type in one RE2 set', async () => {
    const { compileRuleSet } = await import('./audit-rule.ts');
    const rules = [
      buildRule({ namePattern: 'db-[0-9]+', nameMatch: 'regex', level: 1 }),
      buildRule({ namePattern: 'DB-9.*', nameMatch: 'regex', level: 2 }),
      buildRule({ namePattern: 'web(0|1)', nameMatch: 'regex_ignore_case', level: 1 }),
      buildRule({ namePattern: 'WEB.*', nameMatch: 'regex_ignore_case', level: 2, partitionPattern: 'Plant-*' }),
      buildRule({ namePattern: 'cache*', level: 1 }),
      buildRule({ objectType: 'Change', namePattern: 'CHG-.*', nameMatch: 'regex', level: 2 }),
    ];
    const one = rulesByType(rules.map((rule) => compileRule(rule, null)));
    const set = compileRuleSet(rules, () => null);
    for (const name of ['db-1', 'DB-9x', 'db-9', 'Web0', 'WEB1', 'webx', 'cache01', 'CHG-1', 'nothing']) {
      for (const partition of ['GLOBAL', 'Plant-A']) {
        for (const type of ['Device', 'Change'] as const) {
          const decide = (rulesOf: Map<string, CompiledRule[]>) => auditDecision(rulesOf.get(type), { type, name, partition }, 'M', () => null);
          expect(decide(set), `${type} ${partition}.${name}`).toEqual(decide(one));
        }
      }
    }
    expect(auditDecision(set.get('Device'), { type: 'Device', name: 'Web1', partition: 'Plant-A' }, 'M', () => null)?.level).toBe(2);
    expect(auditDecision(set.get('Device'), { type: 'Device', name: 'db-17', partition: 'GLOBAL' }, 'M', () => null)?.level).toBe(1);
  });
});
