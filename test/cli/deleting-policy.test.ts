/**
 * `portcullis test` and `portcullis apply` with DeletingPolicies end to end
 * (real loader, compiler and engine): rows matched with `isDeletingPolicy`,
 * pass when a cleanup run would delete the resource, fail when it would keep
 * it, excluded when the policy does not cover it — as kyverno test reports them.
 */
import t from 'tap';
import { join } from 'node:path';
import { runTestFile } from '../../src/cli/test/run.ts';
import { runApplyCommand } from '../../src/cli/apply.ts';
import { capture } from './support/fake-deps.ts';

const policies = `apiVersion: policies.kyverno.io/v1beta1
kind: DeletingPolicy
metadata:
  name: delete-by-name
spec:
  schedule: "*/1 * * * *"
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      resources: [pods]
  variables:
  - name: ns
    expression: object.metadata.namespace
  conditions:
  - name: in-test
    expression: variables.ns == "test"
  - name: by-name
    expression: object.metadata.name == "test-nginx-1"
---
apiVersion: policies.kyverno.io/v1alpha1
kind: DeletingPolicy
metadata:
  name: cleanup-test-namespaces
spec:
  schedule: 0 1 * * *
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      resources: [pods]
  conditions:
  - name: is-test-namespace
    expression: has(namespaceObject.metadata.labels) && namespaceObject.metadata.labels.?environment.orValue('') == 'test'
  - name: cleanup-enabled
    expression: resource.Get("v1", "configmaps", "default", "cleanup").data["enabled"] == "true"
---
apiVersion: policies.kyverno.io/v1
kind: NamespacedDeletingPolicy
metadata:
  name: delete-pods
  namespace: team-a
spec:
  schedule: "*/5 * * * *"
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      resources: [pods]
---
apiVersion: policies.kyverno.io/v1
kind: DeletingPolicy
metadata:
  name: broken
spec:
  schedule: "*/5 * * * *"
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      resources: [pods]
  conditions:
  - name: tier
    expression: object.metadata.labels.tier == "temp"
`;

const pod = (name: string, namespace: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}}
spec: {containers: [{name: nginx, image: nginx:latest}]}
`;
const resources = [pod('test-nginx-1', 'test'), pod('test-nginx-2', 'test'), pod('pod-in-team-a', 'team-a'),
  'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: test}\n'].join('---\n');

const row = (policy: string, kind: string, resource: string, result: string) =>
  `- {isDeletingPolicy: true, policy: ${policy}, kind: ${kind}, resources: [${resource}], result: ${result}}`;

const testFile = `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: dpol
policies: [policies.yaml]
resources: [resources.yaml]
exceptions: [exception.yaml]
variables: values.yaml
context: context.yaml
results:
${row('delete-by-name', 'Pod', 'test/test-nginx-1', 'pass')}
${row('delete-by-name', 'Pod', 'test/test-nginx-2', 'fail')}
${row('delete-by-name', 'Pod', 'test/test-nginx-2', 'pass')}
${row('delete-by-name', 'ConfigMap', 'settings', 'skip')}
${row('cleanup-test-namespaces', 'Pod', 'test/test-nginx-2', 'pass')}
${row('cleanup-test-namespaces', 'Pod', 'test/test-nginx-1', 'fail')}
${row('cleanup-test-namespaces', 'Pod', 'team-a/pod-in-team-a', 'fail')}
${row('team-a/delete-pods', 'Pod', 'pod-in-team-a', 'pass')}
${row('team-a/delete-pods', 'Pod', 'test-nginx-1', 'skip')}
${row('broken', 'Pod', 'test-nginx-1', 'error')}
`;

const files = {
  'kyverno-test.yaml': testFile,
  'policies.yaml': policies,
  'resources.yaml': resources,
  // A CEL PolicyException naming a DeletingPolicy spares what it matches.
  'exception.yaml': `apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {name: keep-first, namespace: test}
spec:
  policyRefs: [{name: cleanup-test-namespaces, kind: DeletingPolicy}]
  matchConditions: [{name: first, expression: "object.metadata.name == 'test-nginx-1'"}]
`,
  // namespaceObject comes from the Values file's namespaces.
  'values.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Value
metadata: {name: values}
namespaces:
- apiVersion: v1
  kind: Namespace
  metadata: {name: test, labels: {environment: test}}
- apiVersion: v1
  kind: Namespace
  metadata: {name: team-a, labels: {environment: prod}}
`,
  // resource.Get reads the Test's Context file.
  'context.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Context
metadata: {name: ctx}
spec:
  resources:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: cleanup, namespace: default}
    data: {enabled: "true"}
`,
};

t.test('DeletingPolicy rows: pass when the resource would be deleted, fail when kept, excluded when not covered', async (t) => {
  const dir = t.testdir(files);
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(report.warnings, []);
  t.same(report.rows.map((r) => [r.policy, r.resource, r.result, r.reason, r.message]), [
    ['delete-by-name', 'Pod/test/test-nginx-1', 'Pass', 'Ok', 'resource matched'],
    ['delete-by-name', 'Pod/test/test-nginx-2', 'Pass', 'Ok', 'resource did not match'],
    ['delete-by-name', 'Pod/test/test-nginx-2', 'Fail', 'Want pass, got fail', 'resource did not match'],
    // matchConstraints do not cover ConfigMaps: no rule, the row is excluded (a pass, counted as skip).
    ['delete-by-name', 'ConfigMap/settings', 'Pass', 'Excluded', 'Excluded'],
    ['cleanup-test-namespaces', 'Pod/test/test-nginx-2', 'Pass', 'Ok', 'resource matched'],
    // Spared by the PolicyException.
    ['cleanup-test-namespaces', 'Pod/test/test-nginx-1', 'Pass', 'Ok', 'resource did not match'],
    ['cleanup-test-namespaces', 'Pod/team-a/pod-in-team-a', 'Pass', 'Ok', 'resource did not match'],
    ['team-a/delete-pods', 'Pod/pod-in-team-a', 'Pass', 'Ok', 'resource matched'],
    // A NamespacedDeletingPolicy does not cover other namespaces.
    ['team-a/delete-pods', 'Pod/test-nginx-1', 'Pass', 'Excluded', 'Excluded'],
    ['broken', 'Pod/test-nginx-1', 'Pass', 'Ok', 'no such key: labels'],
  ]);
  t.same(report.rows.map((r) => r.count), ['pass', 'pass', 'fail', 'skip', 'pass', 'pass', 'pass', 'pass', 'skip', 'pass']);
});

t.test('portcullis apply reports what each DeletingPolicy would delete', async (t) => {
  const dir = t.testdir({ 'policies.yaml': policies.split('---\n')[0]!, 'resources.yaml': resources });
  const out = capture();
  const code = await runApplyCommand([join(dir, 'policies.yaml'), '--resource', join(dir, 'resources.yaml'), '--detailed-results'], out);
  const text = out.text();
  t.match(text, /policy delete-by-name -> resource test\/Pod\/test-nginx-2 failed:\n1\. delete-by-name: resource did not match/);
  t.match(text, /passed:\n {2}delete-by-name\/delete-by-name -> test\/Pod\/test-nginx-1\n/);
  t.notMatch(text, /ConfigMap\/settings/, 'not covered: no result');
  t.match(text, /pass: 1, fail: 2, warn: 0, error: 0, skip: 0/);
  t.equal(code, 1, 'failures count as in kyverno apply');
});
