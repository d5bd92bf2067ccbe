/**
 * Policies dropped into labelled ConfigMaps, picked up live: the webhook lists
 * ConfigMaps matching `--policy-configmaps` through a real kube-apiserver, loads
 * their YAML entries with the policy files, re-reads them when they change,
 * keeps the last good set when one is broken, and drops a deleted one.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { generateCerts } from '../../src/server/certgen.ts';
import { startServer } from '../../src/server/server.ts';
import { harnessMissing, startCluster } from '../cluster/harness.ts';

const missing = harnessMissing();

const policy = (name: string) => `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: ${name}
spec:
  validationFailureAction: Enforce
  rules:
  - name: require-team
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "label team is required"
      pattern: {metadata: {labels: {team: "?*"}}}
`;

const configMap = (name: string, data: Record<string, string>) => ({
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'policy-store', labels: { 'portcullis.io/policies': 'true' } }, data,
});

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('labelled ConfigMaps are a live policy source', { skip: missing ? `cluster harness not built: ${missing}` : false }, async (t) => {
  const cluster = await startCluster({ t });
  const apply = (obj: unknown) => cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
  t.equal((await cluster.kubectl(['create', 'namespace', 'policy-store'])).code, 0);
  t.equal((await apply(configMap('team-policy', { 'require-team.yaml': policy('require-team') }))).code, 0);
  // Not labelled: ignored.
  t.equal((await cluster.kubectl(['create', 'configmap', 'other', '-n', 'policy-store', `--from-literal=p.yaml=${policy('not-mine')}`])).code, 0);

  const dir = mkdtempSync(join(tmpdir(), 'portcullis-cm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const certs = await generateCerts({ names: ['localhost', '127.0.0.1'] });
  writeFileSync(join(dir, 'tls.crt'), certs.cert);
  writeFileSync(join(dir, 'tls.key'), certs.key);
  const server = await startServer({
    policyPaths: [], tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') }, host: '127.0.0.1', port: 0,
    metricsPort: null, logger: pino({ level: 'silent' }), processMetrics: false, watchPollMs: 200,
    context: { kubeconfig: cluster.kubeconfig },
    policyConfigMaps: { selector: 'portcullis.io/policies=true', pollMs: 200 },
  });
  t.teardown(() => server.close());
  const names = () => (server.store.current?.policies ?? []).map((p) => p.name).sort();
  t.same(names(), ['require-team'], 'loaded at start, unlabelled ConfigMaps ignored');

  await apply(configMap('team-policy', { 'require-team.yaml': policy('require-team'), 'second.yaml': policy('require-team-2') }));
  await until('the changed ConfigMap to be loaded', () => names().length === 2);
  t.same(names(), ['require-team', 'require-team-2'], 'a change is picked up live');

  const generation = server.store.current!.generation;
  await apply(configMap('team-policy', { 'require-team.yaml': 'apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: broken\n' }));
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(server.store.current!.generation, generation, 'a broken policy is rejected');
  t.same(names(), ['require-team', 'require-team-2'], 'and the last good set keeps serving');

  t.equal((await cluster.kubectl(['delete', 'configmap', 'team-policy', '-n', 'policy-store'])).code, 0);
  await until('the deleted ConfigMap to be dropped', () => names().length === 0);
  t.same(names(), [], 'a deleted ConfigMap takes its policies with it');
});
