import t from 'tap';
import {
  describeResource, duplicateKey, identityOf, loadResourceFile, loadResourceFiles, parseResourceText, pickResource, removeDuplicates,
  resourceDiff, resourcesEqual, tidy, withoutGenerateLabels,
} from '../../src/cli/resources.ts';

t.test('parseResourceText: multi-document, empty documents skipped, namespace defaulted', async (t) => {
  const r = parseResourceText(
    `apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n---\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n  namespace: prod\n`,
    'x.yaml',
  );
  t.same(r.errors, []);
  t.equal(r.resources.length, 2);
  t.equal(r.resources[0]!.metadata!.namespace, 'default', 'missing namespace becomes default, like the Kyverno CLI');
  t.equal(r.resources[1]!.metadata!.namespace, 'prod');
});

t.test('parseResourceText: a scalar document or bad YAML is an error naming the file', async (t) => {
  const scalar = parseResourceText('just a string\n', 'a.yaml');
  t.equal(scalar.resources.length, 0);
  t.match(scalar.errors[0], { file: 'a.yaml', reason: /not an object/ });
  const bad = parseResourceText('kind: Pod\n  metadata: [\n', 'b.yaml');
  t.equal(bad.errors.length, 1);
  t.equal(bad.errors[0]!.file, 'b.yaml');
});

t.test('loadResourceFiles: files and directories (recursive, sorted, yaml/yml/json only)', async (t) => {
  const dir = t.testdir({
    'b.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n',
    sub: { 'a.json': '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}', 'notes.txt': 'ignored' },
    'a.yml': 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n',
  });
  const r = await loadResourceFiles([dir]);
  t.same(r.errors, []);
  t.same(r.resources.map((x) => x.metadata!.name), ['a', 'b', 's']);
  const missing = await loadResourceFiles([`${dir}/nope.yaml`]);
  t.equal(missing.resources.length, 0);
  t.equal(missing.errors.length, 1);
});

t.test('removeDuplicates keys on group/kind/namespace/name (not version), keeps the first', async (t) => {
  const a = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'x' }, spec: { n: 1 } };
  const b = { apiVersion: 'apps/v1beta1', kind: 'Deployment', metadata: { name: 'd', namespace: 'x' }, spec: { n: 2 } };
  const c = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'y' } };
  const { uniques, duplicates } = removeDuplicates([a, b, c]);
  t.same(uniques, [a, c]);
  t.same(duplicates, [b]);
  t.equal(duplicateKey(a), 'apps|Deployment|x|d');
});

t.test('identity and description', async (t) => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' } };
  t.same(identityOf(pod), { apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'p' });
  t.equal(describeResource(pod), 'Pod/ns/p');
  t.equal(describeResource({ kind: 'Namespace', metadata: { name: 'n' } }), 'Namespace/n');
});

t.test('tidy drops nulls and empty maps/lists recursively', async (t) => {
  t.same(tidy({ a: null, b: {}, c: [], d: { e: {} }, f: [null, 1], g: 0, h: '' }), { f: [1], g: 0, h: '' });
  t.equal(tidy({}), undefined);
});

t.test('resourcesEqual is semantic: key order and empty fields ignored, values and list order matter', async (t) => {
  const a = { kind: 'Pod', metadata: { name: 'p', labels: {} }, spec: { containers: [{ name: 'c', image: 'x' }] } };
  const b = { spec: { containers: [{ image: 'x', name: 'c' }] }, metadata: { name: 'p', annotations: null }, kind: 'Pod' };
  t.ok(resourcesEqual(a, b as never));
  t.notOk(resourcesEqual(a, { ...a, spec: { containers: [{ name: 'c', image: 'y' }] } }));
  t.notOk(resourcesEqual({ kind: 'Pod', spec: { a: [1, 2] } }, { kind: 'Pod', spec: { a: [2, 1] } }));
  t.notOk(resourcesEqual({ kind: 'Pod', spec: { a: '1' } }, { kind: 'Pod', spec: { a: 1 } }), 'string and number differ');
});

t.test('resourceDiff names the differing paths', async (t) => {
  const d = resourceDiff(
    { kind: 'Pod', metadata: { name: 'p', labels: { a: '1', extra: 'x' } } },
    { kind: 'Pod', metadata: { name: 'p', labels: { a: '2', missing: 'y' } } },
  );
  t.same(d, [
    '/metadata/labels/a: expected "2", got "1"',
    '/metadata/labels/extra: only in actual: "x"',
    '/metadata/labels/missing: only in expected: "y"',
  ]);
});

t.test('pickResource finds by apiVersion/kind/namespace/name; a lone document needs kind and name only', async (t) => {
  const p1 = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a', namespace: 'default' } };
  const p2 = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b', namespace: 'default' } };
  t.equal(pickResource([p1, p2], { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'b' }), p2);
  t.equal(pickResource([p1, p2], { apiVersion: 'v1', kind: 'Pod', namespace: 'other', name: 'b' }), undefined);
  t.equal(pickResource([p1], { apiVersion: 'v1', kind: 'Pod', namespace: 'other', name: 'a' }), p1);
  t.equal(pickResource([p1], { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'zz' }), undefined);
});

t.test('loadResourceFile: every document of an expected file; a bad document is an error', async (t) => {
  const dir = t.testdir({ 'ok.yaml': 'kind: Pod\nmetadata:\n  name: a\n---\nkind: Pod\nmetadata:\n  name: b\n', 'bad.yaml': '- 1\n' });
  t.same((await loadResourceFile(`${dir}/ok.yaml`)).map((r) => r.metadata!.name), ['a', 'b']);
  await t.rejects(loadResourceFile(`${dir}/bad.yaml`), /failed to load resource \(document is not an object\)/);
});

t.test('withoutGenerateLabels: generate.kyverno.io labels dropped, managed-by defaults to kyverno (Kyverno CLI FixupGenerateLabels)', async (t) => {
  const generated = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', labels: { 'generate.kyverno.io/policy-name': 'p', app: 'x' } } };
  t.same(withoutGenerateLabels(generated).metadata!.labels, { 'app.kubernetes.io/managed-by': 'kyverno', app: 'x' });
  t.same(generated.metadata.labels, { 'generate.kyverno.io/policy-name': 'p', app: 'x' }, 'the input is not modified');
  t.same(withoutGenerateLabels({ metadata: { name: 'n', labels: { 'app.kubernetes.io/managed-by': 'helm' } } }).metadata!.labels,
    { 'app.kubernetes.io/managed-by': 'helm' });
  t.ok(resourcesEqual(withoutGenerateLabels({ kind: 'A', metadata: { name: 'n' } }),
    withoutGenerateLabels({ kind: 'A', metadata: { name: 'n', labels: { 'app.kubernetes.io/managed-by': 'kyverno' } } })));
});
