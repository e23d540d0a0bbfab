/** Command policies: which commands of a line a shell would run, and what an access group's rules say of them. */
export {
  compilePolicy,
  compileRule,
  evaluateLine,
  MAX_PATTERN_LENGTH,
  MAX_RULES,
  normalizeStep,
  type CommandPolicy,
  type LineEvaluation,
  type PolicyDecision,
  type PolicyKind,
  type PolicyMatch,
  type PolicyRule,
} from './command-policy.ts';
export { expandedCommand, historyDesignators } from './history-expansion.ts';
export { simpleCommands, type SimpleCommand, type SimpleCommandsResult } from './simple-commands.ts';
