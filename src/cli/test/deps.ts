/**
 * What the CLI commands need from the policy loader and the engine, behind a
 * small seam: the real modules are imported lazily (so a broken or absent
 * engine shows up as a Test error, not a crash at start-up), and tests can
 * substitute fakes.
 */
import type { EvaluateOptions, EvaluationResult } from '../../engine/engine.ts';
import type { AdmissionInput, ContextResolver, KubeObject } from '../../engine/types.ts';
import type { CompiledExceptions } from '../../engine/exceptions.ts';
import type { CompiledPolicy } from '../../policy/compile.ts';

export interface EngineLike {
  evaluate(input: AdmissionInput, options: EvaluateOptions): Promise<EvaluationResult>;
}

export interface LoadedPolicies {
  policies: CompiledPolicy[];
  /** Documents that failed to load or compile (file, path, reason). */
  warnings: string[];
  /** Policy documents of kinds the engine does not evaluate (name → kind), e.g. ValidatingPolicy. */
  unsupported?: Map<string, string>;
  /** PolicyException documents found in the policy files. */
  exceptionDocs?: KubeObject[];
}

export interface CliDeps {
  /**
   * `celExceptions`: policies.kyverno.io PolicyExceptions from elsewhere (a Test's `exceptions:`), compiled into the CEL policies;
   * `params`: objects MutatingAdmissionPolicy bindings' paramRef may select.
   */
  loadPolicies(paths: readonly string[], celExceptions?: readonly KubeObject[], params?: readonly KubeObject[]): Promise<LoadedPolicies>;
  /** One engine for exactly one policy. */
  createEngine(policy: CompiledPolicy, resolver?: ContextResolver, exceptions?: CompiledExceptions): EngineLike;
}

let cached: Promise<CliDeps> | undefined;

/** The real loader, compiler and engine. */
export function defaultDeps(): Promise<CliDeps> {
  cached ??= (async () => {
    const [{ loadPolicyPaths }, { compilePolicies }, { Engine }] = await Promise.all([
      import('../../policy/load.ts'),
      import('../../policy/compile.ts'),
      import('../../engine/engine.ts'),
    ]);
    return {
      async loadPolicies(paths, celExceptions = [], params = []) {
        const loaded = await loadPolicyPaths(paths, { admissionPolicies: true });
        const compiled = compilePolicies(loaded.policies, {
          exceptions: [...loaded.celExceptions, ...celExceptions],
          bindings: loaded.bindings,
          params,
        });
        const warnings = [
          ...loaded.errors.map((e) => `policy ${e.file}#${e.index} ${e.path}: ${e.reason}`),
          ...compiled.errors.map((e) => `invalid policy ${e.file}#${e.index} ${e.path}: ${e.reason}`),
        ];
        const unsupported = new Map<string, string>();
        for (const o of loaded.others) {
          const kind = typeof o.kind === 'string' ? o.kind : '';
          const name = typeof o.metadata?.name === 'string' ? o.metadata.name : '';
          if (name !== '' && /Polic(y|ies)$/.test(kind) && kind !== 'ValidatingAdmissionPolicyBinding') unsupported.set(name, kind);
        }
        return { policies: compiled.policies, warnings, unsupported, exceptionDocs: loaded.exceptions };
      },
      createEngine(policy, resolver, exceptions) {
        return new Engine([policy], { resolver, ...(exceptions ? { exceptions } : {}) });
      },
    } satisfies CliDeps;
  })();
  // A failed import should be retried on the next call, not cached forever.
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}
