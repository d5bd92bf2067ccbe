import t from 'tap';
import { readFileSync } from 'node:fs';
import { renderBundle } from '../../scripts/bundle-policies.ts';
import { parsePolicyText } from '../../src/policy/load.ts';

t.test('deploy/base/policies.yaml is the current default bundle and loads cleanly', async (t) => {
  const root = new URL('../../', import.meta.url);
  process.chdir(root.pathname);
  const current = readFileSync('deploy/base/policies.yaml', 'utf8');
  t.equal(current, await renderBundle(), 'run `node scripts/bundle-policies.ts` after changing policies/');
  const r = parsePolicyText(current, 'deploy/base/policies.yaml');
  t.same(r.errors, []);
  t.equal(r.policies.length, 9);
});
