/** `exceptions:` in a Kyverno Test file: the PolicyException turns the matching rule into skip. */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { runTestCommand } from '../../src/cli/test/index.ts';

t.test('a Test with PolicyExceptions', async (t) => {
  let out = '';
  const code = await runTestCommand([fileURLToPath(new URL('./fixtures/exceptions/', import.meta.url))], { write: (s: string) => { out += s; return true; } });
  t.equal(code, 0, out);
  t.match(out, /Test Summary: 2 tests passed and 0 tests failed/);
  t.notMatch(out, /not supported/);
});
