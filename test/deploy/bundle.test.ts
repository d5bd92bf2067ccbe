import t from 'tap';
import { readFileSync } from 'node:fs';
import { renderBundle, bundleOutputs } from '../../scripts/bundle-policies.ts';
import { parsePolicyText } from '../../src/policy/load.ts';

t.test('deploy/base/policies.yaml is the current default bundle and loads cleanly', async (t) => {
  const root = new URL('../../', import.meta.url);
  process.chdir(root.pathname);
  const rendered = await renderBundle();
  for (const out of bundleOutputs) t.equal(readFileSync(out, 'utf8'), rendered, `${out}: run \`node scripts/bundle-policies.ts\` after changing policies/`);
  const current = readFileSync('deploy/base/policies.yaml', 'utf8');
  const r = parsePolicyText(current, 'deploy/base/policies.yaml');
  t.same(r.errors, []);
  t.equal(r.policies.length, 9);
});
