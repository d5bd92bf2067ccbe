/**
 * deploy/ against a real kube-apiserver, in the order of deploy/QUICKSTART.md:
 * `portcullis certs`, the namespace and TLS Secret, an overlay that sets the
 * caBundle over deploy/base, `kubectl apply -k`, then the guide's checks with
 * kubectl. Strict field validation throughout, so a misspelt field fails.
 * Pods never run (no nodes): what is checked is that the apiserver accepts and
 * stores every object, and how the stored webhook configurations behave.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { harnessMissing, installCrds, startCluster, type KubectlResult } from '../cluster/harness.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BASE = join(ROOT, 'deploy/base');
const MONITORING = join(ROOT, 'deploy/monitoring');
const PROMETHEUS_CRDS = fileURLToPath(new URL('fixtures/prometheus-operator-crds.yaml', import.meta.url));
const SERVICE_NAMES = ['portcullis.portcullis.svc', 'portcullis.portcullis.svc.cluster.local'];

const show = (r: KubectlResult): string => `exit ${r.code}\n${r.stdout}${r.stderr}`;
const said = (r: KubectlResult): string => r.stderr.replace(/\s+/g, ' ');

/** `portcullis certs` exactly as the quick start runs it; resolves to its stdout (the caBundle). */
function portcullisCerts(out: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(ROOT, 'bin/portcullis.js'), 'certs', '--out', out, '--dns', SERVICE_NAMES.join(',')],
      (err, stdout, stderr) => (err ? reject(new Error(`portcullis certs: ${stderr}`)) : resolve(stdout.trim())));
  });
}

/**
 * The quick start's overlay, taken from deploy/QUICKSTART.md itself (so the doc
 * and this test cannot drift): its heredoc with the caBundle and the path to
 * deploy/base filled in.
 */
function overlay(basePath: string, caBundle: string): string {
  const doc = readFileSync(join(ROOT, 'deploy/QUICKSTART.md'), 'utf8');
  const m = /cat > portcullis-overlay\/kustomization\.yaml <<EOF\n([\s\S]*?)\nEOF\n/.exec(doc);
  if (!m) throw new Error('deploy/QUICKSTART.md: overlay heredoc not found');
  const text = m[1]!.replaceAll('${CA_BUNDLE}', caBundle);
  if (!text.includes('- ../deploy/base\n')) throw new Error('deploy/QUICKSTART.md: overlay does not list ../deploy/base');
  return text.replace('- ../deploy/base\n', `- ${basePath}\n`) + '\n';
}

interface Webhook {
  name: string;
  failurePolicy: string;
  clientConfig: { caBundle?: string; service?: { name: string; namespace: string } };
  namespaceSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
}

const missing = harnessMissing();

t.test('deploy/ applied to a real kube-apiserver', { skip: missing ? `cluster harness not built: ${missing}` : false }, async (t) => {
  const cluster = await startCluster({ t });
  const kubectl = cluster.kubectl;
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-deploy-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));

  // 1. certificates for the Service's DNS names
  const certDir = join(dir, 'certs');
  const caBundle = await portcullisCerts(certDir);
  const caPem = await readFile(join(certDir, 'ca.crt'));
  t.equal(caBundle, caPem.toString('base64'), 'portcullis certs prints ca.crt as the base64 caBundle');

  // 2. namespace and TLS Secret
  const ns = await kubectl(['apply', '--validate=strict', '-f', join(BASE, 'namespace.yaml')]);
  t.equal(ns.code, 0, 'namespace applied', { output: show(ns) });
  const secret = await kubectl(['-n', 'portcullis', 'create', 'secret', 'tls', 'portcullis-tls',
    `--cert=${join(certDir, 'tls.crt')}`, `--key=${join(certDir, 'tls.key')}`]);
  t.equal(secret.code, 0, 'TLS Secret created', { output: show(secret) });

  await t.test('kubectl apply -k deploy/base passes the apiserver\'s validation as shipped', async (t) => {
    const r = await kubectl(['apply', '-k', BASE, '--validate=strict', '--dry-run=server']);
    t.equal(r.code, 0, 'accepted', { output: show(r) });
    t.notMatch(r.stderr, /[Ww]arning/, 'no warnings (unknown fields, PodSecurity)');
  });

  await t.test('the quick start overlay applies and every object is stored', async (t) => {
    const overlayDir = join(dir, 'overlay');
    await mkdir(overlayDir);
    await writeFile(join(overlayDir, 'kustomization.yaml'), overlay(relative(overlayDir, BASE), caBundle));
    const r = await kubectl(['apply', '-k', overlayDir, '--validate=strict']);
    t.equal(r.code, 0, 'kubectl apply -k succeeded', { output: show(r) });
    t.notMatch(r.stderr, /[Ww]arning/, 'no warnings', { output: show(r) });

    const got = await kubectl(['-n', 'portcullis', 'get', '-o', 'name',
      'serviceaccount/portcullis', 'role/portcullis-policies', 'rolebinding/portcullis-policies', 'deployment/portcullis',
      'service/portcullis', 'poddisruptionbudget/portcullis', 'networkpolicy/portcullis', 'configmap/portcullis-policies', 'secret/portcullis-tls']);
    t.equal(got.code, 0, 'namespaced objects found', { output: show(got) });
    t.equal(got.stdout.trim().split('\n').length, 9);
    const cluster = await kubectl(['get', '-o', 'name', 'namespace/portcullis', 'clusterrole/portcullis', 'clusterrolebinding/portcullis',
      'validatingwebhookconfiguration/portcullis', 'mutatingwebhookconfiguration/portcullis']);
    t.equal(cluster.code, 0, 'cluster-scoped objects found', { output: show(cluster) });
    t.equal(cluster.stdout.trim().split('\n').length, 5);

    const deploy = JSON.parse((await kubectl(['-n', 'portcullis', 'get', 'deployment', 'portcullis', '-o', 'json'])).stdout);
    t.equal(deploy.spec.replicas, 3, 'three replicas');
    const cm = JSON.parse((await kubectl(['-n', 'portcullis', 'get', 'configmap', 'portcullis-policies', '-o', 'json'])).stdout);
    t.equal(cm.metadata.labels['portcullis.io/policies'], 'true', 'policies ConfigMap labelled');
    t.match(cm.data['policies.yaml'], /kind: ClusterPolicy/, 'policies ConfigMap holds the bundle');
    const tls = JSON.parse((await kubectl(['-n', 'portcullis', 'get', 'secret', 'portcullis-tls', '-o', 'json'])).stdout);
    t.equal(tls.type, 'kubernetes.io/tls');
    const served = new X509Certificate(Buffer.from(tls.data['tls.crt'], 'base64'));
    t.ok(served.checkIssued(new X509Certificate(caPem)), 'the Secret\'s certificate is issued by the caBundle\'s CA');
    for (const name of SERVICE_NAMES) t.ok(served.checkHost(name), `certificate valid for ${name}`);

    for (const kind of ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration']) {
      const cfg = JSON.parse((await kubectl(['get', kind, 'portcullis', '-o', 'json'])).stdout) as { webhooks: Webhook[] };
      for (const w of cfg.webhooks) {
        t.equal(w.clientConfig.caBundle, caBundle, `${kind} ${w.name}: caBundle set`);
        t.same(w.clientConfig.service && [w.clientConfig.service.namespace, w.clientConfig.service.name], ['portcullis', 'portcullis']);
      }
    }
  });

  await t.test('the Deployment\'s Pods pass PodSecurity restricted in their namespace', async (t) => {
    const deploy = JSON.parse((await kubectl(['-n', 'portcullis', 'get', 'deployment', 'portcullis', '-o', 'json'])).stdout);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'template', namespace: 'portcullis' }, spec: deploy.spec.template.spec };
    const ok = await kubectl(['apply', '-f', '-', '--dry-run=server'], { input: JSON.stringify(pod) });
    t.equal(ok.code, 0, 'the template is admitted (and the webhooks skip their own namespace)', { output: show(ok) });
    const bare = { ...pod, metadata: { name: 'bare', namespace: 'portcullis' }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } };
    const refused = await kubectl(['apply', '-f', '-', '--dry-run=server'], { input: JSON.stringify(bare) });
    t.match(said(refused), /violates PodSecurity "restricted:latest"/, 'control: a bare Pod is refused there', { output: show(refused) });
  });

  await t.test('with no webhook Pod running, failurePolicy Fail guards other namespaces only', async (t) => {
    const pod = (namespace: string) => JSON.stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe', namespace }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
    });
    // The apiserver picks webhook configurations up through an informer: poll (bounded).
    let refused = await kubectl(['apply', '-f', '-', '--dry-run=server'], { input: pod('default') });
    for (let i = 0; i < 40 && refused.code === 0; i++) {
      await new Promise((res) => setTimeout(res, 500));
      refused = await kubectl(['apply', '-f', '-', '--dry-run=server'], { input: pod('default') });
    }
    t.not(refused.code, 0, 'a Pod in default is refused', { output: show(refused) });
    t.match(said(refused), /failed calling webhook "mutate\.portcullis\.io"/, 'by the apiserver, calling the service-backed webhook (how the call fails depends on the host network)');
    const system = await kubectl(['apply', '-f', '-', '--dry-run=server'], { input: pod('kube-system') });
    t.equal(system.code, 0, 'kube-system is excluded by the namespaceSelector', { output: show(system) });
  });

  await t.test('deploy/monitoring applies once the prometheus-operator CRDs exist', async (t) => {
    const crds = await installCrds(cluster, [PROMETHEUS_CRDS]);
    t.same(crds.sort(), ['prometheusrules.monitoring.coreos.com', 'servicemonitors.monitoring.coreos.com']);
    const r = await kubectl(['apply', '-k', MONITORING, '--validate=strict']);
    t.equal(r.code, 0, 'kubectl apply -k deploy/monitoring succeeded', { output: show(r) });
    const got = await kubectl(['-n', 'portcullis', 'get', 'prometheusrule/portcullis', 'servicemonitor/portcullis', '-o', 'name']);
    t.equal(got.stdout.trim().split('\n').length, 2, 'both stored', { output: show(got) });
    const rule = JSON.parse((await kubectl(['-n', 'portcullis', 'get', 'prometheusrule', 'portcullis', '-o', 'json'])).stdout);
    t.ok(rule.spec.groups.some((g: { rules: { alert?: string }[] }) => g.rules.some((x) => x.alert === 'PortcullisDown')), 'alerts stored');

    // Control: the stub schema really checks fields, as the real CRDs do.
    const typo = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'typo', namespace: 'portcullis' },
      spec: { selector: {}, endpoints: [{ port: 'metrics', intervall: '30s' }] } };
    const bad = await kubectl(['apply', '-f', '-', '--validate=strict'], { input: JSON.stringify(typo) });
    t.match(said(bad), /unknown field "spec\.endpoints\[0\]\.intervall"/, 'a misspelt field is rejected', { output: show(bad) });
  });
});
