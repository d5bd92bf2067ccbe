/**
 * Precompiled CRD-schema validators (the build's precompile-schemas step) must
 * decide, default and report exactly as ajv compiling the same schema in
 * process; one whose manifest does not match the schema is not used.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { parseAllDocuments } from 'yaml';
import { precompileSchemas } from '../../src/policy/precompile-schemas.ts';
import { checkSchema, makeAjv, releaseSchemaValidators, schemaToCompile, usePrecompiledValidators } from '../../src/policy/schema.ts';

const root = mkdtempSync(join(tmpdir(), 'portcullis-validators-'));
t.teardown(() => { usePrecompiledValidators(join(root, 'none')); rmSync(root, { recursive: true, force: true }); });
// The generated modules require ajv's runtime helpers, resolved from where they lie (dist/ sits in the app).
symlinkSync(fileURLToPath(new URL('../../node_modules', import.meta.url)), join(root, 'node_modules'));
/** A fresh output directory per test. */
let dirs = 0;
const outDir = () => join(root, `validators-${++dirs}`);

const bundle = new URL('../../policies/', import.meta.url);
const policyFiles = ['pod-security-restricted/pod-security-restricted.yaml', 'add-default-securitycontext/add-default-securitycontext.yaml',
  'restrict-image-registries/restrict-image-registries.yaml'];
const policies = policyFiles.flatMap((f) => parseAllDocuments(readFileSync(new URL(f, bundle), 'utf8')).map((d) => d.toJSON() as Record<string, unknown>));

/** Documents that pass, get defaults, or fail in different places. */
function documents(): Record<string, unknown>[] {
  const copy = () => structuredClone(policies[0]!) as { spec: Record<string, unknown> } & Record<string, unknown>;
  const badAction = copy(); badAction.spec.validationFailureAction = 'Block';
  const badField = copy(); (badField.spec.rules as Record<string, unknown>[])[0]!.name = 5;
  const noRules = copy(); noRules.spec = { rules: 'x' };
  const exception = { apiVersion: 'kyverno.io/v2', kind: 'PolicyException', metadata: { name: 'e' }, spec: { exceptions: [{ policyName: 'p', ruleNames: ['r'] }], match: { any: [{ resources: { kinds: ['Pod'] } }] } } };
  const badException = { apiVersion: 'kyverno.io/v2', kind: 'PolicyException', metadata: { name: 'e' }, spec: { exceptions: 'all' } };
  const vpol = { apiVersion: 'policies.kyverno.io/v1', kind: 'ValidatingPolicy', metadata: { name: 'v' }, spec: { validations: [{ expression: 'true' }] } };
  return [...policies.map((p) => structuredClone(p)), badAction, badField, noRules, exception, badException, vpol];
}

/** Every verdict, and each document as checked (CRD defaults applied in place). */
function checkAll(): unknown[] {
  return documents().map((doc) => ({ problem: checkSchema(doc) ?? null, doc }));
}

t.test('precompiled validators give the in-process verdicts, errors and defaults', async (t) => {
  const dir = outDir();
  usePrecompiledValidators(join(root, 'none'));
  const inProcess = checkAll();
  const written = precompileSchemas(dir);
  t.ok(written >= 30, `every CRD schema is precompiled (${written})`);
  usePrecompiledValidators(dir);
  const precompiled = checkAll();
  t.same(precompiled, inProcess);
  t.ok(inProcess.some((r) => (r as { problem: unknown }).problem === null), 'some documents pass');
  t.ok(inProcess.filter((r) => (r as { problem: unknown }).problem !== null).length >= 4, 'and several fail');
  t.match(JSON.stringify(inProcess[0]), /"background"/, 'defaults are applied');
});

t.test('released precompiled validators are loaded again, with the same verdicts', async (t) => {
  const dir = outDir();
  precompileSchemas(dir);
  usePrecompiledValidators(dir);
  const first = checkAll();
  // A server releases them after every (re)load; they live outside Node's module cache so they can be freed.
  releaseSchemaValidators();
  t.same(checkAll(), first);
  t.notOk(Object.keys(createRequire(import.meta.url).cache).some((f) => f.startsWith(dir)), 'not kept in the module cache');
});

t.test('a validator whose schema changed since the build is not used', async (t) => {
  const dir = outDir();
  precompileSchemas(dir);
  // Tamper with the generated ClusterPolicy validator so using it would be visible, then make its fingerprint stale.
  writeFileSync(join(dir, 'kyverno.io_v1_ClusterPolicy.cjs'), 'module.exports = function validate() { validate.errors = [{ instancePath: "/tampered", message: "tampered" }]; return false; };\n');
  usePrecompiledValidators(dir);
  t.match(checkSchema(structuredClone(policies[0]!)), { path: '/tampered' }, 'a matching manifest entry is trusted');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, string>;
  manifest['kyverno.io_v1_ClusterPolicy'] = 'stale';
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  usePrecompiledValidators(dir);
  t.equal(checkSchema(structuredClone(policies[0]!)), undefined, 'a stale entry falls back to compiling the schema');
});

t.test('the split schema (large subschemas as $defs) validates, defaults and reports like the CRD schema as written', async (t) => {
  const text = readFileSync(new URL('../../src/policy/schemas/kyverno.io_v1_ClusterPolicy.json', import.meta.url), 'utf8');
  const split = schemaToCompile(text) as { $defs?: Record<string, unknown> };
  t.ok(Object.keys(split.$defs ?? {}).length > 10, `compiled as many functions (${Object.keys(split.$defs ?? {}).length} $defs)`);
  const whole = makeAjv({ inlineRefs: true }).compile(JSON.parse(text));
  const parts = makeAjv().compile(split);
  const run = (validate: typeof whole) => documents().filter((d) => d.kind === 'ClusterPolicy').map((doc) => {
    const ok = validate(doc);
    const e = validate.errors?.[0];
    return { ok, error: ok ? null : { instancePath: e?.instancePath, keyword: e?.keyword, message: e?.message, params: e?.params }, doc };
  });
  const expected = run(whole);
  t.same(run(parts), expected);
  t.ok(expected.some((r) => !r.ok) && expected.some((r) => r.ok), 'both verdicts are exercised');
});
