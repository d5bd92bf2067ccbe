/** `portcullis test` with ValidatingAdmissionPolicy (+ binding) and CEL PolicyExceptions. */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { runTestFile } from '../../src/cli/test/run.ts';
import { parsePolicyText } from '../../src/policy/load.ts';
import { compilePolicies } from '../../src/policy/compile.ts';

const fixture = (dir: string) => fileURLToPath(new URL(`./fixtures/${dir}/kyverno-test.yaml`, import.meta.url));
const summary = (rows: { resource: string; result: string; reason: string; message: string }[]) =>
  rows.map((r) => `${r.resource} ${r.result} ${r.reason} ${r.message}`);

t.test('ValidatingAdmissionPolicy: bound by its binding, matched with isValidatingAdmissionPolicy', async (t) => {
  const report = await runTestFile(fixture('vap'));
  t.equal(report.error, undefined);
  t.same(report.warnings, []);
  t.same(summary(report.rows), [
    'Deployment/small Pass Ok ',
    'Deployment/big Pass Ok at most 3 replicas',
    "Deployment/big-system Pass Ok match conditions aren't met",
    // Not selected by the binding's objectSelector: no result, so the expectation is excluded.
    'Deployment/big-dev Pass Excluded Excluded',
  ]);
});

t.test('CEL PolicyException from the Test file exempts the ValidatingPolicy', async (t) => {
  const report = await runTestFile(fixture('cel-exceptions'));
  t.equal(report.error, undefined);
  t.same(summary(report.rows), [
    'Pod/kube-system/cni Pass Ok rule is skipped due to policy exception: kube-system/allow-system',
    'Pod/default/app Pass Ok the label team is required',
    'Pod/default/labelled Pass Ok success',
  ]);
});

const vap = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: no-latest}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  validations:
  - expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: no-latest-warn}
spec: {policyName: no-latest, validationActions: [Warn, Audit]}
`;

t.test('the loader keeps VAPs as policies, bindings aside; compilePolicies binds them', async (t) => {
  // The webhook leaves VAPs to the API server: only the CLI loads them as policies.
  t.same(parsePolicyText(vap, 'vap.yaml').policies, []);
  const loaded = parsePolicyText(vap, 'vap.yaml', { admissionPolicies: true });
  t.same(loaded.errors, []);
  t.same(loaded.policies.map((p) => `${p.kind}/${p.name}`), ['ValidatingAdmissionPolicy/no-latest']);
  t.same(loaded.bindings.map((b) => b.metadata?.name), ['no-latest-warn']);
  const bound = compilePolicies(loaded.policies, { bindings: loaded.bindings });
  t.equal(bound.policies[0]!.cel?.type, 'validating');
  t.equal(bound.policies[0]!.validationFailureAction, 'Audit');
  // Without bindings (the one-argument signature) the CLI default is Deny.
  t.equal(compilePolicies(loaded.policies).policies[0]!.validationFailureAction, 'Enforce');
  const cel = bound.policies[0]!.cel!;
  if (cel.type !== 'validating') throw new Error('expected a validating runtime');
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'nginx:latest' }] } };
  t.same(cel.policy.evaluate({ operation: 'CREATE', object: pod, oldObject: null, kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'default', userInfo: {}, roles: [], clusterRoles: [] }),
    [{ rule: 'no-latest', status: 'fail', message: "failed expression: object.spec.containers.all(c, !c.image.endsWith(':latest'))" }]);
});

t.test('CEL PolicyExceptions in policy files are collected and compiled in', async (t) => {
  const text = `apiVersion: policies.kyverno.io/v1alpha1
kind: PolicyException
metadata: {name: ex, namespace: team}
spec:
  policyRefs: [{name: vp, kind: ValidatingPolicy}]
  matchConditions: [{name: any, expression: 'true'}]
---
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: vp}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
  validations: [{expression: 'false', message: never}]
`;
  const loaded = parsePolicyText(text, 'p.yaml');
  t.same(loaded.celExceptions.map((e) => e.metadata?.name), ['ex']);
  t.same(loaded.others, []);
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' } };
  const input = { operation: 'CREATE' as const, object: cm, oldObject: null, kind: { group: '', version: 'v1', kind: 'ConfigMap' }, namespace: 'default', userInfo: {}, roles: [], clusterRoles: [] };
  const run = async (exceptions: typeof loaded.celExceptions) => {
    const cel = compilePolicies(loaded.policies, { exceptions }).policies[0]!.cel!;
    return cel.type === 'validating' ? (await cel.policy.evaluate(input)).map((r) => `${r.rule} ${r.status}`) : [];
  };
  t.same(await run([]), ['validation fail']);
  t.same(await run(loaded.celExceptions), ['exception skip']);
});

t.test('ImageValidatingPolicy: evaluated with isImageValidatingPolicy; rule name is the policy name', async (t) => {
  const report = await runTestFile(fixture('ivpol'));
  t.equal(report.error, undefined);
  t.same(summary(report.rows), [
    // The policy's key cannot verify the digest-pinned image: 0 attestors verified it.
    'Pod/default/app Pass Ok failed to verify image signature',
    // No image matches matchImageReferences: nothing to verify, nothing required.
    'Pod/default/other Pass Ok success',
    'ConfigMap/default/cfg Pass Excluded Excluded',
  ]);
});
