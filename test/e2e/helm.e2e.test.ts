/**
 * The Helm chart (deploy/helm/portcullis): `helm lint`, `helm template` in both
 * certificate modes, and the provided-certs rendering applied with server-side
 * dry-run and strict field validation against the real kube-apiserver harness,
 * in a namespace that enforces PodSecurity "restricted".
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { generateCerts } from '../../src/server/certgen.ts';
import { imageNodeOptions } from '../support/node-options.ts';
import { clusterBinDir, harnessMissing, startCluster, type KubectlResult } from '../cluster/harness.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHART = join(ROOT, 'deploy/helm/portcullis');
const HELM = join(clusterBinDir(), 'helm');

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: any;
}
interface Webhook {
  name: string;
  failurePolicy: string;
  timeoutSeconds: number;
  sideEffects: string;
  admissionReviewVersions: string[];
  matchPolicy: string;
  reinvocationPolicy?: string;
  clientConfig: { caBundle?: string; service: { name: string; namespace: string; path: string; port: number } };
  namespaceSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
}

const show = (r: KubectlResult): string => `exit ${r.code}\n${r.stdout}${r.stderr}`;

let helmHome: string | undefined;
function helm(args: readonly string[]): Promise<KubectlResult> {
  return new Promise((resolve) => {
    // Helm's config/cache/data dirs in a throwaway place: nothing of the user's is read or written.
    const env = { ...process.env, HELM_CONFIG_HOME: join(helmHome!, 'config'), HELM_CACHE_HOME: join(helmHome!, 'cache'), HELM_DATA_HOME: join(helmHome!, 'data') };
    execFile(HELM, args, { env, timeout: 60_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** `helm template RELEASE CHART -n NS --set ...` parsed into objects; throws on a render error. */
async function render(release: string, namespace: string, sets: readonly string[] = []): Promise<{ text: string; objects: Obj[] }> {
  const r = await helm(['template', release, CHART, '--namespace', namespace, ...sets.flatMap((s) => ['--set', s])]);
  if (r.code !== 0) throw new Error(`helm template failed: ${show(r)}`);
  const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
  return { text: r.stdout, objects };
}

const find = (objects: Obj[], kind: string): Obj[] => objects.filter((o) => o.kind === kind);
const one = (objects: Obj[], kind: string): Obj => {
  const found = find(objects, kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, got ${found.length}`);
  return found[0]!;
};
const webhooks = (objects: Obj[]): Webhook[] =>
  [...find(objects, 'MutatingWebhookConfiguration'), ...find(objects, 'ValidatingWebhookConfiguration')].flatMap((c) => c.webhooks as Webhook[]);

t.test('the chart ships the same default bundle as deploy/base', async (t) => {
  const chartCopy = await readFile(join(CHART, 'policies.yaml'), 'utf8');
  const base = await readFile(join(ROOT, 'deploy/base/policies.yaml'), 'utf8');
  t.equal(chartCopy, base, 'deploy/helm/portcullis/policies.yaml is a copy of deploy/base/policies.yaml (cp it after regenerating the bundle)');
});

const helmMissing = existsSync(HELM) ? undefined : `${HELM} is not built (run: bash test/cluster/build.sh)`;

t.test('helm chart', { skip: helmMissing ? `helm not available: ${helmMissing}` : false }, async (t) => {
  helmHome = await mkdtemp(join(tmpdir(), 'portcullis-helm-'));
  t.teardown(() => rm(helmHome!, { recursive: true, force: true }));

  await t.test('helm lint --strict passes in both certificate modes', async (t) => {
    const plain = await helm(['lint', '--strict', CHART]);
    t.equal(plain.code, 0, 'default values', { output: show(plain) });
    const cm = await helm(['lint', '--strict', CHART, '--set', 'certificates.mode=cert-manager']);
    t.equal(cm.code, 0, 'cert-manager mode', { output: show(cm) });
  });

  await t.test('default values render deploy/base\'s objects into the release namespace', async (t) => {
    const { objects } = await render('portcullis', 'portcullis');
    t.same(objects.map((o) => o.kind).sort(), [
      'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'MutatingWebhookConfiguration', 'NetworkPolicy',
      'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'ValidatingWebhookConfiguration',
    ], 'no Namespace, no cert-manager objects');
    const deploy = one(objects, 'Deployment');
    t.equal(deploy.metadata.name, 'portcullis', 'a release named portcullis keeps the plain name');
    t.equal(deploy.spec.replicas, 3);
    const pod = deploy.spec.template.spec;
    const container = pod.containers[0];
    t.equal(container.image, 'portcullis:0.1.0', 'image tag defaults to appVersion');
    t.same(container.args.slice(0, 3), ['serve', '--policies', '/policies']);
    t.same(container.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } });
    t.same(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    t.equal(pod.securityContext.runAsNonRoot, true);
    t.equal(pod.volumes.find((v: { name: string }) => v.name === 'tls').secret.secretName, 'portcullis-tls');
    t.ok(pod.affinity.podAntiAffinity, 'anti-affinity');
    t.equal(one(objects, 'PodDisruptionBudget').spec.minAvailable, 2);

    const cm = one(objects, 'ConfigMap');
    t.equal(cm.metadata.labels!['portcullis.io/policies'], 'true', 'policies ConfigMap labelled');
    t.equal(cm.data['policies.yaml'], (await readFile(join(CHART, 'policies.yaml'), 'utf8')).trimEnd(), 'ConfigMap holds the bundle verbatim');
    t.equal(pod.volumes.find((v: { name: string }) => v.name === 'policies').configMap.name, cm.metadata.name);

    const hooks = webhooks(objects);
    t.same(hooks.map((w) => w.name).sort(), ['mutate.portcullis.io', 'validate.portcullis.io']);
    for (const w of hooks) {
      t.equal(w.failurePolicy, 'Fail', `${w.name}: failurePolicy`);
      t.equal(w.timeoutSeconds, 10, `${w.name}: timeoutSeconds`);
      t.equal(w.sideEffects, 'None');
      t.same(w.admissionReviewVersions, ['v1']);
      t.equal(w.matchPolicy, 'Equivalent');
      t.same(w.namespaceSelector.matchExpressions, [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'portcullis'] }]);
      t.same(w.clientConfig.service, { name: 'portcullis', namespace: 'portcullis', path: w.name.startsWith('mutate') ? '/mutate' : '/validate', port: 443 });
      t.notOk('caBundle' in w.clientConfig, `${w.name}: no empty caBundle rendered`);
    }
    t.equal(hooks.find((w) => w.name === 'mutate.portcullis.io')!.reinvocationPolicy, 'IfNeeded');
    const subjects = one(objects, 'ClusterRoleBinding').subjects;
    t.same(subjects, [{ kind: 'ServiceAccount', name: 'portcullis', namespace: 'portcullis' }]);
  });

  await t.test('cert-manager mode: Issuer, Certificate and the CA injector annotation', async (t) => {
    const { objects } = await render('guard', 'security', ['certificates.mode=cert-manager']);
    const issuer = one(objects, 'Issuer');
    t.same(issuer.spec, { selfSigned: {} });
    const cert = one(objects, 'Certificate');
    t.equal(cert.metadata.name, 'guard-portcullis');
    t.same(cert.spec.dnsNames, ['guard-portcullis.security.svc', 'guard-portcullis.security.svc.cluster.local'], 'the Service\'s DNS names');
    t.same(cert.spec.issuerRef, { name: issuer.metadata.name, kind: 'Issuer' });
    const pod = one(objects, 'Deployment').spec.template.spec;
    t.equal(pod.volumes.find((v: { name: string }) => v.name === 'tls').secret.secretName, cert.spec.secretName, 'the Pods mount the Certificate\'s Secret');
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const cfg = one(objects, kind);
      t.equal(cfg.metadata.annotations?.['cert-manager.io/inject-ca-from'], 'security/guard-portcullis', `${kind}: inject-ca-from`);
    }
    for (const w of webhooks(objects)) {
      t.same(w.namespaceSelector.matchExpressions[0]!.values, ['kube-system', 'security']);
      t.notOk('caBundle' in w.clientConfig, `${w.name}: caBundle left to the injector`);
    }

    const external = await render('guard', 'security', ['certificates.mode=cert-manager', 'certificates.certManager.issuerRef.name=corp-ca',
      'certificates.certManager.issuerRef.kind=ClusterIssuer']);
    t.equal(find(external.objects, 'Issuer').length, 0, 'no Issuer when issuerRef is given');
    t.same(one(external.objects, 'Certificate').spec.issuerRef, { name: 'corp-ca', kind: 'ClusterIssuer' });
  });

  await t.test('policies.configMapSelector turns on live policy ConfigMaps in the release namespace', async (t) => {
    const off = await render('guard', 'security');
    const argsOf = (objects: Obj[]) => (one(objects, 'Deployment').spec.template.spec.containers[0].args as string[]);
    t.notOk(argsOf(off.objects).includes('--policy-configmaps'), 'off by default');
    const on = await render('guard', 'security', ['policies.configMapSelector=portcullis.io/policies=true']);
    const args = argsOf(on.objects);
    t.equal(args[args.indexOf('--policy-configmaps') + 1], 'portcullis.io/policies=true');
    t.equal(args[args.indexOf('--policy-configmap-namespace') + 1], 'security');
  });

  await t.test('nodeOptions becomes NODE_OPTIONS (the image\'s heap sizing by default); empty leaves the image\'s own', async (t) => {
    const envOf = (objects: Obj[]) => (one(objects, 'Deployment').spec.template.spec.containers[0].env ?? []) as { name: string; value: string }[];
    t.same(envOf((await render('guard', 'security')).objects), [{ name: 'NODE_OPTIONS', value: imageNodeOptions() }]);
    t.same(envOf((await render('guard', 'security', ['nodeOptions='])).objects), []);
  });

  await t.test('cel.httpAllow lists the URL prefixes CEL http.* calls may reach; none by default', async (t) => {
    const argsOf = (objects: Obj[]) => (one(objects, 'Deployment').spec.template.spec.containers[0].args as string[]);
    t.notOk(argsOf((await render('guard', 'security')).objects).includes('--cel-http-allow'));
    const args = argsOf((await render('guard', 'security', ['cel.httpAllow={https://data.internal/v1/,https://other.internal/}'])).objects);
    t.same(args.flatMap((a, i) => (a === '--cel-http-allow' ? [args[i + 1]] : [])), ['https://data.internal/v1/', 'https://other.internal/']);
  });

  await t.test('an unknown certificates.mode is a render error', async (t) => {
    const r = await helm(['template', 'portcullis', CHART, '--set', 'certificates.mode=self-signed']);
    t.not(r.code, 0);
    t.match(r.stderr, /certificates\.mode must be provided or cert-manager/);
  });

  const missing = harnessMissing();
  await t.test('provided certs: applied to a real kube-apiserver', { skip: missing ? `cluster harness not built: ${missing}` : false }, async (t) => {
    const ns = 'security';
    const { caBundle } = await generateCerts({ names: [`guard-portcullis.${ns}.svc`] });
    const { objects, text } = await render('guard', ns, [
      'replicaCount=5', 'webhook.failurePolicy=Ignore', 'webhook.timeoutSeconds=5', 'webhook.excludedNamespaces={tenant-infra}',
      `certificates.provided.caBundle=${caBundle}`, 'certificates.provided.secretName=guard-certs',
    ]);
    t.equal(one(objects, 'Deployment').spec.replicas, 5, 'replicaCount');
    t.equal(one(objects, 'Deployment').spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls').secret.secretName, 'guard-certs');
    for (const w of webhooks(objects)) {
      t.equal(w.failurePolicy, 'Ignore', `${w.name}: failurePolicy`);
      t.equal(w.timeoutSeconds, 5, `${w.name}: timeoutSeconds`);
      t.equal(w.clientConfig.caBundle, caBundle, `${w.name}: caBundle`);
      t.same(w.namespaceSelector.matchExpressions[0]!.values, ['kube-system', ns, 'tenant-infra'], `${w.name}: excluded namespaces`);
    }

    const cluster = await startCluster({ t });
    const created = await cluster.kubectl(['create', 'namespace', ns]);
    t.equal(created.code, 0, 'namespace created', { output: show(created) });
    // enforce refuses Pods; warn makes the apiserver warn about workload templates (the Deployment) too.
    const labelled = await cluster.kubectl(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted',
      'pod-security.kubernetes.io/warn=restricted']);
    t.equal(labelled.code, 0, 'PodSecurity restricted enforced', { output: show(labelled) });

    const applied = await cluster.kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', ns, '-f', '-'], { input: text });
    t.equal(applied.code, 0, 'every rendered object accepted', { output: show(applied) });
    t.notMatch(applied.stderr, /[Ww]arning/, 'no warnings (unknown fields, PodSecurity)', { output: show(applied) });
    t.equal(applied.stdout.trim().split('\n').length, objects.length, 'one line per object', { output: show(applied) });

    const podSpec = one(objects, 'Deployment').spec.template.spec;
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'template', namespace: ns }, spec: podSpec };
    const admitted = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod) });
    t.equal(admitted.code, 0, 'a Pod from the Deployment template passes PodSecurity restricted', { output: show(admitted) });
    const loose = { ...pod, metadata: { name: 'loose', namespace: ns }, spec: { ...podSpec, securityContext: {} } };
    const refused = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(loose) });
    t.match(refused.stderr, /violates PodSecurity "restricted:latest"/, 'control: without the pod securityContext it is refused', { output: show(refused) });

    // Control: strict validation does reject a misspelt field in the same rendering.
    const typo = await cluster.kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', ns, '-f', '-'],
      { input: text.replace('failurePolicy: Ignore', 'failurePolicyy: Ignore') });
    t.not(typo.code, 0, 'a misspelt field is refused', { output: show(typo) });
    t.match(typo.stderr, /unknown field/);
  });
});
