/**
 * Rule results for pattern / anyPattern rules, with Kyverno's message texts
 * (engine/handlers/validation: validatePatterns, buildErrorMessage,
 * buildAnyPatternErrorMessage).
 */
import type { CompiledPattern, PatternOutcome } from './compile.ts';

export interface PatternRuleResult {
  status: 'pass' | 'fail' | 'skip' | 'error';
  message: string;
  /** Failure path for `fail` results. */
  path?: string;
}

/**
 * The message for a failed pattern. `ruleMessage` is the rule's
 * validate.message with variables already substituted ("" when none).
 */
export function patternErrorMessage(ruleName: string, ruleMessage: string | undefined, outcome: PatternOutcome & { ok: false }): string {
  const path = outcome.path;
  if (!ruleMessage) {
    return path !== ''
      ? `validation error: rule ${ruleName} failed at path ${path}`
      : `validation error: rule ${ruleName} execution error: ${outcome.message}`;
  }
  const msg = ruleMessage.endsWith('.') ? ruleMessage : ruleMessage + '.';
  return path !== ''
    ? `validation error: ${msg} rule ${ruleName} failed at path ${path}`
    : `validation error: ${msg} rule ${ruleName} execution error: ${outcome.message}`;
}

/** Result of a `validate.pattern` rule. */
export function patternRuleResult(ruleName: string, ruleMessage: string | undefined, outcome: PatternOutcome): PatternRuleResult {
  if (outcome.ok) return { status: 'pass', message: `validation rule '${ruleName}' passed.` };
  if (outcome.skip) return { status: 'skip', message: outcome.message };
  if (outcome.path === '') return { status: 'error', message: patternErrorMessage(ruleName, ruleMessage, outcome) };
  return { status: 'fail', message: patternErrorMessage(ruleName, ruleMessage, outcome), path: outcome.path };
}

/** Kyverno's message when every anyPattern entry failed. */
export function anyPatternErrorMessage(ruleMessage: string | undefined, errors: string[]): string {
  const joined = errors.join(' ');
  if (!ruleMessage) return `validation error: ${joined}`;
  return ruleMessage.endsWith('.') ? `validation error: ${ruleMessage} ${joined}` : `validation error: ${ruleMessage}. ${joined}`;
}

/**
 * Evaluates a `validate.anyPattern` rule: passes on the first matching entry;
 * skips when every non-matching entry was skipped; otherwise fails listing
 * each failed entry as `rule NAME[i] failed at path P`.
 */
export function anyPatternRuleResult(
  ruleName: string,
  ruleMessage: string | undefined,
  patterns: CompiledPattern[],
  resource: unknown,
): PatternRuleResult {
  let failed: string[] | null = null;
  let skipped: string[] | null = null;
  let firstPath: string | undefined;
  for (let i = 0; i < patterns.length; i++) {
    const outcome = patterns[i]!(resource);
    if (outcome.ok) return { status: 'pass', message: `validation rule '${ruleName}' anyPattern[${i}] passed.` };
    if (outcome.skip) (skipped ??= []).push(`rule ${ruleName}[${i}] skipped: ${outcome.message}`);
    else if (outcome.path === '') (failed ??= []).push(`rule ${ruleName}[${i}] failed: ${outcome.message}`);
    else {
      (failed ??= []).push(`rule ${ruleName}[${i}] failed at path ${outcome.path}`);
      firstPath ??= outcome.path;
    }
  }
  if (skipped && !failed) return { status: 'skip', message: skipped.join(' ') };
  if (failed) {
    const r: PatternRuleResult = { status: 'fail', message: anyPatternErrorMessage(ruleMessage, failed) };
    if (firstPath !== undefined) r.path = firstPath;
    return r;
  }
  return { status: 'pass', message: ruleMessage ?? '' };
}
