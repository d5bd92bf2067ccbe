/**
 * CEL support: the expression environment, `validate.cel` rules and the
 * policies.kyverno.io kinds. `compileCelPolicy` dispatches a document by kind
 * and reports kinds not supported yet with a clear error.
 */
import type { AdmissionInput, JsonObject } from '../engine/types.ts';
import { compileMatchConstraints } from './match-constraints.ts';
import { compileMutatingPolicy, type CompiledMutatingPolicy } from './mpol.ts';
import { compileValidatingPolicy, UnsupportedPolicyError, type CompiledValidatingPolicy } from './vpol.ts';
import { compileImageValidatingPolicy, type CompiledImageValidatingPolicy } from './ivpol.ts';
import { compileGeneratingPolicy, type CompiledGeneratingPolicy } from './gpol.ts';
import { compileDeletingPolicy, type CompiledDeletingPolicy } from './dpol.ts';

export { compileExpression, CelCompileError, CelEvalError, type CompiledExpression } from './env.ts';
export { compileCelValidation, type CelRuleEnv, type CelRuleResult, type CelValidationOptions, type CelRuleEvaluator } from './validate-cel.ts';
export { compileValidatingPolicy, UnsupportedPolicyError, type CompiledValidatingPolicy, type VpolResult, type VpolEvalOptions, type ValidationAction } from './vpol.ts';
export { compileMutatingPolicy, type CompiledMutatingPolicy, type MpolResult, type MpolOutcome } from './mpol.ts';
export { compileGeneratingPolicy, type CompiledGeneratingPolicy, type GpolResult } from './gpol.ts';
export { compileDeletingPolicy, type CompiledDeletingPolicy, type DpolResult } from './dpol.ts';
export { CelPolicyCompileError } from './program.ts';
export { compileImageValidatingPolicy, compileGlob, type CompiledImageValidatingPolicy } from './ivpol.ts';
export { convertAttestor, imageVerifyFuncs } from './lib/image-verify.ts';
export { compileValidatingAdmissionPolicy, compileVapAsValidatingPolicy, bindingsFor, type CompiledValidatingAdmissionPolicy, type VapResult } from './vap.ts';
export { staticContext, type CelContextProvider } from './context.ts';
export { resourceOfKind } from './resources.ts';

export const CEL_POLICY_GROUP = 'policies.kyverno.io';

export type CompiledCelPolicy =
  /** ImageValidatingPolicy kinds verify images first: their `evaluate` answers with a Promise. */
  | { type: 'validating'; policy: CompiledValidatingPolicy | CompiledImageValidatingPolicy }
  | { type: 'mutating'; policy: CompiledMutatingPolicy }
  | { type: 'generating'; policy: CompiledGeneratingPolicy }
  | { type: 'deleting'; policy: CompiledDeletingPolicy };

/** Is this a policies.kyverno.io document (any version)? */
export function isCelPolicyDocument(doc: JsonObject): boolean {
  return typeof doc.apiVersion === 'string' && doc.apiVersion.startsWith(`${CEL_POLICY_GROUP}/`);
}

/** Compile a policies.kyverno.io document (with the CEL PolicyExceptions that may name it); throws UnsupportedPolicyError for kinds not implemented. */
export function compileCelPolicy(doc: JsonObject, exceptions: readonly JsonObject[] = []): CompiledCelPolicy {
  switch (doc.kind) {
    case 'ValidatingPolicy':
    case 'NamespacedValidatingPolicy':
      return { type: 'validating', policy: compileValidatingPolicy(doc, exceptions) };
    case 'MutatingPolicy':
    case 'NamespacedMutatingPolicy':
      return { type: 'mutating', policy: compileMutatingPolicy(doc, exceptions) };
    case 'ImageValidatingPolicy':
    case 'NamespacedImageValidatingPolicy':
      return { type: 'validating', policy: compileImageValidatingPolicy(doc, exceptions) };
    // Offline-only kinds (the webhook never evaluates them): one that does not compile must
    // not cost the webhook its whole policy set, so it compiles to an error result instead.
    case 'GeneratingPolicy':
    case 'NamespacedGeneratingPolicy':
      try {
        return { type: 'generating', policy: compileGeneratingPolicy(doc, exceptions) };
      } catch (e) {
        return { type: 'generating', policy: failedOfflinePolicy(doc, e) };
      }
    case 'DeletingPolicy':
    case 'NamespacedDeletingPolicy':
      try {
        return { type: 'deleting', policy: compileDeletingPolicy(doc, exceptions) };
      } catch (e) {
        return { type: 'deleting', policy: { ...failedOfflinePolicy(doc, e), schedule: String((doc.spec as JsonObject | undefined)?.schedule ?? '') } };
      }
    default:
      throw new UnsupportedPolicyError(`${String(doc.kind)} (${String(doc.apiVersion)}) is not supported yet`);
  }
}

/** A policy that did not compile: an `error` result for the resources its matchConstraints select. */
function failedOfflinePolicy(doc: JsonObject, error: unknown) {
  const meta = (doc.metadata ?? {}) as JsonObject;
  const name = String(meta.name ?? '');
  const kind = String(doc.kind ?? '');
  let matches: ((input: AdmissionInput) => boolean) | undefined;
  try {
    matches = compileMatchConstraints((doc.spec as JsonObject | undefined)?.matchConstraints as JsonObject | undefined);
  } catch {
    matches = undefined;
  }
  const result = [{ rule: name, status: 'error' as const, message: `failed to compile policy: ${(error as Error).message}` }];
  return {
    name, kind,
    ...(kind.startsWith('Namespaced') ? { namespace: String(meta.namespace ?? 'default') } : {}),
    evaluate: (input: AdmissionInput) => (matches && !matches(input) ? [] : result.map((r) => ({ ...r }))),
  };
}
