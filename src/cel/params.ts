/**
 * Admission policy params (ValidatingAdmissionPolicy, MutatingAdmissionPolicy):
 * a binding's paramRef resolved over the Test's documents, as the API
 * server's CollectParams does.
 */
import type { JsonObject, JsonValue } from '../engine/types.ts';
import { compileLabelSelector } from '../engine/match.ts';
import { isClusterScopedKind } from './resources.ts';
import { compileMatchConstraints, type ConstraintMatcher } from './match-constraints.ts';
import { obj, str } from './json-shapes.ts';


/** Built-in namespaced kinds commonly used as params (their objects default to namespace `default`, as resources do). */
const NAMESPACED = new Set(['ConfigMap', 'Secret', 'ServiceAccount', 'Service', 'Pod', 'LimitRange', 'ResourceQuota', 'Role', 'RoleBinding',
  'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']);

/** `none`: no params found under parameterNotFoundAction Allow (the binding then does nothing). */
export type ParamsResult = { params: JsonValue | null; none?: boolean } | { error: string };

/**
 * Resolves a binding's params for a request namespace, as the API server's
 * CollectParams does, over the candidate documents (pre-filtered once by
 * paramKind and name/selector).
 */
export function compileParamResolver(paramKind: JsonObject | undefined, paramRef: JsonObject | undefined, docs: readonly JsonObject[]): (namespace: string) => ParamsResult {
  if (!paramKind || !paramRef) return () => ({ params: null });
  const apiVersion = str(paramKind.apiVersion);
  const kind = str(paramKind.kind);
  const ofKind = docs.filter((d) => d.apiVersion === apiVersion && d.kind === kind);
  // Offline there is no discovery: known kinds decide; other kinds are namespaced when their objects have a namespace.
  const namespaced = NAMESPACED.has(kind) ||
    (!isClusterScopedKind(kind, apiVersion) && (ofKind.length === 0 || ofKind.some((d) => str(obj(d.metadata)?.namespace) !== '')));
  const namespaceOf = (d: JsonObject) => str(obj(d.metadata)?.namespace) || 'default';
  const refNamespace = str(paramRef.namespace);
  const name = str(paramRef.name);
  const selector = obj(paramRef.selector);
  const deny = paramRef.parameterNotFoundAction !== 'Allow';
  const fixed = (error: string) => () => ({ error });
  if (!namespaced && refNamespace !== '') return fixed('paramRef.namespace must not be provided for a cluster-scoped `paramKind`');
  if (name !== '' && selector) return fixed('paramRef.name and paramRef.selector are mutually exclusive');
  if (name === '' && !selector) return fixed('one of name or selector must be provided');
  const labelsMatch = selector ? compileLabelSelector(selector) : undefined;
  const candidates = ofKind.filter((d) => {
    const meta = obj(d.metadata);
    return labelsMatch ? labelsMatch(obj(meta?.labels) as Record<string, string> | undefined) : str(meta?.name) === name;
  });
  return (requestNamespace) => {
    let found = candidates;
    if (namespaced) {
      const ns = refNamespace !== '' ? refNamespace : requestNamespace;
      if (ns === '') return { error: 'cannot use namespaced paramRef in policy binding that matches cluster-scoped resources' };
      found = candidates.filter((d) => namespaceOf(d) === ns);
    }
    if (found.length === 0) {
      return deny ? { error: 'no params found for policy binding with `Deny` parameterNotFoundAction' } : { params: null, none: true };
    }
    // A selector yields a list, presented as `params.items` (Kyverno's CLI); a name, the object itself.
    return { params: selector ? { apiVersion: 'v1', kind: 'List', items: found } : found[0]! };
  };
}

/** A policy binding, compiled: its name, its matchResources (if any) and its params. */
export interface CompiledBinding {
  name: string;
  matches: ConstraintMatcher | undefined;
  params: (namespace: string) => ParamsResult;
}

/** `paramKind`: the policy's; `docs`: the documents paramRefs may select. */
export function compileBinding(binding: JsonObject, paramKind: JsonObject | undefined, docs: readonly JsonObject[]): CompiledBinding {
  const spec = obj(binding.spec) ?? {};
  const mr = obj(spec.matchResources);
  return {
    name: String(obj(binding.metadata)?.name ?? ''),
    matches: mr ? compileMatchConstraints(mr, true) : undefined,
    params: compileParamResolver(paramKind, obj(spec.paramRef), docs),
  };
}
