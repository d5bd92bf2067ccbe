/**
 * policies.kyverno.io MutatingPolicy / NamespacedMutatingPolicy: matchConstraints,
 * matchConditions, lazy variables, then each mutation in order on the
 * current object — `JSONPatch` (RFC 6902 operations built with
 * `JSONPatch{op, path, value}`) or `ApplyConfiguration` (an `Object{…}`
 * merged like server-side apply: maps merge, keyed lists merge by key,
 * other lists are replaced). Results follow Kyverno's mutating engine:
 * pass "success" with the patched object, skip "skip" when matchConditions
 * exclude it, error "failed to evaluate policy: …".
 */
import jsonpatch from 'fast-json-patch';
import type { CelInput } from '@bufbuild/cel';
import type { AdmissionInput, JsonObject, JsonValue, KubeObject, PatchOperation } from '../engine/types.ts';
import type { CelContextProvider } from './context.ts';
import type { CompiledExpression } from './env.ts';
import { compileMatchConstraints, type ConstraintMatcher } from './match-constraints.ts';
import { celErrorText, compileList, compileVariables, LazyVariables } from './program.ts';
import { resourceOfKind } from './resources.ts';
import { toCelInput, toJson } from './values.ts';
import { canAutogen, namespaceInScope, policyDocument } from './vpol.ts';
import { compileExceptionsFor, exceptionResult } from './exceptions.ts';
import { isObj, obj } from './json-shapes.ts';

export interface MpolResult {
  rule: string;
  status: 'pass' | 'skip' | 'error';
  /** Also `exception` rule results: pass/skip from a PolicyException. */
  message: string;
  variant?: string;
}

export interface MpolOutcome {
  results: MpolResult[];
  /** The mutated object when a variant ran (pass), else null. */
  patched: KubeObject | null;
  patches: PatchOperation[];
}

export interface CompiledMutatingPolicy {
  name: string;
  namespace?: string;
  kind: string;
  variants: string[];
  evaluate(input: AdmissionInput, opts?: { namespaceObject?: JsonValue | null; context?: CelContextProvider }): MpolOutcome;
}

export type PatchType = 'JSONPatch' | 'ApplyConfiguration';
export interface CompiledMutation {
  type: PatchType;
  expr: CompiledExpression;
}
interface Variant {
  name: string | undefined;
  matches: ConstraintMatcher;
  matchConditions: { entry: JsonObject; expr: CompiledExpression }[];
  variables: Map<string, CompiledExpression>;
  mutations: CompiledMutation[];
}

const list = (v: JsonValue | undefined): JsonValue[] => (Array.isArray(v) ? v : []);

/** Merge keys of the associative lists of built-in kinds (others: `name` when every item has one). */
const LIST_KEYS: Record<string, string[]> = {
  volumeMounts: ['mountPath'], volumeDevices: ['devicePath'], ports: ['containerPort', 'protocol'],
  hostAliases: ['ip'], topologySpreadConstraints: ['topologyKey', 'whenUnsatisfiable'],
};
const ATOMIC = new Set(['tolerations', 'args', 'command', 'envFrom', 'finalizers', 'drop', 'add']);

function keyOf(field: string, items: JsonValue[]): string[] | undefined {
  if (ATOMIC.has(field) || !items.every(isObj)) return undefined;
  const known = LIST_KEYS[field];
  if (known) return known;
  return items.every((i) => typeof (i as JsonObject).name === 'string') ? ['name'] : undefined;
}

/** Server-side-apply style merge of an apply configuration into an object. */
export function mergeApply(base: JsonValue | undefined, patch: JsonValue, field = ''): JsonValue {
  if (isObj(patch)) {
    const out: JsonObject = isObj(base) ? { ...base } : {};
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      // An empty list applied to an absent field leaves it absent (as structured merge does).
      else if (Array.isArray(v) && v.length === 0 && out[k] === undefined) continue;
      else out[k] = mergeApply(out[k], v, k);
    }
    return out;
  }
  if (Array.isArray(patch) && Array.isArray(base)) {
    const key = keyOf(field, [...base, ...patch]);
    if (!key) return patch;
    const id = (x: JsonValue) => key.map((k) => JSON.stringify((x as JsonObject)[k] ?? null)).join('|');
    const out = [...base];
    for (const p of patch) {
      const i = out.findIndex((b) => id(b) === id(p));
      if (i >= 0) out[i] = mergeApply(out[i], p, field);
      else out.push(p);
    }
    return out;
  }
  return patch;
}

/** Kyverno's MutatingPolicy autogen: rewrites matchConditions and applyConfiguration expressions only. */
export function convertPodToTemplateExpression(expression: string, config: 'defaults' | 'cronjobs'): string {
  const spec = config === 'cronjobs' ? 'spec.jobTemplate.spec.template.spec' : 'spec.template.spec';
  const meta = config === 'cronjobs' ? 'spec.jobTemplate.spec.template.metadata' : 'spec.template.metadata';
  let e = expression
    .replaceAll('object.spec', `object.${spec}`).replaceAll('Object.spec', `Object.${spec}`)
    .replaceAll('object.metadata.labels', `object.${meta}.labels`).replaceAll('Object.metadata.labels', `Object.${meta}.labels`)
    .replaceAll('object.metadata.annotations', `object.${meta}.annotations`).replaceAll('Object.metadata.annotations', `Object.${meta}.annotations`);
  const trimmed = e.trim();
  if (trimmed.startsWith('Object{')) {
    const content = trimmed.slice('Object{'.length);
    let depth = 1;
    let end = -1;
    for (let i = 0; i < content.length; i++) {
      if (content[i] === '{') depth++;
      else if (content[i] === '}' && --depth === 0) {
        end = i;
        break;
      }
    }
    if (end > 0) {
      const [open, close] = config === 'cronjobs'
        ? ['Object{spec: Object.spec{jobTemplate: Object.spec.jobTemplate{spec: Object.spec.jobTemplate.spec{template: Object.spec.jobTemplate.spec.template{', '}}}}}']
        : ['Object{spec: Object.spec{template: Object.spec.template{', '}}}'];
      e = open + content.slice(0, end) + close + content.slice(end + 1);
    }
  }
  return e;
}

const TARGETS: Record<string, { group: string; resource: string; config: 'defaults' | 'cronjobs' }> = {
  daemonsets: { group: 'apps', resource: 'daemonsets', config: 'defaults' },
  deployments: { group: 'apps', resource: 'deployments', config: 'defaults' },
  replicasets: { group: 'apps', resource: 'replicasets', config: 'defaults' },
  statefulsets: { group: 'apps', resource: 'statefulsets', config: 'defaults' },
  jobs: { group: 'batch', resource: 'jobs', config: 'defaults' },
  cronjobs: { group: 'batch', resource: 'cronjobs', config: 'cronjobs' },
};

function autogenSpecs(spec: JsonObject): { variant: string; spec: JsonObject }[] {
  const mc = obj(spec.matchConstraints);
  if (!canAutogen(mc)) return [];
  const configured = obj(obj(spec.autogen)?.podControllers)?.controllers;
  const controllers = Array.isArray(configured) ? configured.map(String) : Object.keys(TARGETS);
  const byConfig = new Map<'defaults' | 'cronjobs', string[]>();
  for (const c of controllers) {
    const t = TARGETS[c];
    if (t) byConfig.set(t.config, [...(byConfig.get(t.config) ?? []), c]);
  }
  const operations = (obj(list(mc!.resourceRules)[0]) ?? {}).operations ?? [];
  return [...byConfig.keys()].sort().map((config) => {
    const gvs = new Map<string, string[]>();
    for (const c of byConfig.get(config)!) gvs.set(TARGETS[c]!.group, [...(gvs.get(TARGETS[c]!.group) ?? []), TARGETS[c]!.resource]);
    const resourceRules = [...gvs.keys()].sort().map((g) => ({ apiGroups: [g], apiVersions: ['v1'], resources: gvs.get(g)!.sort(), operations }));
    const matchConditions = list(spec.matchConditions).map((m) => ({ ...obj(m), expression: convertPodToTemplateExpression(String(obj(m)?.expression ?? ''), config) }));
    const mutations = list(spec.mutations).map((m) => {
      const mo = obj(m) ?? {};
      const ac = obj(mo.applyConfiguration);
      return ac ? { ...mo, applyConfiguration: { ...ac, expression: convertPodToTemplateExpression(String(ac.expression ?? ''), config) } } : mo;
    });
    return { variant: config === 'defaults' ? 'autogen' : 'autogen-cronjobs', spec: { ...spec, matchConstraints: { resourceRules }, matchConditions, mutations } };
  });
}

function requestOf(input: AdmissionInput): JsonObject {
  const o = input.object ?? input.oldObject;
  return {
    kind: { ...input.kind },
    resource: { group: input.kind.group, version: input.kind.version, resource: resourceOfKind(input.kind.kind) },
    subResource: input.subResource ?? '',
    name: input.name ?? o?.metadata?.name ?? '',
    namespace: input.namespace ?? o?.metadata?.namespace ?? '',
    operation: input.operation,
    userInfo: { ...input.userInfo } as JsonObject,
    dryRun: input.dryRun ?? false,
    ...(input.requestExtras ?? {}),
  };
}

/** Apply the operations a `JSONPatch` mutation returned (RFC 6902, validated) to a copy of `doc`. */
export function applyJsonPatch(doc: JsonValue, ops: JsonValue): JsonValue {
  if (!Array.isArray(ops)) throw new Error('JSONPatch expression must return a list of JSONPatch');
  const patch = ops.map((o) => {
    if (!isObj(o) || typeof o.op !== 'string' || typeof o.path !== 'string') throw new Error('invalid JSONPatch');
    return o as unknown as jsonpatch.Operation;
  });
  return jsonpatch.applyPatch(structuredClone(doc), patch, true, true).newDocument as JsonValue;
}

/** Compile `spec.mutations[]` (patchType JSONPatch or ApplyConfiguration, the default). */
export function compileMutations(mutations: JsonValue | undefined): CompiledMutation[] {
  return list(mutations).map((m, i) => {
    const mo = obj(m) ?? {};
    const type: PatchType = mo.patchType === 'JSONPatch' ? 'JSONPatch' : 'ApplyConfiguration';
    const holder = type === 'JSONPatch' ? mo.jsonPatch : mo.applyConfiguration;
    const [c] = compileList([{ expression: obj(holder)?.expression ?? '' }], `spec.mutations[${i}].${type === 'JSONPatch' ? 'jsonPatch' : 'applyConfiguration'}`);
    return { type, expr: c!.expr };
  });
}

/** `exceptions`: policies.kyverno.io PolicyException documents (those referencing this policy are used). */
export function compileMutatingPolicy(doc: JsonObject, exceptions: readonly JsonObject[] = []): CompiledMutatingPolicy {
  const { kind, name, namespace, spec } = policyDocument(doc, 'MutatingPolicy');
  const polex = compileExceptionsFor(name, kind, exceptions);
  const build = (s: JsonObject, variant: string | undefined): Variant => ({
    name: variant,
    matches: compileMatchConstraints(obj(s.matchConstraints)),
    matchConditions: compileList(s.matchConditions, 'spec.matchConditions'),
    variables: compileVariables(s.variables, 'spec.variables'),
    mutations: compileMutations(s.mutations),
  });
  const variants = [build(spec, undefined), ...autogenSpecs(spec).map((a) => build(a.spec, a.variant))];

  return {
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    kind,
    variants: variants.map((v) => v.name ?? ''),
    evaluate(input, opts = {}) {
      const out: MpolOutcome = { results: [], patched: null, patches: [] };
      const ns = namespaceInScope(input, namespace);
      if (ns === null) return out;
      for (const v of variants) {
        if (!v.matches(input)) continue;
        const variant = v.name !== undefined ? { variant: v.name } : {};
        let current = (input.object ?? null) as JsonValue;
        let bindings: Record<string, CelInput> = {};
        const nsObj = opts.namespaceObject !== undefined ? opts.namespaceObject
          : ns !== '' ? { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, ...(input.namespaceLabels ? { labels: input.namespaceLabels } : {}) } } : null;
        bindings = {
          object: toCelInput(current),
          oldObject: toCelInput(input.oldObject as JsonValue),
          request: toCelInput(requestOf(input)),
          namespaceObject: toCelInput(nsObj),
          params: null,
          authorizer: null,
          variables: new LazyVariables(v.variables, () => bindings, opts.context),
        };
        try {
          const ex = polex.length > 0 ? exceptionResult(polex, bindings, opts.context) : undefined;
          if (ex) {
            out.results.push({ rule: 'exception', status: ex.status, message: ex.message, ...variant });
            continue;
          }
          let skip = false;
          for (const m of v.matchConditions) {
            const r = m.expr.evaluate(bindings, opts.context);
            if (r === false) {
              skip = true;
              break;
            }
            if (r !== true) throw new Error(`matchCondition '${String(m.entry.name ?? '')}' must return bool`);
          }
          if (skip) {
            out.results.push({ rule: '', status: 'skip', message: 'skip', ...variant });
            continue;
          }
          for (const m of v.mutations) {
            const value = toJson(m.expr.evaluate(bindings, opts.context));
            current = m.type === 'JSONPatch' ? applyJsonPatch(current, value) : mergeApply(current, value);
            bindings.object = toCelInput(current);
          }
        } catch (e) {
          out.results.push({ rule: 'evaluation', status: 'error', message: `failed to evaluate policy: ${celErrorText((e as Error).message)}`, ...variant });
          continue;
        }
        out.results.push({ rule: '', status: 'pass', message: 'success', ...variant });
        out.patched = current as KubeObject;
        out.patches = jsonpatch.compare((input.object ?? {}) as object, current as object) as PatchOperation[];
      }
      return out;
    },
  };
}
