import t from 'tap';
import { compileDeletingPolicy } from '../../src/cel/dpol.ts';
import { staticContext } from '../../src/cel/context.ts';
import { compilePolicies } from '../../src/policy/compile.ts';
import { parsePolicyText } from '../../src/policy/load.ts';
import { Engine } from '../../src/engine/engine.ts';
import { defaultLoader } from '../../src/server/policy-set.ts';
import type { AdmissionInput, JsonObject, KubeObject } from '../../src/engine/types.ts';

function input(object: KubeObject, operation: AdmissionInput['operation'] = 'CREATE'): AdmissionInput {
  const [group, version] = object.apiVersion!.includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion!];
  return {
    operation, object, oldObject: null, kind: { group: group!, version: version!, kind: object.kind! },
    namespace: object.metadata?.namespace ?? '', userInfo: {}, roles: [], clusterRoles: [],
  };
}
const pod = (name: string, namespace = 'default', labels?: Record<string, string>): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
// CREATE only: a deletion scan ignores operations, so this still matches every Pod.
const onPods = { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] };
const policy = (spec: JsonObject, kind = 'DeletingPolicy', ns?: string): JsonObject => ({
  apiVersion: 'policies.kyverno.io/v1', kind, metadata: { name: 'cleanup', ...(ns ? { namespace: ns } : {}) },
  spec: { schedule: '*/5 * * * *', matchConstraints: onPods, ...spec },
});
/** A policy without matchConstraints. */
const unconstrained = (spec: JsonObject): JsonObject => {
  const { matchConstraints: _, ...rest } = policy(spec).spec as JsonObject;
  return { ...policy({}), spec: rest };
};
const matched = [{ rule: 'cleanup', status: 'pass', message: 'resource matched' }];
const kept = [{ rule: 'cleanup', status: 'fail', message: 'resource did not match' }];

t.test('conditions: all true → pass (deleted), any false → fail (kept); none → every matched resource', async (t) => {
  const p = compileDeletingPolicy(policy({
    conditions: [
      { name: 'temporary', expression: "object.metadata.?labels.tier.orValue('') == 'temp'" },
      { name: 'in-test', expression: "object.metadata.namespace == 'test'" },
    ],
  }));
  t.same(p.evaluate(input(pod('a', 'test', { tier: 'temp' }))), matched);
  t.same(p.evaluate(input(pod('b', 'test', { tier: 'web' }))), kept);
  t.same(p.evaluate(input(pod('c', 'prod', { tier: 'temp' }))), kept);
  t.same(p.evaluate(input(pod('d', 'test', { tier: 'temp' }), 'DELETE')), matched, 'the request operation plays no part');
  t.same(compileDeletingPolicy(policy({})).evaluate(input(pod('e'))), matched);
  t.equal(p.schedule, '*/5 * * * *');
});

t.test('condition errors: an error result with the CEL error; a false condition wins over an error', async (t) => {
  const missing = compileDeletingPolicy(policy({ conditions: [{ name: 'tier', expression: "object.metadata.labels.tier == 'temp'" }] }));
  t.same(missing.evaluate(input(pod('a'))), [{ rule: 'cleanup', status: 'error', message: 'no such key: labels' }]);
  t.same(missing.evaluate(input(pod('a', 'default', { tier: 'temp' }))), matched);
  const both = compileDeletingPolicy(policy({ conditions: [{ name: 'bad', expression: 'object.nope' }, { name: 'no', expression: 'false' }] }));
  t.same(both.evaluate(input(pod('a'))), kept);
  const twoErrors = compileDeletingPolicy(policy({ conditions: [{ name: 'bad', expression: 'object.nope' }, { name: 'str', expression: "'yes'" }] }));
  t.same(twoErrors.evaluate(input(pod('a'))),
    [{ rule: 'cleanup', status: 'error', message: "no such key: nope; type conversion error from 'string' to 'bool'" }]);
  // A cleanup run has no admission request: request and oldObject are declared but unbound.
  const request = compileDeletingPolicy(policy({ conditions: [{ name: 'op', expression: "request.operation == 'CREATE'" }] }));
  t.equal(request.evaluate(input(pod('a')))[0]!.status, 'error');
});

t.test('matchConstraints: a miss gives no result; excludeResourceRules, resourceNames and objectSelector apply', async (t) => {
  const p = compileDeletingPolicy(policy({
    matchConstraints: {
      resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
      excludeResourceRules: [
        { apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'], resourceNames: ['keep-me'] },
        // DELETE only, and still excluded: operations are ignored in exclusions too.
        { apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'], resourceNames: ['keep-me-too'], operations: ['DELETE'] },
      ],
      objectSelector: { matchExpressions: [{ key: 'expires', operator: 'Exists' }] },
    },
  }));
  const cm = (name: string, labels: Record<string, string> = { expires: 'soon' }): KubeObject =>
    ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', labels } });
  t.same(p.evaluate(input(cm('delete-me'))), matched);
  t.same(p.evaluate(input(cm('keep-me'))), []);
  t.same(p.evaluate(input(cm('keep-me-too'))), []);
  t.same(p.evaluate(input(cm('no-label', {}))), []);
  t.same(p.evaluate(input(pod('a'))), [], 'another kind');
  t.same(compileDeletingPolicy(unconstrained({})).evaluate(input(pod('a'))), [], 'no matchConstraints match no resource');
});

t.test('a JSON payload (no apiVersion/kind) is evaluated without matchConstraints', async (t) => {
  const p = compileDeletingPolicy(unconstrained({ conditions: [{ name: 'key', expression: "object.MetaArgs[0].Key == 'BUILD_PLATFORM'" }] }));
  const payload = { MetaArgs: [{ Key: 'BUILD_PLATFORM' }] } as unknown as KubeObject;
  t.same(p.evaluate({ ...input(pod('x')), object: payload }), matched);
  t.same(p.evaluate({ ...input(pod('x')), object: { MetaArgs: [{ Key: 'OTHER' }] } as unknown as KubeObject }), kept);
});

t.test('variables are lazy: one that fails only matters when a condition reads it', async (t) => {
  const p = compileDeletingPolicy(policy({
    variables: [
      { name: 'age', expression: "object.metadata.?labels.age.orValue('0')" },
      { name: 'old', expression: "int(variables.age) > 7" },
      { name: 'broken', expression: 'object.metadata.nope' },
    ],
    conditions: [{ name: 'old', expression: 'variables.old' }],
  }));
  t.same(p.evaluate(input(pod('a', 'default', { age: '30' }))), matched);
  t.same(p.evaluate(input(pod('b', 'default', { age: '2' }))), kept);
  const reads = compileDeletingPolicy(policy({ variables: [{ name: 'broken', expression: 'object.metadata.nope' }], conditions: [{ name: 'b', expression: 'variables.broken == 1' }] }));
  t.same(reads.evaluate(input(pod('a'))), [{ rule: 'cleanup', status: 'error', message: 'no such key: nope' }]);
});

t.test('namespaceObject and resource.Get come from the caller', async (t) => {
  const p = compileDeletingPolicy(policy({
    conditions: [
      { name: 'test-namespace', expression: "namespaceObject.metadata.?labels.environment.orValue('') == 'test'" },
      { name: 'enabled', expression: "resource.Get('v1', 'configmaps', 'default', 'cleanup').data.enabled == 'true'" },
    ],
  }));
  const cm = (enabled: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cleanup', namespace: 'default' }, data: { enabled } });
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'qa', labels: { environment: 'test' } } };
  t.same(p.evaluate(input(pod('a', 'qa')), { namespaceObject: ns, context: staticContext([cm('true')]) }), matched);
  t.same(p.evaluate(input(pod('a', 'qa')), { namespaceObject: ns, context: staticContext([cm('false')]) }), kept);
  t.same(p.evaluate(input(pod('a', 'qa')), { context: staticContext([cm('true')]) }), kept, 'default namespace object: no labels');
});

t.test('NamespacedDeletingPolicy: resources in other namespaces are out of scope', async (t) => {
  const p = compileDeletingPolicy(policy({}, 'NamespacedDeletingPolicy', 'team-a'));
  t.equal(p.namespace, 'team-a');
  t.same(p.evaluate(input(pod('a', 'team-a'))), matched);
  t.same(p.evaluate(input(pod('b', 'team-b'))), []);
});

t.test('CEL PolicyExceptions naming the policy spare the resources they match', async (t) => {
  const ex = (name: string, expression: string, kind = 'DeletingPolicy'): JsonObject => ({
    apiVersion: 'policies.kyverno.io/v1', kind: 'PolicyException', metadata: { name },
    spec: { policyRefs: [{ name: 'cleanup', kind }], matchConditions: [{ name: 'c', expression }] },
  });
  const p = compileDeletingPolicy(policy({}), [ex('keep-system', "object.metadata.namespace == 'kube-system'"), ex('other-kind', 'true', 'ValidatingPolicy')]);
  t.same(p.evaluate(input(pod('a', 'kube-system'))), kept, 'an excepted resource is not deleted');
  t.same(p.evaluate(input(pod('a', 'apps'))), matched, 'an exception naming another kind does not apply');
  const failing = compileDeletingPolicy(policy({}), [ex('broken', 'object.metadata.nope')]);
  t.same(failing.evaluate(input(pod('a'))), [{ rule: 'cleanup', status: 'error', message: 'no such key: nope' }]);
});

t.test('compile errors: located CEL errors, the dpol environment, a required schedule', async (t) => {
  t.throws(() => compileDeletingPolicy(policy({ conditions: [{ name: 'x', expression: 'object.metadata.name ==' }] })),
    /^spec.conditions\[0\].expression: Invalid value: "object.metadata.name ==": compilation failed/);
  t.throws(() => compileDeletingPolicy(policy({ variables: [{ name: 'p', expression: 'params.x' }] })),
    /spec.variables\[0\].expression: .*undeclared reference to 'params'/);
  const { schedule: _, ...noSchedule } = policy({}).spec as JsonObject;
  t.throws(() => compileDeletingPolicy({ ...policy({}), spec: noSchedule }), /spec.schedule: Required value/);
});

const dpolYaml = `apiVersion: policies.kyverno.io/v1beta1
kind: DeletingPolicy
metadata: {name: cleanup-temp-pods}
spec:
  schedule: "0 * * * *"
  deletionPropagationPolicy: Background
  matchConstraints:
    resourceRules: [{apiGroups: [''], apiVersions: [v1], resources: [pods]}]
  conditions:
  - name: temporary
    expression: "object.metadata.?labels.tier.orValue('') == 'temp'"
`;

t.test('engine: the deletion phase (CLI) reports a Deletion result; the webhook modes report nothing', async (t) => {
  const loaded = parsePolicyText(dpolYaml, 'dpol.yaml');
  const { policies, errors } = compilePolicies(loaded.policies);
  t.same(errors, []);
  t.equal(policies[0]!.cel?.type, 'deleting');
  const engine = new Engine(policies);
  const all = await engine.evaluate(input(pod('p', 'default', { tier: 'temp' })), { mode: 'all' });
  t.same(all.results.flatMap((r) => r.rules), [{ name: 'cleanup-temp-pods', type: 'Deletion', status: 'pass', message: 'resource matched' }]);
  for (const mode of ['mutate', 'validate'] as const) {
    t.same((await engine.evaluate(input(pod('p', 'default', { tier: 'temp' })), { mode })).results, [], `${mode}: no admission result`);
  }
});

t.test("the webhook's loader accepts a DeletingPolicy; the CRD's required schedule is checked at load", async (t) => {
  const dir = t.testdir({ 'dpol.yaml': dpolYaml, 'no-schedule.yaml': dpolYaml.replace('  schedule: "0 * * * *"\n', '').replace('cleanup-temp-pods', 'unscheduled') });
  const { policies, errors } = await defaultLoader([dir]);
  t.same(policies.map((p) => `${p.kind}/${p.name}/${p.cel?.type}`), ['DeletingPolicy/cleanup-temp-pods/deleting']);
  t.match(errors, [{ path: '/spec/schedule', reason: 'required field is missing' }]);
});
