import t from 'tap';
import { parsePolicyText, loadPolicyPaths } from '../../src/policy/load.ts';

const good = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: ok
spec:
  rules:
  - name: r
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      pattern:
        spec: {}
`;

t.test('a valid policy loads with CRD defaults applied', async (t) => {
  const r = parsePolicyText(good, 'p.yaml');
  t.equal(r.errors.length, 0);
  t.equal(r.policies.length, 1);
  const p = r.policies[0]!;
  t.equal(p.name, 'ok');
  t.equal(p.kind, 'ClusterPolicy');
  t.same(p.source, { file: 'p.yaml', index: 0, line: 1 });
  t.equal(p.raw.spec.background, true, 'background defaults to true from the CRD schema');
});

t.test('a broken policy is rejected with file, document, line, path and reason; the others still load', async (t) => {
  const text = `${good}---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: broken
spec:
  validationFailureAction: Sometimes
  rules:
  - name: r
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      pattern: {}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
`;
  const r = parsePolicyText(text, 'bundle.yaml');
  t.equal(r.policies.length, 1);
  t.equal(r.policies[0]!.name, 'ok');
  t.equal(r.others.length, 1, 'non-policy documents are returned separately');
  t.equal(r.errors.length, 1);
  const e = r.errors[0]!;
  t.equal(e.file, 'bundle.yaml');
  t.equal(e.index, 1);
  t.equal(e.path, '/spec/validationFailureAction');
  t.equal(e.line, 21, 'line of the offending field');
  t.match(e.reason, /must be one of/);
});

t.test('YAML syntax errors and structural problems are reported, not thrown', async (t) => {
  const r = parsePolicyText('apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x\n', 'bad.yaml');
  t.equal(r.policies.length, 0);
  t.equal(r.errors.length, 1);
  t.match(r.errors[0]!.reason, /^YAML:/);

  const dup = parsePolicyText(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: dup}
spec:
  rules:
  - name: a
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {}}
  - name: a
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {}}
`, 'dup.yaml');
  t.equal(dup.errors.length, 1);
  t.equal(dup.errors[0]!.path, '/spec/rules/1/name');
  t.match(dup.errors[0]!.reason, /duplicate rule name/);
});

t.test('a namespaced Policy defaults to the default namespace', async (t) => {
  const r = parsePolicyText(good.replace('ClusterPolicy', 'Policy'), 'p.yaml');
  t.equal(r.policies[0]!.namespace, 'default');
});

t.test('the bundled policies/ directory loads without errors', async (t) => {
  const r = await loadPolicyPaths([new URL('../../policies', import.meta.url).pathname]);
  t.same(r.errors, []);
  t.ok(r.policies.length >= 9);
  t.ok(r.policies.every((p) => !p.source.file.includes('.kyverno-test')), 'test folders are not policy sources');
});
