/**
 * Kubernetes ValidatingAdmissionPolicy (+ bindings) evaluated offline the way
 * Kyverno's CLI does (pkg/admissionpolicy Validate): without bindings the
 * policy's matchConstraints decide; with bindings the first binding whose
 * matchResources (if any) match is used, and its paramRef selects `params`
 * among the Test's paramResources (as for MutatingAdmissionPolicy, map.ts);
 * `request.userInfo` is the Test's user info. The rule is named after the
 * policy; unmet matchConditions skip with "match conditions aren't met"; an
 * evaluation error or a binding that cannot be configured is an `error`, a
 * denial a `fail` with the validator's message, otherwise `pass` with no
 * message.
 */
import type { AdmissionInput, JsonObject, JsonValue } from '../engine/types.ts';
import type { CelContextProvider } from './context.ts';
import { compileMatchConstraints } from './match-constraints.ts';
import { compileProgram } from './program.ts';
import { resourceOfKind } from './resources.ts';
import { compileBinding } from './params.ts';
import type { CompiledValidatingPolicy, ValidationAction } from './vpol.ts';
import { obj } from './json-shapes.ts';

export interface VapResult {
  rule: string;
  status: 'pass' | 'fail' | 'error' | 'skip';
  message: string;
  binding?: string;
}

export interface CompiledValidatingAdmissionPolicy {
  name: string;
  evaluate(input: AdmissionInput, opts?: { context?: CelContextProvider; params?: JsonValue | null }): VapResult[];
}


/** The bindings of `policyName` among `docs` (ValidatingAdmissionPolicyBinding.spec.policyName). */
export function bindingsFor(policyName: string, docs: readonly JsonObject[]): JsonObject[] {
  return docs.filter((d) => d.kind === 'ValidatingAdmissionPolicyBinding' && obj(d.spec)?.policyName === policyName);
}

/** `params`: the documents bindings' paramRefs may select (the Test's paramResources and resources). */
export function compileValidatingAdmissionPolicy(doc: JsonObject, bindings: readonly JsonObject[] = [], params: readonly JsonObject[] = []): CompiledValidatingAdmissionPolicy {
  const name = String(obj(doc.metadata)?.name ?? '');
  const spec = obj(doc.spec) ?? {};
  const program = compileProgram({
    matchConditions: spec.matchConditions,
    variables: spec.variables,
    validations: spec.validations,
    auditAnnotations: spec.auditAnnotations,
    fieldNames: { matchConditions: 'spec.matchConditions', variables: 'spec.variables', validations: 'spec.validations', auditAnnotations: 'spec.auditAnnotations' },
  });
  const policyMatch = compileMatchConstraints(obj(spec.matchConstraints));
  const paramKind = obj(spec.paramKind);
  const bound = bindings.map((b) => compileBinding(b, paramKind, params));

  return {
    name,
    evaluate(input, opts = {}) {
      // Kyverno's CLI always evaluates a CREATE of the resource.
      const request: AdmissionInput = { ...input, operation: 'CREATE', oldObject: null };
      let binding: (typeof bound)[number] | undefined;
      if (bound.length === 0) {
        if (!policyMatch(request)) return [];
      } else {
        binding = bound.find((x) => !x.matches || x.matches(request));
        if (!binding) return [];
      }
      const o = request.object;
      const isNamespace = request.kind.kind === 'Namespace' && request.kind.group === '';
      const ns = isNamespace ? '' : (o?.metadata?.namespace ?? request.namespace ?? '');
      const extra = binding !== undefined ? { binding: binding.name } : {};
      let params = opts.params ?? null;
      if (binding) {
        const p = binding.params(ns);
        if ('error' in p) return [{ rule: name, status: 'error', message: `failed to configure binding: ${p.error}`, ...extra }];
        if (p.none) return [];
        if (p.params !== null) params = p.params;
      }
      const namespaceObject = ns ? { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, ...(request.namespaceLabels ? { labels: request.namespaceLabels } : {}) } } : null;
      const r = program.evaluate({
        object: o as JsonValue,
        oldObject: null,
        request: {
          kind: { ...request.kind },
          resource: { group: request.kind.group, version: request.kind.version, resource: resourceOfKind(request.kind.kind) },
          name: o?.metadata?.name ?? '',
          namespace: o?.metadata?.namespace ?? '',
          operation: 'CREATE',
          userInfo: { ...request.userInfo } as JsonObject,
        },
        namespaceObject,
        params,
      }, opts.context);
      if (r.matchError) return [{ rule: name, status: 'error', message: r.matchError, ...extra }];
      if (!r.matched) return [{ rule: name, status: 'skip', message: "match conditions aren't met", ...extra }];
      const bad = r.decisions.find((d) => d.outcome !== 'pass');
      if (!bad) return [{ rule: name, status: 'pass', message: '', ...extra }];
      return [{ rule: name, status: bad.outcome === 'error' ? 'error' : 'fail', message: bad.message, ...extra }];
    },
  };
}

/**
 * A ValidatingAdmissionPolicy behind the CompiledValidatingPolicy shape, so
 * the engine evaluates it like a ValidatingPolicy. Its validationActions are
 * the first binding's (Deny without bindings, as the CLI enforces).
 */
export function compileVapAsValidatingPolicy(doc: JsonObject, allBindings: readonly JsonObject[] = [], params: readonly JsonObject[] = []): CompiledValidatingPolicy {
  const name = String(obj(doc.metadata)?.name ?? '');
  const bindings = bindingsFor(name, allBindings);
  const vap = compileValidatingAdmissionPolicy(doc, bindings, params);
  const declared = bindings.length > 0 && Array.isArray(obj(bindings[0]!.spec)?.validationActions)
    ? (obj(bindings[0]!.spec)!.validationActions as JsonValue[]).filter((a): a is ValidationAction => a === 'Deny' || a === 'Warn' || a === 'Audit')
    : [];
  return {
    name,
    kind: String(doc.kind ?? 'ValidatingAdmissionPolicy'),
    validationActions: declared.length > 0 ? declared : ['Deny'],
    variants: [''],
    evaluate(input, opts = {}) {
      return vap.evaluate(input, opts.context ? { context: opts.context } : {}).map((r) => ({ rule: r.rule, status: r.status, message: r.message }));
    },
  };
}
