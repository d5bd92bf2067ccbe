/**
 * The engine: given compiled policies and an admission input, match each rule,
 * run mutate rules first (each sees the previous result), then validate rules
 * on the mutated object. Per rule, as Kyverno: match → load context →
 * preconditions → handler → RuleResponse.
 */
import type { AdmissionInput, ContextResolver, KubeObject, PatchOperation, RuleResponse, JsonValue } from './types.ts';
import type { CelValidatingRuntime, CompiledPolicy, CompiledRule } from '../policy/compile.ts';
import { applyJson6902, type JsonPatchOp } from './mutate/jsonPatch.ts';
import type { HandlerResult, RuleEnv, RuleHandler } from './handlers/types.ts';
import { runMutateExisting } from './handlers/mutate-existing.ts';
import type { ImageVerificationConfig } from './handlers/verify-images.ts';
import type { ContextData } from './variables.ts';
import { loadContextAndCheck } from './handlers/preconditions.ts';
import { contextSeed, contextFrom, contextForRule, type ContextSeed } from './request-context.ts';
import { celContextFor, namespaceObjectOf } from './cel-context.ts';
import { exceptionSkip, policyKey, type CompiledExceptions, type RuleExceptions } from './exceptions.ts';
import { diffPatch } from './patch.ts';
import { foreachValuesFor, rulePins, variablePins, type CallerPins, type RuleForeachValues } from './foreach-values.ts';
import type { CompiledGeneratingPolicy, MpolOutcome, VpolEvalOptions } from '../cel/index.ts';

/** How often a CEL policy is re-evaluated after resolving the lookups it asked for. */
const MAX_CEL_LOOKUP_ROUNDS = 4;

export interface EngineOptions {
  resolver?: ContextResolver;
  /** PolicyExceptions (kyverno.io/v2): matching ones turn a rule's result into skip. */
  exceptions?: CompiledExceptions;
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
  /** Kyverno CLI foreachValues by rule name: per-element variables of its foreach blocks (foreach-values.ts). */
  foreachValues?: RuleForeachValues;
  /** Only these policies (default: all the engine holds). */
  policies?: readonly CompiledPolicy[];
  /**
   * Admission only (the webhook sets it; the CLI does not, like Kyverno's): on UPDATE,
   * a rule with allowExistingViolations (default) that also fails on the old object
   * is reported as skip, so pre-existing violations do not block unrelated changes.
   */
  allowExistingViolations?: boolean;
  /**
   * Offline only (`portcullis test`): run mutate-existing rules (`mutate.targets`) on the
   * targets the resolver's `targetResources` gives; their responses carry `patchedTarget`
   * and the admitted object is left alone. Without it (the webhook) such rules do not run:
   * Kyverno mutates existing resources from its background controller, not at admission.
   */
  mutateExisting?: boolean;
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

/** Cheap pre-filter on the kinds a rule's match can name (the full matcher decides). */
const mayMatchKind = (rule: CompiledRule, kind: string) => rule.kindNames === null || rule.kindNames.has(kind);

/** Rules the validate phase runs: validations; on /validate also image verification (it re-checks, cached). */
const isValidatePhaseCli = (r: CompiledRule) => r.type === 'Validation';
const isValidatePhaseWebhook = (r: CompiledRule) => r.type === 'Validation' || r.type === 'ImageVerify';

/** Rules the mutate phase runs: mutations of the admitted object, and image verification (which pins digests). */
const isMutatePhase = (r: CompiledRule) => (r.type === 'Mutation' && !r.mutateTargets) || r.type === 'ImageVerify';

/**
 * One policy's share of a phase: CEL policies run whole; for the others, the
 * rules of that phase that may match the kind, in order. A policy with rules of
 * the phase is listed even when none may match, so results keep Kyverno's order.
 */
interface PhaseEntry { policy: CompiledPolicy; index: number; rules: readonly CompiledRule[] }

/** The phases for one resource kind, worked out once per kind instead of per review. */
interface KindPlan { mutate: PhaseEntry[]; mutateExisting: PhaseEntry[]; validateWebhook: PhaseEntry[]; validateCli: PhaseEntry[]; generate: PhaseEntry[]; deletion: PhaseEntry[] }

/** CEL kinds Kyverno never evaluates at admission: their own phases run offline (`mode: 'all'`) only. */
const isOfflineOnly = (policy: CompiledPolicy) => policy.cel?.type === 'generating' || policy.cel?.type === 'deleting';

function phaseEntries(policies: readonly CompiledPolicy[], kind: string, inPhase: (r: CompiledRule) => boolean): PhaseEntry[] {
  const out: PhaseEntry[] = [];
  for (let index = 0; index < policies.length; index++) {
    const policy = policies[index]!;
    if (policy.cel) {
      if (!isOfflineOnly(policy)) out.push({ policy, index, rules: [] });
      continue;
    }
    if (!policy.rules.some(inPhase)) continue;
    out.push({ policy, index, rules: policy.rules.filter((r) => inPhase(r) && mayMatchKind(r, kind)) });
  }
  return out;
}

function kindPlan(policies: readonly CompiledPolicy[], kind: string): KindPlan {
  return {
    mutate: phaseEntries(policies, kind, isMutatePhase),
    // Mutate-existing rules (offline only): matched against the trigger, they patch other objects.
    mutateExisting: policies.flatMap((policy, index) => {
      const rules = policy.cel ? [] : policy.rules.filter((r) => r.type === 'Mutation' && r.mutateTargets && mayMatchKind(r, kind));
      return rules.length > 0 ? [{ policy, index, rules }] : [];
    }),
    validateWebhook: phaseEntries(policies, kind, isValidatePhaseWebhook),
    validateCli: phaseEntries(policies, kind, isValidatePhaseCli),
    // Generate rules are matched in full (no kind pre-filter); GeneratingPolicies run whole.
    generate: policies.flatMap((policy, index) => {
      if (policy.cel?.type === 'generating') return [{ policy, index, rules: [] }];
      const rules = policy.rules.filter((r) => r.type === 'Generation');
      return rules.length > 0 ? [{ policy, index, rules }] : [];
    }),
    deletion: policies.flatMap((policy, index) => (policy.cel?.type === 'deleting' ? [{ policy, index, rules: [] }] : [])),
  };
}

const MUTATE = 0, VALIDATE = 1, OFFLINE = 2, MUTATE_EXISTING = 3;

/** The state of one evaluate() call, carried from rule to rule (and across any wait). */
class Evaluation {
  readonly input: AdmissionInput;
  readonly options: EvaluateOptions;
  readonly plan: KindPlan;
  /** Names the caller's variables pin (their context entries are not loaded); per rule see pinsFor. */
  readonly pinned: ReadonlySet<string> | undefined;
  readonly #rulePins = new Map<string, CallerPins | undefined>();
  readonly #withImages: boolean;
  /** The object as mutated so far (input.object until a mutation applies). */
  resource: KubeObject | null;
  #seed: ContextSeed | undefined;
  #seedFor: KubeObject | null = null;
  // Results by policy position, kept in the order policies are first reached.
  readonly #slots: (PolicyResult | undefined)[];
  readonly #ordered: PolicyResult[] = [];
  /** What rules are matched against; one object, pointed at the current resource for each rule. */
  readonly #target: { input: AdmissionInput; resource: KubeObject };
  /** Policy timings: one clock reading per policy, the end of one being the start of the next (-1: read it afresh). */
  clock = -1;
  #t0 = 0;

  constructor(input: AdmissionInput, options: EvaluateOptions, policies: readonly CompiledPolicy[], plan: KindPlan, withImages: boolean) {
    this.input = input;
    this.options = options;
    this.plan = plan;
    this.pinned = variablePins(options.variables);
    this.#withImages = withImages;
    this.resource = input.object;
    this.#slots = new Array(policies.length);
    this.#target = { input, resource: input.object as KubeObject };
  }

  /** The rule's pins: the caller's variables, plus its own foreachValues (CLI) with their names. */
  pinsFor(rule: CompiledRule): CallerPins | undefined {
    const all = this.options.foreachValues;
    if (!all) return this.pinned;
    if (this.#rulePins.has(rule.name)) return this.#rulePins.get(rule.name);
    const values = foreachValuesFor(all, rule.name);
    const pins = values ? rulePins(this.pinned, values) : this.pinned;
    this.#rulePins.set(rule.name, pins);
    return pins;
  }

  matches(rule: CompiledRule, resource: KubeObject): boolean {
    this.#target.resource = resource;
    return rule.matches(this.#target);
  }

  resultFor(policy: CompiledPolicy, index: number): PolicyResult {
    let r = this.#slots[index];
    if (!r) this.#ordered.push((this.#slots[index] = r = { policy, rules: [], durationMs: 0 }));
    return r;
  }

  /** The JSON context for a rule, seeded from the object as it is now. */
  contextFor(rule: CompiledRule): ContextData {
    if (!this.#seed || this.#seedFor !== this.resource) {
      this.#seed = contextSeed(this.input, this.resource, this.options.variables, this.#withImages);
      this.#seedFor = this.resource;
    }
    return contextForRule(this.#seed, rule.context.length > 0);
  }

  startPolicy(): void {
    this.#t0 = this.clock >= 0 ? this.clock : performance.now();
  }

  /** Closes the policy's timing; returns where the walk goes next (the following entry). */
  endPolicy(pr: PolicyResult, entry: number): [number, number] {
    this.clock = performance.now();
    pr.durationMs += this.clock - this.#t0;
    return [entry + 1, 0];
  }

  /** Records a mutate rule's run; true when the policy stops here (applyRules: One). */
  mutated(policy: CompiledPolicy, pr: PolicyResult, run: RuleRun): boolean {
    pr.rules.push(run.response);
    if (run.result.patchedResource && run.result.status === 'pass') this.resource = run.result.patchedResource;
    return policy.applyOne && run.result.status !== 'skip';
  }

  /** Records a validate rule's response; true when the policy stops here (applyRules: One). */
  validated(policy: CompiledPolicy, pr: PolicyResult, response: RuleResponse): boolean {
    pr.rules.push(response);
    return policy.applyOne && response.status !== 'skip';
  }

  finish(): EvaluationResult {
    const { input, resource } = this;
    const results = this.#ordered.filter((r) => r.rules.length > 0);
    const patches = resource !== input.object && input.object && resource ? diffPatch(input.object, resource) : [];
    return { results, patchedResource: resource, patches };
  }
}

/** Kinds planned at most; a stream of invented kinds cannot grow the cache without bound. */
const MAX_PLANNED_KINDS = 512;

export class Engine {
  readonly policies: readonly CompiledPolicy[];
  readonly options: EngineOptions;
  /** Per rule: the exceptions naming it (resolved once), or undefined. */
  readonly #exceptions = new WeakMap<CompiledRule, RuleExceptions | null>();
  /**
   * Whether any rule can read the `images` variable. Without one the context
   * carries no `images` entry: its lazy getter costs every rule context.
   */
  readonly #usesImages: boolean;
  readonly #plans = new Map<string, KindPlan>();
  constructor(policies: readonly CompiledPolicy[], options: EngineOptions = {}) {
    this.policies = policies;
    this.options = options;
    this.#usesImages = policies.some((p) => p.rules.some((r) => JSON.stringify(r.raw).includes('images')));
  }

  private exceptionsFor(policy: CompiledPolicy, rule: CompiledRule): RuleExceptions | undefined {
    const all = this.options.exceptions;
    if (!all || all.size === 0) return undefined;
    let fn = this.#exceptions.get(rule);
    if (fn === undefined) this.#exceptions.set(rule, (fn = all.forRule(policyKey(policy), rule.name) ?? null));
    return fn ?? undefined;
  }

  private planFor(policies: readonly CompiledPolicy[], kind: string): KindPlan {
    if (policies !== this.policies) return kindPlan(policies, kind);
    let plan = this.#plans.get(kind);
    if (!plan) {
      plan = kindPlan(policies, kind);
      if (this.#plans.size < MAX_PLANNED_KINDS) this.#plans.set(kind, plan);
    }
    return plan;
  }

  /**
   * Evaluates the input. The phases run synchronously as long as every rule
   * answers synchronously (the common case: no allocation of an async frame per
   * review); where one has to wait, the walk continues from that rule once it has.
   */
  evaluate(input: AdmissionInput, options: EvaluateOptions): Promise<EvaluationResult> {
    const policies = options.policies ?? this.policies;
    const st = new Evaluation(input, options, policies, this.planFor(policies, input.kind.kind),
      // Another policy list than the engine's: keep `images` (not worth scanning per call).
      options.policies === undefined ? this.#usesImages : true);
    let pending: Promise<void> | undefined;
    try {
      pending = this.runPhases(st, MUTATE);
    } catch (err) {
      return Promise.reject(err);
    }
    return pending ? pending.then(() => st.finish()) : Promise.resolve(st.finish());
  }

  /** Runs the phases from `phase` on; a promise only when something had to be waited for. */
  private runPhases(st: Evaluation, phase: number): Promise<void> | undefined {
    const mode = st.options.mode;
    if (phase === MUTATE) {
      const p = mode !== 'validate' && st.resource ? this.mutatePhase(st, 0, 0) : undefined;
      if (p) return p.then(() => this.runPhases(st, MUTATE_EXISTING));
      phase = MUTATE_EXISTING;
    }
    if (phase === MUTATE_EXISTING) {
      const p = mode !== 'validate' && st.options.mutateExisting && st.plan.mutateExisting.length > 0 ? this.mutateExistingPhase(st) : undefined;
      if (p) return p.then(() => this.runPhases(st, VALIDATE));
      phase = VALIDATE;
    }
    if (phase === VALIDATE) {
      const p = mode !== 'mutate' ? this.validatePhase(st, 0, 0) : undefined;
      if (p) return p.then(() => this.runPhases(st, OFFLINE));
    }
    return mode === 'all' ? this.offlinePhases(st) : undefined;
  }

  /** Generate, then deletion (`mode: 'all'` only): what Kyverno's background controllers would do. */
  private offlinePhases(st: Evaluation): Promise<void> | undefined {
    const { generate, deletion } = st.plan;
    if (generate.length === 0 && deletion.length === 0) return undefined;
    return (async () => {
      if (generate.length > 0) await this.generatePhase(st);
      if (deletion.length > 0) await this.deletionPhase(st);
    })();
  }

  /** Mutate rules from entry `e`, rule `r` on, each on the previous result. */
  private mutatePhase(st: Evaluation, e: number, r: number): Promise<void> | undefined {
    const entries = st.plan.mutate;
    for (; e < entries.length; e++, r = 0) {
      const { policy, index, rules } = entries[e]!;
      if (policy.cel) {
        const cel = policy.cel;
        if (cel.type !== 'mutating' && !(cel.type === 'validating' && cel.policy.mutateDigest)) continue;
        st.clock = -1;
        const next = e + 1;
        return this.celMutate(st, policy, index).then(() => this.mutatePhase(st, next, 0));
      }
      const pr = st.resultFor(policy, index);
      if (rules.length === 0) continue;
      if (r === 0) st.startPolicy();
      for (; r < rules.length; r++) {
        const rule = rules[r]!;
        const resource = st.resource!;
        if (!st.matches(rule, resource)) continue;
        const run = this.runMatched(policy, rule, st.input, resource, st.contextFor(rule), st.pinsFor(rule), 'mutate');
        if (run instanceof Promise) {
          const here: [number, number] = [e, r + 1];
          return run.then((res) => this.mutatePhase(st, ...(st.mutated(policy, pr, res) ? st.endPolicy(pr, here[0]) : here)));
        }
        if (st.mutated(policy, pr, run)) break;
      }
      st.endPolicy(pr, e);
    }
    return undefined;
  }

  /**
   * Mutate-existing rules (offline only, handlers/mutate-existing.ts): each rule that matches the
   * trigger (as mutated so far) loads its context and checks its preconditions on the trigger, then
   * reports one response per target it patches; the trigger itself is not changed.
   */
  private async mutateExistingPhase(st: Evaluation): Promise<void> {
    const trigger = st.resource ?? st.input.oldObject;
    if (!trigger) return;
    for (const { policy, index, rules } of st.plan.mutateExisting) {
      const t0 = performance.now();
      const pr = st.resultFor(policy, index);
      for (const rule of rules) {
        if (!st.matches(rule, trigger)) continue;
        const data = st.contextFor(rule);
        const pins = st.pinsFor(rule);
        const skipped = await loadContextAndCheck(rule.context, rule.preconditions, data, this.options.resolver, pins, true);
        if (skipped) {
          pr.rules.push(toRun(rule, skipped).response);
          continue;
        }
        const exceptions = this.exceptionsFor(policy, rule)?.({ input: st.input, resource: trigger }, data);
        if (exceptions && exceptions.length > 0) {
          pr.rules.push(toRun(rule, exceptionSkip(exceptions)).response);
          continue;
        }
        const env: RuleEnv = {
          ruleName: rule.name, data, resource: trigger, input: st.input, resolver: this.options.resolver, pinned: pins, nesting: 0, phase: 'mutate',
        };
        if (pins?.foreachValues) env.foreachValues = pins.foreachValues;
        const handler: RuleHandler = (e) => {
          try {
            const r = rule.handler(e);
            return r instanceof Promise ? r.catch((err: unknown) => executionError(rule, err)) : r;
          } catch (err) {
            return executionError(rule, err);
          }
        };
        for (const r of await runMutateExisting(rule.mutateTargets!, handler, env, policy.namespace)) pr.rules.push(toRun(rule, r).response);
      }
      pr.durationMs += performance.now() - t0;
    }
  }

  /** Validate rules (and on /validate image re-verification) from entry `e`, rule `r` on, on the mutated object. */
  private validatePhase(st: Evaluation, e: number, r: number): Promise<void> | undefined {
    const entries = st.options.mode === 'validate' ? st.plan.validateWebhook : st.plan.validateCli;
    const validated = st.resource ?? st.input.oldObject;
    for (; e < entries.length; e++, r = 0) {
      const { policy, index, rules } = entries[e]!;
      if (policy.cel) {
        if (policy.cel.type !== 'validating' && policy.cel.type !== 'unsupported') continue;
        st.clock = -1;
        const next = e + 1;
        return this.celValidatePolicy(st, policy, index).then(() => this.validatePhase(st, next, 0));
      }
      const pr = st.resultFor(policy, index);
      if (rules.length === 0 || !validated) continue;
      if (r === 0) st.startPolicy();
      for (; r < rules.length; r++) {
        const rule = rules[r]!;
        if (!st.matches(rule, validated)) continue;
        const run = this.runMatched(policy, rule, st.input, validated, st.contextFor(rule), st.pinsFor(rule), 'validate');
        if (run instanceof Promise || (run.response.status === 'fail' && rule.type === 'Validation' && st.options.allowExistingViolations)) {
          const here: [number, number] = [e, r + 1];
          const resume = (response: RuleResponse) => this.validatePhase(st, ...(st.validated(policy, pr, response) ? st.endPolicy(pr, here[0]) : here));
          return Promise.resolve(run).then((res) => this.checkExisting(st, policy, rule, res.response)).then(resume);
        }
        const response = run.response;
        if (st.validated(policy, pr, response)) break;
      }
      st.endPolicy(pr, e);
    }
    return undefined;
  }

  /** allowExistingViolations (admission only): a failure the old object already had is a skip. */
  private async checkExisting(st: Evaluation, policy: CompiledPolicy, rule: CompiledRule, response: RuleResponse): Promise<RuleResponse> {
    if (response.status !== 'fail' || rule.type !== 'Validation' || !st.options.allowExistingViolations) return response;
    return this.existingViolation(policy, rule, st.input, response, st.options.variables, st.pinsFor(rule));
  }

  private async celMutate(st: Evaluation, policy: CompiledPolicy, index: number): Promise<void> {
    const cel = policy.cel!;
    const input = st.input;
    if (cel.type === 'mutating') {
      const t0 = performance.now();
      const subject: AdmissionInput = { ...input, object: st.resource };
      const out: MpolOutcome = await this.celEvaluate(input, (opts) => cel.policy.evaluate(subject, opts));
      const pr = st.resultFor(policy, index);
      for (const r of out.results) pr.rules.push({ name: r.rule, type: 'Mutation', status: r.status, message: r.message });
      if (out.patched) st.resource = out.patched;
      pr.durationMs += performance.now() - t0;
    } else if (cel.type === 'validating' && cel.policy.mutateDigest) {
      st.resource = await this.celMutateDigest(policy, cel.policy.mutateDigest, input, st.resource!, () => st.resultFor(policy, index));
    }
  }

  private async celValidatePolicy(st: Evaluation, policy: CompiledPolicy, index: number): Promise<void> {
    const t0 = performance.now();
    const rules = await this.celValidate(policy, st.input, st.resource);
    if (rules.length === 0) return;
    const pr = st.resultFor(policy, index);
    pr.rules.push(...rules);
    pr.durationMs += performance.now() - t0;
  }

  /** Generate rules and GeneratingPolicies (offline only: `portcullis test` compares their output). */
  private async generatePhase(st: Evaluation): Promise<void> {
    const trigger = st.resource ?? st.input.oldObject;
    if (!trigger) return;
    for (const { policy, index, rules } of st.plan.generate) {
      const pr = st.resultFor(policy, index);
      if (policy.cel?.type === 'generating') {
        pr.rules.push(...await this.celGenerate(policy.cel.policy, st.input, st.resource));
        continue;
      }
      for (const rule of rules) {
        const res = await this.runRule(policy, rule, st.input, trigger, st.contextFor(rule), st.pinsFor(rule), 'validate');
        if (res) pr.rules.push(res.response);
      }
    }
  }

  /** A GeneratingPolicy, evaluated as a whole: its responses carry the objects it generates. */
  private async celGenerate(policy: CompiledGeneratingPolicy, input: AdmissionInput, object: KubeObject | null): Promise<RuleResponse[]> {
    const subject = { ...input, object };
    const results = await this.celEvaluate(input, (opts) => policy.evaluate(subject, opts));
    return results.map((r) => ({
      name: r.rule, type: 'Generation' as const, status: r.status, message: r.message, ...(r.generated ? { generatedResources: r.generated } : {}),
    }));
  }

  /**
   * DeletingPolicies (offline only): whether a cleanup run would delete the
   * resource as loaded (Kyverno's CLI applies them to the unmutated resource).
   */
  private async deletionPhase(st: Evaluation): Promise<void> {
    for (const { policy, index } of st.plan.deletion) {
      const cel = policy.cel;
      if (cel?.type !== 'deleting') continue;
      const t0 = performance.now();
      const results = await this.celEvaluate(st.input, (opts) => cel.policy.evaluate(st.input, opts));
      if (results.length === 0) continue;
      const pr = st.resultFor(policy, index);
      for (const r of results) pr.rules.push({ name: r.rule, type: 'Deletion', status: r.status, message: r.message });
      pr.durationMs += performance.now() - t0;
    }
  }

  private celOptions(input: AdmissionInput): VpolEvalOptions {
    const context = celContextFor(this.options.resolver);
    const opts: VpolEvalOptions = { namespaceObject: namespaceObjectOf(input) };
    if (context) opts.context = context;
    if (this.options.images) opts.images = this.options.images;
    return opts;
  }

  /**
   * Evaluates a CEL policy. CEL runs synchronously, so a provider whose lookups
   * (resource.Get, http.Get, globalContext.Get, …) were asked but not answered yet
   * resolves them asynchronously and the policy is evaluated again, up to a bound.
   */
  private async celEvaluate<T>(input: AdmissionInput, run: (opts: VpolEvalOptions) => T | Promise<T>): Promise<T> {
    const opts = this.celOptions(input);
    let out = await run(opts);
    for (let round = 0; round < MAX_CEL_LOOKUP_ROUNDS && opts.context?.resolvePending; round++) {
      if (!(await opts.context.resolvePending())) break;
      out = await run(opts);
    }
    return out;
  }

  /** ImageValidatingPolicy's mutateDigest: image tags pinned to the digests they resolve to. */
  private async celMutateDigest(policy: CompiledPolicy, mutateDigest: NonNullable<CelValidatingRuntime['mutateDigest']>,
    input: AdmissionInput, resource: KubeObject, resultFor: () => PolicyResult): Promise<KubeObject> {
    const t0 = performance.now();
    const out = await mutateDigest({ ...input, object: resource }, this.celOptions(input));
    if (out.patches.length === 0 && out.results.length === 0) return resource;
    const pr = resultFor();
    for (const r of out.results) pr.rules.push({ name: r.rule, type: 'Mutation', status: r.status, message: r.message });
    let patched = resource;
    if (out.patches.length > 0) {
      const ops = out.patches.map((p) => ({ ...p, hasValue: Object.hasOwn(p, 'value') }) as JsonPatchOp);
      patched = applyJson6902(resource as unknown as JsonValue, ops) as unknown as KubeObject;
      pr.rules.push({ name: 'mutateDigest', type: 'Mutation', status: 'pass', message: 'image digests pinned', patches: out.patches });
    }
    pr.durationMs += performance.now() - t0;
    return patched;
  }

  /** A policies.kyverno.io validating (or unsupported) policy, evaluated as a whole. */
  private async celValidate(policy: CompiledPolicy, input: AdmissionInput, object: KubeObject | null): Promise<RuleResponse[]> {
    const cel = policy.cel!;
    const subject = { ...input, object };
    if (cel.type === 'unsupported') {
      return cel.matches(subject) ? [{ name: '', type: 'Validation', status: 'error', message: cel.reason }] : [];
    }
    if (cel.type !== 'validating') return [];
    const results = await this.celEvaluate(input, (opts) => cel.policy.evaluate(subject, opts));
    return results.map((r) => ({ name: r.rule, type: 'Validation' as const, status: r.status, message: r.message }));
  }

  /** Kyverno's allowExistingViolations: on UPDATE, a rule that already failed on the old object is skipped. */
  private async existingViolation(policy: CompiledPolicy, rule: CompiledRule, input: AdmissionInput, response: RuleResponse,
    variables: Record<string, JsonValue> | undefined, pinned: ReadonlySet<string> | undefined): Promise<RuleResponse> {
    if (input.operation !== 'UPDATE' || !input.oldObject || !rule.allowExistingViolations) return response;
    const oldInput: AdmissionInput = { ...input, object: input.oldObject, operation: 'UPDATE' };
    const data = contextFrom(contextSeed(oldInput, input.oldObject, variables, this.#usesImages));
    const old = await this.runRule(policy, rule, oldInput, input.oldObject, data, pinned, 'validate');
    if (old && old.result.status === 'fail') return { ...response, status: 'skip', message: 'skipping modified resource as validation results have not changed' };
    return response;
  }

  /**
   * Runs a rule that matched: context, preconditions, handler. Synchronous when
   * the rule loads no context and its handler answers synchronously (most
   * validate rules), so the hot path creates no promises; otherwise a promise.
   */
  private runMatched(policy: CompiledPolicy, rule: CompiledRule, input: AdmissionInput, resource: KubeObject, data: ContextData,
    pinned: ReadonlySet<string> | undefined, phase: RuleEnv['phase']): RuleRun | Promise<RuleRun> {
    if (rule.context.length > 0) {
      return (async () => {
        const skipped = await loadContextAndCheck(rule.context, rule.preconditions, data, this.options.resolver, pinned, true);
        return toRun(rule, skipped ?? await this.callHandler(policy, rule, input, resource, data, pinned, phase));
      })();
    }
    if (rule.preconditions) {
      let r: { passed: boolean; message?: string };
      try {
        r = rule.preconditions(data);
      } catch (err) {
        return toRun(rule, { status: 'error', message: `failed to evaluate preconditions: ${(err as Error).message}` });
      }
      if (!r.passed) return toRun(rule, { status: 'skip', message: r.message ? `preconditions not met; ${r.message}` : 'preconditions not met' });
    }
    const result = this.callHandler(policy, rule, input, resource, data, pinned, phase);
    return result instanceof Promise ? result.then((x) => toRun(rule, x)) : toRun(rule, result);
  }

  private async runRule(policy: CompiledPolicy, rule: CompiledRule, input: AdmissionInput, resource: KubeObject, data: ContextData,
    pinned: ReadonlySet<string> | undefined, phase: RuleEnv['phase']): Promise<RuleRun | undefined> {
    if (!rule.matches({ input, resource })) return undefined;
    return this.runMatched(policy, rule, input, resource, data, pinned, phase);
  }

  private callHandler(policy: CompiledPolicy, rule: CompiledRule, input: AdmissionInput, resource: KubeObject, data: ContextData,
    pinned: ReadonlySet<string> | undefined, phase: RuleEnv['phase']): HandlerResult | Promise<HandlerResult> {
    const env: RuleEnv = {
      ruleName: rule.name, data, resource, input, resolver: this.options.resolver, pinned, nesting: 0, phase, images: this.options.images,
    };
    const foreachValues = (pinned as CallerPins | undefined)?.foreachValues;
    if (foreachValues) env.foreachValues = foreachValues;
    // Exceptions apply after context and preconditions, as in Kyverno; podSecurity rules
    // get them to exempt single controls.
    const exceptions = this.exceptionsFor(policy, rule)?.({ input, resource }, data);
    if (exceptions && exceptions.length > 0) {
      if (!(rule.raw.validate as { podSecurity?: unknown } | undefined)?.podSecurity) return exceptionSkip(exceptions);
      env.exceptions = exceptions;
    }
    try {
      const r = rule.handler(env);
      return r instanceof Promise ? r.catch((err: unknown) => executionError(rule, err)) : r;
    } catch (err) {
      return executionError(rule, err);
    }
  }
}

interface RuleRun { result: HandlerResult; response: RuleResponse }

function executionError(rule: CompiledRule, err: unknown): HandlerResult {
  return { status: 'error', message: `rule ${rule.name} execution error: ${(err as Error).message}` };
}

function toRun(rule: CompiledRule, result: HandlerResult): RuleRun {
  const response: RuleResponse = { name: rule.name, type: rule.type, status: result.status, message: result.message };
  if (result.path) response.path = result.path;
  if (result.patches) response.patches = result.patches;
  if (result.generatedResources) response.generatedResources = result.generatedResources;
  if (result.patchedTarget) response.patchedTarget = result.patchedTarget;
  if (result.exception) response.exception = result.exception;
  return { result, response };
}

