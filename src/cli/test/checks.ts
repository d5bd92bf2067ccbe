/**
 * The Test `checks[]` format: `match` selects rule responses (by resource,
 * policy and rule, each an assertion tree), then `assert` must hold on each
 * selected rule response ({name, ruleType, message, status}) and `error` must
 * not. Assertion trees follow kyverno-json's basic form: a map asserts its keys
 * recursively, a `(expression)` key projects the value with JMESPath first, a
 * list asserts element by element, and a scalar must be equal. (Other
 * kyverno-json features — `~` iteration, operators — are not supported.)
 */
import { search } from '@jmespath-community/jmespath';
import type { JsonValue } from '../../engine/types.ts';
import type { ResourceOutcome } from './evaluate.ts';
import type { ResultRow } from './match.ts';
import type { TestCheck } from './spec.ts';

function isMap(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Errors (empty = the tree holds) of an assertion tree against a value. */
export function assertTree(tree: JsonValue | undefined, value: JsonValue | undefined, path = ''): string[] {
  if (tree === undefined) return [];
  if (isMap(tree)) {
    const errors: string[] = [];
    for (const [key, sub] of Object.entries(tree)) {
      if (key.startsWith('(') && key.endsWith(')')) {
        let projected: JsonValue;
        try {
          projected = search((value ?? null) as never, key.slice(1, -1)) as JsonValue;
        } catch (e) {
          errors.push(`${path}${key}: Internal error: ${(e as Error).message}`);
          continue;
        }
        errors.push(...assertTree(sub, projected, `${path}${key}.`));
        continue;
      }
      const p = `${path}${key}`;
      if (!isMap(value) || !(key in value)) {
        errors.push(`${p}: Required value: field not found in the input object`);
        continue;
      }
      errors.push(...assertTree(sub, value[key], `${p}.`));
    }
    return errors;
  }
  const at = path.endsWith('.') ? path.slice(0, -1) : path || '.';
  if (Array.isArray(tree)) {
    if (!Array.isArray(value)) return [`${at}: Invalid value: ${JSON.stringify(value ?? null)}: Expected value: an array`];
    if (value.length !== tree.length) return [`${at}: Invalid value: ${value.length}: Expected value: ${tree.length} elements`];
    return tree.flatMap((t, i) => assertTree(t, value[i], `${path}[${i}].`));
  }
  if (tree === value) return [];
  return [`${at}: Invalid value: ${JSON.stringify(value ?? null)}: Expected value: ${JSON.stringify(tree)}`];
}

/** One row per (check, selected rule response), numbered from `firstId`. */
export function evaluateChecks(checks: readonly TestCheck[], outcomes: readonly ResourceOutcome[], firstId: number): ResultRow[] {
  const rows: ResultRow[] = [];
  checks.forEach((check, ci) => {
    for (const res of outcomes) {
      if (assertTree(check.match.resource, res.resource as JsonValue).length > 0) continue;
      for (const p of res.policies) {
        if (assertTree(check.match.policy, p.policy.loaded.raw as JsonValue).length > 0) continue;
        for (const rule of p.rules) {
          if (assertTree(check.match.rule, { name: rule.name }).length > 0) continue;
          const data: JsonValue = { name: rule.name, ruleType: rule.type, message: rule.message, status: rule.status };
          const base = {
            policy: p.policy.name,
            rule: rule.name,
            resource: [res.id.kind, res.id.namespace, res.id.name].filter((s) => s !== '').join('/'),
            expected: 'pass' as const,
            actual: rule.status,
            message: rule.message,
            excluded: false,
            expectation: -1 - ci,
          };
          const push = (ok: boolean, reason: string) =>
            rows.push({ ...base, id: firstId + rows.length, result: ok ? 'Pass' : 'Fail', reason, count: ok ? (rule.status === 'skip' ? 'skip' : 'pass') : 'fail' });
          if (check.assert !== undefined && check.assert !== null) {
            const errs = assertTree(check.assert, data);
            push(errs.length === 0, errs.length === 0 ? 'Ok' : errs.join('; '));
          }
          if (check.error !== undefined && check.error !== null) {
            const errs = assertTree(check.error, data);
            push(errs.length > 0, errs.length > 0 ? errs.join('; ') : 'The assertion succeeded but was expected to fail');
          }
        }
      }
    }
  });
  return rows;
}
