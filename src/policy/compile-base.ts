/**
 * Compile loaded policies into executable form, once, ahead of requests:
 * autogen expands rules for pod controllers, match/exclude become predicates,
 * and each rule gets its handler (validate / mutate / verifyImages) built with
 * its patterns, conditions and expressions pre-compiled.
 *
 * CEL (policies.kyverno.io kinds, admission policies, validate.cel rules) is
 * compiled by a CelCompiler passed in `extras.cel` (compile-cel.ts): the CEL
 * runtime costs tens of MiB resident, so the webhook loads it only for a policy
 * set that needs it (`needsCel`). compile.ts is the entry that always has it.
 */
import type { AdmissionInput, JsonObject, JsonValue, KubeObject, PatchOperation } from '../engine/types.ts';
import type { LoadedPolicy, PolicyLoadError } from './types.ts';
import { expandAutogen } from './autogen.ts';
import { compileRuleMatcher, kindOfSelector, type CompiledMatcher } from '../engine/match.ts';
import { compileRuleHandler, type RuleHandler } from '../engine/handlers/index.ts';
import { compileConditionBlock, type CompiledConditionBlock } from '../engine/handlers/preconditions.ts';
import type { CompiledDeletingPolicy, CompiledGeneratingPolicy, CompiledValidatingPolicy, CompiledMutatingPolicy, VpolEvalOptions, VpolResult } from '../cel/index.ts';
import type { ConstraintMatcher } from '../cel/match-constraints.ts';
import type { PolicyKind } from './types.ts';

export type FailureAction = 'Enforce' | 'Audit';

export interface FailureActionOverride {
  action: FailureAction;
  namespaces: string[];
  namespaceSelector?: JsonObject;
}

export interface CompiledRule {
  name: string;
  /** Rule kinds handled: a rule has exactly one of these. */
  type: 'Validation' | 'Mutation' | 'ImageVerify' | 'Generation';
  /** Effective failure action for this rule (rule-level failureAction overrides the policy's). */
  failureAction: FailureAction;
  failureActionOverrides: FailureActionOverride[];
  /** Rule as written (after autogen). */
  raw: JsonObject;
  matches: CompiledMatcher;
  /** Context entries, loaded before preconditions. */
  context: JsonObject[];
  preconditions?: CompiledConditionBlock;
  handler: RuleHandler;
  /** validate.allowExistingViolations (default true). */
  allowExistingViolations: boolean;
  /** Kind names the match block can select (null: any kind, e.g. a wildcard or no kinds). */
  kindNames: ReadonlySet<string> | null;
  /**
   * A mutate-existing rule's `mutate.targets` (Kyverno's IsMutateExisting: a non-empty list), else null.
   * Such a rule patches other, existing objects: evaluated offline only (EvaluateOptions.mutateExisting).
   */
  mutateTargets: JsonObject[] | null;
}

/** A policies.kyverno.io policy: evaluated as a whole by src/cel, not rule by rule. */
/** A validating CEL policy as the engine calls it: kinds that verify images answer asynchronously. */
export type CelValidatingRuntime = Omit<CompiledValidatingPolicy, 'evaluate'> & {
  evaluate(input: AdmissionInput, opts?: VpolEvalOptions): VpolResult[] | Promise<VpolResult[]>;
  /** ImageValidatingPolicy's mutating half: digest-pinning patches (mutate phase). */
  mutateDigest?(input: AdmissionInput, opts?: VpolEvalOptions): Promise<{ patches: PatchOperation[]; results: VpolResult[] }>;
};

export type CelPolicyRuntime =
  | { type: 'validating'; policy: CelValidatingRuntime }
  | { type: 'mutating'; policy: CompiledMutatingPolicy }
  /** Offline only: the engine's generate phase (`mode: 'all'`) reports what it would generate; the webhook skips it. */
  | { type: 'generating'; policy: CompiledGeneratingPolicy }
  /** Offline only: the engine's deletion phase (`mode: 'all'`) reports whether a cleanup run would delete the resource; the webhook skips it. */
  | { type: 'deleting'; policy: CompiledDeletingPolicy }
  /** A kind Portcullis cannot evaluate yet: matched requests get an `error` result saying so. */
  | { type: 'unsupported'; reason: string; matches: ConstraintMatcher };

export interface CompiledPolicy {
  name: string;
  namespace?: string;
  kind: PolicyKind;
  /** Set for policies.kyverno.io kinds (their `rules` is empty). */
  cel?: CelPolicyRuntime;
  loaded: LoadedPolicy;
  /** Rules after autogen (includes autogen-… and autogen-cronjob-… rules). */
  rules: CompiledRule[];
  validationFailureAction: FailureAction;
  background: boolean;
  failurePolicy: 'Fail' | 'Ignore';
  /** Seconds; the webhook deadline for this policy. */
  webhookTimeoutSeconds?: number;
  /** `applyRules: One` stops at the first rule that applies. */
  applyOne: boolean;
  /** Policies annotated `policies.kyverno.io/scored: "false"` report failures as warn. */
  scored: boolean;
  /** Whether the policy applies at admission (spec.admission, default true). */
  admission: boolean;
}

export function normalizeAction(v: unknown, fallback: FailureAction = 'Audit'): FailureAction {
  if (typeof v !== 'string') return fallback;
  const l = v.toLowerCase();
  return l === 'enforce' ? 'Enforce' : l === 'audit' ? 'Audit' : fallback;
}

function overrides(list: unknown): FailureActionOverride[] {
  if (!Array.isArray(list)) return [];
  return (list as JsonObject[]).map((o) => ({
    action: normalizeAction(o.action),
    namespaces: Array.isArray(o.namespaces) ? (o.namespaces as string[]) : [],
    namespaceSelector: o.namespaceSelector as JsonObject | undefined,
  }));
}

function ruleType(rule: JsonObject): CompiledRule['type'] {
  if (rule.mutate) return 'Mutation';
  if (rule.verifyImages) return 'ImageVerify';
  if (rule.generate) return 'Generation';
  return 'Validation';
}

function mutateTargetsOf(rule: JsonObject): JsonObject[] | null {
  const targets = (rule.mutate as JsonObject | undefined)?.targets;
  return Array.isArray(targets) && targets.length > 0 ? (targets as JsonObject[]) : null;
}

/** Documents that accompany policies: CEL PolicyExceptions, admission policy bindings and params. */
export interface CompileExtras {
  /** policies.kyverno.io PolicyException documents; each CEL policy uses those whose policyRefs name it. */
  exceptions?: readonly (JsonObject | KubeObject)[];
  /** Validating/MutatingAdmissionPolicyBinding documents; each admission policy uses those of its kind naming it. */
  bindings?: readonly (JsonObject | KubeObject)[];
  /** Documents a MutatingAdmissionPolicy binding's paramRef may select (a Test's `paramResources`). */
  params?: readonly (JsonObject | KubeObject)[];
  /** Compiles CEL documents and validate.cel rules (compile-cel.ts); without it they are compile errors. */
  cel?: CelCompiler;
}

export interface CelCompiler {
  /** A policies.kyverno.io document, ValidatingAdmissionPolicy or MutatingAdmissionPolicy. */
  compilePolicy(loaded: LoadedPolicy, extras: CompileExtras): CompiledPolicy;
  /** A kyverno.io/v1 rule's validate.cel. */
  compileRuleHandler(ruleName: string, validate: JsonObject, celPreconditions: JsonValue | undefined): RuleHandler;
}

const NO_CEL = 'CEL is not available in this compilation (internal: no CelCompiler given)';

/** Does this policy need the CEL compiler (a CEL kind, or a validate.cel rule)? */
export function needsCel(loaded: LoadedPolicy): boolean {
  if (loaded.kind !== 'ClusterPolicy' && loaded.kind !== 'Policy') return true;
  const rules = loaded.raw.spec.rules;
  return Array.isArray(rules) && rules.some((r) => !!(r as JsonObject | null)?.validate && !!((r as JsonObject).validate as JsonObject).cel);
}

/**
 * The kind names a match block can select, for a cheap pre-filter per request.
 * null when any kind may match: a filter without kinds, or a wildcard kind.
 */
function matchKindNames(match: JsonObject | undefined): ReadonlySet<string> | null {
  if (!match) return null;
  const filters = [match.resources, ...((match.any as JsonObject[] | undefined) ?? []).map((f) => f.resources),
    ...((match.all as JsonObject[] | undefined) ?? []).map((f) => f.resources)].filter((r) => r !== undefined) as JsonObject[];
  if (filters.length === 0) return null;
  const names = new Set<string>();
  const isAll = Array.isArray(match.all) && (match.all as JsonObject[]).length > 0 && !(Array.isArray(match.any) && (match.any as JsonObject[]).length > 0);
  for (const f of filters) {
    const kinds = f.kinds as string[] | undefined;
    if (!kinds || kinds.length === 0) {
      if (isAll) continue; // under `all`, another filter constrains the kind
      return null;
    }
    for (const k of kinds) {
      const name = kindOfSelector(k);
      if (name.includes('*') || name.includes('?')) return null;
      names.add(name);
    }
  }
  return names.size > 0 ? names : null;
}

export function compilePolicy(loaded: LoadedPolicy, extras: CompileExtras = {}): CompiledPolicy {
  if (loaded.kind !== 'ClusterPolicy' && loaded.kind !== 'Policy') {
    if (!extras.cel) throw new Error(NO_CEL);
    return extras.cel.compilePolicy(loaded, extras);
  }
  const spec = loaded.raw.spec;
  const annotations = loaded.raw.metadata?.annotations;
  const policyAction = normalizeAction(spec.validationFailureAction);
  const policyOverrides = overrides(spec.validationFailureActionOverrides);
  const webhookCfg = (spec.webhookConfiguration as JsonObject | undefined) ?? {};
  const rules = expandAutogen((spec.rules as JsonObject[] | undefined) ?? [], annotations);
  const compiledRules = rules.map((rule, i): CompiledRule => {
    const validate = (rule.validate as JsonObject | undefined) ?? {};
    try {
      return {
        name: String(rule.name ?? ''),
        type: ruleType(rule),
        failureAction: normalizeAction(validate.failureAction, policyAction),
        failureActionOverrides: validate.failureActionOverrides ? overrides(validate.failureActionOverrides) : policyOverrides,
        raw: rule,
        matches: compileRuleMatcher(rule.match as JsonObject | undefined, rule.exclude as JsonObject | undefined, loaded.namespace),
        context: Array.isArray(rule.context) ? (rule.context as JsonObject[]) : [],
        preconditions: rule.preconditions ? compileConditionBlock(rule.preconditions) : undefined,
        handler: compileRuleHandler(rule, extras.cel?.compileRuleHandler),
        allowExistingViolations: validate.allowExistingViolations !== false,
        kindNames: matchKindNames(rule.match as JsonObject | undefined),
        mutateTargets: mutateTargetsOf(rule),
      };
    } catch (err) {
      throw new PolicyCompileError(`/spec/rules/${i}`, `rule "${String(rule.name)}": ${(err as Error).message}`);
    }
  });
  return {
    name: loaded.name,
    namespace: loaded.namespace,
    kind: loaded.kind,
    loaded,
    rules: compiledRules,
    validationFailureAction: policyAction,
    background: spec.background !== false,
    failurePolicy: (webhookCfg.failurePolicy ?? spec.failurePolicy) === 'Ignore' ? 'Ignore' : 'Fail',
    webhookTimeoutSeconds: typeof (webhookCfg.timeoutSeconds ?? spec.webhookTimeoutSeconds) === 'number'
      ? Number(webhookCfg.timeoutSeconds ?? spec.webhookTimeoutSeconds) : undefined,
    applyOne: spec.applyRules === 'One',
    scored: annotations?.['policies.kyverno.io/scored'] !== 'false',
    admission: spec.admission !== false,
  };
}

export class PolicyCompileError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

export function compilePolicies(loaded: readonly LoadedPolicy[], extras: CompileExtras = {}): { policies: CompiledPolicy[]; errors: PolicyLoadError[] } {
  const policies: CompiledPolicy[] = [];
  const errors: PolicyLoadError[] = [];
  for (const l of loaded) {
    try {
      policies.push(compilePolicy(l, extras));
    } catch (err) {
      const path = err instanceof PolicyCompileError ? err.path : '';
      errors.push({ file: l.source.file, index: l.source.index, line: l.source.line, path, reason: (err as Error).message });
    }
  }
  return { policies, errors };
}
