/**
 * Kyverno validate.pattern / anyPattern matching, compiled ahead of time.
 *
 *   const check = compilePattern(rule.validate.pattern);   // once per (substituted) pattern
 *   const outcome = check(resource);                       // per resource: only the walk
 *   const result = patternRuleResult(rule.name, message, outcome);
 *
 *   const any = compileAnyPattern(rule.validate.anyPattern);
 *   const result = anyPatternRuleResult(rule.name, message, any, resource);
 *
 * `message` is the rule's validate.message with `{{ }}` already substituted.
 */
export { compilePattern, compilePatternTest, compileAnyPattern, type CompiledPattern, type PatternOutcome } from './compile.ts';
export { anyPatternErrorMessage, anyPatternRuleResult, patternErrorMessage, patternRuleResult, type PatternRuleResult } from './messages.ts';
export { PatternReferenceError } from './references.ts';
export { compileLeaf, type ValueMatcher } from './leaf.ts';
