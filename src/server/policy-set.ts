/**
 * The compiled policy set the server answers with, and its live reload:
 * load + compile on change; a set with any error is rejected (logged with
 * file:line and reason) and the last good set keeps serving.
 */
import type { Logger } from 'pino';
import type { CompiledExceptions } from '../engine/exceptions.ts';
import type { AdmissionInput } from '../engine/types.ts';
import type { EngineOptions, EvaluateOptions, EvaluationResult } from '../engine/engine.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { PolicyLoadError } from '../policy/types.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { effectiveBudget } from './deadline.ts';
import { watchPaths, type Watcher } from './watch.ts';
import type { PolicyText, PolicyTextSource } from './configmap-policies.ts';

/** Anything with the Engine's evaluate signature (tests inject their own). */
export interface Decider {
  evaluate(input: AdmissionInput, options: EvaluateOptions): Promise<EvaluationResult>;
}

export type Mode = 'mutate' | 'validate';

export interface PolicySet {
  policies: readonly CompiledPolicy[];
  decider: Decider;
  generation: number;
  /** Request budget for this set (configured budget bounded by the policies' webhookTimeoutSeconds). */
  budgetMs: number;
  /** failurePolicy applied when a review of this mode cannot finish: Fail when any relevant policy says Fail. */
  failurePolicy: Record<Mode, 'Fail' | 'Ignore'>;
}

export interface PolicySource {
  readonly current: PolicySet | null;
}

export type PolicyLoader = (paths: readonly string[], texts?: readonly PolicyText[]) =>
  Promise<{ policies: CompiledPolicy[]; errors: PolicyLoadError[]; exceptions?: CompiledExceptions }>;

// The engine and loader are imported on first use, so a server driven by an
// injected loader/decider (tests, benchmarks of the HTTP layer) never loads them.
export const defaultLoader: PolicyLoader = async (paths, texts = []) => {
  const [{ loadPolicyPaths, parsePolicyText, mergeInto }, { compilePolicies, needsCel }, { releaseSchemaValidators }] = await Promise.all([
    import('../policy/load.ts'), import('../policy/compile-base.ts'), import('../policy/schema.ts')]);
  const { compileExceptions } = await import('../engine/exceptions.ts');
  const loaded = await loadPolicyPaths(paths);
  for (const t of texts) mergeInto(loaded, parsePolicyText(t.text, t.name));
  releaseSchemaValidators(); // reloads are rare: keep the idle footprint small
  // The CEL runtime (tens of MiB resident) is loaded only when a policy needs it.
  const cel = loaded.policies.some(needsCel) ? (await import('../policy/compile-cel.ts')).celCompiler : undefined;
  const compiled = compilePolicies(loaded.policies, { exceptions: loaded.celExceptions, ...(cel ? { cel } : {}) });
  const exceptions = compileExceptions(loaded.exceptions);
  const exceptionErrors = exceptions.errors.map((e) => ({ file: paths.join(','), index: 0, line: 0, path: '', reason: `PolicyException ${e.exception}: ${e.reason}` }));
  return { policies: compiled.policies, errors: [...loaded.errors, ...compiled.errors, ...exceptionErrors], exceptions };
};

export interface PolicyStoreOptions {
  paths?: readonly string[];
  loader?: PolicyLoader;
  createDecider?: (policies: readonly CompiledPolicy[], exceptions?: CompiledExceptions) => Decider;
  /** Options for the default Engine: the server's ContextResolver and registry client. */
  engineOptions?: EngineOptions;
  budgetMs: number;
  metrics?: Metrics;
  logger?: Logger;
  /** Policies from labelled ConfigMaps (read through the Kubernetes API), loaded with the files. */
  configMaps?: PolicyTextSource;
}

function modeFailurePolicy(policies: readonly CompiledPolicy[], mode: Mode): 'Fail' | 'Ignore' {
  for (const p of policies) {
    const relevant = p.rules.some((r) => (mode === 'mutate' ? r.type === 'Mutation' : r.type === 'Validation' || r.type === 'ImageVerify'));
    // Kyverno's default failurePolicy is Fail.
    if (relevant && p.failurePolicy !== 'Ignore') return 'Fail';
  }
  return 'Ignore';
}

function policyKey(p: CompiledPolicy): string {
  return `${p.kind}/${p.namespace ?? ''}/${p.name}`;
}

function policyFingerprint(p: CompiledPolicy): string {
  return JSON.stringify(p.loaded?.raw ?? { rules: p.rules, action: p.validationFailureAction, failurePolicy: p.failurePolicy });
}

export class PolicyStore implements PolicySource {
  current: PolicySet | null = null;
  readonly #options: PolicyStoreOptions;
  #generation = 0;
  #watcher: Watcher | undefined;
  #configMapVersion: string | undefined;
  #configMapTimer: NodeJS.Timeout | undefined;
  #reloading: Promise<unknown> = Promise.resolve();

  constructor(options: PolicyStoreOptions) {
    this.#options = options;
  }

  async #deciderFactory(): Promise<(policies: readonly CompiledPolicy[], exceptions?: CompiledExceptions) => Decider> {
    if (this.#options.createDecider) return this.#options.createDecider;
    const { Engine } = await import('../engine/engine.ts');
    const engineOptions = this.#options.engineOptions ?? {};
    return (policies, exceptions) => new Engine(policies, exceptions ? { ...engineOptions, exceptions } : engineOptions);
  }

  /** Install a compiled set (counting created/updated/deleted policies). */
  install(policies: readonly CompiledPolicy[], createDecider = this.#options.createDecider, exceptions?: CompiledExceptions): PolicySet {
    if (!createDecider) throw new Error('PolicyStore.install needs a decider factory');
    const decider = createDecider(policies, exceptions);
    const { metrics } = this.#options;
    const previous = this.current?.policies ?? [];
    if (metrics) {
      const before = new Map(previous.map((p) => [policyKey(p), p]));
      for (const p of policies) {
        const old = before.get(policyKey(p));
        before.delete(policyKey(p));
        if (!old) metrics.recordPolicyChange(p, 'created');
        else if (policyFingerprint(old) !== policyFingerprint(p)) metrics.recordPolicyChange(p, 'updated');
      }
      for (const gone of before.values()) metrics.recordPolicyChange(gone, 'deleted');
      metrics.setPolicyRuleInfo(policies);
    }
    this.current = {
      policies,
      decider,
      generation: ++this.#generation,
      budgetMs: effectiveBudget(this.#options.budgetMs, policies.map((p) => p.webhookTimeoutSeconds)),
      failurePolicy: { mutate: modeFailurePolicy(policies, 'mutate'), validate: modeFailurePolicy(policies, 'validate') },
    };
    return this.current;
  }

  /** Load and compile the configured paths; on any error keep the last good set. */
  reload(): Promise<{ ok: boolean; errors: PolicyLoadError[] }> {
    // Serialize reloads so a slow load cannot overwrite a newer one.
    const run = this.#reloading.then(() => this.#reloadOnce());
    this.#reloading = run.catch(() => {});
    return run;
  }

  async #reloadOnce(): Promise<{ ok: boolean; errors: PolicyLoadError[] }> {
    const { paths = [], loader = defaultLoader, logger } = this.#options;
    let result: Awaited<ReturnType<PolicyLoader>>;
    try {
      let texts: PolicyText[] = [];
      if (this.#options.configMaps) {
        const read = await this.#options.configMaps.read();
        this.#configMapVersion = read.version;
        texts = read.texts;
      }
      result = await loader(paths, texts);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      logger?.error({ paths, reason }, 'policy load failed; keeping the last good policy set');
      return { ok: false, errors: [{ file: paths.join(','), index: 0, line: 0, path: '', reason }] };
    }
    if (result.errors.length > 0) {
      for (const e of result.errors) {
        logger?.error({ file: e.file, line: e.line, document: e.index, path: e.path, reason: e.reason }, `policy error ${e.file}:${e.line}: ${e.reason}`);
      }
      logger?.error({ errors: result.errors.length, generation: this.current?.generation ?? null },
        this.current ? 'policy set rejected; keeping the last good policy set' : 'policy set rejected; no policy set loaded yet');
      return { ok: false, errors: result.errors };
    }
    let set: PolicySet;
    try {
      set = this.install(result.policies, await this.#deciderFactory(), result.exceptions);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      logger?.error({ reason }, 'policy engine failed to build; keeping the last good policy set');
      return { ok: false, errors: [{ file: paths.join(','), index: 0, line: 0, path: '', reason }] };
    }
    logger?.info({ policies: set.policies.length, generation: set.generation, budgetMs: set.budgetMs }, 'policy set loaded');
    return { ok: true, errors: [] };
  }

  /** Reload whenever the policy paths change on disk, or the policy ConfigMaps change (polled). */
  watch(options: { debounceMs?: number; pollMs?: number; configMapPollMs?: number } = {}): void {
    if (!this.#watcher && this.#options.paths?.length) {
      this.#watcher = watchPaths(this.#options.paths, () => { void this.reload(); }, options);
    }
    const source = this.#options.configMaps;
    if (source && !this.#configMapTimer) {
      let busy = false;
      this.#configMapTimer = setInterval(() => {
        if (busy) return;
        busy = true;
        source.read().then((r) => {
          if (r.version !== this.#configMapVersion) return this.reload();
        }, (err: unknown) => {
          this.#options.logger?.warn({ reason: (err as Error).message }, 'policy ConfigMaps could not be listed; keeping the current policy set');
        }).finally(() => { busy = false; });
      }, options.configMapPollMs ?? 5000);
      this.#configMapTimer.unref();
    }
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#configMapTimer) clearInterval(this.#configMapTimer);
    this.#configMapTimer = undefined;
  }
}
