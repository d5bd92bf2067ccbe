/**
 * The hardening guide's admission checks against a real kube-apiserver: the
 * webhook runs on the host, registered through Validating and Mutating
 * WebhookConfigurations with a `url` and the generated caBundle, exactly as
 * an operator would; kubectl is the client. Pods are never scheduled (no
 * nodes): admission is what is under test.
 */
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { generateCerts } from '../../src/server/certgen.ts';
import { startServer } from '../../src/server/server.ts';
import { harnessMissing, startCluster, type Cluster, type KubectlResult } from '../cluster/harness.ts';

const NS = 'app-production';
const DIGEST = 'sha256:' + 'b'.repeat(64);
const GOOD_IMAGE = `registry.company.com/shop/web@${DIGEST}`;
const LIMITS = { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } };
const POLICIES = fileURLToPath(new URL('../../policies', import.meta.url));
const WORKLOADS = ['pods', 'deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs', 'replicationcontrollers'];

function webhookConfigs(port: number, caBundle: string): unknown {
  const common = {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    timeoutSeconds: 10,
    namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }] },
    rules: [{ apiGroups: ['', 'apps', 'batch'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: WORKLOADS, scope: 'Namespaced' }],
  };
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'portcullis-e2e' },
        webhooks: [{ name: 'mutate.portcullis.test', clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle }, reinvocationPolicy: 'IfNeeded', ...common }],
      },
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: 'portcullis-e2e' },
        webhooks: [{ name: 'validate.portcullis.test', clientConfig: { url: `https://127.0.0.1:${port}/validate`, caBundle }, ...common }],
      },
    ],
  };
}

function pod(name: string, container: Record<string, unknown>, namespace = NS): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace, labels: { app: name } },
    spec: { containers: [{ name: 'web', ...container }] },
  };
}

function deployment(name: string, container: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', ...container }] } },
    },
  };
}

function cronJob(name: string, container: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'batch/v1', kind: 'CronJob',
    metadata: { name, namespace: NS },
    spec: {
      schedule: '*/5 * * * *',
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'job', ...container }] } } } },
    },
  };
}

const denied = (r: KubectlResult): boolean => r.code !== 0 && /denied the request/.test(r.stderr);
const show = (r: KubectlResult): string => `exit ${r.code}\n${r.stdout}${r.stderr}`;
/** kubectl wraps long server messages over several lines: compare on single spaces. */
const said = (r: KubectlResult): string => r.stderr.replace(/\s+/g, ' ');

const missing = harnessMissing();

t.test('admission through a real kube-apiserver', { skip: missing ? `cluster harness not built: ${missing}` : false }, async (t) => {
  const cluster: Cluster = await startCluster({ t });
  const kubectl = cluster.kubectl;
  const apply = (obj: unknown, ...extra: string[]) => kubectl(['apply', '-f', '-', ...extra], { input: JSON.stringify(obj) });

  const dir = await mkdtemp(join(tmpdir(), 'portcullis-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const certs = await generateCerts({ names: ['localhost', '127.0.0.1'] });
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(tls.certFile, certs.cert);
  await writeFile(tls.keyFile, certs.key);
  const server = await startServer({
    policyPaths: [POLICIES], tls, host: '127.0.0.1', port: 0, metricsPort: null,
    logger: pino({ level: 'silent' }), watch: false, processMetrics: false,
  });
  t.teardown(() => server.close());

  const ns = await kubectl(['create', 'namespace', NS]);
  t.equal(ns.code, 0, 'namespace created', { output: show(ns) });
  const reg = await apply(webhookConfigs(server.port, certs.caBundle));
  t.equal(reg.code, 0, 'webhook configurations accepted by the apiserver', { output: show(reg) });

  // The apiserver picks new webhook configurations up through an informer: wait
  // (bounded) until a tag-only image is refused before asserting anything.
  const probe = pod('probe', { image: 'registry.company.com/shop/web:probe', resources: LIMITS });
  let active = false;
  let last: KubectlResult | undefined;
  for (let i = 0; i < 60 && !active; i++) {
    last = await apply(probe, '--dry-run=server');
    active = denied(last);
    if (!active) await new Promise((r) => setTimeout(r, 500));
  }
  t.ok(active, 'the webhook is called by the apiserver', { output: last ? show(last) : '' });
  if (!active) return;

  await t.test('privileged Pod (the guide\'s kubectl run --overrides) is refused', async (t) => {
    const overrides = JSON.stringify({
      spec: { containers: [{ name: 'test', image: 'busybox:1.36', securityContext: { privileged: true } }] },
    });
    const r = await kubectl(['run', 'priv-test', '--image=busybox:1.36', '--restart=Never', '-n', NS, `--overrides=${overrides}`]);
    t.not(r.code, 0, 'refused', { output: show(r) });
    const get = await kubectl(['get', 'pod', 'priv-test', '-n', NS]);
    t.match(get.stderr, /NotFound/, 'nothing was stored');
    // add-default-securitycontext leaves privileged containers alone (adding
    // allowPrivilegeEscalation=false would make the apiserver reject the object as
    // invalid before validation), so the user sees the policy's own message.
    t.match(said(r), /denied the request.*disallow-privileged-containers/, 'refused by the policy, with its message');
  });

  await t.test('privileged Pod that keeps privilege escalation is denied by the policy', async (t) => {
    const r = await apply(pod('priv-explicit', {
      image: GOOD_IMAGE, resources: LIMITS, securityContext: { privileged: true, allowPrivilegeEscalation: true },
    }));
    t.ok(denied(r), 'denied by the webhook', { output: show(r) });
    t.match(said(r), /disallow-privileged-containers: privileged-containers: 'validation error: Privileged mode is disallowed/);
    const get = await kubectl(['get', 'pod', 'priv-explicit', '-n', NS]);
    t.match(get.stderr, /NotFound/, 'nothing was stored');
  });

  await t.test('Pod without limits (kubectl run) is denied', async (t) => {
    const r = await kubectl(['run', 'no-limits', `--image=${GOOD_IMAGE}`, '--restart=Never', '-n', NS]);
    t.ok(denied(r), 'denied by the webhook', { output: show(r) });
    t.match(said(r), /require-resource-limits/);
    t.match(said(r), /All containers must have CPU and memory limits/);
    t.notMatch(said(r), /restrict-image-registries|require-image-digest/, 'only the limits policy fails');

    const busybox = await kubectl(['run', 'no-limits', '--image=busybox:1.36', '-n', NS]);
    t.ok(denied(busybox), 'denied by the webhook', { output: show(busybox) });
    t.match(said(busybox), /require-resource-limits/);
  });

  await t.test('docker.io image is denied', async (t) => {
    const r = await apply(pod('dockerhub', { image: `docker.io/library/nginx@${DIGEST}`, resources: LIMITS }));
    t.ok(denied(r), 'denied by the webhook', { output: show(r) });
    t.match(said(r), /restrict-image-registries/);
    t.match(said(r), /Images must come from approved registries/);
    t.notMatch(said(r), /require-image-digest|require-resource-limits/);
  });

  await t.test('tag-only image is denied', async (t) => {
    const r = await apply(pod('tag-only', { image: 'registry.company.com/shop/web:1.0', resources: LIMITS }));
    t.ok(denied(r), 'denied by the webhook', { output: show(r) });
    t.match(said(r), /require-image-digest/);
    t.match(said(r), /Images must use a digest \(sha256\) reference, not a tag/);
    t.notMatch(said(r), /restrict-image-registries|require-resource-limits/);
  });

  await t.test('compliant Pod is admitted with the securityContext defaults', async (t) => {
    const r = await apply(pod('allowed', { image: GOOD_IMAGE, resources: LIMITS }));
    t.equal(r.code, 0, 'kubectl succeeded', { output: show(r) });
    const get = await kubectl(['get', 'pod', 'allowed', '-n', NS, '-o', 'json']);
    t.equal(get.code, 0, 'kubectl succeeded', { output: show(get) });
    const stored = JSON.parse(get.stdout) as {
      spec: { securityContext?: Record<string, unknown>; containers: { image: string; securityContext?: Record<string, unknown> }[] };
    };
    t.match(stored.spec.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    t.same(stored.spec.containers[0]!.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    t.equal(stored.spec.containers[0]!.image, GOOD_IMAGE);
  });

  await t.test('explicit securityContext choices are kept', async (t) => {
    const r = await apply(pod('explicit', {
      image: GOOD_IMAGE, resources: LIMITS,
      securityContext: { readOnlyRootFilesystem: false, capabilities: { drop: ['ALL'] } },
    }));
    t.equal(r.code, 0, 'kubectl succeeded', { output: show(r) });
    const get = await kubectl(['get', 'pod', 'explicit', '-n', NS, '-o', 'jsonpath={.spec.containers[0].securityContext.readOnlyRootFilesystem}']);
    t.equal(get.stdout, 'false', 'not overwritten by the default');
  });

  await t.test('Deployment with a privileged container is denied through autogen', async (t) => {
    // allowPrivilegeEscalation kept explicitly: see the todo on the guide's Pod above.
    const r = await apply(deployment('priv-deploy', {
      image: GOOD_IMAGE, resources: LIMITS, securityContext: { privileged: true, allowPrivilegeEscalation: true },
    }));
    t.ok(denied(r), 'denied by the webhook', { output: show(r) });
    t.match(said(r), /disallow-privileged-containers/);
    t.match(said(r), /autogen-privileged-containers/);
    const ok = await apply(deployment('web', { image: GOOD_IMAGE, resources: LIMITS }));
    t.equal(ok.code, 0, 'a compliant Deployment is admitted', { output: show(ok) });
    const tpl = await kubectl(['get', 'deployment', 'web', '-n', NS, '-o', 'jsonpath={.spec.template.spec.securityContext.runAsNonRoot}']);
    t.equal(tpl.stdout, 'true', 'the Pod template got the defaults');
  });

  await t.test('CronJob with a tag-only image is denied through autogen', async (t) => {
    const r = await apply(cronJob('tagged-job', { image: 'registry.company.com/shop/job:2.0', resources: LIMITS }));
    t.ok(denied(r), 'denied by the webhook', { output: show(r) });
    t.match(said(r), /require-image-digest/);
    t.match(said(r), /autogen-cronjob-/);
  });

  await t.test('--dry-run=server is honoured', async (t) => {
    const bad = await apply(pod('dry-bad', { image: 'busybox:1.36' }), '--dry-run=server');
    t.ok(denied(bad), 'a dry run is still checked', { output: show(bad) });
    const good = await apply(pod('dry-good', { image: GOOD_IMAGE, resources: LIMITS }), '--dry-run=server', '-o', 'json');
    t.equal(good.code, 0, 'kubectl succeeded', { output: show(good) });
    const out = JSON.parse(good.stdout) as { spec: { securityContext?: Record<string, unknown> } };
    t.match(out.spec.securityContext, { runAsNonRoot: true }, 'the dry-run answer shows the mutation');
    const get = await kubectl(['get', 'pod', 'dry-good', '-n', NS]);
    t.match(get.stderr, /NotFound/, 'nothing was stored');
  });

  await t.test('kube-system is outside the namespaceSelector', async (t) => {
    const r = await apply(pod('system-priv', { image: 'busybox:1.36', securityContext: { privileged: true } }, 'kube-system'));
    t.equal(r.code, 0, 'kubectl succeeded', { output: show(r) });
  });
});
