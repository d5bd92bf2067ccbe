import t from 'tap';
import { identityOf } from '../../../src/cli/resources.ts';
import { assertTree, evaluateChecks } from '../../../src/cli/test/checks.ts';
import type { ResourceOutcome } from '../../../src/cli/test/evaluate.ts';
import { parseTest } from '../../../src/cli/test/spec.ts';
import { fakePolicy } from '../support/fake-deps.ts';

t.test('assertTree: maps by key, lists element-wise, scalars by equality, (expr) keys via JMESPath', async (t) => {
  const v = { name: 'r', status: 'fail', list: [1, 2], meta: { labels: { a: 'b' } } };
  t.same(assertTree({ status: 'fail', meta: { labels: { a: 'b' } } }, v), []);
  t.same(assertTree({ status: 'pass' }, v), ['status: Invalid value: "fail": Expected value: "pass"']);
  t.same(assertTree({ missing: 1 }, v), ['missing: Required value: field not found in the input object']);
  t.same(assertTree({ list: [1, 2] }, v), []);
  t.same(assertTree({ list: [1] }, v), ['list: Invalid value: 2: Expected value: 1 elements']);
  t.same(assertTree({ '(length(list))': 2 }, v), []);
  t.same(assertTree({ '(starts_with(name, \'x\'))': true }, v), ['(starts_with(name, \'x\')): Invalid value: false: Expected value: true']);
  t.same(assertTree(undefined, v), []);
});

t.test('evaluateChecks: match by resource, policy and rule, then assert / error on each rule response', async (t) => {
  const policy = fakePolicy({ metadata: { name: 'p' }, spec: { rules: [{ name: 'a' }, { name: 'b' }] } });
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x', namespace: 'default' } };
  const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'default' } };
  const outcome = (resource: typeof pod): ResourceOutcome => ({
    resource,
    id: identityOf(resource),
    patchedResource: resource,
    policies: [{
      policy,
      applicable: true,
      patchedResource: resource,
      rules: [
        { name: 'a', type: 'Validation', status: 'fail', message: 'bad' },
        { name: 'b', type: 'Validation', status: 'pass', message: 'ok' },
      ],
    }],
  });
  const { checks } = parseTest({
    checks: [
      { match: { resource: { kind: 'Pod' }, policy: { metadata: { name: 'p' } }, rule: { name: 'a' } }, assert: { status: 'fail' } },
      { match: { resource: { kind: 'Pod' }, rule: { name: 'b' } }, assert: { status: 'fail' } },
      { match: { resource: { kind: 'Pod' }, rule: { name: 'b' } }, error: { status: 'fail' } },
      { match: { resource: { kind: 'Pod' }, rule: { name: 'a' } }, error: { status: 'fail' } },
    ],
  });
  const rows = evaluateChecks(checks, [outcome(pod), outcome(svc)], 5);
  t.same(rows.map((r) => [r.id, r.rule, r.resource, r.result, r.reason]), [
    [5, 'a', 'Pod/default/x', 'Pass', 'Ok'],
    [6, 'b', 'Pod/default/x', 'Fail', 'status: Invalid value: "pass": Expected value: "fail"'],
    [7, 'b', 'Pod/default/x', 'Pass', 'status: Invalid value: "pass": Expected value: "fail"'],
    [8, 'a', 'Pod/default/x', 'Fail', 'The assertion succeeded but was expected to fail'],
  ]);
  t.same(rows.map((r) => r.expectation), [-1, -2, -3, -4]);
});
