/**
 * The Dockerfile's build, exercised without a container engine: the same steps
 * in a temporary directory — `npm run build`, then a production-only
 * `npm ci --omit=dev` beside the built `dist/` and the bundled `policies/`
 * (the final image's contents) — and the built CLI must run the bundle's
 * Kyverno Tests there. Catches a dev-only import or a file the build forgets.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

t.test('built dist/ with production dependencies only runs the bundle tests', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-image-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const build = join(dir, 'build');
  // Build stage: sources and the build script, as the Dockerfile copies them.
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src']) cpSync(join(root, f), join(build, f), { recursive: true });
  cpSync(join(root, 'node_modules'), join(build, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  await run('npm', ['run', 'build'], { cwd: build, env: process.env });
  t.ok(existsSync(join(build, 'dist/cli/main.js')), 'dist/cli/main.js built');
  t.ok(existsSync(join(build, 'dist/policy/schemas/kyverno.io_v1_ClusterPolicy.json')), 'CRD schemas copied into dist');
  t.ok(existsSync(join(build, 'dist/policy/validators/manifest.json')) && existsSync(join(build, 'dist/policy/validators/kyverno.io_v1_ClusterPolicy.cjs')),
    'CRD schema validators precompiled into dist');

  // Final stage: production dependencies, dist, bin, policies.
  const app = join(dir, 'app');
  for (const f of ['package.json', 'package-lock.json']) cpSync(join(root, f), join(app, f));
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, env: process.env });
  t.notOk(existsSync(join(app, 'node_modules/tap')), 'no dev dependencies in the image');
  t.notOk(existsSync(join(app, 'node_modules/typescript')), 'no compiler in the image');
  cpSync(join(build, 'dist'), join(app, 'dist'), { recursive: true });
  cpSync(join(root, 'policies'), join(app, 'policies'), { recursive: true });
  const { stdout } = await run(process.execPath, ['dist/cli/main.js', 'test', 'policies'], { cwd: app });
  t.match(stdout, /Test Summary: \d+ tests passed and 0 tests failed/);
});
