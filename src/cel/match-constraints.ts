/**
 * Kubernetes `matchConstraints` (admissionregistration MatchResources) as
 * ValidatingAdmissionPolicy and Kyverno's policies.kyverno.io kinds use it:
 * resourceRules / excludeResourceRules (apiGroups, apiVersions, resources
 * with `*` and `sub/*` forms, operations, resourceNames), namespaceSelector
 * (on the namespace's labels; a Namespace object uses its own labels; other
 * cluster-scoped objects always pass) and objectSelector.
 */
import { compileLabelSelector } from '../engine/match.ts';
import type { AdmissionInput, JsonObject, JsonValue, KubeObject } from '../engine/types.ts';
import { resourceOfKind } from './resources.ts';
import { obj } from './json-shapes.ts';

export type ConstraintMatcher = (input: AdmissionInput) => boolean;

const strs = (v: JsonValue | undefined): string[] => (Array.isArray(v) ? v.map(String) : []);

function anyOf(list: string[], value: string): boolean {
  return list.includes('*') || list.includes(value);
}

function resourceMatches(patterns: string[], resource: string, sub: string): boolean {
  const full = sub ? `${resource}/${sub}` : resource;
  return patterns.some((p) => {
    if (p === '*') return sub === '';
    if (p === '*/*') return true;
    if (p === full) return true;
    const [r, s] = p.split('/');
    if (s === undefined) return false;
    if (r === '*' && s === sub) return true;
    if (s === '*' && r === resource && sub !== '') return true;
    return false;
  });
}

function compileRule(rule: JsonObject): (input: AdmissionInput, resource: string) => boolean {
  const groups = strs(rule.apiGroups);
  const versions = strs(rule.apiVersions);
  const resources = strs(rule.resources);
  const ops = strs(rule.operations);
  const names = strs(rule.resourceNames);
  return (input, resource) =>
    anyOf(groups, input.kind.group) &&
    anyOf(versions, input.kind.version) &&
    resourceMatches(resources, resource, input.subResource ?? '') &&
    (ops.length === 0 || anyOf(ops, input.operation)) &&
    (names.length === 0 || names.includes(input.name ?? (input.object ?? input.oldObject)?.metadata?.name ?? ''));
}

/**
 * `unsetRulesMatchAll`: for a binding's matchResources, where unset
 * resourceRules do not constrain matching (the policy's own do).
 */
export function compileMatchConstraints(mc: JsonObject | undefined, unsetRulesMatchAll = false): ConstraintMatcher {
  if (!mc) return () => false;
  const noRules = !Array.isArray(mc.resourceRules) || mc.resourceRules.length === 0;
  const include = (Array.isArray(mc.resourceRules) ? mc.resourceRules : []).map((r) => compileRule(obj(r) ?? {}));
  const exclude = (Array.isArray(mc.excludeResourceRules) ? mc.excludeResourceRules : []).map((r) => compileRule(obj(r) ?? {}));
  const nsSel = obj(mc.namespaceSelector);
  const objSel = obj(mc.objectSelector);
  const nsMatch = nsSel && Object.keys(nsSel).length > 0 ? compileLabelSelector(nsSel) : undefined;
  const objMatch = objSel && Object.keys(objSel).length > 0 ? compileLabelSelector(objSel) : undefined;
  return (input) => {
    const o: KubeObject | null = input.object ?? input.oldObject;
    const resource = resourceOfKind(input.kind.kind);
    if (!(noRules && unsetRulesMatchAll) && !include.some((r) => r(input, resource))) return false;
    if (exclude.some((r) => r(input, resource))) return false;
    if (objMatch) {
      const ok = objMatch(input.object?.metadata?.labels) || (input.oldObject !== null && objMatch(input.oldObject.metadata?.labels));
      if (!ok) return false;
    }
    if (nsMatch) {
      const ns = input.namespace ?? o?.metadata?.namespace ?? '';
      if (input.kind.kind === 'Namespace' && input.kind.group === '') {
        if (!nsMatch(o?.metadata?.labels)) return false;
      } else if (ns !== '' && !nsMatch(input.namespaceLabels)) {
        return false;
      }
    }
    return true;
  };
}
