import t from 'tap';
import { compileConditions, evaluateOperator, getOperator } from '../../src/engine/conditions.ts';
import { VariableError, type ContextData } from '../../src/engine/variables.ts';
import type { JsonValue } from '../../src/engine/types.ts';

type Case = [JsonValue, JsonValue, boolean];
const check = (t: { equal: (a: unknown, b: unknown, msg: string) => unknown }, op: string, cases: Case[]) => {
  for (const [key, value, want] of cases) {
    t.equal(evaluateOperator(op, key, value), want, `${JSON.stringify(key)} ${op} ${JSON.stringify(value)}`);
  }
};

t.test('Equals / NotEquals (and deprecated Equal / NotEqual)', async (t) => {
  const eq: Case[] = [
    ['string', 'string', true], [1, 1, true], [1.5, 1.5, true], [true, true, true], [false, false, true],
    ['1Gi', '1Gi', true], ['1Gi', '1024Mi', true], ['1024', '1Ki', true], ['1h', '1h', true], ['1h', '60m', true],
    [{ foo: 'bar' }, { foo: 'bar' }, true], [['foo', 'bar'], ['foo', 'bar'], true],
    ['string', 'not string', false], [1, 2, false], [true, false, false], ['1Gi', '10Gi', false], ['10Gi', '1024Mi', false],
    ['1h', '5h', false], ['1h', '30m', false], ['string', 1, false], [1, '2', false], [1, '1', true], [1.0, '2.0', false],
    [true, 'false', false], [{ foo: 'bar' }, { bar: 'foo' }, false], [['foo', 'bar'], ['bar', 'foo'], false],
    ['1h', 3600, true], ['2h', 3600, false],
    // wildcards are read from the value
    ['nginx:1.2', 'nginx:*', true], ['nginx:1.2', 'ng?nx:*', true], ['nginx:*', 'nginx:1.2', false],
    // a quantity key needs a quantity value
    ['100', '*', false],
    [null, null, false], [null, '', false],
  ];
  check(t, 'Equals', eq);
  check(t, 'equals', [['a', 'a', true]]);
  check(t, 'Equal', [['a', 'a', true], ['a', 'b', false]]);
  check(t, 'NotEquals', eq.map(([k, v, w]) => [k, v, !w] as Case));
  check(t, 'NotEqual', [['a', 'b', true]]);
});

t.test('GreaterThan / LessThan and the OrEquals forms', async (t) => {
  check(t, 'GreaterThan', [
    [10, 1, true], [1.5, 1.0, true], [1, 10, false], [1, 1, false],
    ['10Gi', '1Gi', true], ['1Gi', '1Mi', true], ['1Gi', '10Gi', false], ['10Mi', '10Mi', false],
    ['10h', '1h', true], ['1h', '30m', true], ['1h', '1h', false],
    ['10', 1, true], [100, '10', true], ['100', '10', true], ['10', '10', false], ['1', '10', false],
    ['1h', 3600, false], ['2h', 3600, true], [3600, '1h', false], [3600, '30m', true],
    [-5, 1, false], [-5, -10, true],
    ['abc', 'abc', false], [true, false, false], ['1Gi', 1, false],
  ]);
  check(t, 'LessThan', [
    [1, 10, true], ['1Mi', '1Gi', true], ['30m', 3600, true], ['1', 10, true], [1, '10', true], ['10', '10', false],
    ['500m', '1', true], ['1Gi', '1Gi', false],
  ]);
  check(t, 'GreaterThanOrEquals', [
    [1, 1, true], ['1Gi', '1Gi', true], ['1h', '1h', true], ['1h', 3600, true], ['10', '10', true], [1, 1.5, false],
  ]);
  check(t, 'LessThanOrEquals', [
    [1, 1, true], ['1Gi', '1Mi', false], ['2h', 3600, false], ['1', '10', true],
  ]);
});

t.test('a plain number compares with a quantity as quantities, then versions as semver (Kyverno\'s order)', async (t) => {
  check(t, 'GreaterThan', [['1025', '1Ki', true], ['1024', '1Ki', false], ['10', '1m', true], ['1.5.5', '1.5.0', true], ['1.2.3', '1.2.2', true],
    ['1.5.0', '1.5.0', false], ['1.5.0', '1.5.0-rc.1', true], ['1.5.5', 1, false], ['v1.5.5', '1.5.0', false]]);
  check(t, 'LessThan', [['1023', '1Ki', true], ['2', '1Ki', true], ['1.5.0', '1.5.5', true], ['1.10.0', '1.9.0', false]]);
  check(t, 'GreaterThanOrEquals', [['1024', '1Ki', true], ['1025', '1Ki', true], ['1.5.5', '1.5.5', true]]);
  check(t, 'LessThanOrEquals', [['1024', '1Ki', true], ['1023', '1Ki', true], ['1.5.5', '1.5.5', true], ['1.5.6', '1.5.5', false]]);
});

t.test('Duration operators (deprecated)', async (t) => {
  check(t, 'DurationGreaterThan', [['2h', '1h', true], ['1h', '1h', false], [7200, '1h', true], ['1h', 3599, true], [1.9, 1, false]]);
  check(t, 'DurationGreaterThanOrEquals', [['1h', '60m', true], ['30m', '1h', false]]);
  check(t, 'DurationLessThan', [['30m', '1h', true], ['x', '1h', false]]);
  check(t, 'DurationLessThanOrEquals', [['1h', 3600, true], ['1h1s', 3600, false]]);
});

t.test('AnyIn / AllIn / AnyNotIn / AllNotIn', async (t) => {
  const ips = ['1.1.1.1', '2.2.2.2', '3.3.3.3'];
  check(t, 'AnyIn', [
    [['1.1.1.1', '5.5.5.5'], ips, true], [['4.4.4.4', '5.5.5.5'], ips, false], [[1, 2], [1, 2, 3, 4], true],
    [[1, 5], [1, 2, 3, 4], true], [[5], [1, 2, 3, 4], false],
    ['CREATE', ['CREATE', 'UPDATE'], true], ['DELETE', ['CREATE', 'UPDATE'], false],
    // wildcards on either side
    ['kube-system', ['kube-*'], true], ['kube-*', ['kube-system'], true], [['NET_ADMIN', 'SYS_*'], ['SYS_TIME'], true],
    // string values: exact, JSON array, ranges
    ['a', 'a', true], ['a', '["a","b"]', true], ['c', '["a","b"]', false], [['a', 'x'], '["a","b"]', true],
    ['5', '1-10', true], [5, '1-10', true], [11, '1-10', false], [['11', '3'], '1-10', true], ['150Mi', '100Mi-1Gi', true],
    ['a', '{"x":1}', false],
    [true, ['true'], true], [null, ['a'], false], [{ a: 1 }, ['a'], false],
  ]);
  check(t, 'AllIn', [
    [['1.1.1.1', '2.2.2.2'], ips, true], [['1.1.1.1', '5.5.5.5'], ips, false], [['1.1.1.1', '5.5.5.5'], ['1.1.1.1'], false],
    [[1, 2], [1, 2, 3, 4], true], [[1, 5], [1, 2, 3, 4], false],
    [['kube-system', 'kube-public'], ['kube-*'], true], [['2', '3'], '1-10', true], [['2', '30'], '1-10', false],
    [[], ['a'], true],
  ]);
  check(t, 'AnyNotIn', [
    [1, [1, 2, 3], false], [1.5, [1, 1.5, 2, 3], false], ['1', ['1', '2', '3'], false],
    [['1.1.1.1', '2.2.2.2'], ips, false], [5, [1, 2, 3], true], [5.5, [1, 1.5, 2, 3], true], ['5', ['1', '2', '3'], true],
    [['1.1.1.1', '4.4.4.4'], ips, true], [['5.5.5.5', '4.4.4.4'], ips, true],
    [['NET_ADMIN'], ['NET_*'], false], [['a'], 'a', false], [['20'], '1-10', true], [['5'], '1-10', false],
  ]);
  check(t, 'AllNotIn', [
    [1, [1, 2, 3], false], [1.5, [1, 1.5, 2, 3], false], ['1', ['1', '2', '3'], false],
    [['1.1.1.1', '2.2.2.2'], ips, false], [5, [1, 2, 3], true], [5.5, [1, 1.5, 2, 3], true], ['5', ['1', '2', '3'], true],
    [['1.1.1.1', '4.4.4.4'], ips, false], [['5.5.5.5', '4.4.4.4'], ips, true],
    [['SYS_ADMIN'], ['SYS_*'], false], [['20', '30'], '1-10', true], [['20', '3'], '1-10', false],
  ]);
});

t.test('In / NotIn (deprecated)', async (t) => {
  check(t, 'In', [
    [1, [1, 2, 3], true], [1.5, [1, 1.5, 2, 3], true], ['1', ['1', '2', '3'], true],
    [['1.1.1.1', '2.2.2.2'], ['1.1.1.1', '2.2.2.2', '3.3.3.3'], true],
    [5, [1, 2, 3], false], ['5', ['1', '2', '3'], false], [['1.1.1.1', '4.4.4.4'], ['1.1.1.1', '2.2.2.2'], false],
    ['kube-*', ['kube-system'], true], ['kube-system', ['kube-*'], false], ['a', 'a', true], ['a', '["a"]', true],
    [['a'], [1], false], [['a', 'b'], '["a","b","c"]', true],
  ]);
  check(t, 'NotIn', [
    [1, [1, 2, 3], false], ['5', ['1', '2', '3'], true], [['1.1.1.1', '4.4.4.4'], ['1.1.1.1', '2.2.2.2'], true],
    [['1.1.1.1'], ['1.1.1.1'], false], ['x', { a: 1 }, false],
  ]);
});

t.test('unknown operators', async (t) => {
  t.equal(getOperator('Bogus'), undefined);
  t.throws(() => evaluateOperator('Bogus', 1, 1));
  const bogus = compileConditions({ all: [{ key: 1, operator: 'Bogus', value: 1 }] });
  t.throws(() => bogus({}), { message: 'failed to create handler for condition operator' }, 'fails at evaluation, like Kyverno');
});

const data: ContextData = {
  request: {
    operation: 'CREATE',
    object: { metadata: { name: 'web', labels: { app: 'web' } }, spec: { replicas: 3, hostNetwork: true } },
  },
};

t.test('blocks: any/all, legacy list, list of blocks, messages', async (t) => {
  const op = (o: string) => ({ key: '{{ request.operation }}', operator: 'Equals', value: o, message: `operation is not ${o}` });
  t.same(compileConditions(undefined)(data), { passed: true });
  t.same(compileConditions(null)(data), { passed: true });
  t.same(compileConditions({ any: [op('UPDATE'), op('CREATE')] })(data), { passed: true, message: 'operation is not CREATE' }, 'true messages when passed');
  t.same(compileConditions({ any: [op('UPDATE'), op('DELETE')] })(data), { passed: false, message: 'operation is not UPDATE; operation is not DELETE' });
  t.same(compileConditions({ all: [op('CREATE'), op('UPDATE'), op('DELETE')] })(data), { passed: false, message: 'operation is not UPDATE' });
  t.same(compileConditions({ any: [op('CREATE')], all: [op('UPDATE')] })(data), { passed: false, message: 'operation is not UPDATE' });
  t.same(compileConditions({ any: [op('DELETE'), op('CREATE')], all: [op('UPDATE')] })(data),
    { passed: false, message: 'operation is not DELETE; operation is not UPDATE' }, 'false messages of any and all');
  t.same(compileConditions({ all: [{ ...op('CREATE'), message: '' }, op('UPDATE')] })(data), { passed: false, message: 'operation is not UPDATE' });
  t.same(compileConditions({ any: [] })(data), { passed: false }, 'an empty any list never passes');
  t.same(compileConditions({ all: [] })(data), { passed: true });
  t.same(compileConditions({})(data), { passed: true });
  t.same(compileConditions({ conditions: { all: [op('UPDATE')] } } as never)(data), { passed: true },
    'keys other than any/all are ignored, as an empty block (policies in the Kyverno library wrap preconditions in "conditions:" and expect this)');
  t.same(compileConditions([op('CREATE'), op('UPDATE')])(data), { passed: false, message: 'operation is not UPDATE' }, 'legacy list = all');
  t.same(compileConditions([op('CREATE')])(data), { passed: true, message: 'operation is not CREATE' });
  t.same(compileConditions([op('CREATE'), { ...op('CREATE'), message: 'second' }])(data), { passed: true, message: 'operation is not CREATE;second' }, 'legacy lists join with ";"');
  t.same(compileConditions([{ any: [op('CREATE')] }, { all: [op('DELETE')] }])(data), { passed: false, message: 'operation is not DELETE' });
  t.same(compileConditions([{ any: [op('CREATE')] }, { all: [{ ...op('CREATE'), message: 'm2' }] }])(data), { passed: true, message: 'operation is not CREATE;m2' });
  t.same(
    compileConditions({ all: [{ key: '{{ request.object.spec.replicas }}', operator: 'GreaterThan', value: 2 }] })(data),
    { passed: true },
  );
  t.same(
    compileConditions({ all: [{ key: '{{ request.object.metadata.labels.app }}', operator: 'AnyIn', value: ['web', 'api'] }] })(data),
    { passed: true },
  );
  t.same(
    compileConditions({ all: [{ key: "{{ request.object.metadata.labels.team || '' }}", operator: 'Equals', value: '' }] })(data),
    { passed: true },
  );
  t.same(compileConditions({ all: [{ key: '{{ request.object.spec.hostNetwork }}', operator: 'Equals', value: true }] })(data), { passed: true });
  t.same(compileConditions({ all: [{ key: 'x', operator: 'Equals' }] })(data), { passed: false }, 'missing value is null');
});

t.test('substitution failures are VariableErrors; evaluation is lazy', async (t) => {
  const missing = { key: '{{ request.object.spec.priorityClassName }}', operator: 'Equals', value: 'high' };
  const block = compileConditions({ all: [missing] });
  let err: unknown;
  try { block(data); } catch (e) { err = e; }
  t.ok(err instanceof VariableError);
  t.equal((err as Error).message,
    'failed to substitute variables in condition key: failed to resolve request.object.spec.priorityClassName at path : JMESPath query failed: Unknown key "priorityClassName" in path');
  const inValue = compileConditions([{ key: 'a', operator: 'Equals', value: '{{ nope }}' }]);
  t.throws(() => inValue(data), { message: /^failed to substitute variables in condition value: failed to resolve nope at path : / });
  const ok = { key: '{{ request.operation }}', operator: 'Equals', value: 'CREATE' };
  t.same(compileConditions({ any: [ok, missing] })(data), { passed: true }, 'any stops at the first true condition');
  t.same(compileConditions({ all: [{ ...ok, value: 'UPDATE' }, missing] })(data), { passed: false }, 'all stops at the first false condition');
  t.throws(() => compileConditions({ any: [{ ...ok, value: 'UPDATE' }], all: [missing] })(data), VariableError, 'all is evaluated even when any failed');
});
