/**
 * A ValidatingPolicy whose CEL reads the cluster with resource.Get, enforced
 * through the real server path: kube-apiserver → webhook → engine → deferred
 * lookup → GET on the same apiserver → re-evaluation. The allowed teams live
 * in a ConfigMap; changing it changes the decision (answer cache disabled).
 */
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { generateCerts } from '../../src/server/certgen.ts';
import { startServer } from '../../src/server/server.ts';
import { harnessMissing, startCluster, type KubectlResult } from '../cluster/harness.ts';

const NS = 'lookups';

const POLICY = `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: allowed-teams
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  variables:
  - name: teams
    expression: "resource.Get('v1', 'configmaps', object.metadata.namespace, 'allowed-teams').data.teams.split(',')"
  validations:
  - expression: "variables.teams.exists(t, t == object.metadata.?labels.?team.orValue(''))"
    messageExpression: "'team ' + object.metadata.?labels.?team.orValue('<none>') + ' is not in ' + variables.teams.join(',')"
`;

const teams = (list: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'allowed-teams', namespace: NS }, data: { teams: list } });

const pod = (name: string, team: string) => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name, namespace: NS, labels: { team } },
  spec: { containers: [{ name: 'c', image: 'registry.example/app:1' }] },
});

const webhook = (port: number, caBundle: string) => ({
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingWebhookConfiguration',
  metadata: { name: 'portcullis-cel-lookups' },
  webhooks: [{
    name: 'validate.portcullis.test',
    clientConfig: { url: `https://127.0.0.1:${port}/validate`, caBundle },
    admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 10,
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } },
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
  }],
});

const denied = (r: KubectlResult) => r.code !== 0 && /denied the request/.test(r.stderr);
const said = (r: KubectlResult) => r.stderr.replace(/\s+/g, ' ');
const show = (r: KubectlResult) => `exit ${r.code}\n${r.stdout}${r.stderr}`;
const missing = harnessMissing();

t.test('resource.Get in a ValidatingPolicy decides admission from cluster data', { skip: missing ? `cluster harness not built: ${missing}` : false }, async (t) => {
  const cluster = await startCluster({ t });
  const apply = (obj: unknown, ...extra: string[]) => cluster.kubectl(['apply', '-f', '-', ...extra], { input: JSON.stringify(obj) });

  const dir = await mkdtemp(join(tmpdir(), 'portcullis-lookups-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const certs = await generateCerts({ names: ['localhost', '127.0.0.1'] });
  await writeFile(join(dir, 'tls.crt'), certs.cert);
  await writeFile(join(dir, 'tls.key'), certs.key);
  await writeFile(join(dir, 'policy.yaml'), POLICY);
  const server = await startServer({
    policyPaths: [join(dir, 'policy.yaml')], tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
    host: '127.0.0.1', port: 0, metricsPort: null, logger: pino({ level: 'silent' }), watch: false, processMetrics: false,
    context: { kubeconfig: cluster.kubeconfig, cacheTtlMs: 0 },
  });
  t.teardown(() => server.close());
  t.same(server.store.current?.policies.map((p) => p.name), ['allowed-teams'], 'the ValidatingPolicy is loaded');

  t.equal((await cluster.kubectl(['create', 'namespace', NS])).code, 0);
  const cm = await apply(teams('red,blue'));
  t.equal(cm.code, 0, 'ConfigMap created', { output: show(cm) });
  const reg = await apply(webhook(server.port, certs.caBundle));
  t.equal(reg.code, 0, 'webhook registered', { output: show(reg) });

  // The apiserver picks the configuration up through an informer: wait until a probe is refused.
  let last: KubectlResult | undefined;
  for (let i = 0; i < 60 && !(last && denied(last)); i++) {
    if (last) await new Promise((r) => setTimeout(r, 500));
    last = await apply(pod('probe', 'probe'), '--dry-run=server');
  }
  t.ok(last && denied(last), 'the webhook is called by the apiserver', { output: last ? show(last) : '' });
  if (!last || !denied(last)) return;

  const green = await apply(pod('green', 'green'));
  t.ok(denied(green), 'a team missing from the ConfigMap is denied', { output: show(green) });
  t.match(said(green), /allowed-teams.*team green is not in red,blue/, 'with the message built from the looked-up data');

  const red = await apply(pod('red', 'red'));
  t.equal(red.code, 0, 'a listed team is admitted', { output: show(red) });

  t.equal((await apply(teams('red,blue,green'))).code, 0);
  const again = await apply(pod('green', 'green'));
  t.equal(again.code, 0, 'after the ConfigMap changes, the same Pod is admitted', { output: show(again) });

  t.equal((await cluster.kubectl(['delete', 'configmap', 'allowed-teams', '-n', NS])).code, 0);
  const gone = await apply(pod('blue', 'blue'));
  t.ok(denied(gone), 'without the ConfigMap the policy errors and Deny refuses', { output: show(gone) });
  t.match(said(gone), /configmaps "allowed-teams" not found/);
  t.notMatch(said(gone), /lookup pending/);
});
