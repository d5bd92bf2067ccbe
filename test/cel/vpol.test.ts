import t from 'tap';
import { applyReplacement, canAutogen, compileValidatingPolicy } from '../../src/cel/vpol.ts';
import { compileMatchConstraints } from '../../src/cel/match-constraints.ts';
import type { AdmissionInput, JsonObject, KubeObject } from '../../src/engine/types.ts';

function input(object: KubeObject, extra: Partial<AdmissionInput> = {}): AdmissionInput {
  const [group, version] = (object.apiVersion ?? 'v1').includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion ?? 'v1'];
  return {
    operation: 'CREATE', object, oldObject: null, kind: { group: group!, version: version!, kind: object.kind! },
    namespace: object.metadata?.namespace ?? 'default', userInfo: {}, roles: [], clusterRoles: [], ...extra,
  };
}
const podSpec = (privileged: boolean) => ({ containers: [{ name: 'c', image: 'nginx', securityContext: { privileged } }] });
const pod = (privileged: boolean, labels: Record<string, string> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns1', labels }, spec: podSpec(privileged) });
const deploy = (privileged: boolean): KubeObject => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'ns1' }, spec: { template: { metadata: { labels: { app: 'x' } }, spec: podSpec(privileged) } } });
const cron = (privileged: boolean): KubeObject => ({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'cj', namespace: 'ns1' }, spec: { jobTemplate: { spec: { template: { spec: podSpec(privileged) } } } } });

const policy = (spec: JsonObject = {}, kind = 'ValidatingPolicy'): JsonObject => ({
  apiVersion: 'policies.kyverno.io/v1', kind, metadata: { name: 'no-privileged', namespace: 'ns1' },
  spec: {
    validationActions: ['Deny'],
    matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] }] },
    validations: [{ expression: 'object.spec.containers.all(c, !c.?securityContext.?privileged.orValue(false))', message: 'privileged containers are not allowed' }],
    ...spec,
  },
});

t.test('Kyverno result shapes: pass "success", fail with message, rule name "validation"', async (t) => {
  const p = compileValidatingPolicy(policy());
  t.equal(p.name, 'no-privileged');
  t.same(p.validationActions, ['Deny']);
  t.same(p.evaluate(input(pod(false))), [{ rule: 'validation', status: 'pass', message: 'success' }]);
  t.same(p.evaluate(input(pod(true))), [{ rule: 'validation', status: 'fail', message: 'privileged containers are not allowed', validationIndex: 0 }]);
  t.same(p.evaluate(input(pod(true), { operation: 'DELETE', object: null, oldObject: pod(true) })), [], 'DELETE is not among the operations');
});

t.test('default message, messageExpression and evaluation errors', async (t) => {
  const p = compileValidatingPolicy(policy({
    validations: [
      { expression: 'true' },
      { expression: "object.metadata.name != 'p'" },
    ],
  }));
  t.equal(p.evaluate(input(pod(false)))[0]!.message, 'CEL expression validation failed at index 1');
  const m = compileValidatingPolicy(policy({ validations: [{ expression: 'false', messageExpression: "'name is ' + object.metadata.name" }] }));
  t.equal(m.evaluate(input(pod(false)))[0]!.message, 'name is p');
  const bad = compileValidatingPolicy(policy({ validations: [{ expression: 'false', messageExpression: 'object.nothere' }] }));
  t.equal(bad.evaluate(input(pod(false)))[0]!.message, 'failed to evaluate message expression: no such key: nothere');
  const err = compileValidatingPolicy(policy({ validations: [{ expression: 'object.spec.nothere' }] }));
  t.same(err.evaluate(input(pod(false))), [{ rule: 'validation', status: 'error', message: 'error: no such key: nothere', validationIndex: 0 }]);
});

t.test('matchConditions: false skips with an empty rule name; variables are available', async (t) => {
  const p = compileValidatingPolicy(policy({
    matchConditions: [{ name: 'labelled', expression: "object.metadata.?labels[?'check'].orValue('') == 'yes'" }],
    variables: [{ name: 'priv', expression: 'object.spec.containers.filter(c, c.?securityContext.?privileged.orValue(false))' }],
    validations: [{ expression: 'size(variables.priv) == 0', messageExpression: "'privileged: ' + variables.priv.map(c, c.name).join(',')" }],
  }));
  t.same(p.evaluate(input(pod(true))), [{ rule: '', status: 'skip', message: 'skip' }]);
  t.same(p.evaluate(input(pod(true, { check: 'yes' }))), [{ rule: 'validation', status: 'fail', message: 'privileged: c', validationIndex: 0 }]);
});

t.test('autogen: pod controllers and cronjobs get rewritten variants named after Kyverno', async (t) => {
  const p = compileValidatingPolicy(policy());
  t.same(p.variants, ['', 'autogen-cronjobs', 'autogen'], 'Kyverno orders variants by replacement set');
  t.same(p.evaluate(input(deploy(true))), [{ rule: 'validation', status: 'fail', message: 'privileged containers are not allowed', validationIndex: 0, variant: 'autogen' }]);
  t.same(p.evaluate(input(deploy(false))).map((r) => r.status), ['pass']);
  t.same(p.evaluate(input(cron(true))).map((r) => [r.status, r.variant]), [['fail', 'autogen-cronjobs']]);
  const none = compileValidatingPolicy(policy({ autogen: { podControllers: { controllers: [] } } }));
  t.same(none.variants, ['']);
  t.same(none.evaluate(input(deploy(true))), []);
  const onlyDeploy = compileValidatingPolicy(policy({ autogen: { podControllers: { controllers: ['deployments'] } } }));
  t.same(onlyDeploy.variants, ['', 'autogen']);
  t.same(onlyDeploy.evaluate(input({ ...deploy(true), kind: 'StatefulSet' })), []);
  // Kinds are not controller names: Kyverno generates nothing for them.
  t.same(compileValidatingPolicy(policy({ autogen: { podControllers: { controllers: ['Deployment'] } } })).variants, ['']);
});

t.test('autogen matchConditions are guarded by the target kinds', async (t) => {
  const p = compileValidatingPolicy(policy({ matchConditions: [{ name: 'not-system', expression: "object.metadata.namespace != 'kube-system'" }] }));
  const sys = { ...deploy(true), metadata: { name: 'd', namespace: 'kube-system' } };
  t.same(p.evaluate(input(sys)).map((r) => r.status), ['skip'], '.namespace stays on the workload');
  t.same(p.evaluate(input(deploy(true))).map((r) => r.status), ['fail']);
});

t.test('canAutogen and the replacement rules', async (t) => {
  t.equal(canAutogen({ resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }] }), true);
  t.equal(canAutogen({ resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods', 'services'] }] }), false);
  t.equal(canAutogen({ resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }], objectSelector: { matchLabels: { a: 'b' } } }), false);
  t.equal(canAutogen({ resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], resourceNames: ['x'] }] }), false);
  t.equal(applyReplacement('object.spec.x && oldObject.spec.y', 'spec', 'spec.template.spec'), 'object.spec.template.spec.x && oldObject.spec.template.spec.y');
  t.equal(applyReplacement('object.metadata.name + object.metadata.namespace + object.metadata.labels + object.metadata.nameSuffix', 'metadata', 'spec.template.metadata'),
    'object.metadata.name + object.metadata.namespace + object.spec.template.metadata.labels + object.spec.template.metadata.nameSuffix');
});

t.test('matchConstraints: operations, wildcards, subresources, exclusions and selectors', async (t) => {
  const m = compileMatchConstraints({
    resourceRules: [{ apiGroups: ['*'], apiVersions: ['*'], operations: ['CREATE'], resources: ['deployments', 'pods/exec', 'ingresses'] }],
    excludeResourceRules: [{ apiGroups: ['networking.k8s.io'], apiVersions: ['v1'], operations: ['*'], resources: ['ingresses'] }],
    namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] },
  });
  const prod = { namespaceLabels: { env: 'prod' } };
  t.equal(m(input(deploy(false), prod)), true);
  t.equal(m(input(deploy(false), { namespaceLabels: { env: 'dev' } })), false);
  t.equal(m(input(deploy(false), { ...prod, operation: 'UPDATE' })), false);
  t.equal(m(input(pod(false), prod)), false, 'pods itself is not listed');
  t.equal(m(input(pod(false), { ...prod, subResource: 'exec', operation: 'CREATE' })), true);
  t.equal(m(input({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'i', namespace: 'a' } }, prod)), false);
  const cluster = compileMatchConstraints({ resourceRules: [{ apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*'] }], namespaceSelector: { matchLabels: { env: 'prod' } }, objectSelector: { matchLabels: { team: 'a' } } });
  t.equal(cluster(input({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'r', labels: { team: 'a' } } }, { namespace: '' })), true, 'cluster-scoped objects ignore namespaceSelector');
  t.equal(cluster(input({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n', labels: { env: 'dev', team: 'a' } } }, { namespace: '' })), false, 'a Namespace is matched on its own labels');
  t.equal(cluster(input(pod(false, { team: 'b' }), prod)), false, 'objectSelector');
  t.equal(compileMatchConstraints(undefined)(input(pod(false))), false);
});

t.test('NamespacedValidatingPolicy applies only in its namespace', async (t) => {
  const p = compileValidatingPolicy(policy({}, 'NamespacedValidatingPolicy'));
  t.equal(p.namespace, 'ns1');
  t.equal(p.evaluate(input(pod(true))).length, 1);
  t.same(p.evaluate(input({ ...pod(true), metadata: { name: 'p', namespace: 'other' } }, { namespace: 'other' })), []);
});

t.test('namespaceObject defaults to the request namespace; request carries userInfo', async (t) => {
  const p = compileValidatingPolicy(policy({
    validations: [
      { expression: "namespaceObject.metadata.name == 'ns1' && namespaceObject.metadata.labels.env == 'prod'", message: 'ns' },
      { expression: "request.userInfo.username == 'alice' && request.operation == 'CREATE' && request.resource.resource == 'pods'", message: 'req' },
    ],
  }));
  t.equal(p.evaluate(input(pod(false), { namespaceLabels: { env: 'prod' }, userInfo: { username: 'alice' } }))[0]!.status, 'pass');
  t.equal(p.evaluate(input(pod(false), { namespaceLabels: { env: 'prod' }, userInfo: { username: 'bob' } }))[0]!.message, 'req');
  t.equal(p.evaluate(input(pod(false)), { namespaceObject: { metadata: { name: 'ns1', labels: { env: 'dev' } } } })[0]!.message, 'ns');
});

t.test('compile errors and unsupported kinds', async (t) => {
  t.throws(() => compileValidatingPolicy(policy({ validations: [{ expression: 'object.(' }] })), /spec\.validations\[0\]\.expression/);
  t.throws(() => compileValidatingPolicy({ kind: 'GeneratingPolicy', metadata: { name: 'g' } }), /unsupported policy kind GeneratingPolicy/);
});

t.test('compileCelPolicy dispatches by kind and rejects unsupported kinds clearly', async (t) => {
  const { compileCelPolicy, isCelPolicyDocument, UnsupportedPolicyError } = await import('../../src/cel/index.ts');
  t.equal(compileCelPolicy(policy()).type, 'validating');
  t.equal(compileCelPolicy({ kind: 'MutatingPolicy', metadata: { name: 'm' }, spec: {} }).type, 'mutating');
  t.equal(compileCelPolicy({ apiVersion: 'policies.kyverno.io/v1', kind: 'GeneratingPolicy', metadata: { name: 'g' }, spec: {} }).type, 'generating');
  t.equal(compileCelPolicy({ apiVersion: 'policies.kyverno.io/v1', kind: 'DeletingPolicy', metadata: { name: 'd' }, spec: { schedule: '0 * * * *' } }).type, 'deleting');
  t.throws(() => compileCelPolicy({ apiVersion: 'policies.kyverno.io/v1', kind: 'UnknownPolicy', metadata: { name: 'u' } }), UnsupportedPolicyError);
  t.equal(compileCelPolicy({ apiVersion: 'policies.kyverno.io/v1', kind: 'ImageValidatingPolicy', metadata: { name: 'i' }, spec: {} }).type, 'validating');
  t.equal(isCelPolicyDocument(policy()), true);
  t.equal(isCelPolicyDocument({ apiVersion: 'kyverno.io/v1', kind: 'ClusterPolicy' }), false);
});

t.test('a Generating/DeletingPolicy that does not compile gives an error result where it matches, instead of throwing', async (t) => {
  const { compileCelPolicy } = await import('../../src/cel/index.ts');
  const matchConstraints = { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] };
  const gen = compileCelPolicy({ apiVersion: 'policies.kyverno.io/v1', kind: 'GeneratingPolicy', metadata: { name: 'g' },
    spec: { matchConstraints, generate: [{ expression: 'no_such_function(object)' }] } });
  const del = compileCelPolicy({ apiVersion: 'policies.kyverno.io/v1', kind: 'DeletingPolicy', metadata: { name: 'd' },
    spec: { schedule: '0 * * * *', matchConstraints, conditions: [{ name: 'c', expression: 'no_such_function(object)' }] } });
  for (const c of [gen, del]) {
    if (c.type !== 'generating' && c.type !== 'deleting') throw new Error(`unexpected ${c.type}`);
    const [r] = c.policy.evaluate(input(pod(false)));
    t.match(r, { status: 'error', message: /^failed to compile policy: .*no_such_function/ }, c.type);
    t.same(c.policy.evaluate(input({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'ns1' } }, { kind: { group: '', version: 'v1', kind: 'ConfigMap' } })), [], `${c.type}: nothing where it does not match`);
  }
});

t.test('CEL PolicyExceptions referencing the policy exempt matching resources', async (t) => {
  const exception = (name: string, extra: JsonObject = {}, labels: Record<string, string> = {}): JsonObject => ({
    apiVersion: 'policies.kyverno.io/v1', kind: 'PolicyException', metadata: { name, namespace: 'ns1', labels },
    spec: { policyRefs: [{ name: 'no-privileged', kind: 'ValidatingPolicy' }], matchConditions: [{ name: 'tool', expression: "object.metadata.?labels[?'tool'].orValue('') == 'debug'" }], ...extra },
  });
  const other = { ...exception('other'), spec: { policyRefs: [{ name: 'another', kind: 'ValidatingPolicy' }], matchConditions: [] } };
  const p = compileValidatingPolicy(policy(), [exception('allow-debug'), other]);
  t.same(p.evaluate(input(pod(true, { tool: 'debug' }))), [{ rule: 'exception', status: 'skip', message: 'rule is skipped due to policy exception: ns1/allow-debug' }]);
  t.equal(p.evaluate(input(pod(true)))[0]!.status, 'fail', 'conditions not met: the policy applies');
  const passing = compileValidatingPolicy(policy(), [exception('a'), exception('b', { reportResult: 'pass' }, { 'kyverno.io/exception-priority': '5' })]);
  t.same(passing.evaluate(input(pod(true, { tool: 'debug' })))[0], { rule: 'exception', status: 'pass', message: 'rule is passed due to policy exception: ns1/a, ns1/b' });
  const narrow = compileValidatingPolicy(policy(), [exception('imgs', { images: ['nginx'] })]);
  t.equal(narrow.evaluate(input(pod(true, { tool: 'debug' })))[0]!.status, 'fail', 'image-scoped exceptions do not exempt the whole policy');
});
