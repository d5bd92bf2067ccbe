/**
 * End to end: `portcullis test` with the real loader, compiler and engine on
 * small Kyverno policies. Every expectation below is what `kyverno test`
 * reports for the same files (Kyverno semantics, not Portcullis output).
 */
import t from 'tap';
import { runTestCommand } from '../../src/cli/test/command.ts';
import { capture } from './support/fake-deps.ts';

type Row = { RESOURCE: string; RULE: string; RESULT: string; REASON: string; expected: string; actual: string | null };

async function runSuite(t: { testdir(f: Record<string, string>): string }, files: Record<string, string>) {
  const dir = t.testdir(files);
  const out = capture();
  const code = await runTestCommand([dir, '--json', '--detailed-results'], out);
  const doc = JSON.parse(out.text()) as { tests: { error: string | null; warnings: string[]; results: Row[] }[] };
  return { code, test: doc.tests[0]!, rows: doc.tests[0]!.results };
}

const test = (results: string, extra = '') => `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: e2e
policies: [policy.yaml]
resources: [resources.yaml]
${extra}
results:
${results}`;

const pods = `apiVersion: v1
kind: Pod
metadata:
  name: good
  labels:
    app: web
spec:
  containers:
  - name: c
    image: nginx
---
apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
  - name: c
    image: nginx
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dep-bad
spec:
  selector:
    matchLabels:
      x: y
  template:
    metadata:
      labels:
        x: y
    spec:
      containers:
      - name: c
        image: nginx
---
apiVersion: v1
kind: Service
metadata:
  name: svc
spec:
  ports:
  - port: 80
`;

t.test('validate pattern: pass, fail, autogen for Deployment, non-matching kind excluded', async (t) => {
  const { code, rows, test: tc } = await runSuite(t, {
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-app-label
spec:
  validationFailureAction: Enforce
  rules:
  - name: check-app
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: "label app is required"
      pattern:
        metadata:
          labels:
            app: "?*"
`,
    'resources.yaml': pods,
    'kyverno-test.yaml': test(`- {policy: require-app-label, rule: check-app, kind: Pod, resources: [good], result: pass}
- {policy: require-app-label, rule: check-app, kind: Pod, resources: [bad], result: fail}
- {policy: require-app-label, rule: check-app, kind: Deployment, resources: [dep-bad], result: fail}
- {policy: require-app-label, rule: check-app, kind: Service, resources: [svc], result: pass}`),
  });
  t.equal(tc.error, null);
  t.same(rows.map((r) => [r.RESOURCE, r.RESULT, r.REASON]), [
    ['Pod/good', 'Pass', 'Ok'],
    ['Pod/bad', 'Pass', 'Ok'],
    ['Deployment/dep-bad', 'Pass', 'Ok'],
    ['Service/svc', 'Pass', 'Excluded'],
  ]);
  t.equal(code, 0);
});

t.test('mutate patchStrategicMerge: the patched resource equals the expected file', async (t) => {
  const { code, rows } = await runSuite(t, {
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: add-team
spec:
  rules:
  - name: add-team-label
    match:
      any:
      - resources:
          kinds: [Pod]
    mutate:
      patchStrategicMerge:
        metadata:
          labels:
            team: core
`,
    'resources.yaml': pods,
    'patched.yaml': `apiVersion: v1
kind: Pod
metadata:
  name: good
  namespace: default
  labels:
    app: web
    team: core
spec:
  containers:
  - name: c
    image: nginx
`,
    'kyverno-test.yaml': test(`- {policy: add-team, rule: add-team-label, kind: Pod, resources: [good], result: pass, patchedResources: patched.yaml}`),
  });
  t.same(rows.map((r) => [r.RESOURCE, r.RESULT, r.REASON]), [['Pod/good', 'Pass', 'Ok']]);
  t.equal(code, 0);
});

t.test('deny on request.operation set per resource by the Values file', async (t) => {
  const { code, rows } = await runSuite(t, {
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: block-updates
spec:
  validationFailureAction: Enforce
  background: false
  rules:
  - name: block-updates
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: "updates are not allowed"
      deny:
        conditions:
          any:
          - key: "{{ request.operation }}"
            operator: Equals
            value: UPDATE
`,
    'resources.yaml': pods,
    'values.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Values
policies:
- name: block-updates
  resources:
  - name: bad
    values:
      request.operation: UPDATE
`,
    'kyverno-test.yaml': test(`- {policy: block-updates, rule: block-updates, kind: Pod, resources: [good], result: pass}
- {policy: block-updates, rule: block-updates, kind: Pod, resources: [bad], result: fail}`, 'variables: values.yaml'),
  });
  t.same(rows.map((r) => [r.RESOURCE, r.actual, r.RESULT]), [['Pod/good', 'pass', 'Pass'], ['Pod/bad', 'fail', 'Pass']]);
  t.equal(code, 0);
});

t.test('preconditions not met: skip; rule values feed a context variable', async (t) => {
  const { code, rows } = await runSuite(t, {
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: allowed-images
spec:
  validationFailureAction: Enforce
  background: false
  rules:
  - name: only-labelled
    match:
      any:
      - resources:
          kinds: [Pod]
    context:
    - name: settings
      configMap:
        name: image-settings
        namespace: default
    preconditions:
      all:
      - key: "{{ request.object.metadata.labels.app || '' }}"
        operator: NotEquals
        value: ""
    validate:
      message: "image {{ request.object.spec.containers[0].image }} is not allowed"
      deny:
        conditions:
          any:
          - key: "{{ request.object.spec.containers[0].image }}"
            operator: AnyNotIn
            value: "{{ settings.data.allowed }}"
`,
    'resources.yaml': pods,
    'values.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Values
policies:
- name: allowed-images
  rules:
  - name: only-labelled
    values:
      settings.data.allowed: '["busybox"]'
`,
    'kyverno-test.yaml': test(`- {policy: allowed-images, rule: only-labelled, kind: Pod, resources: [good], result: fail}
- {policy: allowed-images, rule: only-labelled, kind: Pod, resources: [bad], result: skip}`, 'variables: values.yaml'),
  });
  t.same(rows.map((r) => [r.RESOURCE, r.actual, r.RESULT]), [['Pod/good', 'fail', 'Pass'], ['Pod/bad', 'skip', 'Pass']]);
  t.equal(code, 0);
});

t.test('namespaceSelector labels from the Values file and user info from the UserInfo file', async (t) => {
  const { code, rows } = await runSuite(t, {
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: prod-rules
spec:
  validationFailureAction: Enforce
  background: false
  rules:
  - name: prod-needs-app
    match:
      any:
      - resources:
          kinds: [Pod]
          namespaceSelector:
            matchLabels:
              env: prod
    exclude:
      any:
      - clusterRoles: [cluster-admin]
    validate:
      message: "label app is required in prod"
      pattern:
        metadata:
          labels:
            app: "?*"
`,
    'resources.yaml': `apiVersion: v1
kind: Pod
metadata:
  name: in-prod
  namespace: prod
spec:
  containers:
  - name: c
    image: nginx
---
apiVersion: v1
kind: Pod
metadata:
  name: in-dev
  namespace: dev
spec:
  containers:
  - name: c
    image: nginx
`,
    'values.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Values
namespaceSelector:
- name: prod
  labels:
    env: prod
- name: dev
  labels:
    env: dev
`,
    'user.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: UserInfo
clusterRoles: [view]
userInfo:
  username: alice
`,
    'kyverno-test.yaml': test(`- {policy: prod-rules, rule: prod-needs-app, kind: Pod, resources: [prod/in-prod], result: fail}
- {policy: prod-rules, rule: prod-needs-app, kind: Pod, resources: [dev/in-dev], result: skip}`, 'variables: values.yaml\nuserinfo: user.yaml'),
  });
  t.same(rows.map((r) => [r.RESOURCE, r.actual, r.RESULT, r.REASON]), [
    ['Pod/prod/in-prod', 'fail', 'Pass', 'Ok'],
    ['Pod/dev/in-dev', null, 'Pass', 'Excluded'],
  ]);
  t.equal(code, 0);
});

t.test('a wrong expectation makes the command fail with "Want X, got Y"', async (t) => {
  const { code, rows } = await runSuite(t, {
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-app-label
spec:
  validationFailureAction: Audit
  rules:
  - name: check-app
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: "label app is required"
      pattern:
        metadata:
          labels:
            app: "?*"
`,
    'resources.yaml': pods,
    'kyverno-test.yaml': test(`- {policy: require-app-label, rule: check-app, kind: Pod, resources: [bad], result: pass}`),
  });
  t.same(rows.map((r) => [r.RESULT, r.REASON]), [['Fail', 'Want pass, got fail']], 'an Audit failure is still `fail` in kyverno test');
  t.equal(code, 1);
});
