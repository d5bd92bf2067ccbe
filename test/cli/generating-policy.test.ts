/**
 * `portcullis test` with GeneratingPolicies end to end (real loader, compiler and
 * engine): rows matched with `isGeneratingPolicy`, the generated object compared
 * with `generatedResource` as kyverno test compares it.
 */
import t from 'tap';
import { join } from 'node:path';
import { runTestFile } from '../../src/cli/test/run.ts';

const policies = `apiVersion: policies.kyverno.io/v1alpha1
kind: GeneratingPolicy
metadata:
  name: add-netpol
spec:
  evaluation:
    synchronize:
      enabled: true
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [namespaces]
  matchConditions:
  - name: not-opted-out
    expression: "object.metadata.?labels.skip.orValue('') != 'true'"
  variables:
  - name: targetNs
    expression: object.metadata.name
  generate:
  - expression: >-
      generator.Apply(variables.targetNs, [{
        "kind": dyn("NetworkPolicy"), "apiVersion": dyn("networking.k8s.io/v1"),
        "metadata": dyn({"name": "default-deny"}),
        "spec": dyn({"podSelector": dyn({}), "policyTypes": dyn(["Ingress", "Egress"])})
      }])
---
apiVersion: policies.kyverno.io/v1beta1
kind: GeneratingPolicy
metadata:
  name: add-config
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [namespaces]
  generate:
  - template:
      interpolate: cel
      value: |
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: (( object.metadata.name ))-settings
          namespace: (( object.metadata.name ))
        data:
          owner: team-(( object.metadata.?labels.team.orValue('none') ))
---
apiVersion: policies.kyverno.io/v1
kind: GeneratingPolicy
metadata:
  name: clone-pull-secret
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [namespaces]
  variables:
  - name: source
    expression: resource.Get("v1", "secrets", "default", "regcred")
  generate:
  - expression: generator.Apply(object.metadata.name, [variables.source])
---
apiVersion: policies.kyverno.io/v1
kind: GeneratingPolicy
metadata:
  name: broken
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [namespaces]
  generate:
  - expression: generator.Apply(object.metadata.name, [object.metadata.missing])
`;

const resources = `apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels:
    team: a
---
apiVersion: v1
kind: Namespace
metadata:
  name: opted-out
  labels:
    skip: "true"
`;

const netpol = (policyTypes: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: team-a
  labels:
    # Kyverno's CLI compares with its generate labels fixed up: this one makes no difference.
    app.kubernetes.io/managed-by: kyverno
spec:
  podSelector: {}
  policyTypes: ${policyTypes}
`;

const testFile = `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: gpol
policies: [policies.yaml]
resources: [resources.yaml]
context: context.yaml
results:
- policy: add-netpol
  isGeneratingPolicy: true
  kind: Namespace
  resources: [team-a]
  result: pass
  generatedResource: netpol.yaml
- policy: add-netpol
  isGeneratingPolicy: true
  kind: Namespace
  resources: [team-a]
  result: pass
  generatedResource: netpol-ingress-only.yaml
- policy: add-netpol
  isGeneratingPolicy: true
  kind: Namespace
  resources: [opted-out]
  result: skip
- policy: add-config
  isGeneratingPolicy: true
  kind: Namespace
  resources: [team-a]
  result: pass
  generatedResource: config.yaml
- policy: clone-pull-secret
  isGeneratingPolicy: true
  kind: Namespace
  resources: [team-a]
  result: pass
  generatedResource: secret.yaml
- policy: broken
  isGeneratingPolicy: true
  kind: Namespace
  resources: [team-a]
  result: error
`;

t.test('GeneratingPolicy rows: generated objects compared with generatedResource', async (t) => {
  const dir = t.testdir({
    'kyverno-test.yaml': testFile,
    'policies.yaml': policies,
    'resources.yaml': resources,
    'netpol.yaml': netpol('[Ingress, Egress]'),
    'netpol-ingress-only.yaml': netpol('[Ingress]'),
    'config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: team-a-settings, namespace: team-a}\ndata: {owner: team-a}\n',
    // resource.Get reads the Test's Context file; the clone loses uid, resourceVersion and annotations.
    'context.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Context
metadata: {name: ctx}
spec:
  resources:
  - apiVersion: v1
    kind: Secret
    type: kubernetes.io/dockerconfigjson
    metadata: {name: regcred, namespace: default, uid: 1234, resourceVersion: "9", annotations: {note: x}}
    data: {.dockerconfigjson: e30=}
`,
    'secret.yaml': 'apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\nmetadata: {name: regcred, namespace: team-a}\ndata: {.dockerconfigjson: e30=}\n',
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(report.warnings, []);
  t.same(report.rows.map((r) => [r.policy, r.resource, r.result, r.reason]), [
    ['add-netpol', 'Namespace/team-a', 'Pass', 'Ok'],
    ['add-netpol', 'Namespace/team-a', 'Fail', 'Resource diff'],
    // matchConditions not met: the policy reports no rule, so the row is excluded (a pass).
    ['add-netpol', 'Namespace/opted-out', 'Pass', 'Excluded'],
    ['add-config', 'Namespace/team-a', 'Pass', 'Ok'],
    ['clone-pull-secret', 'Namespace/team-a', 'Pass', 'Ok'],
    ['broken', 'Namespace/team-a', 'Pass', 'Ok'],
  ]);
  t.equal(report.rows[0]!.message, 'policy evaluated successfully');
  t.match(report.rows[1]!.message, /Generated resource didn't match the generated resource in the test result: \/spec\/policyTypes/);
  t.equal(report.rows[5]!.message, 'failed to evaluate policy: no such key: missing');
});
