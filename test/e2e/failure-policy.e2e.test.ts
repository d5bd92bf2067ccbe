/**
 * Webhook down: the webhook is registered (as an operator would, with a `url`
 * and a caBundle) but nothing listens on its port. The apiserver then does
 * what the admission docs promise: failurePolicy Fail refuses the request with
 * its own "failed calling webhook" error, failurePolicy Ignore admits it.
 */
import t from 'tap';
import { createServer } from 'node:net';
import { generateCerts } from '../../src/server/certgen.ts';
import { harnessMissing, startCluster, type KubectlResult } from '../cluster/harness.ts';

const NS = 'webhook-down';
const show = (r: KubectlResult): string => `exit ${r.code}\n${r.stdout}${r.stderr}`;
const said = (r: KubectlResult): string => r.stderr.replace(/\s+/g, ' ');

/** A loopback port that nothing listens on: bound once by the OS, then released. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

function validating(name: string, failurePolicy: 'Fail' | 'Ignore', port: number, caBundle: string): unknown {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name },
    webhooks: [{
      name: `${name}.portcullis.test`,
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy,
      matchPolicy: 'Equivalent',
      timeoutSeconds: 5,
      clientConfig: { url: `https://127.0.0.1:${port}/validate`, caBundle },
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
    }],
  };
}

function pod(name: string): unknown {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: { containers: [{ name: 'c', image: 'registry.company.com/shop/web:1.0' }] },
  };
}

const missing = harnessMissing();

t.test('failurePolicy with the webhook unreachable', { skip: missing ? `cluster harness not built: ${missing}` : false }, async (t) => {
  const cluster = await startCluster({ t });
  const kubectl = cluster.kubectl;
  const apply = (obj: unknown, ...extra: string[]) => kubectl(['apply', '-f', '-', ...extra], { input: JSON.stringify(obj) });
  const { caBundle } = await generateCerts({ names: ['127.0.0.1'] });
  const port = await closedPort();

  const ns = await kubectl(['create', 'namespace', NS]);
  t.equal(ns.code, 0, 'namespace created', { output: show(ns) });
  const before = await apply(pod('before'), '--dry-run=server');
  t.equal(before.code, 0, 'without a webhook the Pod is admitted', { output: show(before) });

  await t.test('Fail: the apiserver refuses the request', async (t) => {
    const reg = await apply(validating('down-fail', 'Fail', port, caBundle));
    t.equal(reg.code, 0, 'webhook configuration accepted', { output: show(reg) });
    // The apiserver picks configurations up through an informer: poll (bounded)
    // until the webhook is in effect.
    let r: KubectlResult = before;
    for (let i = 0; i < 60; i++) {
      r = await apply(pod('fail-pod'));
      if (r.code !== 0) break;
      await kubectl(['delete', 'pod', 'fail-pod', '-n', NS, '--wait=false']);
      await new Promise((res) => setTimeout(res, 500));
    }
    t.not(r.code, 0, 'refused', { output: show(r) });
    t.match(said(r), /Internal error occurred: failed calling webhook "down-fail\.portcullis\.test": failed to call webhook: Post "https:\/\/127\.0\.0\.1:\d+\/validate\?timeout=5s": dial tcp 127\.0\.0\.1:\d+: connect: connection refused/,
      'the apiserver\'s own error, naming the webhook and the refused connection');
    const get = await kubectl(['get', 'pod', 'fail-pod', '-n', NS]);
    t.match(get.stderr, /NotFound/, 'nothing was stored');
    const del = await kubectl(['delete', 'validatingwebhookconfiguration', 'down-fail']);
    t.equal(del.code, 0, 'webhook removed', { output: show(del) });
  });

  await t.test('Ignore: the apiserver admits the request', async (t) => {
    const reg = await apply(validating('down-ignore', 'Ignore', port, caBundle));
    t.equal(reg.code, 0, 'webhook configuration accepted', { output: show(reg) });
    // Admission alone cannot tell "called and ignored" from "not registered yet":
    // the apiserver counts each fail-open call of a webhook, so wait (bounded)
    // until the Ignore webhook has been called and the Fail one is gone.
    let opened = 0;
    let r: KubectlResult = before;
    for (let i = 0; i < 60; i++) {
      r = await apply(pod('ignore-pod'), '--dry-run=server');
      opened = await failOpenCount('down-ignore.portcullis.test');
      if (r.code === 0 && opened > 0) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    t.ok(opened > 0, 'the apiserver called the unreachable webhook and failed open', { output: show(r) });
    const created = await apply(pod('ignore-pod'));
    t.equal(created.code, 0, 'admitted', { output: show(created) });
    t.notMatch(said(created), /failed calling webhook/, 'no webhook error reaches the client');
    t.equal(await failOpenCount('down-ignore.portcullis.test'), opened + 1, 'this very request went through the down webhook');
    const get = await kubectl(['get', 'pod', 'ignore-pod', '-n', NS, '-o', 'jsonpath={.metadata.name}']);
    t.equal(get.stdout, 'ignore-pod', 'the Pod was stored');
  });

  /** apiserver_admission_webhook_fail_open_count for one webhook, from the apiserver's /metrics. */
  async function failOpenCount(webhook: string): Promise<number> {
    const m = await kubectl(['get', '--raw', '/metrics']);
    let total = 0;
    for (const line of m.stdout.split('\n')) {
      if (line.startsWith('apiserver_admission_webhook_fail_open_count{') && line.includes(`name="${webhook}"`)) {
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return total;
  }
});
