/**
 * Every policy of the default bundle carries its own Kyverno Test
 * (policies/<name>/.kyverno-test/kyverno-test.yaml); `portcullis test policies`
 * must run them all and see every expectation hold.
 */
import t from 'tap';
import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runTestCommand } from '../../src/cli/test/index.ts';

const root = fileURLToPath(new URL('../../policies/', import.meta.url));

t.test('each bundled policy has its Test file', async (t) => {
  for (const name of readdirSync(root)) {
    t.ok(existsSync(`${root}${name}/.kyverno-test/kyverno-test.yaml`), `${name} has .kyverno-test/kyverno-test.yaml`);
  }
});

t.test('portcullis test policies/ passes every expectation', async (t) => {
  let out = '';
  const code = await runTestCommand([root], { write: (s: string) => { out += s; return true; } });
  t.equal(code, 0, out);
  const m = /Test Summary: (\d+) tests passed and (\d+) tests failed/.exec(out);
  t.ok(m, 'summary line printed');
  t.ok(Number(m![1]) >= 39, `ran the bundle's expectations (${m?.[1]})`);
  t.equal(Number(m![2]), 0);
});
