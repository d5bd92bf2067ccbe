/**
 * The CEL half of policy compilation (see compile-base.ts): policies.kyverno.io
 * kinds, Kubernetes ValidatingAdmissionPolicy / MutatingAdmissionPolicy, and
 * validate.cel rules. Importing this module loads the CEL runtime.
 */
import type { JsonObject } from '../engine/types.ts';
import type { LoadedPolicy } from './types.ts';
import type { CelCompiler, CelPolicyRuntime, CompileExtras, CompiledPolicy } from './compile-base.ts';
import { compileCelPolicy, UnsupportedPolicyError } from '../cel/index.ts';
import { compileVapAsValidatingPolicy } from '../cel/vap.ts';
import { compileMapAsMutatingPolicy, isMutatingAdmissionPolicyDocument } from '../cel/map.ts';
import { compileMatchConstraints } from '../cel/match-constraints.ts';
import { compileCelHandler } from '../engine/handlers/cel.ts';

export const celCompiler: CelCompiler = { compilePolicy: compileCel, compileRuleHandler: compileCelHandler };

function compileCel(loaded: LoadedPolicy, extras: CompileExtras): CompiledPolicy {
  const spec = loaded.raw.spec;
  const doc = loaded.raw as unknown as JsonObject;
  let cel: CelPolicyRuntime;
  let actions = Array.isArray(spec.validationActions) ? (spec.validationActions as string[]) : ['Deny'];
  if (loaded.kind === 'ValidatingAdmissionPolicy' && String(loaded.raw.apiVersion).startsWith('admissionregistration.k8s.io/')) {
    const policy = compileVapAsValidatingPolicy(doc, (extras.bindings ?? []) as readonly JsonObject[], (extras.params ?? []) as readonly JsonObject[]);
    cel = { type: 'validating', policy };
    actions = policy.validationActions;
  } else if (isMutatingAdmissionPolicyDocument(doc)) {
    cel = { type: 'mutating', policy: compileMapAsMutatingPolicy(doc, (extras.bindings ?? []) as readonly JsonObject[], (extras.params ?? []) as readonly JsonObject[]) };
  } else {
    try {
      cel = compileCelPolicy(doc, (extras.exceptions ?? []) as readonly JsonObject[]);
    } catch (err) {
      if (!(err instanceof UnsupportedPolicyError)) throw err;
      cel = { type: 'unsupported', reason: err.message, matches: compileMatchConstraints(spec.matchConstraints as JsonObject | undefined) };
    }
  }
  const webhook = (spec.webhookConfiguration as JsonObject | undefined) ?? {};
  return {
    name: loaded.name,
    namespace: loaded.namespace,
    kind: loaded.kind,
    cel,
    loaded,
    rules: [],
    validationFailureAction: actions.includes('Deny') ? 'Enforce' : 'Audit',
    background: (spec.evaluation as JsonObject | undefined)?.background !== false,
    failurePolicy: spec.failurePolicy === 'Ignore' ? 'Ignore' : 'Fail',
    webhookTimeoutSeconds: typeof webhook.timeoutSeconds === 'number' ? webhook.timeoutSeconds : undefined,
    applyOne: false,
    scored: loaded.raw.metadata?.annotations?.['policies.kyverno.io/scored'] !== 'false',
    admission: (spec.evaluation as JsonObject | undefined)?.admission !== false,
  };
}
