/**
 * The webhook's policy loader loads the CEL runtime only for a policy set that
 * needs it (a policies.kyverno.io kind or a validate.cel rule): the default
 * bundle runs without it, and CEL policies still compile and evaluate. Nor does
 * the server's module graph load Node's bundled undici (~12 MiB resident).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./fixtures/default-loader-child.ts', import.meta.url));
const bundle = fileURLToPath(new URL('../../policies', import.meta.url));

interface Report { policies: string[]; errors: unknown[]; failed: string[]; celLoaded: boolean; undiciLoaded: boolean }

function load(...paths: string[]): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [child, ...paths], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as Report);
    });
  });
}

t.test('the default bundle: compiled and enforced without loading the CEL runtime', async (t) => {
  const r = await load(bundle);
  t.same(r.errors, []);
  t.equal(r.policies.length, 9);
  t.ok(r.failed.includes('disallow-privileged-containers/privileged-containers'), `a privileged Pod fails (failed: ${r.failed.join(', ')})`);
  t.equal(r.celLoaded, false, '@bufbuild/cel was not loaded');
  t.equal(r.undiciLoaded, false, "the server's modules did not make Node load its bundled undici");
});

t.test('a ValidatingPolicy and a validate.cel rule: the CEL runtime is loaded and both evaluate', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-cel-policies-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'vpol.yaml'), `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: no-latest}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  validations:
  - expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))"
    message: no latest
`);
  await writeFile(join(dir, 'cel-rule.yaml'), `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: no-privileged-cel}
spec:
  rules:
  - name: no-privileged
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      cel:
        expressions:
        - expression: "object.spec.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || !c.securityContext.privileged)"
          message: privileged
`);
  const r = await load(dir);
  t.same(r.errors, []);
  t.same([...r.failed].sort(), ['no-latest/validation', 'no-privileged-cel/no-privileged']);
  t.equal(r.celLoaded, true);
});

t.test('a GeneratingPolicy or DeletingPolicy that does not compile costs the webhook nothing: the set loads, requests are decided by the rest', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-offline-kinds-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const rules = "matchConstraints:\n    resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}]";
  await writeFile(join(dir, 'gpol.yaml'), `apiVersion: policies.kyverno.io/v1
kind: GeneratingPolicy
metadata: {name: broken-gen}
spec:
  ${rules}
  generate:
  - expression: "no_such_function(object)"
`);
  await writeFile(join(dir, 'dpol.yaml'), `apiVersion: policies.kyverno.io/v1
kind: DeletingPolicy
metadata: {name: broken-del}
spec:
  schedule: "0 1 * * *"
  ${rules}
  conditions:
  - name: c
    expression: "no_such_function(object)"
`);
  await writeFile(join(dir, 'vpol.yaml'), `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: no-latest}
spec:
  validationActions: [Deny]
  ${rules}
  validations:
  - expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))"
    message: no latest
`);
  const r = await load(dir);
  t.same(r.errors, [], 'no load error');
  t.same([...r.policies].sort(), ['broken-del', 'broken-gen', 'no-latest']);
  t.same(r.failed, ['no-latest/validation'], 'only the ValidatingPolicy decides');
});
