/**
 * Kyverno mutate semantics: patchStrategicMerge anchors and merge rules,
 * patchesJson6902 options, foreach iteration, and the rule results/messages.
 */
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import type { JsonObject, JsonValue, KubeObject } from '../../src/engine/types.ts';
import type { ContextData } from '../../src/engine/variables.ts';
import {
  applyJson6902, basicMatchPattern, compileMutation, parseJson6902, toRuleResponse,
  type MutateDeps, type MutateSpec, type MutationResult,
} from '../../src/engine/mutate/index.ts';

/** `{{ a.b }}` over the data; a string that is exactly one variable keeps the value's type. */
function get(path: string, data: JsonValue): JsonValue {
  let cur: JsonValue = data;
  for (const k of path.trim().split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, k)) throw new Error(`unresolved: ${path.trim()}`);
    cur = cur[k];
  }
  return cur;
}
function substitute(v: JsonValue, data: ContextData): JsonValue {
  if (typeof v === 'string') {
    const whole = /^\{\{([^{}]*)\}\}$/.exec(v);
    if (whole) return get(whole[1], data);
    return v.replace(/\{\{([^{}]*)\}\}/g, (_, e: string) => String(get(e, data)));
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, data));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, data)]));
  return v;
}
const deps = (over: Partial<MutateDeps> = {}): MutateDeps => ({
  substitute,
  evaluate: (e, d) => get(e, d),
  preconditions: () => true,
  matchPattern: basicMatchPattern,
  ...over,
});

const y = (s: string) => parseYaml(s) as JsonObject;
const pod = (spec: JsonObject, meta: JsonObject = {}): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', ...meta }, spec }) as KubeObject;

async function mutate(spec: MutateSpec | string, resource: KubeObject, d: Partial<MutateDeps> = {}, data: ContextData = {}) {
  const s = typeof spec === 'string' ? (y(spec) as MutateSpec) : spec;
  return await compileMutation(s)(resource, { request: { object: resource as unknown as JsonValue }, ...data }, deps(d));
}
const smp = (patch: JsonValue): MutateSpec => ({ patchStrategicMerge: patch });
const specOf = (r: KubeObject) => r.spec as JsonObject;
const containers = (r: KubeObject) => specOf(r).containers as JsonObject[];

t.test('results and messages', async (t) => {
  const r = await mutate(smp({ metadata: { labels: { team: 'a' } } }), pod({ containers: [] }));
  t.equal(r.status, 'pass');
  t.equal(r.message, 'mutated Pod/p in namespace ns');
  t.strictSame(r.patches, [{ op: 'add', path: '/metadata/labels', value: { team: 'a' } }]);
  t.strictSame(toRuleResponse('add-team', r), { name: 'add-team', type: 'Mutation', status: 'pass', message: r.message, patches: r.patches });

  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'dev' } } as KubeObject;
  t.equal((await mutate(smp({ metadata: { labels: { a: 'b' } } }), ns)).message, 'mutated Namespace/dev');

  const same = pod({ containers: [] }, { labels: { team: 'a' } });
  const skip = await mutate(smp({ metadata: { labels: { team: 'a' } } }), same);
  t.equal(skip.status, 'skip');
  t.equal(skip.message, 'no patches applied');
  t.strictSame(skip.patches, []);
  t.equal(skip.resource, same, 'skip returns the input resource');
  t.notOk(toRuleResponse('r', skip).patches);

  const empty = await mutate({}, pod({}));
  t.equal(empty.status, 'error');
  t.equal(empty.message, 'empty mutate rule');

  const unresolved = await mutate(smp({ metadata: { labels: { x: '{{ nope.missing }}' } } }), pod({}));
  t.equal(unresolved.status, 'error');
  t.match(unresolved.message, /^variable substitution failed: unresolved: nope\.missing/);

  const original = pod({ containers: [{ name: 'a', image: 'x' }] });
  const snapshot = structuredClone(original);
  await mutate(smp({ spec: { containers: [{ name: 'a', image: 'y' }] } }), original);
  t.strictSame(original, snapshot, 'the input resource is never modified');
});

t.test('conditional anchor (key) on a map: the whole patch applies or nothing does', async (t) => {
  const patch = smp({ metadata: { labels: { '(env)': 'prod', tier: 'gold' } } });
  const prod = await mutate(patch, pod({}, { labels: { env: 'prod' } }));
  t.equal(prod.status, 'pass');
  t.strictSame(prod.resource.metadata?.labels, { env: 'prod', tier: 'gold' });

  const dev = await mutate(patch, pod({}, { labels: { env: 'dev' } }));
  t.equal(dev.status, 'skip');
  t.equal(dev.message, 'no patches applied');

  const missing = await mutate(patch, pod({}, { labels: {} }));
  t.equal(missing.status, 'skip', 'a condition on an absent key fails');

  // A failing condition deep in the pattern also cancels unrelated parts of the patch.
  const both = smp({ metadata: { annotations: { added: 'yes' } }, spec: { '(hostNetwork)': true, dnsPolicy: 'Default' } });
  t.equal((await mutate(both, pod({ hostNetwork: false }))).status, 'skip');
  const ok = await mutate(both, pod({ hostNetwork: true }));
  t.equal(ok.status, 'pass');
  t.equal(specOf(ok.resource).dnsPolicy, 'Default');
  t.equal(ok.resource.metadata?.annotations?.added, 'yes');

  // Wildcards in the condition value.
  const wild = smp({ spec: { '(serviceAccountName)': 'build-*', automountServiceAccountToken: false } });
  t.equal((await mutate(wild, pod({ serviceAccountName: 'build-bot' }))).status, 'pass');
  t.equal((await mutate(wild, pod({ serviceAccountName: 'deploy-bot' }))).status, 'skip');
});

t.test('conditional anchors inside list elements select the elements to patch', async (t) => {
  const resource = pod({ containers: [
    { name: 'a', image: 'nginx:latest' },
    { name: 'b', image: 'redis:1.0' },
    { name: 'c', image: 'busybox:latest' },
  ] });
  const r = await mutate(smp({ spec: { containers: [{ '(image)': '*:latest', imagePullPolicy: 'Always' }] } }), resource);
  t.equal(r.status, 'pass');
  // Matching elements are patched by name; kustomize puts patched elements first (prepend merge).
  t.strictSame(containers(r.resource), [
    { name: 'a', image: 'nginx:latest', imagePullPolicy: 'Always' },
    { name: 'c', image: 'busybox:latest', imagePullPolicy: 'Always' },
    { name: 'b', image: 'redis:1.0' },
  ]);

  const none = await mutate(smp({ spec: { containers: [{ '(image)': '*:latest', imagePullPolicy: 'Always' }] } }),
    pod({ containers: [{ name: 'b', image: 'redis:1.0' }] }));
  t.equal(none.status, 'skip', 'no element matched, nothing else to do');

  // A non-matching list condition does not cancel the rest of the patch (only global anchors do).
  const secret = { spec: { containers: [{ '(image)': 'corp.io/*' }], imagePullSecrets: [{ name: 'regcred' }] } };
  const added = await mutate(smp(secret), pod({ containers: [{ name: 'b', image: 'redis:1.0' }] }));
  t.equal(added.status, 'pass');
  t.strictSame(specOf(added.resource).imagePullSecrets, [{ name: 'regcred' }]);
  t.strictSame(containers(added.resource), [{ name: 'b', image: 'redis:1.0' }]);
});

t.test('global anchor <(key) gates the whole patch', async (t) => {
  const patch = smp({ spec: { containers: [{ '<(image)': 'corp.io/*' }], imagePullSecrets: [{ name: 'regcred' }] } });
  const hit = await mutate(patch, pod({ containers: [{ name: 'a', image: 'docker.io/x' }, { name: 'b', image: 'corp.io/y' }] }));
  t.equal(hit.status, 'pass');
  t.strictSame(specOf(hit.resource).imagePullSecrets, [{ name: 'regcred' }]);
  t.strictSame(containers(hit.resource), [{ name: 'a', image: 'docker.io/x' }, { name: 'b', image: 'corp.io/y' }],
    'the anchored element is only a gate');

  const miss = await mutate(patch, pod({ containers: [{ name: 'a', image: 'docker.io/x' }] }));
  t.equal(miss.status, 'skip');

  // In a map, a global anchor behaves like a condition on the whole patch.
  const inMap = smp({ metadata: { '<(labels)': { app: 'web' }, annotations: { x: 'y' } } });
  t.equal((await mutate(inMap, pod({}, { labels: { app: 'web' } }))).status, 'pass');
  t.equal((await mutate(inMap, pod({}, { labels: { app: 'db' } }))).status, 'skip');

  // Global anchor nested in a list element's sub-map (volumes[].hostPath.path).
  const hostPath = smp({ metadata: { annotations: { '+(safe-to-evict)': 'true' } }, spec: { volumes: [{ hostPath: { '<(path)': '*' } }] } });
  t.equal((await mutate(hostPath, pod({ volumes: [{ name: 'v', emptyDir: {} }] }))).status, 'skip');
  const evict = await mutate(hostPath, pod({ volumes: [{ name: 'v', hostPath: { path: '/data' } }] }));
  t.equal(evict.status, 'pass');
  t.strictSame(evict.resource.metadata?.annotations, { 'safe-to-evict': 'true' });
  t.strictSame(specOf(evict.resource).volumes, [{ name: 'v', hostPath: { path: '/data' } }]);
});

t.test('add-if-not-present anchor +(key)', async (t) => {
  const patch = smp({ spec: { securityContext: { '+(runAsNonRoot)': true, '+(runAsUser)': 1000 } } });
  const r = await mutate(patch, pod({ securityContext: { runAsUser: 5 } }));
  t.equal(r.status, 'pass');
  t.strictSame(specOf(r.resource).securityContext, { runAsUser: 5, runAsNonRoot: true });
  const fresh = await mutate(patch, pod({}));
  t.strictSame(specOf(fresh.resource).securityContext, { runAsNonRoot: true, runAsUser: 1000 });
  t.equal((await mutate(patch, pod({ securityContext: { runAsUser: 5, runAsNonRoot: false } }))).status, 'skip');

  // A present key keeps its value even when it is a whole map.
  const ann = smp({ metadata: { '+(annotations)': { owner: 'ops' } } });
  t.equal((await mutate(ann, pod({}, { annotations: { other: 'x' } }))).status, 'skip');
  t.strictSame((await mutate(ann, pod({}))).resource.metadata?.annotations, { owner: 'ops' });

  // With (name): "*", every container gets the defaults it lacks.
  const each = smp({ spec: { containers: [{ '(name)': '*', securityContext: { '+(privileged)': false } }] } });
  const rc = await mutate(each, pod({ containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }] }));
  t.strictSame(containers(rc.resource), [
    { name: 'a', image: 'x', securityContext: { privileged: false } },
    { name: 'b', image: 'y', securityContext: { privileged: false } },
  ]);
  // Kyverno decides +() once per pattern element, against the first resource element
  // that reaches it (its working copy is shared across elements).
  const firstHasIt = await mutate(each, pod({ containers: [
    { name: 'a', image: 'x', securityContext: { privileged: true } }, { name: 'b', image: 'y' }] }));
  t.equal(firstHasIt.status, 'skip');
});

t.test('strategic merge: associative lists, null deletion, directives', async (t) => {
  const deploy = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'ns' },
    spec: { template: { spec: { containers: [
      { name: 'web', image: 'web:1', env: [{ name: 'A', value: '1' }], ports: [{ containerPort: 80 }],
        volumeMounts: [{ name: 'data', mountPath: '/data' }] },
    ] } } },
  } as KubeObject;
  const tpl = (r: KubeObject) => ((specOf(r).template as JsonObject).spec as JsonObject);

  // New container: merged by name, new elements come first (kustomize prepend).
  const add = await mutate(smp({ spec: { template: { spec: { containers: [{ name: 'sidecar', image: 'side:1' }] } } } }), deploy);
  t.strictSame((tpl(add.resource).containers as JsonObject[]).map((c) => c.name), ['sidecar', 'web']);

  // Nested merge keys: env by name, ports by containerPort (numbers), volumeMounts by mountPath.
  const nested = await mutate(smp({ spec: { template: { spec: { containers: [{
    name: 'web',
    env: [{ name: 'B', value: '2' }, { name: 'A', value: '3' }],
    ports: [{ containerPort: 80, protocol: 'TCP' }],
    volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: true }],
  }] } } } }), deploy);
  t.strictSame(tpl(nested.resource).containers, [{
    name: 'web', image: 'web:1',
    env: [{ name: 'B', value: '2' }, { name: 'A', value: '3' }],
    ports: [{ containerPort: 80, protocol: 'TCP' }],
    volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: true }],
  }]);

  // $patch: delete removes a list element; null removes a key.
  const del = await mutate(smp({ spec: { template: { spec: { containers: [{ name: 'web', $patch: 'delete' }], dnsPolicy: null } } } }), deploy);
  t.strictSame(tpl(del.resource).containers, []);
  t.notOk('dnsPolicy' in tpl(del.resource));
  const nullKey = await mutate(smp({ metadata: { labels: { drop: null } } }), pod({}, { labels: { drop: 'x', keep: 'y' } }));
  t.strictSame(nullKey.resource.metadata?.labels, { keep: 'y' });
  t.equal((await mutate(smp({ metadata: { labels: { absent: null } } }), pod({}, { labels: { keep: 'y' } }))).status, 'skip');

  // $patch: replace swaps a whole map; $patch: delete on a map removes it.
  const replaced = await mutate(smp({ spec: { securityContext: { $patch: 'replace', runAsUser: 1 } } }),
    pod({ securityContext: { runAsUser: 5, fsGroup: 2 } }));
  t.strictSame(specOf(replaced.resource).securityContext, { runAsUser: 1 });
  const gone = await mutate(smp({ metadata: { annotations: { $patch: 'delete' } } }), pod({}, { annotations: { a: 'b' } }));
  t.notOk(gone.resource.metadata && 'annotations' in gone.resource.metadata);
  const bad = await mutate(smp({ metadata: { annotations: { $patch: 'explode' } } }), pod({}, { annotations: { a: 'b' } }));
  t.equal(bad.status, 'error');
  t.equal(bad.message, "failed to patch resource: unknown patch strategy 'explode'");

  // Lists without a merge strategy are replaced: tolerations, args.
  const tol = await mutate(smp({ spec: { tolerations: [{ key: 'new' }], containers: [{ name: 'a', args: ['x'] }] } }),
    pod({ tolerations: [{ key: 'old' }], containers: [{ name: 'a', args: ['1', '2'] }] }));
  t.strictSame(specOf(tol.resource).tolerations, [{ key: 'new' }]);
  t.strictSame(containers(tol.resource), [{ name: 'a', args: ['x'] }]);

  // Finalizers: a merging list of scalars becomes a union, patch values first.
  const fin = await mutate(smp({ metadata: { finalizers: ['c', 'a'] } }), pod({}, { finalizers: ['a', 'b'] }));
  t.strictSame(fin.resource.metadata?.finalizers, ['c', 'a', 'b']);

  // Unknown kinds (CRDs) have no schema: lists of named maps are replaced, not merged.
  const crd = { apiVersion: 'example.io/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { items: [{ name: 'a', v: 1 }] } } as KubeObject;
  const crdOut = await mutate(smp({ spec: { items: [{ name: 'b', v: 2 }] } }), crd);
  t.strictSame(specOf(crdOut.resource).items, [{ name: 'b', v: 2 }]);
  t.equal(crdOut.message, 'mutated Widget/w');

  // Changing a field's kind (list → string) is an error, as in kustomize.
  const wrong = await mutate(smp({ spec: { containers: 'none' } }), pod({ containers: [{ name: 'a' }] }));
  t.equal(wrong.status, 'error');
  t.equal(wrong.message, 'failed to patch resource: wrong node kind: expected SequenceNode but got ScalarNode');
});

t.test('patchesJson6902', async (t) => {
  const base = pod({ containers: [{ name: 'a', image: 'x' }], volumes: [{ name: 'v1' }] });
  const r = await mutate({ patchesJson6902: `
- op: add
  path: /spec/volumes/-
  value: {name: v2}
- op: replace
  path: /spec/containers/0/image
  value: nginx:2
- op: add
  path: /metadata/labels/app~1name
  value: web
` }, base);
  t.equal(r.status, 'pass');
  t.strictSame(specOf(r.resource).volumes, [{ name: 'v1' }, { name: 'v2' }]);
  t.equal(containers(r.resource)[0].image, 'nginx:2');
  t.strictSame(r.resource.metadata?.labels, { 'app/name': 'web' }, 'missing parents are created; ~1 decodes to /');

  // JSON text works too; a remove of a missing path is a no-op (skip, not error).
  const noop = await mutate({ patchesJson6902: '[{"op": "remove", "path": "/spec/nodeSelector/zone"}, {"op": "remove", "path": "/spec/volumes/7"}]' }, base);
  t.equal(noop.status, 'skip');
  t.equal(noop.message, 'no patches applied');

  const replaceMissing = await mutate({ patchesJson6902: '- {op: replace, path: /spec/hostname, value: h}' }, base);
  t.equal(replaceMissing.status, 'error');
  t.equal(replaceMissing.message, 'failed to patch resource: replace operation does not apply: doc is missing key: /spec/hostname: missing value');

  const failedTest = await mutate({ patchesJson6902: '- {op: test, path: /spec/containers/0/image, value: z}\n- {op: replace, path: /spec/containers/0/image, value: q}' }, base);
  t.equal(failedTest.status, 'error');
  t.match(failedTest.message, /^failed to patch resource: testing value \/spec\/containers\/0\/image failed/);

  const badOp = await mutate({ patchesJson6902: '- {op: merge, path: /spec}' }, base);
  t.equal(badOp.status, 'error');
  t.match(badOp.message, /^failed to patch resource: failed to decode patches: invalid operation .*unsupported operation$/);

  // Arrays: negative indices, padded creation, move/copy.
  t.strictSame(applyJson6902({ a: [1, 2, 3] }, parseJson6902('- {op: remove, path: /a/-1}')), { a: [1, 2] });
  t.strictSame(applyJson6902({ a: [1, 2] }, parseJson6902('- {op: add, path: /a/-1, value: 9}')), { a: [1, 2, 9] });
  t.strictSame(applyJson6902({}, parseJson6902('- {op: add, path: /x/2/y, value: 1}')), { x: [null, null, { y: 1 }] });
  t.strictSame(applyJson6902({ a: { b: 1 } }, parseJson6902('- {op: move, from: /a/b, path: /c}\n- {op: copy, from: /c, path: /d}')), { a: {}, c: 1, d: 1 });
  t.throws(() => applyJson6902({ a: [1] }, parseJson6902('- {op: add, path: /a/5, value: 1}')), /invalid index/);
  t.throws(() => parseJson6902('- {op: add, path: /a}'), /missing value/);

  // The text is read as YAML 1.1, like Kyverno's sigs.k8s.io/yaml: `yes`/`on` are booleans.
  t.strictSame(applyJson6902({}, parseJson6902('- {op: add, path: /a, value: yes}\n- {op: add, path: /b, value: "yes"}')), { a: true, b: 'yes' });

  // Variables are substituted into the text before parsing.
  const withVar = await mutate({ patchesJson6902: '- {op: add, path: /metadata/labels, value: {owner: "{{request.object.metadata.name}}"}}' }, base);
  t.strictSame(withVar.resource.metadata?.labels, { owner: 'p' });
});

t.test('foreach', async (t) => {
  const resource = pod({ containers: [
    { name: 'a', image: 'reg/a:1' }, { name: 'b', image: 'reg/b:1' }, { name: 'c', image: 'other/c:1' },
  ] });

  // JSON patches with {{elementIndex}}; preconditions per element; ascending by default.
  const seen: number[] = [];
  const r = await mutate({ foreach: [{
    list: 'request.object.spec.containers',
    preconditions: { all: [{ key: '{{element.image}}', operator: 'Equals', value: 'reg/*' }] },
    patchesJson6902: '- {op: add, path: "/spec/containers/{{elementIndex}}/imagePullPolicy", value: Always}',
  }] }, resource, {
    preconditions: (_b, d) => { seen.push(d.elementIndex as number); return String((d.element as JsonObject).image).startsWith('reg/'); },
  });
  t.equal(r.status, 'pass');
  t.equal(r.message, 'mutated Pod/p in namespace ns');
  t.strictSame(seen, [0, 1, 2]);
  t.strictSame(containers(r.resource).map((c) => c.imagePullPolicy ?? null), ['Always', 'Always', null]);
  t.strictSame([...r.patches].sort((a, b) => a.path.localeCompare(b.path)), [
    { op: 'add', path: '/spec/containers/0/imagePullPolicy', value: 'Always' },
    { op: 'add', path: '/spec/containers/1/imagePullPolicy', value: 'Always' },
  ]);

  // Descending order: removing by index from the end keeps the indices valid.
  const removed = await mutate({ foreach: [{
    list: 'request.object.spec.containers', order: 'Descending', preconditions: { all: [] },
    patchesJson6902: '- {op: remove, path: "/spec/containers/{{elementIndex}}"}',
  }] }, resource, { preconditions: (_b, d) => (d.element as JsonObject).name !== 'b' }, {});
  t.strictSame(containers(removed.resource).map((c) => c.name), ['b']);

  // Each iteration patches the previous iteration's result; SMP foreach walks backwards
  // by default, so the merged containers keep their order.
  const orderSeen: number[] = [];
  const tagged = await mutate({ foreach: [{
    list: 'request.object.spec.containers',
    patchStrategicMerge: { spec: { containers: [{ name: '{{element.name}}', env: [{ name: 'IDX', value: 'idx-{{elementIndex}}' }] }] } },
  }] }, resource, { preconditions: (_b, d) => { orderSeen.push(d.elementIndex as number); return true; } },
  );
  t.strictSame(orderSeen, [], 'no preconditions block: the evaluator is not called');
  t.strictSame(containers(tagged.resource).map((c) => [c.name, (c.env as JsonObject[])[0].value]), [['a', 'idx-0'], ['b', 'idx-1'], ['c', 'idx-2']]);

  // Nested foreach: element0/elementIndex0 stay bound for the inner list.
  const multi = pod({ containers: [
    { name: 'a', volumeMounts: [{ name: 'x', mountPath: '/x' }, { name: 'y', mountPath: '/y' }] },
    { name: 'b', volumeMounts: [{ name: 'y', mountPath: '/y' }] },
  ] });
  const nested = await mutate({ foreach: [{
    list: 'request.object.spec.containers',
    foreach: [{
      list: 'element.volumeMounts', order: 'Descending', preconditions: { all: [] },
      patchesJson6902: '- {op: remove, path: "/spec/containers/{{elementIndex0}}/volumeMounts/{{elementIndex1}}"}',
    }],
  }] }, multi, { preconditions: (_b, d) => (d.element as JsonObject).name === 'y' });
  t.equal(nested.status, 'pass');
  t.strictSame(containers(nested.resource), [
    { name: 'a', volumeMounts: [{ name: 'x', mountPath: '/x' }] },
    { name: 'b', volumeMounts: [] },
  ]);

  // Nothing changed anywhere: skip with Kyverno's foreach message.
  const nothing = await mutate({ foreach: [{
    list: 'request.object.spec.containers', preconditions: { any: [] },
    patchesJson6902: '- {op: add, path: /metadata/labels, value: {a: b}}',
  }] }, resource, { preconditions: () => false });
  t.equal(nothing.status, 'skip');
  t.equal(nothing.message, '0 elements processed');

  // A later foreach entry sees request.object as patched by the earlier ones.
  const chained = await mutate({ foreach: [
    { list: 'request.object.spec.containers', patchesJson6902: '- {op: add, path: /metadata/labels, value: {step: one}}' },
    { list: 'request.object.metadata.labels', patchesJson6902: '- {op: add, path: /metadata/annotations, value: {saw: "{{element.step}}"}}' },
  ] }, resource, { evaluate: (e, d) => { const v = get(e, d); return e.endsWith('labels') ? [v] : v; } });
  t.strictSame(chained.resource.metadata?.annotations, { saw: 'one' });

  // Errors carry Kyverno's wrapping.
  const badList = await mutate({ foreach: [{ list: 'nope', patchesJson6902: '[]' }] }, resource);
  t.equal(badList.status, 'error');
  t.equal(badList.message, 'failed to evaluate list nope: unresolved: nope: unresolved: nope');
  const badPatch = await mutate({ foreach: [{ list: 'request.object.spec.containers', patchesJson6902: '- {op: replace, path: /nope, value: 1}' }] }, resource);
  t.equal(badPatch.message, 'failed to mutate elements: failed to patch resource: replace operation does not apply: doc is missing key: /nope: missing value');
  const badPre = await mutate({ foreach: [{ list: 'request.object.spec.containers', preconditions: {}, patchesJson6902: '[]' }] }, resource,
    { preconditions: () => { throw new Error('boom'); } });
  t.equal(badPre.message, 'failed to mutate elements: failed to evaluate mutate.foreach[0].preconditions: boom');

  // foreach.context is loaded per element (possibly asynchronously) before preconditions.
  const loaded: string[] = [];
  const withContext = await mutate({ foreach: [{
    list: 'request.object.spec.containers', context: [{ name: 'registry', variable: { value: 'mirror.io' } }],
    preconditions: { all: [] },
    patchStrategicMerge: { spec: { containers: [{ name: '{{element.name}}', image: '{{registry}}/{{element.name}}' }] } },
  }] }, resource, {
    loadContext: async (entries, d) => { await Promise.resolve(); loaded.push((d.element as JsonObject).name as string); d.registry = 'mirror.io'; void entries; },
    preconditions: (_b, d) => d.registry === 'mirror.io',
  });
  t.strictSame(loaded, ['c', 'b', 'a'], 'strategic-merge foreach runs in reverse by default');
  t.strictSame(containers(withContext.resource).map((c) => c.image), ['mirror.io/a', 'mirror.io/b', 'mirror.io/c']);
  const noLoader = await mutate({ foreach: [{ list: 'request.object.spec.containers', context: [{ name: 'x' }], patchesJson6902: '[]' }] }, resource);
  t.equal(noLoader.message, 'failed to mutate elements: failed to load to mutate.foreach[0].context: no context loader');
  // A loader that fails after waiting is reported where it waited; a synchronous one needs no promise.
  const rejected = await mutate({ foreach: [{ list: 'request.object.spec.containers', context: [{ name: 'x' }], patchesJson6902: '[]' }] }, resource,
    { loadContext: async () => { await Promise.resolve(); throw new Error('apiserver down'); } });
  t.equal(rejected.message, 'failed to mutate elements: failed to load to mutate.foreach[0].context: apiserver down');
  const syncLoaded = compileMutation({ foreach: [{ list: 'request.object.spec.containers', context: [{ name: 'x' }],
    patchesJson6902: '- {op: add, path: /metadata/labels, value: {seen: "{{x}}"}}' }] })(resource,
  { request: { object: resource as unknown as JsonValue } }, deps({ loadContext: (_e, d) => { d.x = 'yes'; } }));
  t.notOk(syncLoaded instanceof Promise, 'no promise when nothing waits');
  t.strictSame((syncLoaded as MutationResult).resource.metadata?.labels, { seen: 'yes' });
  // Nested: the inner foreach waits, the outer one resumes after it.
  const nestedWait = await mutate({ foreach: [{ list: 'request.object.spec.containers', foreach: [{
    list: 'element', context: [{ name: 'x' }], patchesJson6902: '- {op: add, path: /metadata/annotations, value: {inner: "{{x}}"}}',
  }] }] }, resource, { loadContext: async (_e, d) => { await Promise.resolve(); d.x = 'waited'; } });
  t.equal(nestedWait.status, 'pass');
  t.strictSame(nestedWait.resource.metadata?.annotations, { inner: 'waited' });

  // A non-list value is iterated as a single element; null elements are skipped.
  const single = await mutate({ foreach: [{ list: 'request.object.metadata', patchesJson6902: '- {op: add, path: /metadata/labels, value: {owner: "{{element.name}}"}}' }] }, resource);
  t.strictSame(single.resource.metadata?.labels, { owner: 'p' });
  const nulls = await mutate({ foreach: [{ list: 'x', patchesJson6902: '- {op: add, path: /metadata/labels, value: {a: b}}' }] }, resource,
    { evaluate: () => [null] });
  t.equal(nulls.status, 'skip');
});

t.test('compiled once: a variable-free JSON patch is parsed once, substitution is not called', async (t) => {
  let calls = 0;
  const m = compileMutation({ patchesJson6902: '- {op: add, path: /metadata/labels, value: {a: b}}' });
  const d = deps({ substitute: (v) => { calls++; return v; } });
  for (let i = 0; i < 3; i++) {
    const out = m(pod({}), {}, d);
    t.notOk(out instanceof Promise, 'non-foreach rules evaluate synchronously');
    t.equal((await out).status, 'pass');
  }
  t.equal(calls, 0);
  // A static strategic-merge pattern is shared by every evaluation: outputs never alias it.
  const shared = compileMutation(smp({ metadata: { annotations: { $patch: 'replace', a: 'b' } }, spec: { tolerations: [{ key: 'k' }] } }));
  const first = await shared(pod({}, { annotations: { old: 'x' } }), {}, d);
  (first.resource.metadata!.annotations as Record<string, string>).a = 'changed';
  ((specOf(first.resource).tolerations as JsonObject[])[0]).key = 'changed';
  const second = await shared(pod({}, { annotations: { old: 'x' } }), {}, d);
  t.strictSame(second.resource.metadata?.annotations, { a: 'b' }, '$patch: replace still applies on reuse');
  t.strictSame(specOf(second.resource).tolerations, [{ key: 'k' }]);

  // With a template compiler, `{{ }}` templates are compiled at load, once.
  let compiled = 0;
  const compileTemplate = (v: JsonValue) => { compiled++; return (data: ContextData) => substitute(v, data); };
  const templated = compileMutation(smp({ metadata: { labels: { owner: '{{ who }}' } } }), { compileTemplate });
  for (const who of ['ann', 'bob']) {
    const out = await templated(pod({}), { who }, d);
    t.strictSame(out.resource.metadata?.labels, { owner: who });
  }
  t.equal(compiled, 1);
  t.equal(calls, 0, 'deps.substitute is not used when templates are compiled');
  const broken = compileMutation({ patchesJson6902: '- {op: add, path: /x, value: "{{ ( }}"}' },
    { compileTemplate: () => { throw new Error('syntax error'); } });
  t.equal((await broken(pod({}), {}, d)).message, 'variable substitution failed: syntax error');

  const bad = compileMutation({ patchesJson6902: '- {op: [' });
  const out = await bad(pod({}), {}, d);
  t.equal(out.status, 'error');
  t.match(out.message, /^failed to patch resource: failed to convert patchesJSON6902 to JSON/);
});

t.test('basicMatchPattern (stand-in validate matcher for condition anchors)', async (t) => {
  const m = basicMatchPattern;
  t.ok(m('nginx:latest', '*:latest'));
  t.notOk(m('nginx:1.0', '*:latest'));
  t.ok(m('b', 'a | b'));
  t.ok(m('prod', '!dev'));
  t.notOk(m('dev', '!dev'));
  t.ok(m('5', '>3'));
  t.notOk(m('2', '>=3'));
  t.ok(m({ a: 1 }, '*'), '"*" matches any present value');
  t.notOk(m(null, '*'));
  t.ok(m({ app: 'web', tier: 'x' }, { app: 'w*' }));
  t.notOk(m({ tier: 'x' }, { app: 'w*' }), 'plain keys must exist');
  t.ok(m({ tier: 'x' }, { '=(app)': 'w*', 'X(privileged)': null }));
  t.notOk(m({ privileged: true }, { 'X(privileged)': null }));
  t.ok(m([{ n: 'a' }, { n: 'ab' }], [{ n: 'a*' }]), 'every element matches the first pattern element');
  t.notOk(m([{ n: 'a' }, { n: 'b' }], [{ n: 'a*' }]));
  t.ok(m({ ports: [{ p: 1 }, { p: 2 }] }, { '^(ports)': [{ p: 2 }] }));
  t.ok(m(true, true));
  t.notOk(m('true', false));
});
