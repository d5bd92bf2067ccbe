/**
 * The engine: given compiled policies and an admission input, match each rule,
 * run mutate rules first (each sees the previous result), then validate rules
 * on the mutated object. Per rule, as Kyverno: match → load context →
 * preconditions → handler → RuleResponse.
 */
import type { AdmissionInput, ContextResolver, KubeObject, PatchOperation, RuleResponse, JsonValue } from './types.ts';
import type { CompiledPolicy, CompiledRule } from '../policy/compile.ts';
import type { HandlerResult, RuleEnv } from './handlers/types.ts';
import type { ImageVerificationConfig } from './handlers/verify-images.ts';
import type { ContextData } from './variables.ts';
import { loadContextAndCheck } from './handlers/preconditions.ts';
import { contextSeed, contextFrom, contextForRule, type ContextSeed } from './request-context.ts';
import { celContextFor, namespaceObjectOf } from './cel-context.ts';
import { diffPatch } from './patch.ts';

export interface EngineOptions {
  resolver?: ContextResolver;
  /** Registry client and key lookup for verifyImages rules. */
  images?: ImageVerificationConfig;
}

export interface EvaluateOptions {
  /** Which handlers run. 'mutate' = mutate rules only (server /mutate); 'validate' = validation + verifyImages checks; 'all' = mutate then validate (CLI). */
  mode: 'mutate' | 'validate' | 'all';
  /**
   * Variables set by name (Kyverno CLI values files: `request.operation: UPDATE`, context entry names, …).
   * A context entry with a value here is not resolved.
   */
  variables?: Record<string, JsonValue>;
  /** Only these policies (default: all the engine holds). */
  policies?: readonly CompiledPolicy[];
  /**
   * Admission only (the webhook sets it; the CLI does not, like Kyverno's): on UPDATE,
   * a rule with allowExistingViolations (default) that also fails on the old object
   * is reported as skip, so pre-existing violations do not block unrelated changes.
   */
  allowExistingViolations?: boolean;
}

export interface PolicyResult {
  policy: CompiledPolicy;
  rules: RuleResponse[];
  /** Wall time spent on this policy, in milliseconds. */
  durationMs: number;
}

export interface EvaluationResult {
  results: PolicyResult[];
  /** The object after all mutations (same reference as input.object when nothing changed). */
  patchedResource: KubeObject | null;
  /** RFC 6902 patch from input.object to patchedResource. */
  patches: PatchOperation[];
}

/** Rules the mutate phase runs: mutations, and image verification (which pins digests). */
const isMutatePhase = (r: CompiledRule) => r.type === 'Mutation' || r.type === 'ImageVerify';

export class Engine {
  readonly policies: readonly CompiledPolicy[];
  readonly options: EngineOptions;
  constructor(policies: readonly CompiledPolicy[], options: EngineOptions = {}) {
    this.policies = policies;
    this.options = options;
  }

  async evaluate(input: AdmissionInput, options: EvaluateOptions): Promise<EvaluationResult> {
    const policies = options.policies ?? this.policies;
    const pinned = options.variables ? new Set(Object.keys(options.variables).map((k) => k.split('.')[0]!)) : undefined;
    const byPolicy = new Map<CompiledPolicy, PolicyResult>();
    const resultFor = (p: CompiledPolicy) => {
      let r = byPolicy.get(p);
      if (!r) byPolicy.set(p, (r = { policy: p, rules: [], durationMs: 0 }));
      return r;
    };
    let resource = input.object;
    let seed: ContextSeed | undefined;
    let seedFor: KubeObject | null = null;

    if (options.mode !== 'validate' && resource) {
      for (const policy of policies) {
        if (policy.cel) {
          if (policy.cel.type === 'mutating') {
            const t0 = performance.now();
            const out = policy.cel.policy.evaluate({ ...input, object: resource }, this.celOptions(input));
            const pr = resultFor(policy);
            for (const r of out.results) pr.rules.push({ name: r.rule, type: 'Mutation', status: r.status, message: r.message });
            if (out.patched) resource = out.patched;
            pr.durationMs += performance.now() - t0;
          }
          continue;
        }
        if (!policy.rules.some(isMutatePhase)) continue;
        const t0 = performance.now();
        const pr = resultFor(policy);
        for (const rule of policy.rules) {
          if (!isMutatePhase(rule)) continue;
          if (!seed || seedFor !== resource) { seed = contextSeed(input, resource, options.variables); seedFor = resource; }
          const res = await this.runRule(policy, rule, input, resource, contextForRule(seed, rule.context.length > 0), pinned, 'mutate');
          if (!res) continue;
          pr.rules.push(res.response);
          if (res.result.patchedResource && res.result.status === 'pass') resource = res.result.patchedResource;
          if (policy.applyOne && res.result.status !== 'skip') break;
        }
        pr.durationMs += performance.now() - t0;
      }
    }

    if (options.mode !== 'mutate') {
      const validated = resource ?? input.oldObject;
      for (const policy of policies) {
        if (policy.cel) {
          const rules = this.celValidate(policy, input, resource);
          if (rules.length > 0) resultFor(policy).rules.push(...rules);
          continue;
        }
        const inValidate = (r: CompiledRule) => r.type === 'Validation' || (r.type === 'ImageVerify' && options.mode === 'validate');
        if (!policy.rules.some(inValidate)) continue;
        const t0 = performance.now();
        const pr = resultFor(policy);
        for (const rule of policy.rules) {
          if (!inValidate(rule)) continue;
          if (!validated) continue;
          if (!seed || seedFor !== resource) { seed = contextSeed(input, resource, options.variables); seedFor = resource; }
          const res = await this.runRule(policy, rule, input, validated, contextForRule(seed, rule.context.length > 0), pinned, 'validate');
          if (!res) continue;
          let response = res.response;
          if (response.status === 'fail' && rule.type === 'Validation' && options.allowExistingViolations) {
            response = await this.existingViolation(policy, rule, input, response, options.variables, pinned);
          }
          if (response.status === 'fail' && !policy.scored) response = { ...response, status: 'warn' };
          pr.rules.push(response);
          if (policy.applyOne && response.status !== 'skip') break;
        }
        pr.durationMs += performance.now() - t0;
      }
    }

    if (options.mode === 'all') {
      const trigger = resource ?? input.oldObject;
      for (const policy of policies) {
        if (!trigger || !policy.rules.some((r) => r.type === 'Generation')) continue;
        const pr = resultFor(policy);
        for (const rule of policy.rules) {
          if (rule.type !== 'Generation') continue;
          if (!seed || seedFor !== resource) { seed = contextSeed(input, resource, options.variables); seedFor = resource; }
          const res = await this.runRule(policy, rule, input, trigger, contextForRule(seed, rule.context.length > 0), pinned, 'validate');
          if (res) pr.rules.push(res.response);
        }
      }
    }

    const results = [...byPolicy.values()].filter((r) => r.rules.length > 0);
    const patches = resource !== input.object && input.object && resource ? diffPatch(input.object, resource) : [];
    return { results, patchedResource: resource, patches };
  }

  private celOptions(input: AdmissionInput) {
    const context = celContextFor(this.options.resolver);
    return { namespaceObject: namespaceObjectOf(input), ...(context ? { context } : {}) };
  }

  /** A policies.kyverno.io validating (or unsupported) policy, evaluated as a whole. */
  private celValidate(policy: CompiledPolicy, input: AdmissionInput, object: KubeObject | null): RuleResponse[] {
    const cel = policy.cel!;
    const subject = { ...input, object };
    if (cel.type === 'unsupported') {
      return cel.matches(subject) ? [{ name: '', type: 'Validation', status: 'error', message: cel.reason }] : [];
    }
    if (cel.type !== 'validating') return [];
    return cel.policy.evaluate(subject, this.celOptions(input)).map((r) => ({
      name: r.rule, type: 'Validation' as const, status: r.status === 'fail' && !policy.scored ? 'warn' as const : r.status, message: r.message,
    }));
  }

  /** Kyverno's allowExistingViolations: on UPDATE, a rule that already failed on the old object is skipped. */
  private async existingViolation(policy: CompiledPolicy, rule: CompiledRule, input: AdmissionInput, response: RuleResponse,
    variables: Record<string, JsonValue> | undefined, pinned: ReadonlySet<string> | undefined): Promise<RuleResponse> {
    if (input.operation !== 'UPDATE' || !input.oldObject || !rule.allowExistingViolations) return response;
    const oldInput: AdmissionInput = { ...input, object: input.oldObject, operation: 'UPDATE' };
    const data = contextFrom(contextSeed(oldInput, input.oldObject, variables));
    const old = await this.runRule(policy, rule, oldInput, input.oldObject, data, pinned, 'validate');
    if (old && old.result.status === 'fail') return { ...response, status: 'skip', message: 'skipping modified resource as validation results have not changed' };
    return response;
  }

  private async runRule(policy: CompiledPolicy, rule: CompiledRule, input: AdmissionInput, resource: KubeObject,
    data: ContextData, pinned: ReadonlySet<string> | undefined, phase: RuleEnv['phase']): Promise<{ result: HandlerResult; response: RuleResponse } | undefined> {
    if (!rule.matches({ input, resource })) return undefined;
    const result = await this.handle(rule, input, resource, data, pinned, phase);
    const response: RuleResponse = { name: rule.name, type: rule.type, status: result.status, message: result.message };
    if (result.path) response.path = result.path;
    if (result.patches) response.patches = result.patches;
    if (result.generatedResources) response.generatedResources = result.generatedResources;
    void policy;
    return { result, response };
  }

  private async handle(rule: CompiledRule, input: AdmissionInput, resource: KubeObject, data: ContextData,
    pinned: ReadonlySet<string> | undefined, phase: RuleEnv['phase']): Promise<HandlerResult> {
    const skipped = await loadContextAndCheck(rule.context, rule.preconditions, data, this.options.resolver, pinned, true);
    if (skipped) return skipped;
    const env: RuleEnv = {
      ruleName: rule.name, data, resource, input, resolver: this.options.resolver, pinned, nesting: 0, phase, images: this.options.images,
    };
    try {
      return await rule.handler(env);
    } catch (err) {
      return { status: 'error', message: `rule ${rule.name} execution error: ${(err as Error).message}` };
    }
  }
}
