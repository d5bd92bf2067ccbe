import t from 'tap';
import { runTestCommand } from '../../../src/cli/test/command.ts';
import { capture, fakeDeps } from '../support/fake-deps.ts';

const policies = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-labels
spec:
  validationFailureAction: Enforce
  rules:
  - name: check-app
    kinds: [Pod]
    autogen: true
    requireLabel: app
---
kind: ClusterPolicy
metadata:
  name: add-team
spec:
  rules:
  - name: add-team-label
    kinds: [Pod]
    addLabel:
      team: core
`;

const resources = `apiVersion: v1
kind: Pod
metadata:
  name: good
  labels:
    app: web
---
apiVersion: v1
kind: Pod
metadata:
  name: bad
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dep-bad
  namespace: prod
---
apiVersion: v1
kind: Service
metadata:
  name: svc
`;

const patched = `apiVersion: v1
kind: Pod
metadata:
  name: good
  namespace: default
  labels:
    app: web
    team: core
`;

const passingTest = `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: basic
policies:
- ../policies.yaml
resources:
- ../resources.yaml
results:
- policy: require-labels
  rule: check-app
  kind: Pod
  resources: [good]
  result: pass
- policy: require-labels
  rule: check-app
  kind: Pod
  resources: [bad]
  result: fail
- policy: require-labels
  rule: check-app
  kind: Deployment
  resources: [prod/dep-bad]
  result: fail
- policy: require-labels
  rule: check-app
  kind: Service
  resources: [svc]
  result: skip
- policy: add-team
  rule: add-team-label
  kind: Pod
  resources: [good]
  patchedResources: ../patched.yaml
  result: pass
`;

const failingTest = `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: failing
policies:
- policies.yaml
resources:
- resources.yaml
results:
- policy: require-labels
  rule: check-app
  kind: Pod
  resources: [bad]
  result: pass
- policy: require-labels
  rule: check-app
  kind: Pod
  resources: [missing]
  result: pass
- policy: require-labels
  rule: check-app
  kind: Pod
  resources: [good]
  result: fail
`;

type Fixture = NonNullable<Parameters<typeof t.testdir>[0]>;

function suite(extra: Fixture = {}): Fixture {
  return {
    basic: {
      'policies.yaml': policies,
      'resources.yaml': resources,
      'patched.yaml': patched,
      '.kyverno-test': { 'kyverno-test.yaml': passingTest },
    },
    ...(extra as object),
  } as Fixture;
}

t.test('all expectations met: table, summary, exit 0', async (t) => {
  const dir = t.testdir(suite());
  const out = capture();
  const code = await runTestCommand([dir], out, fakeDeps);
  const text = out.text();
  t.equal(code, 0);
  t.match(text, /Loading test basic \( .*kyverno-test\.yaml \) \.\.\./);
  t.match(text, /Applying 2 policies to 4 resources \.\.\./);
  t.match(text, /│ ID │ POLICY\s+│ RULE\s+│ RESOURCE\s+│ RESULT │ REASON\s+│/);
  t.match(text, /│ 1 +│ require-labels │ check-app +│ Pod\/good +│ Pass +│ Ok +│/);
  t.match(text, /│ 3 +│ require-labels │ check-app +│ Deployment\/prod\/dep-bad +│ Pass +│ Ok +│/);
  t.match(text, /│ 4 +│ require-labels │ check-app +│ Service\/svc +│ Pass +│ Excluded +│/);
  t.match(text, /Test Summary: 5 tests passed and 0 tests failed/);
  t.notMatch(text, /MESSAGE/);
});

t.test('mismatches: "Want X, got Y" and "Not found" rows, exit 1', async (t) => {
  const dir = t.testdir({ 'policies.yaml': policies, 'resources.yaml': resources, 'kyverno-test.yaml': failingTest });
  const out = capture();
  const code = await runTestCommand([dir, '--detailed-results'], out, fakeDeps);
  const text = out.text();
  t.equal(code, 1);
  t.match(text, /Pod\/bad +│ Fail +│ Want pass, got fail +│ validation error: label app is required/);
  t.match(text, /Pod\/missing +│ Fail +│ Not found/);
  t.match(text, /Pod\/good +│ Fail +│ Want fail, got pass/);
  t.match(text, /Test Summary: 0 tests passed and 3 tests failed/);
  t.match(text, /│ ID │ POLICY .*│ MESSAGE/);
});

t.test('--fail-only prints only failing rows and the aggregated table', async (t) => {
  const dir = t.testdir(suite({ other: { 'policies.yaml': policies, 'resources.yaml': resources, 'kyverno-test.yaml': failingTest } }));
  const out = capture();
  const code = await runTestCommand([dir, '--fail-only'], out, fakeDeps);
  t.equal(code, 1);
  t.match(out.text(), /Test Summary: 3 out of 8 tests failed/);
  t.match(out.text(), /Aggregated Failed Test Cases : \n│────│/);
  t.notMatch(out.text(), /Excluded/, 'passing rows are not shown');
  t.equal(out.text().match(/Want pass, got fail/g)?.length, 1, 'failures are listed once, in the aggregated table');
  t.match(out.text(), /│ 1 +│ require-labels │ check-app │ Pod\/bad +│ Fail +│ Want pass, got fail │\n│ 2 +│/);
});

t.test('--json: one machine-readable document with every row', async (t) => {
  const dir = t.testdir(suite({ other: { 'policies.yaml': policies, 'resources.yaml': resources, 'kyverno-test.yaml': failingTest } }));
  const out = capture();
  const code = await runTestCommand([dir, '--json'], out, fakeDeps);
  t.equal(code, 1);
  const doc = JSON.parse(out.text());
  t.same(doc.summary, { passed: 5, failed: 3, skipped: 1, testErrors: 0 });
  t.equal(doc.tests.length, 2);
  t.same(doc.tests[0].results[0], { ID: 1, POLICY: 'require-labels', RULE: 'check-app', RESOURCE: 'Pod/good', RESULT: 'Pass', REASON: 'Ok', expected: 'pass', actual: 'pass', excluded: false });
  t.equal(doc.tests[1].results[1].REASON, 'Not found');
  t.equal(doc.tests[1].results[1].actual, null);
});

t.test('discovery: only files named like --file-name, recursively; a file path is taken directly', async (t) => {
  const dir = t.testdir(suite({ other: { 'policies.yaml': policies, 'resources.yaml': resources, 'my-test.yaml': failingTest } }));
  const out = capture();
  t.equal(await runTestCommand([dir], out, fakeDeps), 0, 'my-test.yaml is not a test file by default');
  const out2 = capture();
  t.equal(await runTestCommand([dir, '--file-name', 'my-test.yaml'], out2, fakeDeps), 1);
  t.match(out2.text(), /Loading test failing/);
  const out3 = capture();
  t.equal(await runTestCommand([`${dir}/other/my-test.yaml`], out3, fakeDeps), 1);
  t.match(out3.text(), /Loading test failing/);
});

t.test('--test-case-selector narrows the expectations', async (t) => {
  const dir = t.testdir({ 'policies.yaml': policies, 'resources.yaml': resources, 'kyverno-test.yaml': failingTest });
  const out = capture();
  const code = await runTestCommand([dir, '-t', 'policy=require-*, resource=missing'], out, fakeDeps);
  t.equal(code, 1);
  t.match(out.text(), /Test Summary: 0 tests passed and 1 tests failed/);
  const bad = capture();
  t.equal(await runTestCommand([dir, '-t', 'color=red'], bad, fakeDeps), 1);
  t.match(bad.text(), /invalid test case selector key "color"/);
});

t.test('values, per-resource operation and user info files are read relative to the Test', async (t) => {
  const dir = t.testdir({
    'policy.yaml': `kind: ClusterPolicy
metadata:
  name: block-updates
spec:
  rules:
  - name: no-update
    denyOperation: UPDATE
  - name: needs-var
    skipUnlessVariable: allowed
`,
    'resources.yaml': `apiVersion: v1
kind: Service
metadata:
  name: s1
---
apiVersion: v1
kind: Service
metadata:
  name: s2
`,
    tests: {
      'values.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Values
policies:
- name: block-updates
  resources:
  - name: s2
    values:
      request.operation: UPDATE
  rules:
  - name: needs-var
    values:
      allowed: "yes"
`,
      'user.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: UserInfo
userInfo:
  username: alice
`,
      'kyverno-test.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: ops
policies: [../policy.yaml]
resources: [../resources.yaml]
variables: values.yaml
userinfo: user.yaml
results:
- {policy: block-updates, rule: no-update, kind: Service, resources: [s1], result: pass}
- {policy: block-updates, rule: no-update, kind: Service, resources: [s2], result: fail}
- {policy: block-updates, rule: needs-var, kind: Service, resources: [s1, s2], result: pass}
`,
    },
  });
  const out = capture();
  const code = await runTestCommand([dir], out, fakeDeps);
  t.equal(code, 0, out.text());
  t.match(out.text(), /Loading user infos/);
  t.match(out.text(), /Test Summary: 4 tests passed and 0 tests failed/);
});

t.test('a Test that cannot run is an error and exit 1; the other Tests still run', async (t) => {
  const dir = t.testdir(suite({
    broken: { 'kyverno-test.yaml': 'results: [{policy: p, rule: r, result: perhaps}]\n' },
    novalues: { 'kyverno-test.yaml': 'policies: []\nresources: []\nvariables: nope.yaml\nresults: []\n' },
    badresources: { 'kyverno-test.yaml': 'policies: []\nresources: [missing.yaml]\nresults: []\n' },
  }));
  const out = capture();
  const code = await runTestCommand([dir], out, fakeDeps);
  t.equal(code, 1);
  const text = out.text();
  t.match(text, /Error: failed to run test \(results\[0\]\.result: expected one of/);
  t.match(text, /Error: failed to run test \(failed to decode yaml \(Unable to load variable file: nope\.yaml/);
  t.match(text, /Error: failed to run test \(failed to load resources/);
  t.match(text, /Test Summary: 5 tests passed and 0 tests failed/);
  t.match(text, /Error: 3 test files could not be run/);
});

t.test('no test files: exit 0, or 1 with --require-tests; bad flags: exit 1 with usage', async (t) => {
  const dir = t.testdir({ 'README.md': 'nothing' });
  const out = capture();
  t.equal(await runTestCommand([dir], out, fakeDeps), 0);
  t.match(out.text(), /No test yamls available/);
  t.equal(await runTestCommand([dir, '--require-tests'], capture(), fakeDeps), 1);
  const usage = capture();
  t.equal(await runTestCommand([], usage, fakeDeps), 1);
  t.match(usage.text(), /a directory is required[\s\S]*Usage: portcullis test/);
  t.equal(await runTestCommand(['--bogus', dir], capture(), fakeDeps), 1);
  t.equal(await runTestCommand([dir, '-o', 'xml'], capture(), fakeDeps), 1);
  const help = capture();
  t.equal(await runTestCommand(['--help'], help, fakeDeps), 0);
  t.match(help.text(), /--test-case-selector/);
});

t.test('markdown output format', async (t) => {
  const dir = t.testdir(suite());
  const out = capture();
  t.equal(await runTestCommand([dir, '-o', 'markdown'], out, fakeDeps), 0);
  t.match(out.text(), /\| ID \| POLICY \| RULE \| RESOURCE \| RESULT \| REASON \|\n\|----\|/);
  t.match(out.text(), /\| 1 \| require-labels \| check-app \| Pod\/good \| Pass \| Ok \|/);
});

t.test('a policy of a kind the engine does not evaluate: Not found, with the reason in the message', async (t) => {
  const dir = t.testdir({
    'policies.yaml': policies,
    'resources.yaml': resources,
    'kyverno-test.yaml': `policies: [policies.yaml]
resources: [resources.yaml]
results:
- {policy: my-vpol, kind: Pod, resources: [good], result: pass, isValidatingPolicy: true}
`,
  });
  const deps = { ...fakeDeps, loadPolicies: async (paths: readonly string[]) => ({ ...(await fakeDeps.loadPolicies(paths)), unsupported: new Map([['my-vpol', 'ValidatingPolicy']]) }) };
  const out = capture();
  t.equal(await runTestCommand([dir, '--detailed-results'], out, deps), 1);
  t.match(out.text(), /Pod\/good +│ Fail +│ Not found +│ policy my-vpol is a ValidatingPolicy, which is not supported/);
});

t.test('checks[] rows follow the results[] rows', async (t) => {
  const dir = t.testdir({
    'policies.yaml': policies,
    'resources.yaml': resources,
    'kyverno-test.yaml': `policies: [policies.yaml]
resources: [resources.yaml]
results:
- {policy: require-labels, rule: check-app, kind: Pod, resources: [good], result: pass}
checks:
- match:
    resource: {kind: Pod, metadata: {name: bad}}
    rule: {name: check-app}
  assert:
    status: fail
`,
  });
  const out = capture();
  t.equal(await runTestCommand([dir], out, fakeDeps), 0);
  t.match(out.text(), /│ 2 +│ require-labels │ check-app +│ Pod\/default\/bad +│ Pass +│ Ok +│/);
  t.match(out.text(), /Test Summary: 2 tests passed and 0 tests failed/);
});
