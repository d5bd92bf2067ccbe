/**
 * policies.kyverno.io ValidatingPolicy / NamespacedValidatingPolicy.
 * Compiled once: the policy itself plus its pod-controller autogen variants
 * (Kyverno's CEL autogen: `autogen-<name>` for daemonsets, deployments,
 * jobs, replicasets, statefulsets with `object.spec`/`object.metadata`
 * rewritten into the pod template, and `autogen-cronjobs-<name>` for
 * cronjobs; `.name`/`.namespace` stay on the workload). Results carry the
 * policy name and Kyverno's rule names: `validation` (pass "success" / fail
 * with the validation message / error "error: <cel error>"), or a skip with
 * an empty rule name when matchConditions are not met.
 */
import type { AdmissionInput, JsonObject, JsonValue } from '../engine/types.ts';
import type { CelContextProvider } from './context.ts';
import type { ImageVerificationConfig } from '../engine/handlers/verify-images.ts';
import { compileMatchConstraints, type ConstraintMatcher } from './match-constraints.ts';
import { compileProgram, type CompiledProgram } from './program.ts';
import { resourceOfKind } from './resources.ts';
import { compileExceptionsFor } from './exceptions.ts';
import { obj, str } from './json-shapes.ts';

export type ValidationAction = 'Deny' | 'Warn' | 'Audit';

export interface VpolResult {
  /** Kyverno's rule name for the response: `validation`, or '' for a matchConditions skip. */
  rule: string;
  status: 'pass' | 'fail' | 'error' | 'skip';
  message: string;
  /** Which compiled variant produced it: undefined (the policy), `autogen`, `autogen-cronjobs`. */
  variant?: string;
  /** Index of the failing validation. */
  validationIndex?: number;
  auditAnnotations?: Record<string, string>;
}

export interface VpolEvalOptions {
  /** The namespace object (`namespaceObject`); default: synthesised from the request namespace and its labels. */
  namespaceObject?: JsonValue | null;
  context?: CelContextProvider;
  /** Extra `request` fields (uid, …). */
  request?: JsonObject;
  /** Registry client and key lookup for image verification (ImageValidatingPolicy). */
  images?: ImageVerificationConfig;
}

export interface CompiledValidatingPolicy {
  name: string;
  namespace?: string;
  kind: string;
  validationActions: ValidationAction[];
  /** Variant names, e.g. ['', 'autogen', 'autogen-cronjobs']. */
  variants: string[];
  evaluate(input: AdmissionInput, opts?: VpolEvalOptions): VpolResult[];
}

interface Variant {
  name: string | undefined;
  matches: ConstraintMatcher;
  program: CompiledProgram;
}

const list = (v: JsonValue | undefined): JsonValue[] => (Array.isArray(v) ? v : []);

interface Target { group: string; version: string; resource: string; kind: string; replacements: 'defaults' | 'cronjobs' }
const AUTOGEN_TARGETS: Record<string, Target> = {
  daemonsets: { group: 'apps', version: 'v1', resource: 'daemonsets', kind: 'DaemonSet', replacements: 'defaults' },
  deployments: { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', replacements: 'defaults' },
  replicasets: { group: 'apps', version: 'v1', resource: 'replicasets', kind: 'ReplicaSet', replacements: 'defaults' },
  statefulsets: { group: 'apps', version: 'v1', resource: 'statefulsets', kind: 'StatefulSet', replacements: 'defaults' },
  jobs: { group: 'batch', version: 'v1', resource: 'jobs', kind: 'Job', replacements: 'defaults' },
  cronjobs: { group: 'batch', version: 'v1', resource: 'cronjobs', kind: 'CronJob', replacements: 'cronjobs' },
};
const REPLACEMENTS: Record<Target['replacements'], [string, string][]> = {
  defaults: [['spec', 'spec.template.spec'], ['metadata', 'spec.template.metadata']],
  cronjobs: [['spec', 'spec.jobTemplate.spec.template.spec'], ['metadata', 'spec.jobTemplate.spec.template.metadata']],
};

/** Kyverno's CanAutoGen: exactly one rule for core v1 pods, no selectors, exclusions or names. */
export function canAutogen(mc: JsonObject | undefined): boolean {
  if (!mc) return false;
  for (const sel of [obj(mc.namespaceSelector), obj(mc.objectSelector)]) {
    if (sel && (Object.keys(obj(sel.matchLabels) ?? {}).length > 0 || list(sel.matchExpressions).length > 0)) return false;
  }
  if (list(mc.excludeResourceRules).length > 0) return false;
  const rules = list(mc.resourceRules);
  if (rules.length !== 1) return false;
  const r = obj(rules[0]) ?? {};
  const eq1 = (v: JsonValue | undefined, x: string) => Array.isArray(v) && v.length === 1 && v[0] === x;
  if (list(r.resourceNames).length > 0) return false;
  return eq1(r.apiGroups, '') && eq1(r.apiVersions, 'v1') && eq1(r.resources, 'pods');
}

/** Rewrite `object.<from>` / `oldObject.<from>` except before `.name`/`.namespace`, as Kyverno's autogen does. */
export function applyReplacement(text: string, from: string, to: string): string {
  let out = text;
  for (const root of ['object.', 'oldObject.']) {
    const f = root + from;
    const t = root + to;
    let res = '';
    let i = 0;
    for (let idx = out.indexOf(f); idx >= 0; idx = out.indexOf(f, i)) {
      res += out.slice(i, idx);
      const rest = out.slice(idx + f.length);
      const protectedSuffix = ['.namespace', '.name'].some((s) => rest.startsWith(s) && !/^[A-Za-z0-9_]/.test(rest.slice(s.length)));
      res += protectedSuffix ? f : t;
      i = idx + f.length;
    }
    out = res + out.slice(i);
  }
  return out;
}

/** Kyverno's CEL autogen (ValidatingPolicy, ImageValidatingPolicy): the whole spec rewritten into the pod template, per replacement group. */
export function autogenSpecs(spec: JsonObject): { variant: string; spec: JsonObject }[] {
  const mc = obj(spec.matchConstraints);
  if (!canAutogen(mc)) return [];
  const configured = obj(obj(obj(spec.autogen)?.podControllers))?.controllers;
  const controllers = Array.isArray(configured) ? configured.map(String) : Object.keys(AUTOGEN_TARGETS);
  const byRepl = new Map<Target['replacements'], Target[]>();
  for (const c of controllers) {
    const t = AUTOGEN_TARGETS[c];
    if (t) byRepl.set(t.replacements, [...(byRepl.get(t.replacements) ?? []), t]);
  }
  const operations = (obj(list(mc!.resourceRules)[0]) ?? {}).operations ?? [];
  const out: { variant: string; spec: JsonObject }[] = [];
  for (const repl of [...byRepl.keys()].sort()) {
    const targets = byRepl.get(repl)!;
    const prefix = repl === 'defaults' ? 'autogen' : `autogen-${repl}`;
    const gvs = new Map<string, Set<string>>();
    for (const t of targets) {
      const k = `${t.group}/${t.version}`;
      gvs.set(k, (gvs.get(k) ?? new Set()).add(t.resource));
    }
    const resourceRules: JsonValue[] = [...gvs.keys()].sort().map((gv) => {
      const [group, version] = gv.split('/');
      return { apiGroups: [group!], apiVersions: [version!], resources: [...gvs.get(gv)!].sort(), operations };
    });
    const precondition = [...new Set(targets.map((t) => `(object.apiVersion == '${t.group ? `${t.group}/` : ''}${t.version}' && object.kind =='${t.kind}')`))].sort().join('||');
    const matchConditions = list(spec.matchConditions).map((m) => {
      const mo = obj(m) ?? {};
      return { name: `${prefix}-${String(mo.name ?? '')}`, expression: `!(${precondition}) || (${String(mo.expression ?? '')})` };
    });
    let text = JSON.stringify({ ...spec, matchConstraints: { resourceRules }, matchConditions });
    for (const [from, to] of REPLACEMENTS[repl]) text = applyReplacement(text, from, to);
    out.push({ variant: prefix, spec: JSON.parse(text) as JsonObject });
  }
  return out;
}

/** The CEL `request` variable (AdmissionRequest fields) for an admission input. */
export function requestOf(input: AdmissionInput, extra: JsonObject | undefined): JsonObject {
  const gvk = { group: input.kind.group, version: input.kind.version, kind: input.kind.kind };
  const gvr = { group: input.kind.group, version: input.kind.version, resource: resourceOfKind(input.kind.kind) };
  const ui = input.userInfo;
  const userInfo: JsonObject = {};
  if (ui.username !== undefined) userInfo.username = ui.username;
  if (ui.uid !== undefined) userInfo.uid = ui.uid;
  if (ui.groups !== undefined) userInfo.groups = ui.groups;
  if (ui.extra !== undefined) userInfo.extra = ui.extra;
  const o = input.object ?? input.oldObject;
  return {
    uid: '',
    kind: gvk,
    resource: gvr,
    requestKind: gvk,
    requestResource: gvr,
    subResource: input.subResource ?? '',
    name: input.name ?? o?.metadata?.name ?? '',
    namespace: input.namespace ?? o?.metadata?.namespace ?? '',
    operation: input.operation,
    userInfo,
    dryRun: input.dryRun ?? false,
    ...(input.requestExtras ?? {}),
    ...(extra ?? {}),
  };
}

export class UnsupportedPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedPolicyError';
  }
}

/**
 * The identity of a policies.kyverno.io document of `kind` or `Namespaced<kind>`:
 * a namespaced policy lives in its metadata.namespace ("default" when unset).
 * Any other kind is an UnsupportedPolicyError.
 */
export function policyDocument(doc: JsonObject, kind: string): { kind: string; name: string; namespace: string | undefined; spec: JsonObject } {
  const actual = str(doc.kind);
  if (actual !== kind && actual !== `Namespaced${kind}`) throw new UnsupportedPolicyError(`unsupported policy kind ${actual}`);
  const meta = obj(doc.metadata) ?? {};
  return {
    kind: actual,
    name: str(meta.name),
    namespace: actual === kind ? undefined : str(meta.namespace) || 'default',
    spec: obj(doc.spec) ?? {},
  };
}

/** spec.validationActions, keeping the known ones. */
export function validationActionsOf(spec: JsonObject): ValidationAction[] {
  return list(spec.validationActions).map(String).filter((a): a is ValidationAction => a === 'Deny' || a === 'Warn' || a === 'Audit');
}

/** What a validating-kind policy reports about itself (the identity fields of its compiled form). */
export function policyIdentity(name: string, namespace: string | undefined, kind: string, actions: ValidationAction[],
  variants: readonly { name: string | undefined }[]): Omit<CompiledValidatingPolicy, 'evaluate'> {
  return {
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    kind,
    validationActions: actions.length > 0 ? actions : ['Deny'],
    variants: variants.map((v) => v.name ?? ''),
  };
}

/** The request's namespace; null when a namespaced policy (`namespace` set) does not apply to it. */
export function namespaceInScope(input: AdmissionInput, namespace: string | undefined): string | null {
  const o = input.object ?? input.oldObject;
  const ns = input.namespace ?? o?.metadata?.namespace ?? '';
  return namespace !== undefined && ns !== namespace ? null : ns;
}

/** `namespaceObject`: the one the caller supplies, else a stub named after the request's namespace (none for cluster-scoped objects and Namespaces). */
export function namespaceObjectFor(input: AdmissionInput, ns: string, opts: VpolEvalOptions): JsonValue | null {
  if (opts.namespaceObject !== undefined) return opts.namespaceObject;
  if (ns === '' || (input.kind.kind === 'Namespace' && input.kind.group === '')) return null;
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, ...(input.namespaceLabels ? { labels: input.namespaceLabels } : {}) } };
}

/**
 * Compile a ValidatingPolicy / NamespacedValidatingPolicy document; throws
 * CelPolicyCompileError on a bad expression. `exceptions`: policies.kyverno.io
 * PolicyException documents (those referencing this policy are used).
 */
export function compileValidatingPolicy(doc: JsonObject, exceptions: readonly JsonObject[] = []): CompiledValidatingPolicy {
  const { kind, name, namespace, spec } = policyDocument(doc, 'ValidatingPolicy');
  const polex = compileExceptionsFor(name, kind, exceptions);
  const actions = validationActionsOf(spec);
  const build = (s: JsonObject, variant: string | undefined): Variant => ({
    name: variant,
    matches: compileMatchConstraints(obj(s.matchConstraints)),
    program: compileProgram({
      matchConditions: s.matchConditions,
      variables: s.variables,
      validations: s.validations,
      auditAnnotations: s.auditAnnotations,
      messageMode: 'kyverno',
      exceptions: polex,
      fieldNames: { matchConditions: 'spec.matchConditions', variables: 'spec.variables', validations: 'spec.validations', auditAnnotations: 'spec.auditAnnotations' },
    }),
  });
  const variants: Variant[] = [build(spec, undefined), ...autogenSpecs(spec).map((a) => build(a.spec, a.variant))];

  return {
    ...policyIdentity(name, namespace, kind, actions, variants),
    evaluate(input, opts = {}) {
      const ns = namespaceInScope(input, namespace);
      if (ns === null) return [];
      const results: VpolResult[] = [];
      let request: JsonObject | undefined;
      for (const v of variants) {
        if (!v.matches(input)) continue;
        const nsObj = namespaceObjectFor(input, ns, opts);
        const r = v.program.evaluate(
          { object: input.object as JsonValue, oldObject: input.oldObject as JsonValue, request: (request ??= requestOf(input, opts.request)), namespaceObject: nsObj, params: null },
          opts.context,
        );
        const variant = v.name !== undefined ? { variant: v.name } : {};
        if (r.matchError) {
          results.push({ rule: 'evaluation', status: 'error', message: `failed to load context: ${r.matchError}`, ...variant });
          continue;
        }
        if (r.exception) {
          results.push({ rule: 'exception', status: r.exception.status, message: r.exception.message, ...variant });
          continue;
        }
        if (!r.matched) {
          results.push({ rule: '', status: 'skip', message: 'skip', ...variant });
          continue;
        }
        const bad = r.decisions.find((d) => d.outcome !== 'pass');
        const audit = Object.keys(r.auditAnnotations).length > 0 ? { auditAnnotations: r.auditAnnotations } : {};
        if (!bad) results.push({ rule: 'validation', status: 'pass', message: 'success', ...variant, ...audit });
        else if (bad.outcome === 'error') results.push({ rule: 'validation', status: 'error', message: `error: ${bad.error ?? bad.message}`, validationIndex: bad.index, ...variant });
        else results.push({ rule: 'validation', status: 'fail', message: bad.message, validationIndex: bad.index, ...variant, ...audit });
      }
      return results;
    },
  };
}
