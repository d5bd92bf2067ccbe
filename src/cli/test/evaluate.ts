/**
 * Apply compiled policies to offline resources the way the Kyverno CLI
 * processor does: for each resource, every policy with mutate rules runs in
 * order (each sees the previous result), then every policy with validate or
 * verifyImages rules runs on the mutated resource, then generate rules, then
 * DeletingPolicies (on the resource as loaded). Each policy is evaluated on
 * its own so that per-policy Values apply, and so each policy gets its own
 * response ("engine response" in Kyverno terms): a policy with
 * mutate/validate rules always has one, even with no rule applied — that is
 * what makes a non-matching resource "excluded" rather than "not found".
 */
import type { ContextResolver, JsonObject, JsonValue, KubeObject, Operation, RuleResponse, RuleType } from '../../engine/types.ts';
import type { CompiledPolicy } from '../../policy/compile.ts';
import type { CompiledExceptions } from '../../engine/exceptions.ts';
import type { EngineLike } from './deps.ts';
import { duplicateKey, identityOf, type ResourceIdentity } from '../resources.ts';
import { buildAdmissionInput, withInjectedObjects } from './admission.ts';
import { computeVariables, ruleValues, type RequestUserInfo, type ValuesSpec } from './spec.ts';

/** Rule responses as the CLI reads them (generate rules carry `generatedResources`, mutate-existing ones `patchedTarget`). */
export type CliRuleResponse = RuleResponse;

export interface PolicyOutcome {
  policy: CompiledPolicy;
  /** Kyverno would have produced an engine response for this policy and resource. */
  applicable: boolean;
  rules: CliRuleResponse[];
  /** The resource after this policy's mutations (cumulative with earlier policies). */
  patchedResource: KubeObject | null;
  /** The engine threw for this policy and resource. */
  error?: string;
}

export interface ResourceOutcome {
  resource: KubeObject;
  id: ResourceIdentity;
  policies: PolicyOutcome[];
  /** The resource after all mutations. */
  patchedResource: KubeObject | null;
}

export interface EvaluateContext {
  values?: ValuesSpec;
  userInfo?: RequestUserInfo;
  resolver?: ContextResolver;
  /** Builds the engine for one policy (the real Engine, or a fake in tests). */
  createEngine: (policy: CompiledPolicy, resolver?: ContextResolver, exceptions?: CompiledExceptions) => EngineLike;
  /** The Test's PolicyExceptions. */
  exceptions?: CompiledExceptions;
  /** The Test's `oldResources`: earlier versions of resources, the old object of their UPDATE. */
  oldResources?: readonly KubeObject[];
  /** The operation a Test row (`resourceOperation`) gives a resource, if any. */
  operationFor?: (resource: KubeObject) => Operation | undefined;
}

/** policies.kyverno.io kinds have no rules: a mutating one mutates, a generating one generates, a deleting one deletes, the others validate. */
const CEL_RULE_TYPE: Record<NonNullable<CompiledPolicy['cel']>['type'], RuleType> = {
  validating: 'Validation', unsupported: 'Validation', mutating: 'Mutation', generating: 'Generation', deleting: 'Deletion',
};

function hasRuleOfType(p: CompiledPolicy, ...types: RuleType[]): boolean {
  if (p.cel) return types.includes(CEL_RULE_TYPE[p.cel.type]);
  return p.rules.some((r) => types.includes(r.type));
}

/** Builds one Engine per policy, once, for all resources. */
export class PolicyRunner {
  readonly policies: readonly CompiledPolicy[];
  readonly context: EvaluateContext;
  private readonly engines: Map<CompiledPolicy, EngineLike>;

  constructor(policies: readonly CompiledPolicy[], context: EvaluateContext) {
    this.policies = policies;
    this.context = context;
    this.engines = new Map(policies.map((p) => [p, context.createEngine(p, context.resolver, context.exceptions)]));
    for (const old of context.oldResources ?? []) this.oldResources.set(duplicateKey(old), old);
  }

  private readonly oldResources = new Map<string, KubeObject>();

  /**
   * One engine call per policy, or — when the Values give rule-level values —
   * one call per rule with values (keeping only that rule's responses) plus one
   * for the other rules, since Kyverno adds rule values to that rule's context
   * only. The operation comes from the policy-level variables alone.
   */
  private async run(policy: CompiledPolicy, resource: KubeObject, mode: 'mutate' | 'validate' | 'all', base: Record<string, JsonValue>) {
    const oldResource = this.oldResources.get(duplicateKey(resource));
    const operation = this.context.operationFor?.(resource);
    const input = buildAdmissionInput(resource, {
      variables: base, userInfo: this.context.userInfo, values: this.context.values, ...(oldResource ? { oldResource } : {}), ...(operation ? { operation } : {}),
    });
    const engine = this.engines.get(policy)!;
    const perRule = ruleValues(this.context.values, policy.name);
    // Each rule reads its own foreachValues, whichever call evaluates it.
    const foreachValues = Object.fromEntries([...perRule].filter(([, v]) => v.foreachValues.length > 0).map(([name, v]) => [name, v.foreachValues]));
    const foreach = Object.keys(foreachValues).length > 0 ? { foreachValues } : {};
    const call = async (extra: JsonObject = {}) => {
      const variables = { ...base, ...extra };
      // Mutate-existing rules run with the mutations, as in Kyverno's CLI (patched targets, trigger untouched).
      const res = await engine.evaluate(withInjectedObjects(input, variables), { mode, variables, ...foreach, ...(mode === 'mutate' ? { mutateExisting: true } : {}) });
      const rules: CliRuleResponse[] = [];
      for (const r of res.results) if (r.policy === policy || r.policy.name === policy.name) rules.push(...r.rules);
      return { rules, patched: res.patchedResource };
    };
    const withValues = new Map([...perRule].filter(([, v]) => Object.keys(v.values).length > 0).map(([name, v]) => [name, v.values]));
    if (withValues.size === 0) return call();
    if (mode === 'mutate') {
      // Mutations chain inside a policy: one call, all rule values merged (approximation).
      return call(Object.assign({}, ...withValues.values()) as JsonObject);
    }
    const rest = await call();
    const rules = rest.rules.filter((r) => !withValues.has(r.name));
    for (const [name, extra] of withValues) {
      const own = await call(extra);
      rules.push(...own.rules.filter((r) => r.name === name));
    }
    // Keep the engine's rule order.
    const order = new Map(policy.rules.map((r, i) => [r.name, i]));
    rules.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
    return { rules, patched: rest.patched };
  }

  async evaluate(resource: KubeObject): Promise<ResourceOutcome> {
    const id = identityOf(resource);
    const outcomes = new Map<CompiledPolicy, PolicyOutcome>();
    const outcomeOf = (p: CompiledPolicy): PolicyOutcome => {
      let o = outcomes.get(p);
      if (!o) {
        o = { policy: p, applicable: false, rules: [], patchedResource: null };
        outcomes.set(p, o);
      }
      return o;
    };
    const varsOf = (p: CompiledPolicy) => computeVariables(this.context.values, p.name, id.name);
    let current: KubeObject = resource;

    for (const p of this.policies) {
      if (!hasRuleOfType(p, 'Mutation')) continue;
      const o = outcomeOf(p);
      o.applicable = true;
      try {
        const { rules, patched } = await this.run(p, current, 'mutate', varsOf(p));
        o.rules.push(...rules);
        // On DELETE there is no new object; keep the resource for what follows.
        if (patched) current = patched;
      } catch (e) {
        o.error = (e as Error).message;
      }
      o.patchedResource = current;
    }
    for (const p of this.policies) {
      if (!hasRuleOfType(p, 'Validation', 'ImageVerify')) continue;
      const o = outcomeOf(p);
      o.applicable = true;
      try {
        const { rules } = await this.run(p, current, 'validate', varsOf(p));
        o.rules.push(...rules);
      } catch (e) {
        o.error = (e as Error).message;
      }
      if (o.patchedResource === null) o.patchedResource = current;
    }
    for (const p of this.policies) {
      if (!hasRuleOfType(p, 'Generation')) continue;
      const o = outcomeOf(p);
      try {
        // Generate-only policies: 'all' runs whatever the policy has; keep generate responses only.
        const { rules } = await this.run(p, current, 'all', varsOf(p));
        const gen = rules.filter((r) => r.type === 'Generation');
        o.rules.push(...gen);
        // Kyverno's CLI keeps a GeneratingPolicy's engine response even without a rule (excluded, not "not found").
        if (gen.length > 0 || p.cel?.type === 'generating') o.applicable = true;
      } catch (e) {
        o.error = (e as Error).message;
        o.applicable = true;
      }
      if (o.patchedResource === null) o.patchedResource = current;
    }
    for (const p of this.policies) {
      if (!hasRuleOfType(p, 'Deletion')) continue;
      const o = outcomeOf(p);
      // Kyverno's CLI gives a DeletingPolicy an engine response for every resource (no rule when out of
      // scope: excluded), evaluated on the resource as loaded, before any mutation.
      o.applicable = true;
      try {
        const { rules } = await this.run(p, resource, 'all', varsOf(p));
        o.rules.push(...rules.filter((r) => r.type === 'Deletion'));
      } catch (e) {
        o.error = (e as Error).message;
      }
      o.patchedResource = resource;
    }
    return { resource, id, policies: [...outcomes.values()], patchedResource: current };
  }
}
