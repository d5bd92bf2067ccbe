import t from 'tap';
import { compileGeneratingPolicy } from '../../src/cel/gpol.ts';
import { staticContext } from '../../src/cel/context.ts';
import { compilePolicies } from '../../src/policy/compile.ts';
import { parsePolicyText } from '../../src/policy/load.ts';
import { Engine } from '../../src/engine/engine.ts';
import { defaultLoader } from '../../src/server/policy-set.ts';
import type { AdmissionInput, JsonObject, KubeObject } from '../../src/engine/types.ts';

function input(object: KubeObject): AdmissionInput {
  const [group, version] = object.apiVersion!.includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion!];
  return {
    operation: 'CREATE', object, oldObject: null, kind: { group: group!, version: version!, kind: object.kind! },
    namespace: object.metadata?.namespace ?? '', userInfo: {}, roles: [], clusterRoles: [],
  };
}
const namespace = (name: string, labels?: Record<string, string>): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...(labels ? { labels } : {}) } });
const onNamespaces = { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['namespaces'] }] };
const policy = (spec: JsonObject, kind = 'GeneratingPolicy', ns?: string): JsonObject => ({
  apiVersion: 'policies.kyverno.io/v1', kind, metadata: { name: 'gen', ...(ns ? { namespace: ns } : {}) },
  spec: { matchConstraints: onNamespaces, ...spec },
});

t.test('generator.Apply generates the objects into the namespace it is given', async (t) => {
  const p = compileGeneratingPolicy(policy({
    variables: [{ name: 'ns', expression: 'object.metadata.name' }],
    generate: [{
      expression: `generator.Apply(variables.ns, [{
        "apiVersion": dyn("networking.k8s.io/v1"), "kind": dyn("NetworkPolicy"),
        "metadata": dyn({"name": "default-deny", "namespace": "elsewhere", "uid": "u1", "resourceVersion": "7", "annotations": {"a": "b"}}),
        "spec": dyn({"podSelector": dyn({}), "policyTypes": dyn(["Ingress", "Egress"])})
      }])`,
    }],
  }));
  t.same(p.evaluate(input(namespace('team-a'))), [{
    rule: 'gen', status: 'pass', message: 'policy evaluated successfully',
    generated: [{
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
      // The target namespace wins; uid, resourceVersion and annotations are dropped (Kyverno's CLI provider).
      metadata: { name: 'default-deny', namespace: 'team-a' },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    }],
  }]);
  t.same(p.evaluate(input({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'x' } })), [], 'matchConstraints: no result');
});

t.test('generator.Apply: List objects are expanded, cluster-scoped kinds get no namespace, resource.Get clones', async (t) => {
  const source: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'regcred', namespace: 'default', uid: 'u', creationTimestamp: '2024-01-01T00:00:00Z' }, data: { k: 'dg==' } };
  const p = compileGeneratingPolicy(policy({
    generate: [
      { expression: `generator.Apply(object.metadata.name, [resource.Get("v1", "secrets", "default", "regcred")])` },
      { expression: `generator.apply(object.metadata.name, [{"apiVersion": "v1", "kind": "List", "items": [
          dyn({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}}),
          dyn({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "viewer"}})]}])` },
    ],
  }));
  const [r] = p.evaluate(input(namespace('team-b')), { context: staticContext([source]) });
  t.equal(r!.status, 'pass');
  t.same(r!.generated, [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'regcred', namespace: 'team-b' }, data: { k: 'dg==' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'one', namespace: 'team-b' } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'viewer' } },
  ]);
  t.same(source.metadata!.uid, 'u', 'the clone source is not modified');
});

t.test('template with interpolate: cel — whole-value placeholders splice, embedded ones interpolate', async (t) => {
  const p = compileGeneratingPolicy(policy({
    variables: [{ name: 'labels', expression: 'object.metadata.labels' }],
    generate: [{
      template: {
        interpolate: 'cel',
        value: [
          'apiVersion: v1',
          'kind: ConfigMap',
          'metadata:',
          '  name: (( object.metadata.name ))-config',
          '  namespace: (( object.metadata.name ))',
          '  labels: (( variables.labels ))',
          'data:',
          '  replicas: "(( 3 )) x (( 1.5 )) x (( 1000000.0 )) x (( true ))"',
          '  literal: \\(( kept ))',
          '  tricky: (( ")" + string(size(variables.labels)) ))',
          '---',
          'apiVersion: v1',
          'kind: ResourceQuota',
          'metadata: {name: quota, namespace: (( object.metadata.name ))}',
          'spec: {hard: {pods: (( 10 ))}}',
        ].join('\n'),
      },
    }],
  }));
  const [r] = p.evaluate(input(namespace('team-c', { team: 'c' })));
  t.same(r!.generated, [
    {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'team-c-config', namespace: 'team-c', labels: { team: 'c' } },
      // Scalars print as Go's %v does (1e+06).
      data: { replicas: '3 x 1.5 x 1e+06 x true', literal: '(( kept ))', tricky: ')1' },
    },
    { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'quota', namespace: 'team-c' }, spec: { hard: { pods: 10 } } },
  ]);
});

t.test('template without interpolation keeps placeholders; documents without a namespace are cluster-scoped', async (t) => {
  const p = compileGeneratingPolicy(policy({
    generate: [{ template: { value: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: static\ndata:\n  key: (( not.evaluated ))\n' } }],
  }));
  t.same(p.evaluate(input(namespace('x')))[0]!.generated, [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'static' }, data: { key: '(( not.evaluated ))' } }]);
});

t.test('matchConditions not met: no result at all (Kyverno reports nothing, the CLI row is excluded)', async (t) => {
  const p = compileGeneratingPolicy(policy({
    matchConditions: [{ name: 'workloads', expression: "object.metadata.?labels.type.orValue('') == 'workload'" }],
    generate: [{ expression: 'generator.Apply(object.metadata.name, [{"apiVersion": dyn("v1"), "kind": dyn("ConfigMap"), "metadata": dyn({"name": "c"})}])' }],
  }));
  t.same(p.evaluate(input(namespace('plain'))), []);
  t.equal(p.evaluate(input(namespace('w', { type: 'workload' })))[0]!.generated!.length, 1);
  // A false condition wins over another condition's error, as in Kyverno; an error alone fails.
  const mixed = compileGeneratingPolicy(policy({ matchConditions: [{ name: 'bad', expression: 'object.nope' }, { name: 'no', expression: 'false' }], generate: [] }));
  t.same(mixed.evaluate(input(namespace('n'))), []);
  const bad = compileGeneratingPolicy(policy({ matchConditions: [{ name: 'bad', expression: 'object.nope' }], generate: [] }));
  t.same(bad.evaluate(input(namespace('n'))), [{ rule: 'gen', status: 'error', message: 'failed to evaluate policy: no such key: nope' }]);
});

t.test('evaluation errors are error results naming what failed', async (t) => {
  const expr = compileGeneratingPolicy(policy({ generate: [{ expression: 'generator.Apply(object.metadata.name, [object.metadata.missing])' }] }));
  t.same(expr.evaluate(input(namespace('n'))), [{ rule: 'gen', status: 'error', message: 'failed to evaluate policy: no such key: missing' }]);
  const tpl = compileGeneratingPolicy(policy({
    generate: [{ template: { interpolate: 'cel', value: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x-(( object.metadata ))\n' } }],
  }));
  t.same(tpl.evaluate(input(namespace('n'))), [{
    rule: 'gen', status: 'error',
    message: 'failed to evaluate policy: failed to render generation template: document 1: field "metadata": field "name": placeholder "object.metadata" embedded in a string must evaluate to a scalar, got map[string]interface {}; use a whole-value placeholder for structured results',
  }]);
  const oneArg = compileGeneratingPolicy(policy({ generate: [{ expression: 'generator.Apply([])' }] }));
  t.match(oneArg.evaluate(input(namespace('n')))[0], { status: 'error', message: /needs a namespace argument/ });
});

t.test('NamespacedGeneratingPolicy: its own namespace only', async (t) => {
  const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'trigger', namespace: 'tenant' } };
  const onConfigMaps = { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }] };
  const ns = (generate: JsonObject[]) => compileGeneratingPolicy(policy({ matchConstraints: onConfigMaps, generate }, 'NamespacedGeneratingPolicy', 'tenant'));
  const secret = '{"apiVersion": "v1", "kind": "Secret", "metadata": dyn({"name": "s"})}';
  t.same(ns([{ expression: `generator.Apply([${secret}])` }]).evaluate(input(cm))[0]!.generated,
    [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'tenant' } }]);
  t.same(ns([{ template: { value: 'apiVersion: v1\nkind: Secret\nmetadata: {name: t}' } }]).evaluate(input(cm))[0]!.generated,
    [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 't', namespace: 'tenant' } }]);
  t.match(ns([{ expression: `generator.Apply("other", [${secret}])` }]).evaluate(input(cm))[0],
    { status: 'error', message: 'failed to evaluate policy: cross-namespace generation denied: policy in "tenant" cannot generate into "other"' });
  t.match(ns([{ template: { value: 'apiVersion: v1\nkind: Secret\nmetadata: {name: t, namespace: other}' } }]).evaluate(input(cm))[0],
    { status: 'error', message: /cross-namespace generation denied/ });
  t.match(ns([{ expression: 'generator.Apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": dyn({"name": "x"})}])' }]).evaluate(input(cm))[0],
    { status: 'error', message: /cross-scope generation denied/ });
  t.same(ns([{ expression: `generator.Apply([${secret}])` }]).evaluate(input({ ...cm, metadata: { name: 't', namespace: 'other' } })), [],
    'triggers in other namespaces are out of scope');
});

t.test('a CEL PolicyException naming the policy turns the evaluation into an exception result', async (t) => {
  const ex = {
    apiVersion: 'policies.kyverno.io/v1', kind: 'PolicyException', metadata: { name: 'skip-system' },
    spec: { policyRefs: [{ name: 'gen', kind: 'GeneratingPolicy' }], matchConditions: [{ name: 'system', expression: "object.metadata.name.startsWith('kube-')" }] },
  };
  const p = compileGeneratingPolicy(policy({ generate: [{ expression: 'generator.Apply(object.metadata.name, [])' }] }), [ex]);
  t.same(p.evaluate(input(namespace('kube-public'))), [{ rule: 'exception', status: 'skip', message: 'rule is skipped due to policy exception: skip-system' }]);
  t.equal(p.evaluate(input(namespace('apps')))[0]!.status, 'pass');
});

t.test('compile errors locate the generate entry', async (t) => {
  const compile = (generate: JsonObject[]) => () => compileGeneratingPolicy(policy({ generate }));
  t.throws(compile([{ expression: 'generator.Apply(', template: { value: 'a: b' } }]), /spec.generate\[0\]: Invalid value: only one of expression or template/);
  t.throws(compile([{}]), /one of expression or template must be set/);
  t.throws(compile([{ expression: 'generator.Apply(1 +)' }]), /^spec.generate\[0\].expression: Invalid value/);
  t.throws(compile([{ template: { interpolate: 'cel', value: 'apiVersion: v1\ndata:\n  (( variables.k )): v\n' } }]),
    /spec.generate\[0\].template.value: .*line 3: placeholders are not supported in mapping keys/);
  t.throws(compile([{ template: { interpolate: 'cel', value: 'a: b\n---\nmetadata:\n  name: (( 1 + ))\n' } }]), /line 4: invalid placeholder expression "1 \+"/);
  t.throws(compile([{ template: { value: '- a\n- b\n' } }]), /document must be a mapping describing a resource/);
});

const gpolYaml = `apiVersion: policies.kyverno.io/v1alpha1
kind: GeneratingPolicy
metadata: {name: add-netpol}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [namespaces]}]
  generate:
  - expression: >-
      generator.Apply(object.metadata.name, [{"apiVersion": dyn("networking.k8s.io/v1"), "kind": dyn("NetworkPolicy"), "metadata": dyn({"name": "deny"})}])
`;

t.test('engine: the generate phase (CLI) reports the objects; the webhook modes report nothing', async (t) => {
  const loaded = parsePolicyText(gpolYaml, 'gpol.yaml');
  const { policies, errors } = compilePolicies(loaded.policies);
  t.same(errors, []);
  t.equal(policies[0]!.cel?.type, 'generating');
  const engine = new Engine(policies);
  const all = await engine.evaluate(input(namespace('team')), { mode: 'all' });
  t.same(all.results.flatMap((r) => r.rules), [{
    name: 'add-netpol', type: 'Generation', status: 'pass', message: 'policy evaluated successfully',
    generatedResources: [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'team' } }],
  }]);
  for (const mode of ['mutate', 'validate'] as const) {
    t.same((await engine.evaluate(input(namespace('team')), { mode })).results, [], `${mode}: no admission result`);
  }
});

t.test("the webhook's loader accepts a GeneratingPolicy", async (t) => {
  const dir = t.testdir({ 'gpol.yaml': gpolYaml });
  const { policies, errors } = await defaultLoader([dir]);
  t.same(errors, []);
  t.same(policies.map((p) => `${p.kind}/${p.name}/${p.cel?.type}`), ['GeneratingPolicy/add-netpol/generating']);
});
