/** `portcullis test` / `apply` with Kubernetes MutatingAdmissionPolicies, bindings and paramResources (test/fixtures/map). */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { runApplyCommand } from '../../src/cli/apply.ts';
import { readTestFile } from '../../src/cli/test/discover.ts';
import { runTestCommand, runTestSpec } from '../../src/cli/test/index.ts';
import { parseTest } from '../../src/cli/test/spec.ts';
import { compilePolicies } from '../../src/policy/compile.ts';
import { parsePolicyText } from '../../src/policy/load.ts';

const dir = fileURLToPath(new URL('../fixtures/map/', import.meta.url));
const testFile = `${dir}kyverno-test.yaml`;
const summary = (rows: { policy: string; resource: string; result: string; reason: string; message: string }[]) =>
  rows.map((r) => `${r.policy} ${r.resource} ${r.result} ${r.reason} ${r.message}`);
const sink = () => {
  let text = '';
  return { out: { write: (s: string) => { text += s; return true; } }, text: () => text };
};

t.test('the Test suite passes: patched resources, skips, exclusion by binding, params errors', async (t) => {
  const spec = await readTestFile(testFile);
  t.same(spec.paramResources, ['params.yaml']);
  const report = await runTestSpec(testFile, spec);
  t.equal(report.error, undefined);
  t.same(report.warnings, []);
  t.equal(report.policyCount, 4);
  t.same(summary(report.rows), [
    'add-team-label ConfigMap/plain Pass Ok ',
    'add-team-label ConfigMap/opted-out Pass Ok match conditions not met',
    'add-team-label ConfigMap/already Pass Ok mutation had no effect',
    'scale-from-params Deployment/prod/api Pass Ok ',
    // The binding selects env=prod namespaces only: no response, the expectation is excluded.
    'scale-from-params Deployment/dev/api Pass Excluded Excluded',
    'label-from-selected-params Deployment/prod/api Pass Ok ',
    'label-from-selected-params Deployment/dev/api Pass Ok ',
    'needs-missing-params Secret/token Pass Ok failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction',
  ]);
  const { out, text } = sink();
  t.equal(await runTestCommand([dir], out), 0, text());
});

t.test('patchedResources are compared: a wrong expected resource fails the row', async (t) => {
  const spec = await readTestFile(testFile);
  // scale-from-params' result is compared with the resource after labelling: replicas match, labels do not.
  const wrong = { ...spec, results: spec.results.filter((r) => r.policy === 'scale-from-params' && r.patchedResource !== '').map((r) => ({ ...r, patchedResource: 'patched-labels.yaml' })) };
  const report = await runTestSpec(testFile, wrong);
  t.equal(report.rows.length, 1);
  t.equal(report.rows[0]!.result, 'Fail');
  t.equal(report.rows[0]!.reason, 'Resource diff');
  t.match(report.rows[0]!.message, /Patched resource didn't match/);
});

t.test('without paramResources the bindings find no params (parameterNotFoundAction defaults to Deny)', async (t) => {
  const spec = await readTestFile(testFile);
  const report = await runTestSpec(testFile, { ...spec, paramResources: [] });
  const prod = report.rows.filter((r) => r.resource === 'Deployment/prod/api');
  t.same(prod.map((r) => `${r.policy} ${r.actual} ${r.result}`), ['scale-from-params error Fail', 'label-from-selected-params error Fail']);
  // Those rows expect a patched resource: the unmutated one differs from it.
  t.same(prod.map((r) => r.reason), ['Resource diff', 'Resource diff']);
  const secret = report.rows.find((r) => r.resource === 'Secret/token')!;
  t.equal(secret.result, 'Pass');
});

t.test('the Test file field isMutatingAdmissionPolicy matches the policy response without a rule name', async (t) => {
  const spec = parseTest({
    kind: 'Test', metadata: { name: 'x' }, policies: ['policy.yaml'], resources: ['resources.yaml'],
    results: [{ isMutatingAdmissionPolicy: true, policy: 'add-team-label', kind: 'ConfigMap', resources: ['already'], result: 'pass' }],
  });
  t.equal(spec.results[0]!.anyRule, true);
  // `paramResources` is read; `userInfo` is accepted for `userinfo` (Kyverno decodes Test files case-insensitively).
  const other = parseTest({ kind: 'Test', metadata: { name: 'y' }, userInfo: 'user.yaml', paramResources: ['p.yaml'], results: [] });
  t.equal(other.userinfo, 'user.yaml');
  t.same(other.paramResources, ['p.yaml']);
  const report = await runTestSpec(testFile, spec);
  t.same(summary(report.rows), ['add-team-label ConfigMap/already Fail Want pass, got skip mutation had no effect']);
});

t.test('the loader keeps MAPs as policies (CLI only) and their bindings aside', async (t) => {
  const text = `apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: add-label}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration: {expression: 'Object{metadata: Object.metadata{labels: {"a": "b"}}}'}
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: add-label-binding}
spec:
  policyName: add-label
  matchResources: {objectSelector: {matchLabels: {mutate: "yes"}}}
`;
  t.same(parsePolicyText(text, 'map.yaml').policies, []);
  const loaded = parsePolicyText(text, 'map.yaml', { admissionPolicies: true });
  t.same(loaded.errors, []);
  t.same(loaded.policies.map((p) => `${p.kind}/${p.name}`), ['MutatingAdmissionPolicy/add-label']);
  t.same(loaded.bindings.map((b) => `${b.kind}/${b.metadata?.name}`), ['MutatingAdmissionPolicyBinding/add-label-binding']);
  const compiled = compilePolicies(loaded.policies, { bindings: loaded.bindings });
  t.same(compiled.errors, []);
  const cel = compiled.policies[0]!.cel!;
  if (cel.type !== 'mutating') throw new Error('expected a mutating runtime');
  const pod = (labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', labels }, spec: {} });
  const input = (labels: Record<string, string>) => ({ operation: 'CREATE' as const, object: pod(labels), oldObject: null, kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'default', userInfo: {}, roles: [], clusterRoles: [] });
  t.same(cel.policy.evaluate(input({ mutate: 'yes' })).patched?.metadata?.labels, { mutate: 'yes', a: 'b' });
  t.same(cel.policy.evaluate(input({ mutate: 'no' })).results, []);
  // A CEL compile error is reported against the policy, not thrown.
  const broken = parsePolicyText(text.replace('Object.metadata{labels', 'Object.metadata{labels:: '), 'map.yaml', { admissionPolicies: true });
  t.equal(compilePolicies(broken.policies).errors.length, 1);
});

t.test('portcullis apply mutates with the MAP and prints the patched resource', async (t) => {
  const { out, text } = sink();
  const code = await runApplyCommand([`${dir}policy.yaml`, '--resource', `${dir}resources.yaml`, '--values-file', `${dir}values.yaml`], out);
  // needs-missing-params errors (no params given to apply): exit code 1.
  t.equal(code, 1);
  t.match(text(), /mutate policy add-team-label applied to default\/ConfigMap\/plain:[\s\S]*team: platform/);
  t.match(text(), /policy needs-missing-params -> resource default\/Secret\/token failed:\n1\. needs-missing-params: \[error\] failed to configure binding: no params found/);
});
