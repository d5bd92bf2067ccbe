import t from 'tap';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metrics } from '../../src/metrics/metrics.ts';
import { PolicyStore, type PolicyLoader } from '../../src/server/policy-set.ts';
import type { PolicyLoadError } from '../../src/policy/types.ts';
import { captureLogger, policy, results, scripted, until } from './fixtures/helpers.ts';

/** A stand-in loader: each file holds "name[:action]" or "broken" (a load error at line 3). */
const fileLoader: PolicyLoader = async (paths) => {
  const dir = paths[0]!;
  const policies = [];
  const errors: PolicyLoadError[] = [];
  for (const f of (await readdir(dir)).sort()) {
    const text = (await readFile(join(dir, f), 'utf8')).trim();
    if (text === 'broken') errors.push({ file: join(dir, f), index: 0, line: 3, path: '/spec/rules/0', reason: 'rule has no validate, mutate, generate or verifyImages' });
    else {
      const [name, action] = text.split(':');
      policies.push(policy({ name: name!, validationFailureAction: action === 'Audit' ? 'Audit' : 'Enforce' }));
    }
  }
  return { policies, errors };
};

async function changes(m: Metrics) {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'kyverno_policy_changes_total');
  return Object.fromEntries((metric?.values ?? []).map((v) => [`${v.labels.policy_name}:${v.labels.policy_change_type}`, v.value]));
}

t.test('live reload: changes apply, a broken set keeps the last good one, changes are counted', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-policies-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'a.yaml'), 'alpha');
  await writeFile(join(dir, 'b.yaml'), 'beta');
  const metrics = new Metrics({ processMetrics: false });
  const log = captureLogger();
  const store = new PolicyStore({
    paths: [dir], loader: fileLoader, budgetMs: 1000, metrics, logger: log.logger,
    createDecider: () => scripted((i) => results(i, [])),
  });
  t.teardown(() => store.close());

  t.same(await store.reload(), { ok: true, errors: [] });
  t.same(store.current!.policies.map((p) => p.name), ['alpha', 'beta']);
  t.same(await changes(metrics), { 'alpha:created': 1, 'beta:created': 1 });
  store.watch({ debounceMs: 20, pollMs: 50 });

  // An edit: beta changes action, gamma appears, alpha goes.
  await writeFile(join(dir, 'b.yaml'), 'beta:Audit');
  await writeFile(join(dir, 'c.yaml'), 'gamma');
  await rm(join(dir, 'a.yaml'));
  t.ok(await until(() => store.current!.policies.map((p) => p.name).join() === 'beta,gamma'), 'new set live');
  t.ok(await until(async () => (await changes(metrics))['alpha:deleted'] === 1));
  t.match(await changes(metrics), { 'beta:updated': 1, 'gamma:created': 1, 'alpha:deleted': 1 });
  const generation = store.current!.generation;

  // A broken file: the error is logged with file:line and reason; the last good set keeps serving.
  await writeFile(join(dir, 'd.yaml'), 'broken');
  t.ok(await until(() => log.lines.some((l) => l.msg === 'policy set rejected; keeping the last good policy set')));
  const err = log.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('policy error '));
  t.match(err, { level: 50, file: join(dir, 'd.yaml'), line: 3, reason: /no validate/ });
  t.match(err!.msg, `${join(dir, 'd.yaml')}:3:`);
  t.equal(store.current!.generation, generation, 'still the last good set');
  t.same(store.current!.policies.map((p) => p.name), ['beta', 'gamma']);

  // Fixing it loads the new set.
  await writeFile(join(dir, 'd.yaml'), 'delta');
  t.ok(await until(() => store.current!.policies.length === 3), 'fixed set live');
  t.ok(store.current!.generation > generation);
});

t.test('a first load with errors leaves the store without a set (not ready)', async (t) => {
  const store = new PolicyStore({
    paths: ['/nonexistent'], budgetMs: 1000, createDecider: () => scripted((i) => results(i, [])),
    loader: async () => ({ policies: [policy({ name: 'ok' })], errors: [{ file: 'p.yaml', index: 1, line: 12, path: '', reason: 'bad' }] }),
  });
  const r = await store.reload();
  t.equal(r.ok, false);
  t.equal(store.current, null);
});

t.test('a loader that throws keeps the last good set', async (t) => {
  let fail = false;
  const store = new PolicyStore({
    paths: ['x'], budgetMs: 1000, createDecider: () => scripted((i) => results(i, [])),
    loader: async () => { if (fail) throw new Error('EACCES'); return { policies: [policy({ name: 'p' })], errors: [] }; },
  });
  t.equal((await store.reload()).ok, true);
  fail = true;
  const r = await store.reload();
  t.equal(r.ok, false);
  t.match(r.errors[0]!.reason, /EACCES/);
  t.equal(store.current!.policies[0]!.name, 'p');
});
