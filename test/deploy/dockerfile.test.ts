/**
 * The container image's properties, read from the Dockerfile: multi-stage, only
 * production dependencies in the final stage, a non-root numeric user, node as
 * PID 1 (exec-form ENTRYPOINT, so SIGTERM reaches it), no HEALTHCHECK
 * (Kubernetes probes /healthz and /readyz), and a build the repo really has.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { imageMallocEnv, imageNodeOptions } from '../support/node-options.ts';

const root = new URL('../../', import.meta.url);
const text = readFileSync(new URL('Dockerfile', root), 'utf8');
const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const stages = lines.reduce<string[][]>((acc, l) => {
  if (/^FROM\s/i.test(l)) acc.push([]);
  acc[acc.length - 1]?.push(l);
  return acc;
}, []);
const final = stages[stages.length - 1]!;

t.test('multi-stage, with the final stage copying built artefacts only', async (t) => {
  t.ok(stages.length >= 2, 'more than one stage');
  t.ok(final.some((l) => /^COPY --from=\S+ .*node_modules/.test(l)), 'node_modules come from another stage');
  t.notOk(final.some((l) => /^RUN .*npm (ci|install)(?!.*--omit=dev)/.test(l)), 'no dev install in the final stage');
  t.ok(lines.some((l) => /npm ci --omit=dev/.test(l)), 'production dependencies installed with npm ci --omit=dev');
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> };
  t.ok(lines.some((l) => /npm run build/.test(l)) && pkg.scripts.build, 'the build step is the package build script');
});

t.test('runs as a non-root numeric user with node as PID 1 and no HEALTHCHECK', async (t) => {
  const user = final.filter((l) => /^USER\s/.test(l)).pop();
  t.ok(user, 'USER is set in the final stage');
  t.match(user!, /^USER\s+[1-9]\d*(:[1-9]\d*)?$/, 'numeric, non-zero uid');
  const entry = final.find((l) => /^ENTRYPOINT\s/.test(l));
  t.ok(entry, 'ENTRYPOINT set');
  const argv = JSON.parse(entry!.replace(/^ENTRYPOINT\s+/, '')) as string[];
  t.equal(argv[0], 'node', 'exec form with node first: node is PID 1 and receives SIGTERM');
  t.notOk(lines.some((l) => /^HEALTHCHECK\s/.test(l)), 'no HEALTHCHECK');
  t.notOk(final.some((l) => /^RUN\s/.test(l) && /chmod|chown/.test(l)), 'nothing made writable at run time (read-only root filesystem)');
});

t.test('the image sizes V8 for its container, and deploy/ and the Helm chart say the same', async (t) => {
  const options = imageNodeOptions();
  t.match(options, /--max-semi-space-size=\d+/, 'young generation bounded');
  t.match(options, /--max-old-space-size=\d+/, 'old generation capped');
  const base = readFileSync(new URL('deploy/base/deployment.yaml', root), 'utf8');
  t.match(base, `{name: NODE_OPTIONS, value: "${options}"}`, 'deploy/base/deployment.yaml');
  const values = readFileSync(new URL('deploy/helm/portcullis/values.yaml', root), 'utf8');
  t.match(values, `nodeOptions: "${options}"`, 'Helm values');
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> };
  const malloc = Object.entries(imageMallocEnv()).map(([k, v]) => `${k}=${v}`).join(' ');
  t.match(pkg.scripts.start, `${malloc} node ${options} src/cli/main.ts serve`, 'npm start runs the server with them too');
  t.match(imageMallocEnv(), { MALLOC_ARENA_MAX: /^[1-9]\d*$/, MALLOC_MMAP_THRESHOLD_: /^[1-9]\d*$/ }, 'the image tunes glibc malloc');
});
