/**
 * From engine results to an admission decision, with Kyverno's webhook
 * semantics (pkg/webhooks/utils block.go / warning.go):
 * - a `fail` rule blocks when its failure action is Enforce; under Audit it is a warning;
 * - an `error` rule blocks when the policy's failurePolicy is Fail; under Ignore it is a warning;
 * - `warn` results are warnings;
 * - the denial message lists every blocking policy and rule:
 *   "\n\npolicy Kind/ns/name for resource violation: \n\n<policy>:\n  <rule>: <message>\n"
 * - warnings read "policy <policy>.<rule>: <message>".
 */
import YAML from 'yaml';
import type { RuleResponse } from '../engine/types.ts';
import type { CompiledPolicy, FailureAction } from '../policy/compile.ts';
import { compileWildcard, type StringMatcher } from '../engine/wildcard.ts';

/** Rule fields a decision needs. */
export interface DecisionRule {
  name: string;
  failureAction: FailureAction;
  /** validationFailureActionOverrides: namespaces (wildcards) where another action applies. */
  failureActionOverrides?: ReadonlyArray<{ action: FailureAction; namespaces: readonly string[] }>;
}

/** Policy fields a decision needs; a CompiledPolicy satisfies it. */
export type DecisionPolicy = Pick<CompiledPolicy, 'name' | 'namespace' | 'kind' | 'validationFailureAction' | 'failurePolicy'> & {
  rules: readonly DecisionRule[];
};

export interface DecisionInput {
  policy: DecisionPolicy;
  rules: readonly RuleResponse[];
}

export interface ResourceRef {
  kind: string;
  namespace: string;
  name: string;
}

export interface FailedRule {
  policy: string;
  rule: string;
  status: 'fail' | 'error';
}

export interface Decision {
  allowed: boolean;
  /** Denial message (only when not allowed). */
  message?: string;
  warnings: string[];
  /** Rules that blocked the request. */
  blocking: FailedRule[];
}

interface ActionLookup {
  action: FailureAction;
  overrides: Array<{ action: FailureAction; namespaces: StringMatcher[] }>;
}

// Rule failure actions, built once per compiled policy.
const ruleActions = new WeakMap<DecisionPolicy, Map<string, ActionLookup>>();

/** The rule's failure action for a resource in `namespace` (first matching override wins). */
export function ruleAction(policy: DecisionPolicy, ruleName: string, namespace: string): FailureAction {
  let actions = ruleActions.get(policy);
  if (!actions) {
    actions = new Map(policy.rules.map((r) => [r.name, {
      action: r.failureAction,
      overrides: (r.failureActionOverrides ?? []).map((o) => ({ action: o.action, namespaces: o.namespaces.map(compileWildcard) })),
    }]));
    ruleActions.set(policy, actions);
  }
  const lookup = actions.get(ruleName);
  if (!lookup) return policy.validationFailureAction;
  for (const o of lookup.overrides) {
    if (o.namespaces.some((m) => m(namespace))) return o.action;
  }
  return lookup.action;
}

function isBlocking(policy: DecisionPolicy, rule: RuleResponse, namespace: string): boolean {
  if (rule.status === 'fail') return ruleAction(policy, rule.name, namespace) === 'Enforce';
  if (rule.status === 'error') return policy.failurePolicy !== 'Ignore';
  return false;
}

export function warningMessage(policy: string, rule: string, message: string): string {
  return `policy ${policy}.${rule}: ${message}`;
}

interface Classified {
  blocking: Map<DecisionPolicy, RuleResponse[]>;
  warnings: string[];
}

function classify(results: readonly DecisionInput[], namespace: string): Classified {
  const blocking = new Map<DecisionPolicy, RuleResponse[]>();
  const warnings: string[] = [];
  for (const { policy, rules } of results) {
    for (const rule of rules) {
      if (rule.status === 'pass' || rule.status === 'skip') continue;
      if (isBlocking(policy, rule, namespace)) {
        const list = blocking.get(policy);
        if (list) list.push(rule);
        else blocking.set(policy, [rule]);
      } else {
        warnings.push(warningMessage(policy.name, rule.name, rule.message));
      }
    }
  }
  return { blocking, warnings };
}

function blockingList(blocking: Map<DecisionPolicy, RuleResponse[]>): FailedRule[] {
  const out: FailedRule[] = [];
  for (const [policy, rules] of blocking) {
    for (const r of rules) out.push({ policy: policy.name, rule: r.name, status: r.status === 'fail' ? 'fail' : 'error' });
  }
  return out;
}

/** Kyverno's denial text for validation (GetBlockedMessages). */
export function blockedMessage(resource: ResourceRef, blocking: Map<DecisionPolicy, readonly RuleResponse[]>): string {
  const failures: Record<string, Record<string, string>> = {};
  let hasViolations = false;
  for (const [policy, rules] of blocking) {
    const reasons = (failures[policy.name] ??= {});
    for (const rule of rules) {
      reasons[rule.name] = rule.message;
      if (rule.status === 'fail') hasViolations = true;
    }
  }
  const count = Object.keys(failures).length;
  let action = hasViolations ? 'violation' : 'error';
  if (count > 1) action += 's';
  const body = YAML.stringify(failures, { sortMapEntries: true, singleQuote: true });
  return `\n\npolicy ${resource.kind}/${resource.namespace}/${resource.name} for resource ${action}: \n\n${body}`;
}

export function decideValidation(results: readonly DecisionInput[], resource: ResourceRef): Decision {
  const { blocking, warnings } = classify(results, resource.namespace);
  if (blocking.size === 0) return { allowed: true, warnings, blocking: [] };
  return { allowed: false, message: blockedMessage(resource, blocking), warnings, blocking: blockingList(blocking) };
}

/**
 * Mutation: the first blocking policy denies, in Kyverno's words
 * ("mutation policy P error: failed to apply policy P rules [rule: message]").
 */
export function decideMutation(results: readonly DecisionInput[], namespace: string): Decision {
  const { blocking, warnings } = classify(results, namespace);
  const first = blocking.entries().next();
  if (first.done) return { allowed: true, warnings, blocking: [] };
  const [policy, rules] = first.value;
  const list = rules.map((r) => `${r.name}: ${r.message}`).join(' ');
  const message = `mutation policy ${policy.name} error: failed to apply policy ${policy.name} rules [${list}]`;
  return { allowed: false, message, warnings, blocking: blockingList(blocking) };
}
