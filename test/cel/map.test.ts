import t from 'tap';
import { compileMapAsMutatingPolicy, isMutatingAdmissionPolicyDocument, mapBindingsFor } from '../../src/cel/map.ts';
import type { AdmissionInput, JsonObject, KubeObject } from '../../src/engine/types.ts';

const deploy = (ns = 'default', extra: { labels?: Record<string, string>; replicas?: number } = {}): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'web', namespace: ns, ...(extra.labels ? { labels: extra.labels } : {}) },
  spec: { replicas: extra.replicas ?? 1, template: { spec: { containers: [{ name: 'app', image: 'nginx' }] } } },
});
const input = (o: KubeObject, extra: Partial<AdmissionInput> = {}): AdmissionInput => ({
  operation: 'UPDATE', object: o, oldObject: o, kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
  namespace: o.metadata?.namespace ?? '', userInfo: {}, roles: [], clusterRoles: [], ...extra,
});
const deployments = { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['deployments'] }] };
const map = (spec: JsonObject, name = 'm'): JsonObject => ({
  apiVersion: 'admissionregistration.k8s.io/v1beta1', kind: 'MutatingAdmissionPolicy', metadata: { name },
  spec: { matchConstraints: deployments, failurePolicy: 'Fail', reinvocationPolicy: 'Never', ...spec },
});
const binding = (name: string, spec: JsonObject, policyName = 'm'): JsonObject => ({
  apiVersion: 'admissionregistration.k8s.io/v1beta1', kind: 'MutatingAdmissionPolicyBinding', metadata: { name }, spec: { policyName, ...spec },
});
const cm = (name: string, ns: string | undefined, data: JsonObject, labels?: Record<string, string>): JsonObject => ({
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(ns !== undefined ? { namespace: ns } : {}), ...(labels ? { labels } : {}) }, data,
});
const applyLabel = (expr: string) => ({ patchType: 'ApplyConfiguration', applyConfiguration: { expression: `Object{metadata: Object.metadata{labels: ${expr}}}` } });
const setReplicas = (expr: string) => ({ patchType: 'JSONPatch', jsonPatch: { expression: `[JSONPatch{op: "replace", path: "/spec/replicas", value: ${expr}}]` } });

t.test('documents and bindings are recognised by kind', async (t) => {
  t.ok(isMutatingAdmissionPolicyDocument(map({})));
  t.notOk(isMutatingAdmissionPolicyDocument({ ...map({}), apiVersion: 'policies.kyverno.io/v1' }));
  const docs = [binding('a', {}), binding('b', {}, 'other'), { ...binding('c', {}), kind: 'ValidatingAdmissionPolicyBinding' }];
  t.same(mapBindingsFor('m', docs).map((b) => (b.metadata as JsonObject).name), ['a']);
});

t.test('without bindings: matchConstraints decide; one response per mutation named after the policy', async (t) => {
  const p = compileMapAsMutatingPolicy(map({ mutations: [applyLabel('{"team": "web"}'), setReplicas('object.spec.replicas + 2')] }));
  t.equal(p.kind, 'MutatingAdmissionPolicy');
  const out = p.evaluate(input(deploy('default', { labels: { app: 'x' } })));
  t.same(out.results, [{ rule: 'm', status: 'pass', message: '' }, { rule: 'm', status: 'pass', message: '' }]);
  t.same(out.patched!.metadata, { name: 'web', namespace: 'default', labels: { app: 'x', team: 'web' } });
  t.equal((out.patched!.spec as JsonObject).replicas, 3);
  t.same(out.patches.map((x) => x.path).sort(), ['/metadata/labels/team', '/spec/replicas']);
  // Not a deployment: no response at all.
  const podInput = input({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' } }, { kind: { group: '', version: 'v1', kind: 'Pod' } });
  t.same(p.evaluate(podInput), { results: [], patched: null, patches: [] });
});

t.test('evaluated as a CREATE: operation, oldObject, request fields and user info', async (t) => {
  const p = compileMapAsMutatingPolicy(map({
    matchConditions: [{ name: 'create', expression: "request.operation == 'CREATE' && oldObject == null" }],
    mutations: [applyLabel('{"by": request.userInfo.username, "res": request.resource.resource, "ns": namespaceObject.metadata.name}')],
  }));
  const out = p.evaluate(input(deploy('team-a'), { userInfo: { username: 'alice' } }));
  t.same(out.results, [{ rule: 'm', status: 'pass', message: '' }]);
  t.same(out.patched!.metadata!.labels, { by: 'alice', res: 'deployments', ns: 'team-a' });
});

t.test('a mutation that changes nothing is skipped; no mutations is a pass', async (t) => {
  const p = compileMapAsMutatingPolicy(map({ mutations: [applyLabel('{"team": "web"}')] }));
  const out = p.evaluate(input(deploy('default', { labels: { team: 'web' } })));
  t.same(out.results, [{ rule: 'm', status: 'skip', message: 'mutation had no effect' }]);
  t.equal(out.patched, null);
  const none = compileMapAsMutatingPolicy(map({}));
  t.same(none.evaluate(input(deploy())).results, [{ rule: 'm', status: 'pass', message: 'mutation returned no patchers' }]);
});

t.test('matchConditions: false skips; an error is an error under Fail and a skip under Ignore', async (t) => {
  const spec = { matchConditions: [{ name: 'labelled', expression: "object.metadata.labels['tier'] == 'web'" }], mutations: [applyLabel('{"x": "y"}')] };
  const p = compileMapAsMutatingPolicy(map(spec));
  t.same(p.evaluate(input(deploy('default', { labels: { tier: 'db' } }))).results, [{ rule: 'm', status: 'skip', message: 'match conditions not met' }]);
  const err = p.evaluate(input(deploy()));
  t.equal(err.results.length, 1);
  t.equal(err.results[0]!.status, 'error');
  t.match(err.results[0]!.message, /^failed to evaluate match condition 'labelled': /);
  t.equal(err.patched, null);
  const ignored = compileMapAsMutatingPolicy(map({ ...spec, failurePolicy: 'Ignore' }));
  t.same(ignored.evaluate(input(deploy())).results, [{ rule: 'm', status: 'skip', message: 'match conditions not met' }]);
  // A false condition wins over an erroring one.
  const both = compileMapAsMutatingPolicy(map({ ...spec, matchConditions: [spec.matchConditions[0]!, { name: 'never', expression: 'false' }] }));
  t.same(both.evaluate(input(deploy())).results, [{ rule: 'm', status: 'skip', message: 'match conditions not met' }]);
});

t.test('variables are available to mutations', async (t) => {
  const p = compileMapAsMutatingPolicy(map({
    variables: [{ name: 'double', expression: 'object.spec.replicas * 2' }],
    mutations: [setReplicas('variables.double')],
  }));
  t.equal((p.evaluate(input(deploy('default', { replicas: 4 }))).patched!.spec as JsonObject).replicas, 8);
});

t.test('a failing mutation is an error (Fail) and the next mutations still run on the last good object', async (t) => {
  const bad = { patchType: 'JSONPatch', jsonPatch: { expression: '[JSONPatch{op: "replace", path: "/spec/nothere/field", value: "x"}]' } };
  const p = compileMapAsMutatingPolicy(map({ mutations: [bad, setReplicas('5')] }));
  const out = p.evaluate(input(deploy()));
  t.same(out.results.map((r) => r.status), ['error', 'pass']);
  t.equal(out.results[0]!.message, 'JSON Patch: replace operation does not apply: doc is missing path: "/spec/nothere/field": missing value');
  t.equal((out.patched!.spec as JsonObject).replicas, 5);
  const ignored = compileMapAsMutatingPolicy(map({ failurePolicy: 'Ignore', mutations: [bad] }));
  const r = ignored.evaluate(input(deploy()));
  t.equal(r.results[0]!.status, 'skip');
  t.match(r.results[0]!.message, /ignored: failurePolicy Ignore/);
  t.equal(r.patched, null);
});

t.test('patches keep the resource name and namespace', async (t) => {
  const p = compileMapAsMutatingPolicy(map({ mutations: [applyLabel('{"a": "b"}'), { patchType: 'JSONPatch', jsonPatch: { expression: '[JSONPatch{op: "replace", path: "/metadata/name", value: "renamed"}]' } }] }));
  const out = p.evaluate(input(deploy('prod')));
  t.equal(out.patched!.metadata!.name, 'web');
  t.equal(out.patched!.metadata!.namespace, 'prod');
});

t.test('bindings: policy constraints and the first matching binding matchResources both apply', async (t) => {
  const p = compileMapAsMutatingPolicy(map({ mutations: [applyLabel('{"bound": "yes"}')] }), [
    binding('prod-only', { matchResources: { namespaceSelector: { matchLabels: { env: 'prod' } } } }),
    binding('other-policy', {}, 'not-m'),
  ]);
  t.same(p.evaluate(input(deploy('prod'), { namespaceLabels: { env: 'prod' } })).results, [{ rule: 'm', status: 'pass', message: '' }]);
  t.same(p.evaluate(input(deploy('dev'), { namespaceLabels: { env: 'dev' } })).results, []);
  // A binding whose matchResources narrow nothing (no matchResources) binds every resource the policy matches.
  const open = compileMapAsMutatingPolicy(map({ mutations: [applyLabel('{"bound": "yes"}')] }), [binding('all', {})]);
  t.same(open.evaluate(input(deploy('dev'))).results, [{ rule: 'm', status: 'pass', message: '' }]);
  // Binding matchResources cannot widen the policy's matchConstraints.
  const pod = input({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'prod' } }, { kind: { group: '', version: 'v1', kind: 'Pod' } });
  t.same(open.evaluate(pod).results, []);
});

t.test('params by name: paramRef namespace, else the request namespace', async (t) => {
  const spec = { paramKind: { apiVersion: 'v1', kind: 'ConfigMap' }, mutations: [setReplicas('int(params.data.replicas)')] };
  const params = [cm('sizes', 'default', { replicas: 10 }), cm('sizes', 'prod', { replicas: 7 }), { ...cm('sizes', 'prod', { replicas: 99 }), kind: 'Secret' }];
  const fixedNs = compileMapAsMutatingPolicy(map(spec), [binding('b', { paramRef: { name: 'sizes', namespace: 'default' } })], params);
  t.equal((fixedNs.evaluate(input(deploy('prod'))).patched!.spec as JsonObject).replicas, 10);
  const requestNs = compileMapAsMutatingPolicy(map(spec), [binding('b', { paramRef: { name: 'sizes' } })], params);
  t.equal((requestNs.evaluate(input(deploy('prod'))).patched!.spec as JsonObject).replicas, 7);
  // Not found: Deny (the default) is an error, Allow makes the binding a no-op.
  t.same(requestNs.evaluate(input(deploy('dev'))).results, [{ rule: 'm', status: 'error', message: 'failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction' }]);
  // A namespaced param written without a namespace is in `default`, as resources are.
  const bare = compileMapAsMutatingPolicy(map(spec), [binding('b', { paramRef: { name: 'plain' } })], [cm('plain', undefined, { replicas: 3 })]);
  t.equal((bare.evaluate(input(deploy('default'))).patched!.spec as JsonObject).replicas, 3);
  t.equal(bare.evaluate(input(deploy('prod'))).results[0]!.status, 'error');
  const allow = compileMapAsMutatingPolicy(map(spec), [binding('b', { paramRef: { name: 'sizes', parameterNotFoundAction: 'Allow' } })], params);
  t.same(allow.evaluate(input(deploy('dev'))), { results: [], patched: null, patches: [] });
  const ignore = compileMapAsMutatingPolicy(map({ ...spec, failurePolicy: 'Ignore' }), [binding('b', { paramRef: { name: 'sizes' } })], params);
  t.equal(ignore.evaluate(input(deploy('dev'))).results[0]!.status, 'skip');
});

t.test('params by selector are a list (params.items), in the order given', async (t) => {
  const spec = {
    paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
    mutations: [applyLabel('{"first": params.items[0].metadata.name, "count": string(size(params.items))}')],
  };
  const params = [cm('b-param', 'default', {}, { type: 'param' }), cm('unrelated', 'default', {}), cm('a-param', 'default', {}, { type: 'param' }), cm('elsewhere', 'other', {}, { type: 'param' })];
  const p = compileMapAsMutatingPolicy(map(spec), [binding('b', { paramRef: { namespace: 'default', selector: { matchLabels: { type: 'param' } } } })], params);
  t.same(p.evaluate(input(deploy('prod'))).patched!.metadata!.labels, { first: 'b-param', count: '2' });
});

t.test('params: paramKind without paramRef, cluster-scoped kinds and cluster-scoped requests', async (t) => {
  // paramKind set but the binding has no paramRef: params is null.
  const nullParams = compileMapAsMutatingPolicy(map({ paramKind: { apiVersion: 'v1', kind: 'ConfigMap' }, mutations: [applyLabel('{"p": string(params == null)}')] }), [binding('b', {})]);
  t.same(nullParams.evaluate(input(deploy())).patched!.metadata!.labels, { p: 'true' });
  // A namespace on a cluster-scoped paramKind is a configuration error.
  const ns = compileMapAsMutatingPolicy(map({ paramKind: { apiVersion: 'v1', kind: 'Namespace' }, mutations: [] }), [binding('b', { paramRef: { name: 'x', namespace: 'default' } })]);
  t.same(ns.evaluate(input(deploy())).results, [{ rule: 'm', status: 'error', message: 'failed to configure binding: paramRef.namespace must not be provided for a cluster-scoped `paramKind`' }]);
  // Cluster-scoped params are found whatever the request namespace.
  const cluster = compileMapAsMutatingPolicy(map({ paramKind: { apiVersion: 'v1', kind: 'Namespace' }, mutations: [applyLabel('{"owner": params.metadata.labels.owner}')] }),
    [binding('b', { paramRef: { name: 'shared' } })], [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shared', labels: { owner: 'ops' } } }]);
  t.same(cluster.evaluate(input(deploy('prod'))).patched!.metadata!.labels, { owner: 'ops' });
  // An unknown (custom) kind whose objects have no namespace is taken as cluster-scoped.
  const crd = compileMapAsMutatingPolicy(map({ paramKind: { apiVersion: 'rules.example.com/v1', kind: 'ReplicaLimit' }, mutations: [setReplicas('params.max')] }),
    [binding('b', { paramRef: { name: 'limit' } })], [{ apiVersion: 'rules.example.com/v1', kind: 'ReplicaLimit', metadata: { name: 'limit' }, max: 4 }]);
  t.equal((crd.evaluate(input(deploy('team-x'))).patched!.spec as JsonObject).replicas, 4);
});
