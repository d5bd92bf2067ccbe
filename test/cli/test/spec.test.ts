import t from 'tap';
import { computeVariables, parseTest, ruleValues, parseUserInfo, parseValues, SpecError } from '../../../src/cli/test/spec.ts';

t.test('parseTest: current format', async (t) => {
  const spec = parseTest({
    apiVersion: 'cli.kyverno.io/v1alpha1',
    kind: 'Test',
    metadata: { name: 'my-test' },
    policies: ['../p.yaml'],
    resources: ['r.yaml'],
    variables: 'values.yaml',
    userinfo: 'user.yaml',
    results: [
      { policy: 'p', rule: 'r', kind: 'Pod', resources: ['a', 'ns/b'], result: 'fail' },
      { policy: 'ns/p2', rule: 'm', kind: 'Pod', resources: ['c'], result: 'pass', patchedResources: 'patched.yaml' },
      { policy: 'vpol', kind: 'Pod', resources: ['d'], result: 'pass', isValidatingPolicy: true },
    ],
  });
  t.equal(spec.name, 'my-test');
  t.same(spec.policies, ['../p.yaml']);
  t.equal(spec.variables, 'values.yaml');
  t.equal(spec.userinfo, 'user.yaml');
  t.same(spec.results[0], {
    policy: 'p', rule: 'r', result: 'fail', kind: 'Pod', resources: ['a', 'ns/b'], namespace: '', patchedResource: '',
    generatedResources: [], cloneSourceResource: '', anyRule: false, index: 0,
  });
  t.equal(spec.results[1]!.patchedResource, 'patched.yaml');
  t.equal(spec.results[2]!.anyRule, true, 'isValidatingPolicy matches every rule response');
  t.equal(spec.results[2]!.index, 2);
});

t.test('parseTest: deprecated fields (name, resource, status, namespace, patchedResource)', async (t) => {
  const spec = parseTest({
    name: 'old',
    policies: ['p.yaml'],
    resources: ['r.yaml'],
    results: [{ policy: 'p', rule: 'r', kind: 'Pod', resource: 'a', status: 'Skip', namespace: 'ns', patchedResource: 'x.yaml' }],
  });
  t.equal(spec.name, 'old');
  t.same(spec.results[0]!.resources, ['a']);
  t.equal(spec.results[0]!.result, 'skip', 'status is the fallback for result, case-insensitive');
  t.equal(spec.results[0]!.namespace, 'ns');
  t.equal(spec.results[0]!.patchedResource, 'x.yaml');
});

t.test('parseTest: malformed documents are SpecErrors naming the field', async (t) => {
  t.throws(() => parseTest({ kind: 'Values' }), /unexpected kind "Values"/);
  t.throws(() => parseTest({ results: [{ policy: 'p', rule: 'r', result: 'maybe' }] }), /results\[0\]\.result/);
  t.throws(() => parseTest({ results: [{ rule: 'r', result: 'pass' }] }), /results\[0\]\.policy: required/);
  t.throws(() => parseTest({ policies: 'p.yaml' }), /policies: expected a list/);
  t.throws(() => parseTest('text'), /test: expected an object/);
  try {
    parseTest({ policies: 1 });
    t.fail('should throw');
  } catch (e) {
    t.ok(e instanceof SpecError, 'errors are SpecError instances');
  }
});

t.test('parseTest: inline values and checks', async (t) => {
  const spec = parseTest({ values: { globalValues: { a: 1 } }, checks: [{ match: { rule: { name: 'r' } }, assert: { status: 'pass' } }] });
  t.same(spec.values!.globalValues, { a: 1 });
  t.same(spec.checks[0], { match: { resource: undefined, policy: undefined, rule: { name: 'r' } }, assert: { status: 'pass' }, error: undefined });
});

t.test('parseValues: v1alpha1 Values and namespace labels (namespaces[] wins over namespaceSelector[])', async (t) => {
  const v = parseValues({
    apiVersion: 'cli.kyverno.io/v1alpha1',
    kind: 'Values',
    globalValues: { 'request.operation': 'UPDATE' },
    policies: [{ name: 'p', resources: [{ name: 'a', values: { x: '1' } }], rules: [{ name: 'r', values: { 'cm.data.k': 'v' }, foreachValues: [{ e: [1] }] }] }],
    namespaceSelector: [{ name: 'dev', labels: { env: 'dev' } }, { name: 'prod', labels: { env: 'old' } }],
    namespaces: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { env: 'prod' } } }, { metadata: { name: 'bare' } }],
    subresources: [{ subresource: { name: 'deployments/scale', kind: 'Scale', group: 'autoscaling', version: 'v1' }, parentResource: { name: 'deployments', kind: 'Deployment', group: 'apps', version: 'v1' } }],
  });
  t.same(v.globalValues, { 'request.operation': 'UPDATE' });
  t.same(v.policies[0]!.rules[0]!.foreachValues, [{ e: [1] }]);
  t.same(Object.fromEntries(v.namespaceLabels), { dev: { env: 'dev' }, prod: { env: 'prod' }, bare: {} });
  t.equal(v.subresources[0]!.parentResource.kind, 'Deployment');
  const older = parseValues({ policies: [{ name: 'p', rules: [{ name: 'r', foreachValues: { e: [1, 2] } }] }] });
  t.same(older.policies[0]!.rules[0]!.foreachValues, [{ e: [1, 2] }], 'the older single-map foreachValues is read, not rejected');
});

t.test('parseValues: legacy format without apiVersion is read the same way', async (t) => {
  const v = parseValues({ policies: [{ name: 'p', rules: [{ name: 'r', values: { k: 'v' } }] }] });
  t.same(v.policies[0]!.rules[0]!.values, { k: 'v' });
  t.throws(() => parseValues({ policies: {} }), /policies: expected a list/);
});

t.test('computeVariables: global < per-resource; rule values apart; other policies and resources ignored', async (t) => {
  const v = parseValues({
    globalValues: { g: 'global', shared: 'global' },
    policies: [
      { name: 'p', resources: [{ name: 'a', values: { shared: 'resource', 'request.operation': 'DELETE' } }, { name: 'b', values: { onlyB: true } }], rules: [{ name: 'r', values: { ruleVar: 'rule' } }] },
      { name: 'other', rules: [{ name: 'x', values: { notMine: 1 } }] },
    ],
  });
  t.same(computeVariables(v, 'p', 'a'), { g: 'global', shared: 'resource', 'request.operation': 'DELETE' });
  t.same(computeVariables(v, 'p', 'c'), { g: 'global', shared: 'global' });
  t.same(computeVariables(v, 'q', 'a'), { g: 'global', shared: 'global' });
  t.same(computeVariables(undefined, 'p', 'a'), {});
  t.same(Object.fromEntries(ruleValues(v, 'p')), { r: { values: { ruleVar: 'rule' }, foreachValues: [] } });
  t.same(Object.fromEntries(ruleValues(v, 'other')), { x: { values: { notMine: 1 }, foreachValues: [] } });
  t.equal(ruleValues(v, 'q').size, 0);
});

t.test('parseUserInfo: user, groups, roles, clusterRoles', async (t) => {
  const u = parseUserInfo({
    apiVersion: 'cli.kyverno.io/v1alpha1',
    kind: 'UserInfo',
    clusterRoles: ['cluster-admin'],
    roles: ['ns:dev'],
    userInfo: { username: 'alice', groups: ['devs'], extra: { scope: 'a' } },
  });
  t.same(u, { userInfo: { username: 'alice', groups: ['devs'], extra: { scope: ['a'] } }, roles: ['ns:dev'], clusterRoles: ['cluster-admin'] });
  t.same(parseUserInfo({}), { userInfo: {}, roles: [], clusterRoles: [] });
  t.throws(() => parseUserInfo({ roles: 'x' }), /roles: expected a list/);
});

t.test('field names fold as in Kyverno\'s decoder; user data keys do not', async (t) => {
  const spec = parseTest({
    apiVersion: 'cli.kyverno.io/v1alpha1',
    Kind: 'Test',
    Metadata: { Name: 'folded' },
    Policies: ['p.yaml'],
    RESOURCES: ['r.yaml'],
    userInfo: 'user.yaml',
    Results: [{ Policy: 'p', Rule: 'r', Kind: 'Pod', Resources: ['a'], Result: 'fail', PatchedResources: 'x.yaml' }],
    Values: { GlobalValues: { CamelKey: 'kept' }, NamespaceSelector: [{ Name: 'ns', Labels: { Team: 'a' } }] },
  });
  t.equal(spec.name, 'folded');
  t.same(spec.policies, ['p.yaml']);
  t.same(spec.resources, ['r.yaml']);
  t.equal(spec.userinfo, 'user.yaml');
  t.same(spec.results.map((r) => [r.policy, r.rule, r.kind, r.resources, r.result, r.patchedResource]), [['p', 'r', 'Pod', ['a'], 'fail', 'x.yaml']]);
  t.same(spec.values?.globalValues, { CamelKey: 'kept' }, 'values keep their own keys');
  t.same(spec.values?.namespaceLabels.get('ns'), { Team: 'a' });
  // The exact key wins over a folded one; of folded keys only, the last one does.
  t.same(parseTest({ policies: ['exact.yaml'], Policies: ['folded.yaml'] }).policies, ['exact.yaml']);
  t.same(parseTest({ POLICIES: ['first.yaml'], Policies: ['last.yaml'] }).policies, ['last.yaml']);
  t.throws(() => parseTest({ KIND: 'Values' }), { message: 'test: unexpected kind "Values"' }, 'a folded kind is still checked');
  t.same(parseUserInfo({ UserInfo: { UserName: 'bob' }, ClusterRoles: ['admin'] }), { userInfo: { username: 'bob' }, roles: [], clusterRoles: ['admin'] });
});
