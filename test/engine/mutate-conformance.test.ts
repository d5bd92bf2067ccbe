/**
 * Mutate rules from Kyverno's policy library, run against the library's own test
 * resources: the patched output must equal the test's patchedResource file and
 * the status must be the expected one. JMESPath/substitution/preconditions are
 * stubbed with just enough to serve these policies (the real ones are injected
 * by the engine).
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { JsonObject, JsonValue, KubeObject } from '../../src/engine/types.ts';
import type { ContextData } from '../../src/engine/variables.ts';
import { basicMatchPattern, compileMutation, type MutateDeps, type MutateSpec } from '../../src/engine/mutate/index.ts';

// The policy library lives beside the checkout (../shared); a clone without it has nothing to replay.
const ROOT = fileURLToPath(new URL('../../../shared/conformance/kyverno-policies', import.meta.url));
const noData = existsSync(ROOT) ? false : `no conformance data at ${ROOT}`;

/** Resolves `a.b."c.d".e[]` paths; `[]` flattens/projects a list. */
function lookup(path: string, data: JsonValue): JsonValue {
  const tokens = path.trim().match(/"[^"]*"|[^.]+/g) ?? [];
  let cur: JsonValue = data;
  for (let tok of tokens) {
    const flatten = tok.endsWith('[]');
    if (flatten) tok = tok.slice(0, -2);
    if (tok.startsWith('"')) tok = tok.slice(1, -1);
    if (tok !== '') {
      if (Array.isArray(cur)) cur = cur.map((e) => (e && typeof e === 'object' && !Array.isArray(e) ? e[tok] ?? null : null));
      else if (cur && typeof cur === 'object') cur = Object.hasOwn(cur, tok) ? cur[tok] : null;
      else return null;
    }
    if (flatten && Array.isArray(cur)) cur = cur.flatMap((e) => (Array.isArray(e) ? e : e === null ? [] : [e]));
  }
  return cur ?? null;
}

/** `a || b || \`[]\``: first alternative that is neither null nor an empty list (JMESPath `||`). */
function evalExpr(expr: string, data: JsonValue): JsonValue {
  for (const alt of expr.split('||')) {
    const a = alt.trim();
    const v = a.startsWith('`') ? (JSON.parse(a.slice(1, -1)) as JsonValue) : lookup(a, data);
    if (v !== null && !(Array.isArray(v) && v.length === 0)) return v;
  }
  return null;
}

function substitute(value: JsonValue, data: ContextData): JsonValue {
  if (typeof value === 'string') {
    const whole = /^\{\{([^{}]*)\}\}$/.exec(value);
    if (whole) return resolve(whole[1], data);
    return value.replace(/\{\{([^{}]*)\}\}/g, (_, e: string) => {
      const v = resolve(e, data);
      return typeof v === 'string' ? v : JSON.stringify(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, data));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [substitute(k, data) as string, substitute(v, data)]));
  }
  return value;
}

function resolve(expr: string, data: ContextData): JsonValue {
  const v = expr.includes('`') ? evalExpr(expr, data) ?? [] : lookup(expr, data);
  if (v === null) throw new Error(`failed to resolve ${expr.trim()}`);
  return v;
}

function deps(over: Partial<MutateDeps> = {}): MutateDeps {
  return {
    substitute,
    evaluate: (e, d) => evalExpr(e, d) ?? [],
    preconditions: () => true,
    matchPattern: basicMatchPattern,
    ...over,
  };
}

function loadDocs(path: string): JsonObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJSON() as JsonObject).filter((d) => d !== null);
}

interface Case {
  folder: string;
  rule: string;
  resource: string;
  expected: 'pass' | 'skip';
  patched?: string;
}

/** Test results name resources as `name` or `namespace/name`. */
function byName(docs: JsonObject[], ref: string): JsonObject {
  const [ns, name] = ref.includes('/') ? ref.split('/') : [undefined, ref];
  const found = docs.find((d) => {
    const m = d.metadata as JsonObject;
    return m.name === name && (ns === undefined || (m.namespace ?? 'default') === ns);
  });
  if (!found) throw new Error(`resource ${ref} not found`);
  return found;
}

/** The Kyverno CLI applies policies to test resources in the `default` namespace. */
function withDefaultNamespace(r: JsonObject): JsonObject {
  const meta = (r.metadata ?? {}) as JsonObject;
  return { ...r, metadata: { ...meta, namespace: meta.namespace ?? 'default' } };
}

async function run(c: Case, depsOver: Partial<MutateDeps> = {}, extra: ContextData = {}) {
  const base = c.folder.split('/').pop()!;
  const policy = loadDocs(join(ROOT, c.folder, `${base}.yaml`))[0];
  const rules = ((policy.spec as JsonObject).rules as JsonObject[]);
  const rule = rules.find((r) => r.name === c.rule)!;
  const resources = loadDocs(join(ROOT, c.folder, '.kyverno-test', 'resource.yaml'));
  const input = withDefaultNamespace(byName(resources, c.resource));
  const mutate = compileMutation(rule.mutate as MutateSpec);
  const data: ContextData = { request: { object: input, operation: 'CREATE' }, ...extra };
  return { input, result: await mutate(input as KubeObject, data, deps(depsOver)) };
}

function expectedPatched(c: Case): JsonValue {
  const docs = loadDocs(join(ROOT, c.folder, '.kyverno-test', c.patched!));
  return withDefaultNamespace(byName(docs, c.resource));
}

function check(c: Case, depsOver: Partial<MutateDeps> = {}, extra: ContextData = {}) {
  t.test(`${c.folder} ${c.rule} ${c.resource}`, { skip: noData }, async (t) => {
    const { input, result } = await run(c, depsOver, extra);
    t.equal(result.status, c.expected, result.message);
    if (c.expected === 'pass') {
      t.strictSame(result.resource, expectedPatched(c));
      const meta = (result.resource.metadata ?? {}) as JsonObject;
      t.equal(result.message, `mutated ${String(result.resource.kind)}/${String(meta.name)} in namespace ${String(meta.namespace)}`);
      t.ok(result.patches.length > 0, 'a JSON patch is produced');
    } else {
      t.equal(result.message, 'no patches applied');
      t.strictSame(result.resource, input);
      t.strictSame(result.patches, []);
    }
  });
}

check({ folder: 'other/inject-sidecar-deployment', rule: 'inject-sidecar', resource: 'mydeploy-1', expected: 'pass', patched: 'patchedResource1.yaml' });
check({ folder: 'other/inject-sidecar-deployment', rule: 'inject-sidecar', resource: 'mydeploy-2', expected: 'skip' });
check({ folder: 'other/add-env-vars-from-cm', rule: 'add-env-vars-from-cm', resource: 'mypod', expected: 'pass', patched: 'patchedResource01.yaml' });
check({ folder: 'other/add-default-securitycontext', rule: 'add-default-securitycontext', resource: 'myapp-pod', expected: 'pass', patched: 'patchedResource.yaml' });
check({ folder: 'other/add-imagepullsecrets', rule: 'add-imagepullsecret', resource: 'myapp-pod-1', expected: 'pass', patched: 'patchedResource1.yaml' });
check({ folder: 'other/add-imagepullsecrets', rule: 'add-imagepullsecret', resource: 'myapp-pod-2', expected: 'skip' });
check({ folder: 'other/add-imagepullsecrets', rule: 'add-imagepullsecret', resource: 'myapp-pod-3', expected: 'skip' });
check({ folder: 'best-practices/add-safe-to-evict', rule: 'annotate-empty-dir', resource: 'myapp-pod03', expected: 'pass', patched: 'myapp-pod03-patched.yaml' });
check({ folder: 'best-practices/add-safe-to-evict', rule: 'annotate-empty-dir', resource: 'myapp-pod01', expected: 'skip' });
check({ folder: 'best-practices/add-safe-to-evict', rule: 'annotate-host-path', resource: 'myapp-pod04', expected: 'pass', patched: 'myapp-pod04-patched.yaml' });
check({ folder: 'best-practices/add-safe-to-evict', rule: 'annotate-host-path', resource: 'myapp-pod02', expected: 'skip' });
check({ folder: 'other/add-volume-deployment', rule: 'add-volume', resource: 'mydeploy', expected: 'pass', patched: 'patchedResource.yaml' });
check({ folder: 'other/add-tolerations', rule: 'service-toleration', resource: 'addpod01', expected: 'pass', patched: 'patched01.yaml' });
check({ folder: 'other/add-tolerations', rule: 'service-toleration', resource: 'addpod02', expected: 'pass', patched: 'patched02.yaml' });
check({ folder: 'other/add-certificates-volume', rule: 'add-ssl-certs', resource: 'mypod', expected: 'pass', patched: 'patchedResource.yaml' });

// Nested foreach, Descending order, {{elementIndex}} / {{elementIndex0}} / {{elementIndex1}} paths,
// per-element preconditions, and a rule-level context variable.
t.test('other/remove-hostpath-volumes: nested foreach removes hostPath volumes and their mounts', { skip: noData }, async (t) => {
  const hostPathNames = ['socket', 'bar'];
  const preconditions: MutateDeps['preconditions'] = (block, data) => {
    const cond = ((block as JsonObject).all as JsonObject[])[0];
    const element = data.element as JsonObject;
    if (cond.key === 'hostPath') return Object.hasOwn(element, 'hostPath');
    return hostPathNames.includes(element.name as string);
  };
  const c: Case = { folder: 'other/remove-hostpath-volumes', rule: 'remove-hostpath-all', resource: 'busybox', expected: 'pass', patched: 'patchedResource.yaml' };
  const { result } = await run(c, { preconditions }, { hostpathvolnames: hostPathNames });
  t.equal(result.status, 'pass', result.message);
  t.equal(result.message, 'mutated Pod/busybox in namespace default');
  // Removing the last mount leaves `volumeMounts: []`; the library's expected file omits the emptied list.
  const out = structuredClone(result.resource) as unknown as JsonObject;
  const containers = (out.spec as JsonObject).containers as JsonObject[];
  t.strictSame(containers[1].volumeMounts, []);
  delete containers[1].volumeMounts;
  t.strictSame(out, expectedPatched(c));
});

/** Stub for `request.object.spec.[ephemeralContainers, initContainers, containers][]`. */
const allContainers: MutateDeps['evaluate'] = (_e, d) => {
  const spec = lookup('request.object.spec', d) as JsonObject;
  return ['ephemeralContainers', 'initContainers', 'containers'].flatMap((k) => (spec[k] as JsonValue[] | undefined) ?? []);
};

t.test('psp-migration/add-capabilities: foreach JSON patches with {{elementIndex}} and preconditions', { skip: noData }, async (t) => {
  const evaluate = allContainers;
  const preconditions: MutateDeps['preconditions'] = (block, data) => {
    const cond = ((block as JsonObject).all as JsonObject[])[0];
    const drop = lookup('element.securityContext.capabilities.drop', data);
    return !(Array.isArray(drop) && drop.includes(cond.key as string));
  };
  for (const [resource, patched] of [['pod01', 'patchedResource1.yaml'], ['pod02', 'patchedResource2.yaml']]) {
    const c: Case = { folder: 'psp-migration/add-capabilities', rule: 'add-setfcap-setuid', resource, expected: 'pass', patched };
    const { result } = await run(c, { evaluate, preconditions });
    t.equal(result.status, 'pass', `${resource}: ${result.message}`);
    t.equal(result.message, `mutated Pod/${resource} in namespace add-capabilities`);
    t.strictSame(result.resource, expectedPatched(c), resource);
  }
});

check({ folder: 'psp-migration/add-apparmor', rule: 'apparmor-runtime-default', resource: 'pod01', expected: 'pass', patched: 'patchedResource1.yaml' }, { evaluate: allContainers });
check({ folder: 'psp-migration/add-apparmor', rule: 'apparmor-runtime-default', resource: 'pod02', expected: 'pass', patched: 'patchedResource2.yaml' }, { evaluate: allContainers });

// Two rules of one policy, applied in order: the expected file is the final resource.
t.test('other/mitigate-log4shell: rules chain, a rule with nothing to match is skipped', { skip: noData }, async (t) => {
  const folder = 'other/mitigate-log4shell';
  const policy = loadDocs(join(ROOT, folder, 'mitigate-log4shell.yaml'))[0];
  const rules = (policy.spec as JsonObject).rules as JsonObject[];
  const resources = loadDocs(join(ROOT, folder, '.kyverno-test', 'resource.yaml'));
  const cases: [string, string, string[]][] = [['demo-pod01', 'patchedResource.yaml', ['pass', 'pass']], ['demo-pod02', 'patchedResource1.yaml', ['skip', 'pass']]];
  for (const [name, patched, statuses] of cases) {
    let current = withDefaultNamespace(resources.find((r) => (r.metadata as JsonObject).name === name)!) as unknown as KubeObject;
    for (const [i, rule] of rules.entries()) {
      const r = await compileMutation(rule.mutate as MutateSpec)(current, { request: { object: current as unknown as JsonValue } }, deps());
      t.equal(r.status, statuses[i], `${name} ${rule.name as string}: ${r.message}`);
      current = r.resource;
    }
    t.strictSame(current, expectedPatched({ folder, rule: '', resource: name, expected: 'pass', patched }), name);
  }
});

// Every `pass` result with a patchedResource in these library tests (no JMESPath beyond paths needed).
const SUITES = [
  'other/add-ndots', 'other/add-labels', 'other/add-node-affinity', 'other/add-nodeSelector', 'other/add-pod-proxies',
  'other/apply-pss-restricted-profile', 'other/create-pod-antiaffinity', 'other/spread-pods-across-topology',
  'other/add-imagepullsecrets-for-containers-and-initcontainers', 'psa/add-psa-labels', 'psp-migration/add-runtimeClassName',
];
for (const folder of noData ? [] : SUITES) {
  const test = loadDocs(join(ROOT, folder, '.kyverno-test', 'kyverno-test.yaml'))[0];
  for (const r of test.results as JsonObject[]) {
    if (r.result !== 'pass' || typeof r.patchedResources !== 'string') continue;
    for (const resource of r.resources as string[]) {
      check({ folder, rule: r.rule as string, resource, expected: 'pass', patched: r.patchedResources });
    }
  }
}
