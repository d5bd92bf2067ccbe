/**
 * Leaf values of validate patterns (Kyverno pkg/engine/pattern): wildcards,
 * `|` / `&`, operators, ranges, quantities, durations, scalar types, and the
 * Go renderings that surface in messages.
 */
import t, { type Test } from 'tap';
import { compileLeaf, compilePattern } from '../../src/engine/pattern/index.ts';
import { goFloatE, goFloatF, goFloatG, goType, goValue } from '../../src/engine/pattern/goformat.ts';
import { approxQuantity, compareQuantity, compareQuantityText, parseDuration, parseQuantity } from '../../src/engine/pattern/units.ts';

function table(t: Test, pattern: unknown, cases: [unknown, boolean][]): void {
  const m = compileLeaf(pattern);
  for (const [value, want] of cases) t.equal(m(value), want, `${JSON.stringify(pattern)} vs ${JSON.stringify(value)}`);
}

t.test('plain strings and wildcards', async (t) => {
  table(t, 'nginx', [['nginx', true], ['nginx2', false], [null, false], [undefined, false]]);
  table(t, '*', [['', true], ['x', true], [5, true], [true, true], [null, false], [{ a: 1 }, false], [[1], false]]);
  table(t, '?*', [['', false], ['a', true], [7, true], [null, false]]);
  table(t, 'nginx:1.?', [['nginx:1.2', true], ['nginx:1.22', false]]);
  table(t, '*.corp.io/*', [['r.corp.io/app:1', true], ['docker.io/app', false]]);
  table(t, 'true', [[true, true], ['true', true], [false, false]]);
  table(t, 'tru*', [[true, true]]);
});

t.test('alternation | and conjunction &', async (t) => {
  table(t, 'a | b', [['a', true], ['b', true], ['c', false], ['a | b', true]]);
  table(t, 'a|b', [['b', true]]);
  table(t, '*:* & !*:latest', [['nginx:1.0', true], ['nginx:latest', false], ['nginx', false]]);
  table(t, 'prodclass | expclass', [['prodclass', true], ['devclass', false], [null, false]]);
  table(t, '!a & !b | c', [['x', true], ['a', false], ['c', true]]);
});

t.test('negation !', async (t) => {
  table(t, '!*', [['', false], ['x', false], [null, false]]);
  table(t, '!x', [['y', true], ['x', false], [null, false], [1, true]]);
  table(t, '!*:latest', [['nginx:1', true], ['nginx:latest', false]]);
  table(t, '!1-10', [['5', true], ['1-10', false]], );
});

t.test('comparison operators use quantities', async (t) => {
  table(t, '>1', [[2, true], ['2', true], [1, false], ['0.5', false], [null, false], ['abc', false]]);
  table(t, '>=0', [[0, true], [null, true], [-1, false]]);
  table(t, '> 5', [[6, true], [5, false]]);
  table(t, '<=1', [['500m', true], [1, true], ['1001m', false]]);
  table(t, '<4.5', [[4, true], [5, false], [4.4, true]]);
  table(t, '>=100Mi', [['1Gi', true], ['100Mi', true], ['50Mi', false], ['104857600', true], ['500m', false]]);
  table(t, '<=2Gi', [['2048Mi', true], ['2049Mi', false]]);
  table(t, '>abc', [['abd', false], ['abc', false]]);
  table(t, '!0', [[0, false], [1, true], ['0.0', false]]);
});

t.test('equality compares quantities exactly', async (t) => {
  table(t, '100m', [['0.1', true], [0.1, true], ['100m', true], ['1', false]]);
  table(t, '1Ki', [['1024', true], [1024, true], ['1k', false]]);
  table(t, '1e3', [['1k', true], [1000, true]]);
  table(t, '1E', [['1e18', true]]);
  table(t, '1n', [['0.1n', true]]);
  table(t, '1.5', [[1.5, true], ['1.5', true], ['1500m', true]]);
});

t.test('durations are compared before quantities', async (t) => {
  table(t, '<1h', [['30m', true], ['2h', false], ['59m59s', true], [null, true]]);
  table(t, '1h30m', [['90m', true], ['1.5h', true], ['5400s', true], ['1h', false]]);
  table(t, '>300ms', [['1s', true], ['0.2s', false]]);
  table(t, '5m', [['300s', true], ['0.005', true]]);
  table(t, '0', [[null, true], [0, true], ['0s', true], ['1s', false]]);
});

t.test('ranges a-b and a!-b', async (t) => {
  table(t, '1-10', [[5, true], [1, true], [10, true], [0, false], [11, false], ['7', true]]);
  table(t, '1!-10', [[0, true], [5, false], [11, true], [10, false]]);
  table(t, '10Mi-1Gi', [['512Mi', true], ['2Gi', false]]);
  table(t, '-5-5', [[0, true], [-5, true], [-6, false]]);
  table(t, '0.5-1.5', [[1, true], [2, false]]);
});

t.test('numbers render as Go does for string comparison', async (t) => {
  table(t, '1.?', [[1.5, false]]);
  table(t, '*E+00', [[1.5, true], [2, false]]);
  table(t, '1.5E*', [[1.5, true]]);
  table(t, '4*', [[42, true]]);
});

t.test('number patterns', async (t) => {
  table(t, 1, [[1, true], ['1', true], ['1.0', true], ['01', true], ['abc', false], [true, false], [null, false], [2, false]]);
  table(t, 1.5, [[1.5, true], [1, false], ['1.5', true]]);
  table(t, 0, [[0, true], [null, false], ['', false]]);
});

t.test('boolean patterns', async (t) => {
  table(t, true, [[true, true], [false, false], ['true', false], [null, false]]);
  table(t, false, [[false, true], [undefined, false], [0, false]]);
});

t.test('null pattern accepts empty values', async (t) => {
  table(t, null, [[null, true], [undefined, true], [0, true], ['', true], [false, true], [1, false], ['x', false], [true, false], [{}, false], [[], false]]);
});

t.test('messages render values with Go %v', async (t) => {
  const r = compilePattern({ a: 1000000, b: 1.5, c: null, d: true })({ a: 5, b: 1.5, c: null, d: true });
  t.same(r, { ok: false, path: '/a/', message: "resource value '5' does not match '1e+06' at path /a/" });
  const r2 = compilePattern({ m: 'x' })({ m: ['a', 1] });
  t.same(r2, { ok: false, path: '/m/', message: "resource value '[a 1]' does not match 'x' at path /m/" });
  const r3 = compilePattern({ n: null })({ n: 'x' });
  t.same(r3, { ok: false, path: '/n/', message: "resource value 'x' does not match '<nil>' at path /n/" });
});

t.test('Go formatting helpers', async (t) => {
  t.equal(goFloatG(1e6), '1e+06');
  t.equal(goFloatG(123456), '123456');
  t.equal(goFloatG(1234567), '1.234567e+06');
  t.equal(goFloatG(0.0001), '0.0001');
  t.equal(goFloatG(0.00001), '1e-05');
  t.equal(goFloatG(1.5), '1.5');
  t.equal(goFloatG(-2.25), '-2.25');
  t.equal(goFloatE(1.5), '1.5E+00');
  t.equal(goFloatE(1234.5), '1.2345E+03');
  t.equal(goFloatE(0.01), '1E-02');
  t.equal(goFloatF(1.5), '1.500000');
  t.equal(goValue({ b: 1, a: [1, 'x'], c: null }), 'map[a:[1 x] b:1 c:<nil>]');
  t.equal(goValue(2.5), '2.5');
  t.equal(goType(3), 'int64');
  t.equal(goType(3, true), 'float64');
  t.equal(goType({}), 'map[string]interface {}');
  t.equal(goType([]), '[]interface {}');
  t.equal(goType(undefined), '<nil>');
});

t.test('quantity and duration parsing', async (t) => {
  t.equal(parseQuantity(''), undefined);
  t.equal(parseQuantity('.'), undefined);
  t.equal(parseQuantity('1.5.3'), undefined);
  t.equal(parseQuantity('1Gb'), undefined);
  t.equal(parseQuantity('abc'), undefined);
  t.ok(parseQuantity('+.5'));
  t.ok(parseQuantity('5.'));
  const q = (s: string) => parseQuantity(s)!;
  t.equal(compareQuantity(q('1Gi'), q('1024Mi')), 0);
  t.equal(compareQuantity(q('1G'), q('1Gi')), -1);
  t.equal(compareQuantity(q('-1'), q('1m')), -1);
  t.equal(compareQuantity(q('0'), q('-0')), 0);
  t.equal(compareQuantity(q('0.30000000000000004'), q('0.3')), 1, 'exact beyond float precision');
  t.equal(compareQuantity(q('99999999999999999999'), q('9223372036854775807')), 0, 'capped at the int64 maximum');
  for (const s of ['', '.', '1', '-1.5', '+.5', '5.', '1e3', '1E', '1e', '1E+', '1e-2', '2Ki', '3Mi', '1Gb', '1.5.3', 'abc', '0x10', '1 ', ' 1', '100m', '7u', '1n', '1Ei', '1K']) {
    t.equal(approxQuantity(s) === undefined, parseQuantity(s) === undefined, `fast and exact parsers agree on ${JSON.stringify(s)}`);
  }
  const cmp = (a: string, b: string) => compareQuantityText(a, approxQuantity(a)!, parseQuantity(b)!);
  t.equal(cmp('0', '1m'), -1);
  t.equal(cmp('0', '-1m'), 1);
  t.equal(cmp('0.0', '0'), 0);
  t.equal(cmp('0.1n', '1n'), 0, 'nano rounding goes through the exact path');
  t.equal(cmp('1e-400', '1n'), 0);
  t.equal(cmp('0.1', '100m'), 0);
  t.equal(cmp('2Gi', '2048Mi'), 0);
  t.equal(cmp('3Gi', '2048Mi'), 1);
  t.equal(parseDuration('1h'), 3600e9);
  t.equal(parseDuration('-1.5s'), -1.5e9);
  t.equal(parseDuration('1'), undefined, 'units are required');
  t.equal(parseDuration('1x'), undefined);
  t.equal(parseDuration(''), undefined);
  t.equal(parseDuration('+0'), 0);
  t.equal(parseDuration('2µs'), 2000);
});

t.test('prototype keys are not units or suffixes', async (t) => {
  for (const s of ['1constructor', '1__proto__', '1toString', '1hasOwnProperty']) {
    t.equal(parseQuantity(s), undefined, s);
    t.equal(approxQuantity(s), undefined, s);
    t.equal(parseDuration(s), undefined, s);
  }
  table(t, '>1toString', [['2', false]]);
});
