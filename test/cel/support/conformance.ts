/**
 * Runs the CEL suites of the policy library conformance data through the CEL
 * API alone (the lead wires it into the real test runner): loads each
 * kyverno-test.yaml, its policies, resources, values and context, evaluates
 * every expected (policy, rule, resource) and counts reproduced results.
 */
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { compileRuleMatcher } from '../../../src/engine/match.ts';
import type { JsonObject, JsonValue, KubeObject } from '../../../src/engine/types.ts';
import { expandAutogen } from '../../../src/policy/autogen.ts';
import { buildAdmissionInput } from '../../../src/cli/test/admission.ts';
import { computeVariables, parseTest, parseUserInfo, parseValues, type RequestUserInfo, type ValuesSpec } from '../../../src/cli/test/spec.ts';
import { ruleMatches } from '../../../src/cli/test/match.ts';
import { staticContext, type CelContextProvider } from '../../../src/cel/context.ts';
import { compileCelValidation } from '../../../src/cel/validate-cel.ts';
import { compileValidatingPolicy } from '../../../src/cel/vpol.ts';
import { compileMutatingPolicy } from '../../../src/cel/mpol.ts';

export const CONFORMANCE_ROOT = resolve(import.meta.dirname, '../../../../shared/conformance/kyverno-policies');

export interface SuiteScore {
  suite: string;
  expected: number;
  matched: number;
  misses: string[];
}

function findTests(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (!statSync(p).isDirectory()) continue;
    if (e === '.kyverno-test') {
      const f = join(p, 'kyverno-test.yaml');
      if (existsSync(f)) out.push(f);
    } else if (!e.startsWith('.')) findTests(p, out);
  }
  return out;
}

const docCache = new Map<string, JsonObject[]>();
function readDocs(path: string): JsonObject[] {
  let docs = docCache.get(path);
  if (!docs) {
    docs = parseDocs(path);
    docCache.set(path, docs);
  }
  return docs;
}
function parseDocs(path: string): JsonObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJSON() as JsonValue)
    .filter((d): d is JsonObject => !!d && typeof d === 'object' && !Array.isArray(d));
}

type Evaluated = { policy: string; rule: string; status: string; message: string; patched?: KubeObject | null };
type Evaluator = (resource: KubeObject, values: ValuesSpec | undefined, userInfo: RequestUserInfo | undefined, ctx: CelContextProvider, namespaces: Map<string, JsonObject>) => Evaluated[];

function mpolEvaluator(doc: JsonObject): Evaluator {
  const p = compileMutatingPolicy(doc);
  return (resource, values, userInfo, ctx, namespaces) => {
    const input = buildAdmissionInput(resource, { variables: computeVariables(values, p.name, resource.metadata?.name ?? ''), ...(values ? { values } : {}), ...(userInfo ? { userInfo } : {}) });
    const known = namespaces.get(resource.metadata?.namespace ?? '');
    const out = p.evaluate(input, { context: ctx, ...(known ? { namespaceObject: known } : {}) });
    return out.results.map((r) => ({ policy: p.name, ...r, patched: out.patched }));
  };
}

/** JSON with sorted keys, for order-insensitive comparison. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

function clusterPolicyEvaluator(doc: JsonObject): Evaluator {
  const meta = (doc.metadata ?? {}) as JsonObject;
  const name = String(meta.name ?? '');
  const rules = expandAutogen(((doc.spec as JsonObject)?.rules as JsonObject[]) ?? [], meta.annotations as Record<string, string> | undefined);
  const compiled = rules
    .filter((r) => (r.validate as JsonObject | undefined)?.cel)
    .map((r) => ({
      name: String(r.name),
      match: compileRuleMatcher(r.match as JsonObject, r.exclude as JsonObject | undefined, doc.kind === 'Policy' ? String(meta.namespace ?? 'default') : undefined),
      run: compileCelValidation((r.validate as JsonObject).cel as JsonObject, String(r.name), {
        ...((r.validate as JsonObject).message ? { message: String((r.validate as JsonObject).message) } : {}),
        celPreconditions: r.celPreconditions,
      }),
    }));
  return (resource, values, userInfo, ctx, namespaces) => {
    const input = buildAdmissionInput(resource, { variables: computeVariables(values, name, resource.metadata?.name ?? ''), ...(values ? { values } : {}), ...(userInfo ? { userInfo } : {}) });
    const out = [];
    for (const r of compiled) {
      if (!r.match({ input, resource })) continue;
      const ns = resource.metadata?.namespace ?? '';
      const nsObj = ns ? (namespaces.get(ns) ?? { metadata: { name: ns } }) : null;
      const res = r.run({ object: input.object as JsonValue, oldObject: input.oldObject as JsonValue, request: { operation: input.operation, userInfo: input.userInfo as JsonValue, namespace: ns, name: resource.metadata?.name ?? '' }, namespaceObject: nsObj }, ctx);
      out.push({ policy: name, rule: r.name, ...res });
    }
    return out;
  };
}

function vpolEvaluator(doc: JsonObject): Evaluator {
  const p = compileValidatingPolicy(doc);
  return (resource, values, userInfo, ctx, namespaces) => {
    const input = buildAdmissionInput(resource, { variables: computeVariables(values, p.name, resource.metadata?.name ?? ''), ...(values ? { values } : {}), ...(userInfo ? { userInfo } : {}) });
    const ns = resource.metadata?.namespace ?? '';
    const known = namespaces.get(ns);
    return p.evaluate(input, { context: ctx, ...(known ? { namespaceObject: known } : {}) }).map((r) => ({ policy: p.name, ...r }));
  };
}

const CLUSTER_SCOPED = new Set(['Namespace', 'Node', 'PersistentVolume', 'StorageClass', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass', 'IngressClass', 'RuntimeClass', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'CSIDriver']);

/** The Kyverno CLI puts namespaced resources without a namespace into `default`. */
function withDefaultNamespace(r: KubeObject): KubeObject {
  if (r.metadata?.namespace || CLUSTER_SCOPED.has(r.kind ?? '')) return r;
  return { ...r, metadata: { ...r.metadata, namespace: 'default' } };
}

function idMatches(spec: string, r: KubeObject): boolean {
  const name = r.metadata?.name ?? '';
  if (!spec.includes('/')) return spec === name;
  const [ns, n] = spec.split('/');
  return n === name && (r.metadata?.namespace ?? 'default') === ns;
}

export function scoreSuite(testFile: string): { expected: number; matched: number; misses: string[] } {
  const dir = dirname(testFile);
  const spec = parseTest(readDocs(testFile)[0]);
  const values = spec.variables ? parseValues(readDocs(join(dir, spec.variables))[0]) : spec.values;
  const namespaces = new Map<string, JsonObject>();
  if (spec.variables) {
    for (const n of ((readDocs(join(dir, spec.variables))[0]?.namespaces as JsonObject[] | undefined) ?? [])) {
      namespaces.set(String((n.metadata as JsonObject)?.name), n);
    }
  }
  const userInfo = spec.userinfo ? parseUserInfo(readDocs(join(dir, spec.userinfo))[0]) : undefined;
  let ctx: CelContextProvider = {};
  if (spec.context) {
    const c = (readDocs(join(dir, spec.context))[0]?.spec ?? {}) as JsonObject;
    ctx = staticContext((c.resources as KubeObject[] | undefined) ?? [], (c.images as { image: string }[] | undefined) ?? []);
  }
  const evaluators = new Map<string, Evaluator>();
  const misses: string[] = [];
  for (const pf of spec.policies) {
    for (const doc of readDocs(join(dir, pf))) {
      const name = String((doc.metadata as JsonObject)?.name ?? '');
      try {
        if (doc.kind === 'ValidatingPolicy' || doc.kind === 'NamespacedValidatingPolicy') evaluators.set(name, vpolEvaluator(doc));
        else if (doc.kind === 'MutatingPolicy' || doc.kind === 'NamespacedMutatingPolicy') evaluators.set(name, mpolEvaluator(doc));
        else if (doc.kind === 'ClusterPolicy' || doc.kind === 'Policy') evaluators.set(name, clusterPolicyEvaluator(doc));
      } catch (e) {
        misses.push(`${name}: compile error ${(e as Error).message}`);
      }
    }
  }
  const resources = spec.resources.flatMap((f) => readDocs(join(dir, f))) as KubeObject[];
  let expected = 0;
  let matched = 0;
  for (const exp of spec.results) {
    for (const rid of exp.resources) {
      expected++;
      const ev = evaluators.get(exp.policy);
      const res = resources.find((r) => r.kind === exp.kind && idMatches(rid, r)) ?? resources.find((r) => idMatches(rid, r));
      if (!ev || !res) {
        misses.push(`${exp.policy}/${exp.rule} ${rid}: ${ev ? 'resource' : 'policy'} not found`);
        continue;
      }
      let got: Evaluated[];
      try {
        got = ev(withDefaultNamespace(res), values, userInfo, ctx, namespaces);
      } catch (e) {
        misses.push(`${exp.policy} ${rid}: threw ${(e as Error).message}`);
        continue;
      }
      let relevant = exp.rule ? got.filter((g) => ruleMatches(exp, g.rule)) : got;
      if (exp.patchedResource) {
        // Mutations: the CLI's verdict compares the patched object with the expected one.
        const want = readDocs(join(dir, exp.patchedResource)).find((d) => idMatches(rid, withDefaultNamespace(d as KubeObject)) && d.kind === exp.kind);
        if (!want) {
          // Like `kyverno test`: a resource missing from the patched manifest drops the row.
          expected--;
          continue;
        }
        relevant = relevant.map((g) => (g.status !== 'pass' ? g : { ...g, status: want && canonical(withDefaultNamespace(g.patched!)) === canonical(withDefaultNamespace(want as KubeObject)) ? 'pass' : 'fail', message: want ? `patched: ${JSON.stringify(g.patched)}` : 'patched resource not found' }));
      }
      if (relevant.some((g) => g.status === exp.result)) matched++;
      else misses.push(`${exp.policy}/${exp.rule} ${exp.kind} ${rid}: expected ${exp.result}, got ${relevant.map((g) => `${g.status} (${g.message})`).join('; ') || 'no result'}`);
    }
  }
  return { expected, matched, misses };
}

export function scoreFolders(pattern: RegExp): SuiteScore[] {
  const folders = readdirSync(CONFORMANCE_ROOT).filter((f) => pattern.test(f)).sort();
  return folders.map((suite) => {
    const s: SuiteScore = { suite, expected: 0, matched: 0, misses: [] };
    for (const tf of findTests(join(CONFORMANCE_ROOT, suite))) {
      const r = scoreSuite(tf);
      s.expected += r.expected;
      s.matched += r.matched;
      s.misses.push(...r.misses.map((m) => `${tf.slice(CONFORMANCE_ROOT.length + 1).split('/.kyverno-test')[0]}: ${m}`));
    }
    return s;
  });
}
