import t from 'tap';
import { compileMutatingPolicy, convertPodToTemplateExpression, mergeApply } from '../../src/cel/mpol.ts';
import type { AdmissionInput, JsonObject, KubeObject } from '../../src/engine/types.ts';

function input(object: KubeObject): AdmissionInput {
  const [group, version] = object.apiVersion!.includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion!];
  return { operation: 'CREATE', object, oldObject: null, kind: { group: group!, version: version!, kind: object.kind! }, namespace: object.metadata?.namespace ?? 'default', userInfo: {}, roles: [], clusterRoles: [] };
}
const pod = (labels?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', ...(labels ? { labels } : {}) },
  spec: { containers: [{ name: 'a', image: 'nginx' }, { name: 'b', image: 'docker.io/redis' }] },
});
const policy = (spec: JsonObject): JsonObject => ({
  apiVersion: 'policies.kyverno.io/v1', kind: 'MutatingPolicy', metadata: { name: 'm' },
  spec: { matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] }, ...spec },
});

t.test('ApplyConfiguration merges an Object{} into the resource', async (t) => {
  const p = compileMutatingPolicy(policy({
    mutations: [{ patchType: 'ApplyConfiguration', applyConfiguration: { expression: 'Object{metadata: Object.metadata{labels: Object.metadata.labels{team: "a"}}}' } }],
  }));
  const out = p.evaluate(input(pod({ app: 'x' })));
  t.same(out.results, [{ rule: '', status: 'pass', message: 'success' }]);
  t.same(out.patched!.metadata!.labels, { app: 'x', team: 'a' });
  t.same(out.patches, [{ op: 'add', path: '/metadata/labels/team', value: 'a' }]);
});

t.test('ApplyConfiguration merges keyed lists by name and keeps other items', async (t) => {
  const p = compileMutatingPolicy(policy({
    mutations: [{
      patchType: 'ApplyConfiguration',
      applyConfiguration: { expression: 'Object{spec: Object.spec{containers: object.spec.containers.filter(c, c.name == "b").map(c, Object.spec.containers{name: c.name, imagePullPolicy: "Always"})}}' },
    }],
  }));
  t.same(p.evaluate(input(pod())).patched!.spec, { containers: [{ name: 'a', image: 'nginx' }, { name: 'b', image: 'docker.io/redis', imagePullPolicy: 'Always' }] });
});

t.test('JSONPatch mutations apply in order, each seeing the previous result', async (t) => {
  const p = compileMutatingPolicy(policy({
    mutations: [
      { patchType: 'JSONPatch', jsonPatch: { expression: '!has(object.metadata.annotations) ? [JSONPatch{op: "add", path: "/metadata/annotations", value: {}}] : []' } },
      { patchType: 'JSONPatch', jsonPatch: { expression: 'object.spec.containers.map(c, JSONPatch{op: "add", path: "/metadata/annotations/" + jsonpatch.escapeKey("x/" + c.name), value: string(size(object.metadata.annotations))})' } },
    ],
  }));
  t.same(p.evaluate(input(pod())).patched!.metadata!.annotations, { 'x/a': '0', 'x/b': '0' });
});

t.test('matchConditions skip; errors are reported; variables are lazy', async (t) => {
  const p = compileMutatingPolicy(policy({
    matchConditions: [{ name: 'labelled', expression: "has(object.metadata.labels) && 'app' in object.metadata.labels" }],
    variables: [{ name: 'app', expression: "object.metadata.labels['app']" }],
    mutations: [{ patchType: 'JSONPatch', jsonPatch: { expression: '[JSONPatch{op: "add", path: "/metadata/labels/copy", value: variables.app}]' } }],
  }));
  t.same(p.evaluate(input(pod())), { results: [{ rule: '', status: 'skip', message: 'skip' }], patched: null, patches: [] });
  t.same(p.evaluate(input(pod({ app: 'web' }))).patched!.metadata!.labels, { app: 'web', copy: 'web' });
  const bad = compileMutatingPolicy(policy({ mutations: [{ patchType: 'JSONPatch', jsonPatch: { expression: '[JSONPatch{op: "replace", path: "/spec/nothere/x", value: 1}]' } }] }));
  const r = bad.evaluate(input(pod()));
  t.equal(r.results[0]!.status, 'error');
  t.match(r.results[0]!.message, /^failed to evaluate policy: /);
  t.equal(r.patched, null);
});

t.test('autogen rewrites applyConfiguration for pod controllers', async (t) => {
  t.equal(convertPodToTemplateExpression('Object{spec: Object.spec{x: object.spec.y}}', 'defaults'),
    'Object{spec: Object.spec{template: Object.spec.template{spec: Object.spec.template.spec{x: object.spec.template.spec.y}}}}');
  const p = compileMutatingPolicy(policy({
    mutations: [{ patchType: 'ApplyConfiguration', applyConfiguration: { expression: 'Object{spec: Object.spec{hostNetwork: false}}' } }],
  }));
  t.same(p.variants, ['', 'autogen-cronjobs', 'autogen']);
  const d: KubeObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'default' }, spec: { template: { spec: { containers: [] } } } };
  const out = p.evaluate(input(d));
  t.same(out.results, [{ rule: '', status: 'pass', message: 'success', variant: 'autogen' }]);
  t.same(out.patched!.spec, { template: { spec: { containers: [], hostNetwork: false } } });
});

t.test('mergeApply: atomic lists are replaced, empty lists do not create fields, null removes', async (t) => {
  t.same(mergeApply({ tolerations: [{ key: 'a' }] }, { tolerations: [{ key: 'b' }] }), { tolerations: [{ key: 'b' }] });
  t.same(mergeApply({ a: 1 }, { b: [] }), { a: 1 });
  t.same(mergeApply({ a: 1, b: 2 }, { b: null }), { a: 1 });
  t.same(mergeApply({ volumeMounts: [{ mountPath: '/x', name: 'v' }] }, { volumeMounts: [{ mountPath: '/x', readOnly: true }] }), { volumeMounts: [{ mountPath: '/x', name: 'v', readOnly: true }] });
});

t.test('a matching CEL PolicyException skips the mutation', async (t) => {
  const p = compileMutatingPolicy(policy({
    mutations: [{ patchType: 'ApplyConfiguration', applyConfiguration: { expression: 'Object{metadata: Object.metadata{labels: Object.metadata.labels{team: "a"}}}' } }],
  }), [{ apiVersion: 'policies.kyverno.io/v1', kind: 'PolicyException', metadata: { name: 'skip-app' }, spec: { policyRefs: [{ name: 'm', kind: 'MutatingPolicy' }], matchConditions: [{ name: 'app', expression: "has(object.metadata.labels) && object.metadata.labels.app == 'x'" }] } }]);
  t.same(p.evaluate(input(pod({ app: 'x' }))), { results: [{ rule: 'exception', status: 'skip', message: 'rule is skipped due to policy exception: skip-app' }], patched: null, patches: [] });
  t.equal(p.evaluate(input(pod({ app: 'y' }))).results[0]!.status, 'pass');
});
