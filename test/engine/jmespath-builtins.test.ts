import t from 'tap';
import { compileQuery } from '../../src/engine/jmespath/index.ts';
import { goParseFloat, goStringLess } from '../../src/engine/jmespath/builtins.ts';

const q = (expr: string, data: unknown = {}) => compileQuery(expr).search(data as never);

t.test('to_string marshals non-strings as Go does: sorted keys, HTML characters escaped', async (t) => {
  t.equal(q('to_string(@)', { zeta: '1', alpha: '<b>&' }), '{"alpha":"\\u003cb\\u003e\\u0026","zeta":"1"}');
  t.equal(q('to_string(@)', [1, 2.5, true, null]), '[1,2.5,true,null]');
  t.equal(q("to_string('plain')"), 'plain', 'a string is returned as is');
  t.equal(q('to_string(`5`)'), '5');
});

t.test('to_number parses strings like strconv.ParseFloat', async (t) => {
  t.equal(q("to_number('12')"), 12);
  t.equal(q("to_number('-1.5e3')"), -1500);
  t.equal(q("to_number('.5')"), 0.5);
  t.equal(q("to_number('0x10')"), null, 'hex needs a binary exponent in Go');
  t.equal(q("to_number(' 5')"), null, 'no blanks');
  t.equal(q("to_number('5 ')"), null);
  t.equal(q("to_number('')"), null);
  t.equal(q("to_number('1_000')"), null);
  t.equal(q('to_number(`true`)'), null);
  t.equal(q('to_number(`7`)'), 7);
  t.equal(goParseFloat('0x1p-2'), 0.25);
  t.equal(goParseFloat('0x1.8p1'), 3);
  t.equal(goParseFloat('+Inf'), Infinity);
  t.equal(goParseFloat('-infinity'), -Infinity);
  t.ok(Number.isNaN(goParseFloat('NaN')));
  t.equal(goParseFloat('0x'), undefined);
});

t.test('sort orders numbers numerically and strings by bytes', async (t) => {
  t.same(q('sort(`[10, 9, 1, 100]`)'), [1, 9, 10, 100]);
  t.same(q('sort(`["b", "B", "a", "A"]`)'), ['A', 'B', 'a', 'b']);
});

t.test('max / min compare strings by bytes', async (t) => {
  t.equal(q('max(`["B", "a", "C"]`)'), 'a');
  t.equal(q('min(`["b", "B", "a"]`)'), 'B');
  t.equal(q('max(`[3, 10, 2]`)'), 10);
  t.equal(q('min(`[]`)'), null);
});

t.test('max_by / min_by take number or string keys, the first best element winning', async (t) => {
  const containers = [{ name: 'b', n: 2 }, { name: 'c', n: 1 }, { name: 'a', n: 2 }, { name: 'c', n: 9 }];
  t.same(q('max_by(@, &name)', containers), { name: 'c', n: 1 });
  t.same(q('min_by(@, &name)', containers), { name: 'a', n: 2 });
  t.same(q('max_by(@, &n)', containers), { name: 'c', n: 9 });
  t.same(q('min_by(@, &n)', containers), { name: 'c', n: 1 });
  t.equal(q('max_by(`[]`, &n)'), null);
  t.same(q('max_by(@, &missing)', [{ x: 1 }]), { x: 1 }, 'one element is returned unchecked');
  t.throws(() => q('max_by(@, &k)', [{ k: 1 }, { k: 'x' }]), /invalid type, must be number/);
  t.throws(() => q('min_by(@, &k)', [{ k: 'x' }, { k: 1 }]), /invalid type, must be string/);
  t.throws(() => q('max_by(@, &k)', [{ k: true }, { k: false }]), /invalid type/);
});

t.test('goStringLess is code point order, also above U+FFFF', async (t) => {
  t.ok(goStringLess('B', 'a'));
  t.ok(goStringLess('ab', 'abc'));
  t.notOk(goStringLess('abc', 'abc'));
  // U+FF5E (one UTF-16 unit) sorts before U+1F600 (a surrogate pair) in Go; JS `<` says otherwise.
  t.ok(goStringLess('\uff5e', '\u{1f600}'));
  t.notOk(goStringLess('\u{1f600}', '\uff5e'));
});
