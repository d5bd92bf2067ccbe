/**
 * Simple JMESPath expressions run as compiled closures (src/engine/jmespath
 * compileFast); they must give exactly what the community interpreter gives,
 * for every shape of data — objects, arrays, scalars, null, empty values.
 */
import t from 'tap';
import { search } from '@jmespath-community/jmespath';
import { compileQuery, NotFoundError } from '../../src/engine/jmespath/index.ts';
import type { JsonValue } from '../../src/engine/types.ts';

const data: JsonValue = {
  a: { b: { c: 'deep' }, list: [1, { x: 'y' }, null], empty: {}, zero: 0, no: false, blank: '' },
  element: { name: 'web', securityContext: { privileged: true }, ports: [] },
  arr: [[1, 2], [3]],
  str: 'text',
  nil: null,
};

const expressions = [
  'a', 'a.b.c', 'a.b.missing', 'a.list[0]', 'a.list[1].x', 'a.list[-1]', 'a.list[5]', 'arr[0][1]', 'str.x', 'str[0]',
  'a.empty || `"fallback"`', 'a.zero || `1`', 'a.no || `true`', 'a.blank || `"x"`', 'nil || `false`', 'element.securityContext.privileged || `false`',
  'element.ports || `[]`', 'a.b && a.zero', 'a.empty && `1`', '!a.no', '!a.zero', '!a.empty', '!element.ports', '@', '@.str', 'a | b | c',
  'a.list | [1]', '`{"k": [1, 2]}`', "'raw'", 'element.name', 'nil.x', 'a.list[1].x.y',
];

t.test('closures and the interpreter agree', async (t) => {
  for (const expr of expressions) {
    let ours: JsonValue | NotFoundError;
    try {
      ours = compileQuery(expr).search(data);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      ours = e;
    }
    const theirs = search(data as never, expr) as JsonValue;
    if (ours instanceof NotFoundError) t.equal(theirs, null, `${expr}: a missing key is reported only when the result is null`);
    else t.same(ours, theirs, expr);
  }
});

t.test('a missing key still reads as Kyverno reports it', async (t) => {
  t.throws(() => compileQuery('a.b.missing').search(data), { message: /missing/ });
  t.equal(compileQuery('a.b.missing || `"d"`').search(data), 'd');
});
