import { readFile } from 'node:fs/promises';
import t from 'tap';
import { parse } from 'yaml';
import { parseSetFlag, runApplyCommand } from '../../src/cli/apply.ts';
import { capture, fakeDeps } from './support/fake-deps.ts';

const enforce = `kind: ClusterPolicy
metadata:
  name: require-labels
spec:
  validationFailureAction: Enforce
  rules:
  - name: check-app
    kinds: [Pod]
    requireLabel: app
`;
const audit = enforce.replace('Enforce', 'Audit').replace('require-labels', 'audit-labels');
const mutate = `kind: ClusterPolicy
metadata:
  name: add-team
spec:
  rules:
  - name: add-team-label
    kinds: [Pod]
    addLabel:
      team: core
`;
const pods = `apiVersion: v1
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
  namespace: prod
`;

t.test('parseSetFlag: comma-separated key=value pairs, repeatable', async (t) => {
  t.same(parseSetFlag(['a=1,b=x=y', 'request.operation=UPDATE', 'junk']), { a: '1', b: 'x=y', 'request.operation': 'UPDATE' });
});

t.test('Enforce failure: per policy/resource failure block, summary, exit 1', async (t) => {
  const dir = t.testdir({ 'policy.yaml': enforce, 'pods.yaml': pods });
  const out = capture();
  const code = await runApplyCommand([`${dir}/policy.yaml`, '--resource', `${dir}/pods.yaml`], out, fakeDeps);
  t.equal(code, 1);
  const text = out.text();
  t.match(text, /Applying 1 policy rule\(s\) to 2 resource\(s\)\.\.\./);
  t.match(text, /policy require-labels -> resource prod\/Pod\/bad failed:\n1\. check-app: validation error: label app is required/);
  t.notMatch(text, /resource default\/Pod\/good failed/);
  t.match(text, /pass: 1, fail: 1, warn: 0, error: 0, skip: 0/);
});

t.test('Audit failure is reported but exits 0', async (t) => {
  const dir = t.testdir({ 'policy.yaml': audit, 'pods.yaml': pods });
  const out = capture();
  t.equal(await runApplyCommand([`${dir}/policy.yaml`, '-r', `${dir}/pods.yaml`], out, fakeDeps), 0);
  t.match(out.text(), /policy audit-labels -> resource prod\/Pod\/bad failed/);
  t.match(out.text(), /fail: 1/);
});

t.test('mutations: printed by default, written with -o, and seen by validation', async (t) => {
  const dir = t.testdir({ 'mutate.yaml': mutate, 'policy.yaml': enforce.replace('requireLabel: app', 'requireLabel: team'), 'pods.yaml': pods });
  const out = capture();
  const code = await runApplyCommand([`${dir}/mutate.yaml`, `${dir}/policy.yaml`, '-r', `${dir}/pods.yaml`], out, fakeDeps);
  t.equal(code, 0, 'validation requiring the team label passes after the mutation');
  t.match(out.text(), /mutate policy add-team applied to default\/Pod\/good:\napiVersion: v1\nkind: Pod\nmetadata:\n  name: good\n  labels:\n    app: web\n    team: core/);
  const file = `${dir}/out.yaml`;
  const quiet = capture();
  await runApplyCommand([`${dir}/mutate.yaml`, '-r', `${dir}/pods.yaml`, '-o', file], quiet, fakeDeps);
  t.notMatch(quiet.text(), /mutate policy/);
  const written = (await readFile(file, 'utf8')).split('---\n').map((d) => parse(d));
  t.same(written.map((d) => [d.metadata.name, d.metadata.labels.team]), [['good', 'core'], ['bad', 'core']]);
});

t.test('--json and --set', async (t) => {
  const dir = t.testdir({
    'policy.yaml': `kind: ClusterPolicy
metadata:
  name: block-updates
spec:
  validationFailureAction: Enforce
  rules:
  - name: no-update
    denyOperation: UPDATE
`,
    'pods.yaml': pods,
  });
  const out = capture();
  const code = await runApplyCommand([`${dir}/policy.yaml`, '-r', `${dir}/pods.yaml`, '--json', '--set', 'request.operation=UPDATE'], out, fakeDeps);
  t.equal(code, 1);
  const doc = JSON.parse(out.text());
  t.same(doc.summary, { pass: 0, fail: 2, warn: 0, error: 0, skip: 0 });
  t.same(doc.results[0], { policy: 'block-updates', rule: 'no-update', resource: 'default/Pod/good', status: 'fail', message: 'UPDATE is not allowed', failureAction: 'Enforce' });
});

t.test('engine errors count as errors and exit 1', async (t) => {
  const dir = t.testdir({ 'policy.yaml': 'kind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  rules:\n  - name: r\n    throws: true\n', 'pods.yaml': pods });
  const out = capture();
  t.equal(await runApplyCommand([`${dir}/policy.yaml`, '-r', `${dir}/pods.yaml`], out, fakeDeps), 1);
  t.match(out.text(), /error: policy p -> resource default\/Pod\/good: boom in r/);
  t.match(out.text(), /error: 2/);
});

t.test('usage errors: no policy, no resource, unreadable resource, no valid policy', async (t) => {
  const dir = t.testdir({ 'policy.yaml': enforce, 'empty.yaml': '' });
  const a = capture();
  t.equal(await runApplyCommand(['-r', 'x.yaml'], a, fakeDeps), 1);
  t.match(a.text(), /require policy/);
  const b = capture();
  t.equal(await runApplyCommand([`${dir}/policy.yaml`], b, fakeDeps), 1);
  t.match(b.text(), /require resource/);
  const c = capture();
  t.equal(await runApplyCommand([`${dir}/policy.yaml`, '-r', `${dir}/missing.yaml`], c, fakeDeps), 1);
  t.match(c.text(), /failed to load resources/);
  const d = capture();
  t.equal(await runApplyCommand([`${dir}/empty.yaml`, '-r', `${dir}/policy.yaml`], d, fakeDeps), 1);
  t.match(d.text(), /no valid policy found/);
  const h = capture();
  t.equal(await runApplyCommand(['--help'], h, fakeDeps), 0);
  t.match(h.text(), /--resource/);
});
