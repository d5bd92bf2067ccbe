/**
 * Autogen: rules written for Pods also apply to the pod controllers, exactly as
 * Kyverno generates them — `autogen-<rule>` for DaemonSet, Deployment, Job,
 * StatefulSet, ReplicaSet, ReplicationController (pattern under spec.template)
 * and `autogen-cronjob-<rule>` for CronJob (under spec.jobTemplate.spec.template),
 * honouring the `pod-policies.kyverno.io/autogen-controllers` annotation.
 */
import type { JsonObject, JsonValue } from '../engine/types.ts';
import { kindOfSelector } from '../engine/match.ts';

export const autogenAnnotation = 'pod-policies.kyverno.io/autogen-controllers';
export const podControllers = ['DaemonSet', 'Deployment', 'Job', 'StatefulSet', 'ReplicaSet', 'ReplicationController', 'CronJob'];
const nonCronControllers = new Set(podControllers.filter((c) => c !== 'CronJob'));
const podOrControllers = new Set([...podControllers, 'Pod']);

type Rule = JsonObject;
type ResourceDescription = JsonObject & { kinds?: string[] };

const containsKind = (kinds: readonly string[] | undefined, kind: string) => !!kinds?.some((k) => kindOfSelector(k) === kind);

function filters(block: JsonValue | undefined): { rd: ResourceDescription[] } {
  const rd: ResourceDescription[] = [];
  if (!block || typeof block !== 'object' || Array.isArray(block)) return { rd };
  const b = block as JsonObject;
  if (b.resources) rd.push(b.resources as ResourceDescription);
  for (const key of ['any', 'all'] as const) {
    for (const f of (b[key] as JsonObject[] | undefined) ?? []) if (f.resources) rd.push(f.resources as ResourceDescription);
  }
  return { rd };
}

function supportsAutogen(rd: ResourceDescription, needed: { v: boolean }): boolean {
  if (rd.name || (Array.isArray(rd.names) && rd.names.length > 0) || rd.selector || rd.annotations) return false;
  const kinds = rd.kinds ?? [];
  if (kinds.length > 1 && containsKind(kinds, 'Pod')) return false;
  // Kyverno decides "needed" by exact names: `v1/Pod` or `Pod/ephemeralcontainers` alone do not turn autogen on.
  if (kinds.some((k) => podOrControllers.has(k))) needed.v = true;
  return true;
}

/** Kyverno's CanAutoGen: whether the policy's rules can be generated for controllers. */
export function canAutogen(rules: readonly Rule[]): boolean {
  const needed = { v: false };
  for (const rule of rules) {
    if (rule.generate) return false;
    const mutate = rule.mutate as JsonObject | undefined;
    if (mutate) {
      if (mutate.patchesJson6902) return false;
      for (const fe of (mutate.foreach as JsonObject[] | undefined) ?? []) if (fe.patchesJson6902) return false;
    }
    for (const rd of [...filters(rule.match).rd, ...filters(rule.exclude).rd]) {
      if (!supportsAutogen(rd, needed)) return false;
    }
  }
  return needed.v;
}

/** The controllers autogen applies to for this policy ([] when none). */
export function autogenControllers(rules: readonly Rule[], annotations: Record<string, string> | undefined): string[] {
  if (!canAutogen(rules)) return [];
  const requested = annotations?.[autogenAnnotation];
  if (requested === undefined) return [...podControllers];
  if (requested === 'none' || requested === '') return [];
  // Split as Kyverno does, without trimming: "Deployment, StatefulSet" names " StatefulSet", which no resource has.
  return requested.split(',').filter(Boolean);
}

const clone = <T extends JsonValue>(v: T): T => structuredClone(v);

function ruleKinds(block: JsonValue | undefined): string[] {
  return filters(block).rd.flatMap((rd) => rd.kinds ?? []);
}

/** Replace the kinds of filters that mention Pod (or, for CronJob, of every filter). */
function retarget(block: JsonObject, kinds: string[], everyFilter: boolean, onlyIfKinds: boolean): void {
  const any = block.any as JsonObject[] | undefined;
  const all = block.all as JsonObject[] | undefined;
  const list = any && any.length > 0 ? any : all && all.length > 0 ? all : undefined;
  if (list) {
    for (const f of list) {
      const rd = f.resources as ResourceDescription | undefined;
      if (!rd) continue;
      if (everyFilter || containsKind(rd.kinds, 'Pod')) rd.kinds = [...kinds];
    }
    return;
  }
  const rd = (block.resources ??= {}) as ResourceDescription;
  if (!onlyIfKinds || (rd.kinds && rd.kinds.length > 0)) rd.kinds = [...kinds];
}

function wrapUnder(tplKey: string, value: JsonValue): JsonObject {
  return { spec: { [tplKey]: value } };
}

/** One generated rule (before variable-path rewriting), or undefined when the rule has nothing autogen handles. */
function generateRule(name: string, rule: Rule, tplKey: string, kinds: string[], everyFilter: boolean): Rule | undefined {
  const r = clone(rule);
  r.name = name;
  retarget((r.match ??= {}) as JsonObject, kinds, everyFilter, false);
  if (r.exclude && typeof r.exclude === 'object') retarget(r.exclude as JsonObject, kinds, everyFilter, true);
  const mutate = r.mutate as JsonObject | undefined;
  if (mutate) {
    if (mutate.patchStrategicMerge !== undefined) {
      r.mutate = { ...pick(mutate, ['targets']), patchStrategicMerge: wrapUnder(tplKey, mutate.patchStrategicMerge) };
      return r;
    }
    if (Array.isArray(mutate.foreach) && mutate.foreach.length > 0) {
      r.mutate = {
        foreach: (mutate.foreach as JsonObject[]).map((fe) => ({
          ...pick(fe, ['list', 'context', 'preconditions', 'order', 'foreach']),
          ...(fe.patchStrategicMerge !== undefined ? { patchStrategicMerge: wrapUnder(tplKey, fe.patchStrategicMerge) } : {}),
        })),
      };
      return r;
    }
  }
  const validate = r.validate as JsonObject | undefined;
  if (validate) {
    const common = pick(validate, ['message', 'failureAction', 'failureActionOverrides', 'allowExistingViolations']);
    if (validate.pattern !== undefined) {
      r.validate = { ...common, pattern: wrapUnder(tplKey, validate.pattern) };
      return r;
    }
    if (validate.deny !== undefined) { r.validate = { ...common, deny: validate.deny }; return r; }
    if (validate.podSecurity !== undefined) { r.validate = { ...common, podSecurity: validate.podSecurity }; return r; }
    if (Array.isArray(validate.anyPattern)) {
      r.validate = { ...common, anyPattern: (validate.anyPattern as JsonValue[]).map((p) => wrapUnder(tplKey, p)) };
      return r;
    }
    if (Array.isArray(validate.foreach) && validate.foreach.length > 0) {
      r.validate = { ...common, foreach: validate.foreach };
      return r;
    }
    if (validate.cel !== undefined) return r;
    if (validate.assert !== undefined) return r;
  }
  if (r.verifyImages) return r;
  return undefined;
}

function pick(o: JsonObject, keys: string[]): JsonObject {
  const out: JsonObject = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k]!;
  return out;
}

const podRewrites: [string, string][] = [
  ['request.object.spec', 'request.object.spec.template.spec'],
  ['request.oldObject.spec', 'request.oldObject.spec.template.spec'],
  ['request.object.metadata', 'request.object.spec.template.metadata'],
  ['request.oldObject.metadata', 'request.oldObject.spec.template.metadata'],
];
const cronRewrites: [string, string][] = podRewrites.map(([from]) => {
  const field = from.endsWith('.spec') ? 'spec' : 'metadata';
  return [from, `${from.slice(0, from.lastIndexOf('.'))}.spec.jobTemplate.spec.template.${field}`];
});
const podCelRewrites: [string, string][] = podRewrites.map(([a, b]) => [a.slice(8), b.slice(8)]);
const cronCelRewrites: [string, string][] = cronRewrites.map(([a, b]) => [a.slice(8), b.slice(8)]);

function rewritePaths(rule: Rule, rewrites: [string, string][]): Rule {
  let text = JSON.stringify(rule);
  for (const [from, to] of rewrites) text = text.split(from).join(to);
  return JSON.parse(text) as Rule;
}

function autogenName(prefix: string, name: string): string {
  const n = `${prefix}-${name}`;
  return n.length > 63 ? n.slice(0, 63) : n;
}

/**
 * Rules of the policy after autogen: the policy's own rules (minus any stale
 * `autogen-` ones) followed by the generated rules, in Kyverno's order.
 */
export function expandAutogen(rules: readonly Rule[], annotations: Record<string, string> | undefined): Rule[] {
  const controllers = autogenControllers(rules, annotations);
  if (controllers.length === 0) return [...rules];
  // Every controller but CronJob keeps its pod template under spec.template, custom ones too (e.g. CloneSet).
  const nonCron = controllers.filter((c) => c !== 'CronJob').sort();
  const withCron = controllers.includes('CronJob');
  const generated: Rule[] = [];
  for (const rule of rules) {
    const name = String(rule.name ?? '');
    if (name.startsWith('autogen-')) continue;
    const matchKinds = ruleKinds(rule.match);
    const excludeKinds = ruleKinds(rule.exclude);
    if (!containsKind(matchKinds, 'Pod') || (excludeKinds.length > 0 && !containsKind(excludeKinds, 'Pod'))) continue;
    const isCel = !!(rule.validate as JsonObject | undefined)?.cel;
    if (nonCron.length > 0) {
      const g = generateRule(autogenName('autogen', name), rule, 'template', nonCron, false);
      if (g) generated.push(rewritePaths(g, isCel ? podCelRewrites : podRewrites));
    }
    if (withCron) {
      // Kyverno builds the CronJob rule from the controllers rule (template-wrapped, kinds retargeted).
      const base = generateRule(autogenName('autogen', name), rule, 'template', nonCron.length ? nonCron : ['Deployment'], false);
      const g = base && generateRule(autogenName('autogen-cronjob', name), base, 'jobTemplate', ['CronJob'], true);
      if (g) generated.push(rewritePaths(g, isCel ? cronCelRewrites : cronRewrites));
    }
  }
  if (generated.length === 0) return [...rules];
  return [...rules.filter((r) => !String(r.name ?? '').startsWith('autogen-')), ...generated];
}
