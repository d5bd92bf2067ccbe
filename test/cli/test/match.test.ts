import t from 'tap';
import type { KubeObject, RuleResponse } from '../../../src/engine/types.ts';
import { identityOf } from '../../../src/cli/resources.ts';
import type { PolicyOutcome, ResourceOutcome } from '../../../src/cli/test/evaluate.ts';
import { matchExpectations, policyMatches, resourceMatches, ruleMatches, type ExpectedResourceLoader } from '../../../src/cli/test/match.ts';
import { parseTest } from '../../../src/cli/test/spec.ts';
import { fakePolicy } from '../support/fake-deps.ts';

const clusterPolicy = fakePolicy({ metadata: { name: 'require-labels' }, spec: { rules: [{ name: 'check-app' }] } });
const nsPolicy = fakePolicy({ kind: 'Policy', metadata: { name: 'local', namespace: 'team-a' }, spec: { rules: [{ name: 'r' }] } });
const mutatePolicy = fakePolicy({ metadata: { name: 'add-team' }, spec: { rules: [{ name: 'add', addLabel: { team: 'core' } }] } });

function pod(name: string, namespace = 'default', labels?: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: labels ? { name, namespace, labels } : { name, namespace } };
}

function outcome(resource: KubeObject, policies: Partial<PolicyOutcome>[]): ResourceOutcome {
  return {
    resource,
    id: identityOf(resource),
    patchedResource: resource,
    policies: policies.map((p) => ({ policy: clusterPolicy, applicable: true, rules: [], patchedResource: resource, ...p })),
  };
}

function rule(name: string, status: RuleResponse['status'], message = `msg ${status}`, type: RuleResponse['type'] = 'Validation'): RuleResponse {
  return { name, type, status, message };
}

const noFiles: ExpectedResourceLoader = async () => {
  throw new Error('no file expected');
};

function expectations(results: unknown[]) {
  return parseTest({ results }).results;
}

t.test('policyMatches: name, or namespace/name for namespaced policies', async (t) => {
  t.ok(policyMatches('require-labels', clusterPolicy));
  t.notOk(policyMatches('require', clusterPolicy));
  t.ok(policyMatches('team-a/local', nsPolicy));
  t.ok(policyMatches('local', nsPolicy));
  t.notOk(policyMatches('team-b/local', nsPolicy));
});

t.test('ruleMatches: exact, autogen- and autogen-cronjob- variants; any rule for CEL policy kinds', async (t) => {
  const [e] = expectations([{ policy: 'p', rule: 'check', result: 'pass' }]);
  t.ok(ruleMatches(e!, 'check'));
  t.ok(ruleMatches(e!, 'autogen-check'));
  t.ok(ruleMatches(e!, 'autogen-cronjob-check'));
  t.notOk(ruleMatches(e!, 'check-2'));
  t.notOk(ruleMatches(e!, 'autogen-other'));
  const [v] = expectations([{ policy: 'p', result: 'pass', isValidatingPolicy: true }]);
  t.ok(ruleMatches(v!, 'anything'));
});

t.test('a ValidatingPolicy result (`validation`) answers an expectation that names no rule, as Kyverno\'s unnamed result did', async (t) => {
  const [none] = expectations([{ policy: 'p', result: 'fail' }]);
  const [named] = expectations([{ policy: 'p', rule: 'validation', result: 'fail' }]);
  for (const kind of ['ValidatingPolicy', 'NamespacedValidatingPolicy']) {
    t.ok(ruleMatches(none!, 'validation', { kind }), kind);
    t.ok(ruleMatches(named!, 'validation', { kind }), `${kind}, rule named`);
  }
  t.notOk(ruleMatches(none!, 'validation', { kind: 'ClusterPolicy' }), 'a ClusterPolicy rule named validation needs its name');
  t.notOk(ruleMatches(none!, 'validation'), 'no policy, no alias');

  // End to end: the row is checked (a failing pass/fail mismatch), not passed as excluded.
  const vpol = { ...fakePolicy({ metadata: { name: 'p' }, spec: { rules: [] } }), kind: 'ValidatingPolicy' };
  const rows = await matchExpectations(expectations([{ policy: 'p', kind: 'Pod', resources: ['web'], result: 'pass' }]),
    [outcome(pod('web'), [{ policy: vpol, rules: [rule('validation', 'fail', 'no privileged containers')] }])], noFiles);
  t.equal(rows.length, 1);
  t.match(rows[0], { result: 'Fail', excluded: false, reason: 'Want pass, got fail' });
});

t.test('resourceMatches: name or namespace/name, kind and deprecated namespace field', async (t) => {
  const [e] = expectations([{ policy: 'p', rule: 'r', kind: 'Pod', result: 'pass' }]);
  const id = identityOf(pod('a', 'prod'));
  t.ok(resourceMatches(e!, 'a', id));
  t.ok(resourceMatches(e!, 'prod/a', id));
  t.notOk(resourceMatches(e!, 'default/a', id));
  t.notOk(resourceMatches(e!, 'b', id));
  const [d] = expectations([{ policy: 'p', rule: 'r', kind: 'Deployment', result: 'pass' }]);
  t.notOk(resourceMatches(d!, 'a', id), 'kind must match');
  const [n] = expectations([{ policy: 'p', rule: 'r', kind: 'Pod', namespace: 'other', result: 'pass' }]);
  t.notOk(resourceMatches(n!, 'a', id), 'deprecated namespace field restricts the resource namespace');
});

t.test('status comparison: Ok when equal, "Want X, got Y" otherwise — including fail expected, pass got', async (t) => {
  const outcomes = [
    outcome(pod('good'), [{ rules: [rule('check-app', 'pass')] }]),
    outcome(pod('bad'), [{ rules: [rule('check-app', 'fail', 'label app is required')] }]),
  ];
  const rows = await matchExpectations(
    expectations([
      { policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['good'], result: 'pass' },
      { policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['bad'], result: 'fail' },
      { policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['bad'], result: 'pass' },
      { policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['good'], result: 'fail' },
    ]),
    outcomes,
    noFiles,
  );
  t.same(rows.map((r) => [r.id, r.resource, r.result, r.reason, r.count]), [
    [1, 'Pod/good', 'Pass', 'Ok', 'pass'],
    [2, 'Pod/bad', 'Pass', 'Ok', 'pass'],
    [3, 'Pod/bad', 'Fail', 'Want pass, got fail', 'fail'],
    [4, 'Pod/good', 'Fail', 'Want fail, got pass', 'fail'],
  ]);
  t.equal(rows[1]!.message, 'label app is required');
  t.equal(rows[2]!.actual, 'fail');
});

t.test('expected skip met by a skip response counts as skip; warn and error compared like any status', async (t) => {
  const outcomes = [outcome(pod('a'), [{ rules: [rule('check-app', 'skip'), rule('other', 'warn'), rule('third', 'error')] }])];
  const rows = await matchExpectations(
    expectations([
      { policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['a'], result: 'skip' },
      { policy: 'require-labels', rule: 'other', kind: 'Pod', resources: ['a'], result: 'warn' },
      { policy: 'require-labels', rule: 'third', kind: 'Pod', resources: ['a'], result: 'fail' },
    ]),
    outcomes,
    noFiles,
  );
  t.same(rows.map((r) => [r.result, r.count, r.reason]), [
    ['Pass', 'skip', 'Ok'],
    ['Pass', 'pass', 'Ok'],
    ['Fail', 'fail', 'Want fail, got error'],
  ]);
});

t.test('autogen rule responses answer an expectation on the base rule name', async (t) => {
  const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'default' } };
  const rows = await matchExpectations(
    expectations([{ policy: 'require-labels', rule: 'check-app', kind: 'Deployment', resources: ['d'], result: 'fail' }]),
    [outcome(deploy, [{ rules: [rule('autogen-check-app', 'fail')] }])],
    noFiles,
  );
  t.same(rows.map((r) => [r.result, r.reason]), [['Pass', 'Ok']]);
});

t.test('policy applied but no rule response: Excluded, a pass whatever was expected', async (t) => {
  const rows = await matchExpectations(
    expectations([
      { policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['a'], result: 'fail' },
      { policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['a'], result: 'skip' },
    ]),
    [outcome(pod('a'), [{ rules: [] }])],
    noFiles,
  );
  t.same(rows.map((r) => [r.result, r.reason, r.count, r.excluded]), [
    ['Pass', 'Excluded', 'skip', true],
    ['Pass', 'Excluded', 'skip', true],
  ]);
});

t.test('Not found: unknown resource, unknown policy, or a policy that produced no response', async (t) => {
  const outcomes = [outcome(pod('a'), [{ rules: [rule('check-app', 'pass')] }, { policy: mutatePolicy, applicable: false }])];
  const rows = await matchExpectations(
    expectations([
      { policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['missing'], result: 'pass' },
      { policy: 'unknown', rule: 'check-app', kind: 'Pod', resources: ['a'], result: 'pass' },
      { policy: 'add-team', rule: 'add', kind: 'Pod', resources: ['a'], result: 'pass' },
      { policy: 'require-labels', rule: 'check-app', kind: 'Service', resources: ['a'], result: 'pass' },
    ]),
    outcomes,
    noFiles,
  );
  t.same(rows.map((r) => [r.result, r.reason, r.count]), Array(4).fill(['Fail', 'Not found', 'fail']));
});

t.test('namespace/name resources select among same-named resources; a bare name checks all of them', async (t) => {
  const outcomes = [
    outcome(pod('a', 'ns1'), [{ rules: [rule('check-app', 'pass')] }]),
    outcome(pod('a', 'ns2'), [{ rules: [rule('check-app', 'fail')] }]),
  ];
  const one = await matchExpectations(expectations([{ policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['ns2/a'], result: 'fail' }]), outcomes, noFiles);
  t.same(one.map((r) => [r.resource, r.result]), [['Pod/ns2/a', 'Pass']]);
  const both = await matchExpectations(expectations([{ policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['a'], result: 'pass' }]), outcomes, noFiles);
  t.same(both.map((r) => r.result), ['Pass', 'Fail']);
});

t.test('no resources listed: every resource of the kind is checked', async (t) => {
  const outcomes = [outcome(pod('a'), [{ rules: [rule('check-app', 'pass')] }]), outcome(pod('b'), [{ rules: [rule('check-app', 'pass')] }])];
  const rows = await matchExpectations(expectations([{ policy: 'require-labels', rule: 'check-app', kind: 'Pod', result: 'pass' }]), outcomes, noFiles);
  t.same(rows.map((r) => r.resource), ['Pod/default/a', 'Pod/default/b']);
});

t.test('engine error for the policy: a failing "Engine error" row with the message', async (t) => {
  const rows = await matchExpectations(
    expectations([{ policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['a'], result: 'pass' }]),
    [outcome(pod('a'), [{ error: 'kaboom' }])],
    noFiles,
  );
  t.same(rows.map((r) => [r.result, r.reason, r.message]), [['Fail', 'Engine error', 'kaboom']]);
});

t.test('patched resource: compared semantically with the resource of the same identity in the file', async (t) => {
  const original = pod('p', 'default');
  const patched = pod('p', 'default', { team: 'core' });
  const files: Record<string, KubeObject[]> = {
    'good.yaml': [{ kind: 'Pod', apiVersion: 'v1', metadata: { namespace: 'default', labels: { team: 'core' }, name: 'p', annotations: {} } }],
    'bad.yaml': [pod('p', 'default', { team: 'other' })],
    'other.yaml': [pod('q', 'default', { team: 'core' })],
  };
  const load: ExpectedResourceLoader = async (file, id) => {
    if (file === 'broken.yaml') throw new Error('failed to load resource');
    return files[file]!.find((r) => r.metadata!.name === id.name && r.kind === id.kind);
  };
  const outcomes = [
    {
      resource: original,
      id: identityOf(original),
      patchedResource: patched,
      policies: [{ policy: mutatePolicy, applicable: true, rules: [rule('add', 'pass', 'mutated', 'Mutation')], patchedResource: patched }],
    },
  ];
  const exp = (file: string) => ({ policy: 'add-team', rule: 'add', kind: 'Pod', resources: ['p'], result: 'pass', patchedResources: file });
  const rows = await matchExpectations(expectations([exp('good.yaml'), exp('bad.yaml'), exp('broken.yaml'), exp('other.yaml')]), outcomes, load);
  t.same(rows.map((r) => [r.result, r.reason]), [
    ['Pass', 'Ok'],
    ['Fail', 'Resource diff'],
    ['Fail', 'Resource error'],
  ], 'a file without this resource yields no row at all (Kyverno: not found in manifest)');
  t.match(rows[1]!.message, /Patched resource didn't match.*\/metadata\/labels\/team: expected "other", got "core"/);
});

t.test('patched resource equal but status differs: still a failure', async (t) => {
  const p = pod('p');
  const load: ExpectedResourceLoader = async () => p;
  const rows = await matchExpectations(
    expectations([{ policy: 'add-team', rule: 'add', kind: 'Pod', resources: ['p'], result: 'pass', patchedResources: 'x.yaml' }]),
    [{ resource: p, id: identityOf(p), patchedResource: p, policies: [{ policy: mutatePolicy, applicable: true, rules: [rule('add', 'skip', 'no change', 'Mutation')], patchedResource: p }] }],
    load,
  );
  t.same(rows.map((r) => [r.result, r.reason]), [['Fail', 'Want pass, got skip']]);
});

t.test('generated resource: compared with the file; nothing generated is a failure', async (t) => {
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'hello', namespace: 'default' } };
  const netpol = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: 'hello' }, spec: { podSelector: {} } };
  const load: ExpectedResourceLoader = async () => netpol;
  const gen = (generated: KubeObject[] | undefined) => [{
    resource: ns,
    id: identityOf(ns),
    patchedResource: ns,
    policies: [{ policy: clusterPolicy, applicable: true, rules: [{ ...rule('check-app', 'pass', 'created', 'Generation'), generatedResources: generated }], patchedResource: ns }],
  }];
  const e = expectations([{ policy: 'require-labels', rule: 'check-app', kind: 'Namespace', resources: ['hello'], result: 'pass', generatedResource: 'gen.yaml' }]);
  t.same((await matchExpectations(e, gen([netpol]), load)).map((r) => [r.result, r.reason]), [['Pass', 'Ok']]);
  t.same((await matchExpectations(e, gen([{ ...netpol, spec: { podSelector: { matchLabels: { a: 'b' } } } }]), load)).map((r) => [r.result, r.reason]), [['Fail', 'Resource diff']]);
  t.same((await matchExpectations(e, gen(undefined), load)).map((r) => [r.result, r.reason]), [['Fail', 'Resource diff']]);
});

t.test('generatedResources (plural): each generated resource is compared with the listed file that holds it, in any order', async (t) => {
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'hello' } };
  const quota = { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'q', namespace: 'hello' }, spec: { hard: { pods: '10' } } };
  const limits = { apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'l', namespace: 'hello' }, spec: { limits: [] } };
  const files: Record<string, KubeObject[]> = { 'quota.yaml': [quota], 'limits.yaml': [limits] };
  const load: ExpectedResourceLoader = async (file, id) => files[file]!.find((o) => o.kind === id.kind && o.metadata?.name === id.name);
  const gen = (generated: KubeObject[]) => [{
    resource: ns, id: identityOf(ns), patchedResource: ns,
    policies: [{ policy: clusterPolicy, applicable: true, rules: [{ ...rule('check-app', 'pass', 'created', 'Generation'), generatedResources: generated }], patchedResource: ns }],
  }];
  const plural = expectations([{ policy: 'require-labels', rule: 'check-app', kind: 'Namespace', resources: ['hello'], result: 'pass', generatedResources: ['limits.yaml', 'quota.yaml'] }]);
  t.same((await matchExpectations(plural, gen([quota, limits]), load)).map((r) => [r.result, r.reason]), [['Pass', 'Ok'], ['Pass', 'Ok']]);
  t.same((await matchExpectations(plural, gen([quota, { ...limits, spec: { limits: [{ type: 'Pod' }] } }]), load)).map((r) => [r.result, r.reason]),
    [['Pass', 'Ok'], ['Fail', 'Resource diff']], 'a differing resource still fails');
  const single = expectations([{ policy: 'require-labels', rule: 'check-app', kind: 'Namespace', resources: ['hello'], result: 'pass', generatedResource: 'quota.yaml' }]);
  t.same((await matchExpectations(single, gen([quota, limits]), load)).map((r) => [r.result, r.message]),
    [['Pass', 'created'], ['Fail', 'Generated resource not found in the expected file']], 'the singular field keeps its one-file meaning');
});

t.test('a failure of an unscored policy is reported as warn (policy report semantics); Audit failures stay fail', async (t) => {
  const unscored = fakePolicy({ metadata: { name: 'require-labels' }, spec: { rules: [{ name: 'check-app' }] } });
  unscored.loaded.raw.metadata = { name: 'require-labels', annotations: { 'policies.kyverno.io/scored': 'false' } };
  const rows = await matchExpectations(
    expectations([
      { policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['a'], result: 'warn' },
      { policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['a'], result: 'fail' },
    ]),
    [outcome(pod('a'), [{ policy: unscored, rules: [rule('check-app', 'fail')] }])],
    noFiles,
  );
  t.same(rows.map((r) => [r.result, r.reason, r.actual]), [['Pass', 'Ok', 'warn'], ['Fail', 'Want fail, got warn', 'warn']]);
  const audit = await matchExpectations(
    expectations([{ policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['a'], result: 'fail' }]),
    [outcome(pod('a'), [{ rules: [rule('check-app', 'fail')] }])],
    noFiles,
  );
  t.same(audit.map((r) => r.result), ['Pass'], 'the fake policy is Audit: still fail');
});
