/**
 * Kubernetes MutatingAdmissionPolicy (admissionregistration.k8s.io v1alpha1,
 * v1beta1, v1) with its MutatingAdmissionPolicyBindings, evaluated offline the
 * way Kyverno's CLI does (pkg/admissionpolicy Mutate), behind the
 * CompiledMutatingPolicy shape so the engine runs it in the mutate phase.
 *
 * - Always a CREATE of the resource (no oldObject), as the CLI evaluates it.
 * - The policy's matchConstraints must match. Without bindings that is enough
 *   (Kyverno's CLI applies an unbound MAP; the API server would not). With
 *   bindings, the first binding whose matchResources (if any) also match is
 *   used — only that one, as the CLI does.
 * - Params (spec.paramKind + the binding's paramRef) come from the documents
 *   given at compile time (a Test's `paramResources`): `name` selects one
 *   object, `selector` a list presented as `params.items` (as Kyverno's CLI
 *   does; the API server would evaluate once per param). paramRef.namespace,
 *   else the request's namespace for namespaced kinds; none found is an error
 *   under parameterNotFoundAction Deny (the API server's default).
 * - matchConditions: any false skips "match conditions not met"; an error
 *   (with none false) is an `error` under failurePolicy Fail, a skip under
 *   Ignore.
 * - Each mutation is one rule response named after the policy, applied on the
 *   result of the previous one: `pass` (no message) when it changed the
 *   object, `skip` "mutation had no effect", `error` with the patch or CEL
 *   error (failurePolicy Ignore: `skip`, the error noted, object unchanged).
 *   No mutations at all: `pass` "mutation returned no patchers".
 * - reinvocationPolicy is not acted on: each policy runs once, in order (the
 *   CLI does the same); IfNeeded reinvocation would need the engine to loop.
 */
import type { CelInput } from '@bufbuild/cel';
import jsonpatch from 'fast-json-patch';
import type { AdmissionInput, JsonObject, JsonValue, KubeObject, PatchOperation } from '../engine/types.ts';
import type { CelContextProvider } from './context.ts';
import { compileMatchConstraints } from './match-constraints.ts';
import { applyJsonPatch, compileMutations, mergeApply, type CompiledMutatingPolicy, type MpolOutcome, type MpolResult } from './mpol.ts';
import { celErrorText, compileList, compileVariables, LazyVariables } from './program.ts';
import { resourceOfKind } from './resources.ts';
import { compileBinding, compileParamResolver } from './params.ts';
import { toCelInput, toJson } from './values.ts';
import { obj } from './json-shapes.ts';

export const MAP_KIND = 'MutatingAdmissionPolicy';
export const MAP_BINDING_KIND = 'MutatingAdmissionPolicyBinding';


export function isMutatingAdmissionPolicyDocument(doc: JsonObject): boolean {
  return doc.kind === MAP_KIND && typeof doc.apiVersion === 'string' && doc.apiVersion.startsWith('admissionregistration.k8s.io/');
}

/** The MutatingAdmissionPolicyBindings of `policyName` among `docs` (spec.policyName), in order. */
export function mapBindingsFor(policyName: string, docs: readonly JsonObject[]): JsonObject[] {
  return docs.filter((d) => d.kind === MAP_BINDING_KIND && obj(d.spec)?.policyName === policyName);
}

export interface MapEvalOptions {
  /** The request's Namespace object (null for cluster-scoped requests); built from the input when absent. */
  namespaceObject?: JsonValue | null;
  context?: CelContextProvider;
}

function deepEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bl = b as JsonValue[];
    return a.length === bl.length && a.every((x, i) => deepEqual(x, bl[i]));
  }
  const ak = Object.keys(a);
  const bo = b as JsonObject;
  return ak.length === Object.keys(bo).length && ak.every((k) => k in bo && deepEqual((a as JsonObject)[k], bo[k]));
}

/** Patch errors in the wording of the API server's JSON Patch library, where it differs. */
function patchErrorText(err: Error, ops: JsonValue): string {
  const e = err as Error & { name?: string; index?: number; operation?: { op?: string; path?: string } };
  if (e.name === 'OPERATION_PATH_UNRESOLVABLE' || e.name === 'OPERATION_PATH_CANNOT_ADD') {
    const op = e.operation ?? (Array.isArray(ops) && typeof e.index === 'number' ? obj(ops[e.index]) as { op?: string; path?: string } | undefined : undefined);
    if (op?.op && op.path !== undefined) return `JSON Patch: ${op.op} operation does not apply: doc is missing path: "${op.path}": missing value`;
  }
  return `JSON Patch: ${celErrorText(err.message.split('\n')[0] ?? '')}`;
}

function requestOf(input: AdmissionInput, o: KubeObject | null): JsonObject {
  return {
    kind: { ...input.kind },
    resource: { group: input.kind.group, version: input.kind.version, resource: resourceOfKind(input.kind.kind) },
    subResource: input.subResource ?? '',
    name: o?.metadata?.name ?? input.name ?? '',
    namespace: o?.metadata?.namespace ?? input.namespace ?? '',
    operation: 'CREATE',
    userInfo: { ...input.userInfo } as JsonObject,
    dryRun: false,
  };
}

/**
 * `bindings`: the MutatingAdmissionPolicyBindings naming this policy (see
 * mapBindingsFor); `params`: the documents paramRefs may select.
 */
export function compileMapAsMutatingPolicy(doc: JsonObject, allBindings: readonly JsonObject[] = [], params: readonly JsonObject[] = []): CompiledMutatingPolicy {
  const name = String(obj(doc.metadata)?.name ?? '');
  const spec = obj(doc.spec) ?? {};
  const ignore = spec.failurePolicy === 'Ignore';
  const policyMatch = compileMatchConstraints(obj(spec.matchConstraints));
  const matchConditions = compileList(spec.matchConditions, 'spec.matchConditions');
  const variables = compileVariables(spec.variables, 'spec.variables');
  const mutations = compileMutations(spec.mutations);
  const paramKind = obj(spec.paramKind);
  const bound = mapBindingsFor(name, allBindings).map((b) => compileBinding(b, paramKind, params));
  const unbound = compileParamResolver(undefined, undefined, []);
  const result = (status: MpolResult['status'], message: string): MpolResult => ({ rule: name, status, message });
  /** An error under the policy's failurePolicy: reported as an error (Fail) or a skip noting it (Ignore). */
  const failure = (message: string): MpolResult => (ignore ? result('skip', `${message} (ignored: failurePolicy Ignore)`) : result('error', message));

  return {
    name,
    kind: String(doc.kind ?? MAP_KIND),
    variants: [''],
    evaluate(input, opts: MapEvalOptions = {}) {
      const out: MpolOutcome = { results: [], patched: null, patches: [] };
      const original = input.object;
      if (!original) return out;
      // Kyverno's CLI always evaluates a CREATE of the resource.
      const request: AdmissionInput = { ...input, operation: 'CREATE', oldObject: null };
      if (!policyMatch(request)) return out;
      let resolve = unbound;
      if (bound.length > 0) {
        const b = bound.find((x) => !x.matches || x.matches(request));
        if (!b) return out;
        resolve = b.params;
      }
      const isNamespace = request.kind.kind === 'Namespace' && request.kind.group === '';
      const ns = isNamespace ? '' : (original.metadata?.namespace ?? request.namespace ?? '');
      const p = resolve(ns);
      if ('error' in p) {
        out.results.push(failure(`failed to configure binding: ${p.error}`));
        return out;
      }
      if (p.none) return out;
      const nsObj = isNamespace || ns === '' ? null
        : opts.namespaceObject !== undefined && opts.namespaceObject !== null ? opts.namespaceObject
          : { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, ...(request.namespaceLabels ? { labels: request.namespaceLabels } : {}) } };
      let current = original as unknown as JsonValue;
      let bindings: Record<string, CelInput> = {};
      bindings = {
        object: toCelInput(current),
        oldObject: null,
        request: toCelInput(requestOf(request, original)),
        namespaceObject: toCelInput(nsObj),
        params: toCelInput(p.params),
        authorizer: null,
        variables: new LazyVariables(variables, () => bindings, opts.context),
      };

      // matchConditions: a false one wins over errors in others (Kubernetes' matcher).
      let matchError: string | undefined;
      for (const m of matchConditions) {
        let r: unknown;
        try {
          r = m.expr.evaluate(bindings, opts.context);
        } catch (e) {
          matchError ??= `failed to evaluate match condition '${String(m.entry.name ?? '')}': ${celErrorText((e as Error).message)}`;
          continue;
        }
        if (r === false) {
          out.results.push(result('skip', 'match conditions not met'));
          return out;
        }
        if (r !== true) matchError ??= `match condition '${String(m.entry.name ?? '')}' must evaluate to bool`;
      }
      if (matchError !== undefined) {
        out.results.push(ignore ? result('skip', 'match conditions not met') : result('error', matchError));
        return out;
      }
      if (mutations.length === 0) {
        out.results.push(result('pass', 'mutation returned no patchers'));
        return out;
      }

      let changed = false;
      for (const m of mutations) {
        let next: JsonValue;
        let value: JsonValue = null;
        try {
          value = toJson(m.expr.evaluate(bindings, opts.context));
        } catch (e) {
          out.results.push(failure(celErrorText((e as Error).message)));
          continue;
        }
        try {
          if (m.type === 'JSONPatch') next = applyJsonPatch(current, value);
          else if (obj(value) === undefined) throw new Error('ApplyConfiguration expression must evaluate to an Object');
          else next = mergeApply(current, value);
        } catch (e) {
          out.results.push(failure(m.type === 'JSONPatch' && Array.isArray(value) ? patchErrorText(e as Error, value) : (e as Error).message));
          continue;
        }
        if (deepEqual(current, next)) {
          out.results.push(result('skip', 'mutation had no effect'));
          continue;
        }
        current = next;
        changed = true;
        bindings.object = toCelInput(current);
        out.results.push(result('pass', ''));
      }
      if (changed) {
        // The CLI keeps the resource's identity whatever the patches did.
        const patched = current as unknown as KubeObject;
        patched.metadata = { ...(patched.metadata ?? {}) };
        if (original.metadata?.name !== undefined) patched.metadata.name = original.metadata.name;
        if (original.metadata?.namespace !== undefined) patched.metadata.namespace = original.metadata.namespace;
        out.patched = patched;
        out.patches = jsonpatch.compare(original as object, patched as object) as PatchOperation[];
      }
      return out;
    },
  };
}
