import t from 'tap';
import { bindingsFor, compileValidatingAdmissionPolicy } from '../../src/cel/vap.ts';
import type { AdmissionInput, JsonObject, KubeObject } from '../../src/engine/types.ts';

const deploy = (replicas: number, ns = 'default', labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: ns, labels }, spec: { replicas },
});
const input = (o: KubeObject, extra: Partial<AdmissionInput> = {}): AdmissionInput => ({
  operation: 'UPDATE', object: o, oldObject: o, kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, namespace: o.metadata?.namespace ?? '', userInfo: {}, roles: [], clusterRoles: [], ...extra,
});
const vap: JsonObject = {
  apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: 'max-replicas' },
  spec: {
    matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] }] },
    matchConditions: [{ name: 'not-system', expression: "object.metadata.namespace != 'kube-system'" }],
    validations: [{ expression: 'object.spec.replicas <= 5' }, { expression: "request.operation == 'CREATE'", message: 'always CREATE offline' }],
  },
};

t.test('without bindings the policy matchConstraints decide; rule named after the policy', async (t) => {
  const p = compileValidatingAdmissionPolicy(vap);
  t.same(p.evaluate(input(deploy(3))), [{ rule: 'max-replicas', status: 'pass', message: '' }]);
  t.same(p.evaluate(input(deploy(7))), [{ rule: 'max-replicas', status: 'fail', message: 'failed expression: object.spec.replicas <= 5' }]);
  t.same(p.evaluate(input(deploy(7, 'kube-system'))), [{ rule: 'max-replicas', status: 'skip', message: "match conditions aren't met" }]);
  t.same(p.evaluate(input({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }, { kind: { group: '', version: 'v1', kind: 'Pod' } })), []);
});

t.test('evaluation errors are errors, not failures', async (t) => {
  const p = compileValidatingAdmissionPolicy({ ...vap, spec: { ...(vap.spec as JsonObject), validations: [{ expression: 'object.spec.template.x == 1' }] } });
  t.same(p.evaluate(input(deploy(1))), [{ rule: 'max-replicas', status: 'error', message: "expression 'object.spec.template.x == 1' resulted in error: no such key: template" }]);
});

t.test('with bindings: the first binding whose matchResources match is used', async (t) => {
  const docs: JsonObject[] = [
    { kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: 'prod' }, spec: { policyName: 'max-replicas', matchResources: { objectSelector: { matchLabels: { env: 'prod' } } } } },
    { kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: 'other' }, spec: { policyName: 'something-else' } },
  ];
  const bindings = bindingsFor('max-replicas', docs);
  t.equal(bindings.length, 1);
  const p = compileValidatingAdmissionPolicy(vap, bindings);
  t.same(p.evaluate(input(deploy(7, 'default', { env: 'prod' }))), [{ rule: 'max-replicas', status: 'fail', message: 'failed expression: object.spec.replicas <= 5', binding: 'prod' }]);
  t.same(p.evaluate(input(deploy(7, 'default', { env: 'dev' }))), []);
});
