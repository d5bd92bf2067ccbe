/**
 * `--test-case-selector "policy=<p>, rule=<r>, resource=<name>"`: keep only the
 * expectations whose policy and rule match (Kyverno wildcards `*` and `?`),
 * and only their resources that match.
 */
import { compileWildcard } from '../../engine/wildcard.ts';
import type { TestExpectation } from './spec.ts';

export interface TestCaseSelector {
  policy: string;
  rule: string;
  resource: string;
}

/** Parse the flag value; unknown keys are errors. Missing keys default to `*`. */
export function parseSelector(text: string): { selector: TestCaseSelector; errors: string[] } {
  const selector: TestCaseSelector = { policy: '*', rule: '*', resource: '*' };
  const errors: string[] = [];
  for (const part of text.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq < 0) {
      errors.push(`invalid test case selector "${p}" (expected key=value)`);
      continue;
    }
    const key = p.slice(0, eq).trim();
    const value = p.slice(eq + 1).trim();
    if (key === 'policy' || key === 'rule' || key === 'resource') selector[key] = value;
    else errors.push(`invalid test case selector key "${key}" (expected policy, rule or resource)`);
  }
  return { selector, errors };
}

export function applySelector(expectations: readonly TestExpectation[], selector: TestCaseSelector): TestExpectation[] {
  const policy = compileWildcard(selector.policy);
  const rule = compileWildcard(selector.rule);
  const resource = compileWildcard(selector.resource);
  const out: TestExpectation[] = [];
  for (const e of expectations) {
    if (!policy(e.policy) || !rule(e.rule)) continue;
    if (selector.resource === '*') {
      out.push(e);
      continue;
    }
    const resources = e.resources.filter((r) => resource(r) || resource(r.slice(r.indexOf('/') + 1)));
    if (resources.length > 0) out.push({ ...e, resources });
  }
  return out;
}
