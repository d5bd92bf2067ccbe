/**
 * `portcullis test` end to end (real loader, compiler and engine) with
 * mutate-existing rules (`mutate.targets`) and the Test's `targetResources`:
 * the rule patches the existing targets a trigger selects, never the trigger,
 * and `patchedResources` rows are checked against the patched targets, as
 * `kyverno test` does.
 */
import t from 'tap';
import { join } from 'node:path';
import { runTestFile } from '../../src/cli/test/run.ts';
import type { ResultRow } from '../../src/cli/test/match.ts';

const rowsOf = (rows: ResultRow[]) => rows.map((r) => ({ resource: r.resource, result: r.result, reason: r.reason }));

const secret = (name: string, namespace: string, labels?: Record<string, string>) => `apiVersion: v1
kind: Secret
metadata:
  name: ${name}
  namespace: ${namespace}${labels ? `\n  labels:\n${Object.entries(labels).map(([k, v]) => `    ${k}: "${v}"`).join('\n')}` : ''}
`;

const trigger = `apiVersion: v1
kind: ConfigMap
metadata:
  name: dictionary-1
  namespace: staging
data:
  foo: bar
`;

// Kyverno's test/cli/test-mutate/mutate-existing policy.
const fixedTargetPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: mutate-existing-secret
spec:
  rules:
  - name: mutate-secret-on-configmap-create
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          names: [dictionary-1]
          namespaces: [staging]
    mutate:
      mutateExistingOnPolicyUpdate: false
      patchStrategicMerge:
        metadata:
          labels:
            foo: bar
      targets:
      - apiVersion: v1
        kind: Secret
        name: secret-1
        namespace: staging
`;

const test = (results: string, targets = '[raw-secret.yaml]') => `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: mutate-existing
policies: [policy.yaml]
resources: [trigger-cm.yaml]
targetResources: ${targets}
results:
${results}`;

t.test('a trigger mutates the matching target: rows naming it compare the patched target; the trigger and other targets are left alone', async (t) => {
  const dir = t.testdir({
    'policy.yaml': fixedTargetPolicy,
    'trigger-cm.yaml': trigger,
    // secret-1 in staging is the target; secret-1 in prod and secret-2 in staging are not.
    'raw-secret.yaml': `${secret('secret-1', 'staging')}---\n${secret('secret-1', 'prod')}---\n${secret('secret-2', 'staging')}`,
    'mutated-secret.yaml': secret('secret-1', 'staging', { foo: 'bar' }),
    'unchanged-trigger.yaml': `${trigger}---\n${secret('secret-1', 'staging', { foo: 'bar' })}`,
    'wrong.yaml': secret('secret-1', 'staging', { otherlabel: 'bar' }),
    'kyverno-test.yaml': test(`- {policy: mutate-existing-secret, rule: mutate-secret-on-configmap-create, resources: [secret-1], patchedResources: mutated-secret.yaml, result: pass}
- {policy: mutate-existing-secret, rule: mutate-secret-on-configmap-create, resources: [staging/secret-1], patchedResource: mutated-secret.yaml, result: pass}
- {policy: mutate-existing-secret, rule: mutate-secret-on-configmap-create, resources: [], patchedResources: unchanged-trigger.yaml, result: pass}
- {policy: mutate-existing-secret, rule: mutate-secret-on-configmap-create, resources: [staging/secret-1], patchedResources: wrong.yaml, result: pass}
- {policy: mutate-existing-secret, rule: mutate-secret-on-configmap-create, resources: [prod/secret-1], patchedResources: mutated-secret.yaml, result: pass}
- {policy: mutate-existing-secret, rule: mutate-secret-on-configmap-create, resources: [secret-2], result: pass}
`, '[raw-secret.yaml]'),
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(report.warnings, [], 'targetResources are used, not ignored');
  t.same(rowsOf(report.rows), [
    { resource: 'secret-1', result: 'Pass', reason: 'Ok' },
    { resource: 'staging/secret-1', result: 'Pass', reason: 'Ok' },
    // No resource named: the trigger (unchanged: it equals its copy in the file) and the one patched target.
    { resource: 'staging/dictionary-1', result: 'Pass', reason: 'Ok' },
    { resource: 'staging/secret-1', result: 'Pass', reason: 'Ok' },
    { resource: 'staging/secret-1', result: 'Fail', reason: 'Resource diff' },
    // Targets the rule did not select were not patched: nothing reports on them.
    { resource: 'prod/secret-1', result: 'Fail', reason: 'Not found' },
    { resource: 'secret-2', result: 'Fail', reason: 'Not found' },
  ]);
  t.equal(report.rows[0]!.message, 'mutated Secret/secret-1 in namespace staging');
  t.match(report.rows[4]!.message, /Patched resource didn't match.*\/metadata\/labels\/foo: only in actual: "bar"/);
});

t.test('targets named by variables of the trigger, narrowed by a selector and per-target preconditions; `target` in the patch', async (t) => {
  const dir = t.testdir({
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: label-secrets
spec:
  rules:
  - name: copy-owner
    match:
      any:
      - resources:
          kinds: [ConfigMap]
    mutate:
      targets:
      - apiVersion: v1
        kind: Secret
        namespace: "{{request.object.metadata.namespace}}"
        name: "app-*"
        selector:
          matchLabels:
            managed: "yes"
        context:
        - name: suffix
          variable:
            value: "{{target.metadata.name}}"
        preconditions:
          all:
          - key: "{{target.metadata.labels.frozen || ''}}"
            operator: NotEquals
            value: "true"
      patchStrategicMerge:
        metadata:
          labels:
            owner: "{{request.object.metadata.name}}"
            copy: "{{suffix}}"
`,
    'trigger-cm.yaml': trigger,
    'targets.yaml': [
      secret('app-a', 'staging', { managed: 'yes' }),
      secret('app-b', 'staging', { managed: 'yes', frozen: 'true' }),
      secret('app-c', 'staging', { managed: 'no' }),
      secret('app-a', 'prod', { managed: 'yes' }),
      secret('db', 'staging', { managed: 'yes' }),
    ].join('---\n'),
    'expected.yaml': secret('app-a', 'staging', { managed: 'yes', owner: 'dictionary-1', copy: 'app-a' }),
    'kyverno-test.yaml': test(`- {policy: label-secrets, rule: copy-owner, resources: [staging/app-a], patchedResources: expected.yaml, result: pass}
- {policy: label-secrets, rule: copy-owner, resources: [prod/app-a], patchedResources: expected.yaml, result: pass}
- {policy: label-secrets, rule: copy-owner, resources: [dictionary-1], kind: ConfigMap, result: skip}
`, '[targets.yaml]'),
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(rowsOf(report.rows), [
    { resource: 'staging/app-a', result: 'Pass', reason: 'Ok' },
    // In another namespace than the trigger's: not a target.
    { resource: 'prod/app-a', result: 'Fail', reason: 'Not found' },
    // The trigger's responses: app-a patched (pass), app-b skipped by the target preconditions.
    { resource: 'ConfigMap/dictionary-1', result: 'Fail', reason: 'Want skip, got pass' },
    { resource: 'ConfigMap/dictionary-1', result: 'Pass', reason: 'Ok' },
  ]);
  t.match(report.rows[3]!.message, /^preconditions not met/);
});

t.test('a namespaced Policy reaches targets in its own namespace only', async (t) => {
  const dir = t.testdir({
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: Policy
metadata:
  name: mutate-secrets
  namespace: staging
spec:
  rules:
  - name: label
    match:
      any:
      - resources:
          kinds: [ConfigMap]
    mutate:
      targets:
      - {apiVersion: v1, kind: Secret, name: secret-1, namespace: prod}
      patchStrategicMerge:
        metadata:
          labels:
            foo: bar
`,
    'trigger-cm.yaml': trigger,
    'raw-secret.yaml': `${secret('secret-1', 'staging')}---\n${secret('secret-1', 'prod')}`,
    'mutated.yaml': `${secret('secret-1', 'staging', { foo: 'bar' })}---\n${secret('secret-1', 'prod', { foo: 'bar' })}`,
    'kyverno-test.yaml': test(`- {policy: staging/mutate-secrets, rule: label, resources: [staging/secret-1, prod/secret-1], patchedResources: mutated.yaml, result: pass}
`),
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(rowsOf(report.rows), [
    { resource: 'staging/secret-1', result: 'Pass', reason: 'Ok' },
    { resource: 'prod/secret-1', result: 'Fail', reason: 'Not found' },
  ]);
});

t.test('Kyverno\'s same-name fixture: a target without namespace matches the name in every namespace', async (t) => {
  const dir = t.testdir({
    'policy.yaml': fixedTargetPolicy.replace('        namespace: staging\n', ''),
    'trigger-cm.yaml': trigger,
    'secret-1.yaml': secret('secret-1', 'staging'),
    'secret-2.yaml': secret('secret-1', 'prod'),
    'mutated-resources.yaml': `${secret('secret-1', 'staging', { foo: 'bar' })}---\n${secret('secret-1', 'prod', { foo: 'bar' })}`,
    'kyverno-test.yaml': test(`- {kind: "", patchedResource: mutated-resources.yaml, policy: mutate-existing-secret, resources: [staging/secret-1, prod/secret-1], result: pass, rule: mutate-secret-on-configmap-create}
`, '[secret-1.yaml, secret-2.yaml]'),
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(rowsOf(report.rows), [
    { resource: 'staging/secret-1', result: 'Pass', reason: 'Ok' },
    { resource: 'prod/secret-1', result: 'Pass', reason: 'Ok' },
  ]);
});

t.test('an unreadable targetResources file fails the Test', async (t) => {
  const dir = t.testdir({
    'policy.yaml': fixedTargetPolicy,
    'trigger-cm.yaml': trigger,
    'kyverno-test.yaml': test('- {policy: mutate-existing-secret, rule: mutate-secret-on-configmap-create, resources: [secret-1], result: pass}\n', '[missing.yaml]'),
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.match(report.error, /failed to load target resources/);
});
