/**
 * The server's ContextResolver. The Kubernetes side runs against a tiny fake
 * API server on loopback that speaks only the paths used here
 * (/api/v1/namespaces/NS/configmaps/NAME and arbitrary urlPaths); that is
 * enough for the request/caching/error contract until the real API server
 * harness exists (a later issue). The registry side runs against a fake
 * loopback registry that demands basic auth from a docker config file.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ServerResolver, createServerResolver, registryClientFromFiles } from '../../src/server/resolver.ts';
import { kubeTransport } from '../../src/kube/transport.ts';
import { PolicyStore } from '../../src/server/policy-set.ts';
import { startServer } from '../../src/server/server.ts';
import { generateCerts } from '../../src/server/certgen.ts';
import { runServeCommand } from '../../src/cli/serve.ts';
import { captureLogger, review } from './fixtures/helpers.ts';
import type { AdmissionInput, JsonValue, KubeObject } from '../../src/engine/types.ts';

interface Seen { method: string; url: string; auth: string | undefined; body: string }

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

const status = (code: number, message: string) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });

/** Fake API server: one ConfigMap, a few raw paths, a flaky path. */
async function fakeApiServer(t: { teardown(fn: () => unknown): void }) {
  const seen: Seen[] = [];
  let flaky = 0;
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
    const send = (code: number, text: string) => res.writeHead(code, { 'content-type': 'application/json' }).end(text);
    if (req.headers.authorization !== 'Bearer t0k') return send(401, status(401, 'Unauthorized'));
    switch (req.url) {
      case '/api/v1/namespaces/kyverno/configmaps/allowed':
        return send(200, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'allowed', namespace: 'kyverno' }, data: { registries: 'ghcr.io' } }));
      case '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb':
        return send(200, JSON.stringify({ kind: 'PodList', items: [{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }] }));
      case '/api/v1/secrets':
        return send(403, status(403, 'secrets is forbidden: User "system:serviceaccount:portcullis:portcullis" cannot list resource "secrets"'));
      case '/apis/authorization.k8s.io/v1/subjectaccessreviews':
        return send(201, JSON.stringify({ kind: 'SubjectAccessReview', echo: JSON.parse(body), status: { allowed: true } }));
      case '/api/v1/namespaces/kyverno/secrets/cosign-key':
        return send(200, JSON.stringify({ kind: 'Secret', data: { 'cosign.pub': Buffer.from('-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n').toString('base64') } }));
      case '/api/v1/namespaces/kyverno/secrets/other':
        return send(200, JSON.stringify({ kind: 'Secret', data: { 'tls.crt': 'eA==' } }));
      case '/flaky':
        return ++flaky === 1 ? send(500, status(500, 'etcd timeout')) : send(200, '{"ok":true}');
      default:
        return send(404, status(404, 'the server could not find the requested resource'));
    }
  });
  const port = await listen(server);
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-kube-'));
  const kubeconfig = join(dir, 'config');
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t0k}}]
contexts: [{name: c, context: {cluster: fake, user: u}}]
current-context: c
`);
  return { seen, kubeconfig };
}

t.test('without a cluster: configMap and apiCall fail with a clear error', async (t) => {
  const r = await createServerResolver({ env: {} });
  await t.rejects(r.configMap('kyverno', 'allowed'), /cannot read configmap kyverno\/allowed: no Kubernetes cluster configured/);
  await t.rejects(r.apiCall({ urlPath: '/api/v1/pods' }), /cannot call \/api\/v1\/pods: no Kubernetes cluster configured/);
});

t.test('configMap through the kubeconfig: credentials sent, answers cached, missing is undefined', async (t) => {
  const api = await fakeApiServer(t);
  const r = new ServerResolver({ kube: await kubeTransport({ kubeconfig: api.kubeconfig }) });
  const cm = await r.configMap('kyverno', 'allowed');
  t.same((cm as { data: unknown }).data, { registries: 'ghcr.io' });
  t.equal(api.seen[0]!.auth, 'Bearer t0k');
  t.equal(api.seen[0]!.method, 'GET');
  await r.configMap('kyverno', 'allowed');
  await Promise.all([r.configMap('kyverno', 'allowed'), r.configMap('kyverno', 'allowed')]);
  t.equal(api.seen.length, 1, 'later reads come from the cache');
  t.equal(await r.configMap('kyverno', 'nope'), undefined);
  await r.configMap('kyverno', 'nope');
  t.equal(api.seen.length, 2, 'absence is cached too');
  await t.rejects(r.configMap('kyverno', '../secrets'), /invalid configmap reference/);
});

t.test('apiCall: GET with query, API errors carry the Status message, POST body from data, failures not cached', async (t) => {
  const api = await fakeApiServer(t);
  const r = new ServerResolver({ kube: await kubeTransport({ kubeconfig: api.kubeconfig }) });
  const list = await r.apiCall({ urlPath: '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb', method: 'GET' }) as { items: unknown[] };
  t.equal(list.items.length, 2);
  await r.apiCall({ urlPath: '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb' });
  t.equal(api.seen.length, 1, 'GET answers are cached');

  await t.rejects(r.apiCall({ urlPath: '/api/v1/secrets' }), /failed to GET resource with raw url: \/api\/v1\/secrets: permission denied: secrets is forbidden/);
  await t.rejects(r.apiCall({ urlPath: '/api/v1/nothing' }), /could not find the requested resource/);

  const data: JsonValue = [{ key: 'kind', value: 'SubjectAccessReview' }, { key: 'spec', value: { user: 'alice' } }];
  const sar = await r.apiCall({ urlPath: '/apis/authorization.k8s.io/v1/subjectaccessreviews', method: 'POST', data }) as { echo: unknown };
  t.same(sar.echo, { kind: 'SubjectAccessReview', spec: { user: 'alice' } });
  await r.apiCall({ urlPath: '/apis/authorization.k8s.io/v1/subjectaccessreviews', method: 'POST', data });
  t.equal(api.seen.filter((s) => s.method === 'POST').length, 2, 'POST is never cached');

  await t.rejects(r.apiCall({ urlPath: '/flaky' }), /etcd timeout/);
  t.same(await r.apiCall({ urlPath: '/flaky' }), { ok: true }, 'a failure is retried on the next request');

  for (const bad of ['//evil.example/x', 'api/v1/pods', '/api/v1/../../x', '/a\\b']) {
    await t.rejects(r.apiCall({ urlPath: bad }), /invalid apiCall urlPath/, bad);
  }
  await t.rejects(r.apiCall({ urlPath: '/x', method: 'DELETE' }), /method DELETE is not supported/);
  await t.rejects(r.apiCall({ urlPath: '/x', service: { url: 'https://svc' } }), /apiCall.service is not supported/);
});

t.test('verifyImages keys.secret: the cosign.pub of the Secret', async (t) => {
  const api = await fakeApiServer(t);
  const r = new ServerResolver({ kube: await kubeTransport({ kubeconfig: api.kubeconfig }) });
  t.ok(r.hasCluster);
  t.match(await r.secretKey({ namespace: 'kyverno', name: 'cosign-key' }), /^-----BEGIN PUBLIC KEY-----\nabc\n/);
  await t.rejects(r.secretKey({ namespace: 'kyverno', name: 'other' }), /no cosign.pub key/);
  await t.rejects(r.secretKey({ namespace: 'kyverno', name: 'missing' }), /secret not found/);
  t.notOk(new ServerResolver().hasCluster);
  await t.rejects(new ServerResolver().secretKey({ namespace: 'kyverno', name: 'cosign-key' }), /no Kubernetes cluster configured/);
});

t.test('cacheTtlMs 0 asks the API server every time', async (t) => {
  const api = await fakeApiServer(t);
  const r = new ServerResolver({ kube: await kubeTransport({ kubeconfig: api.kubeconfig }), cacheTtlMs: 0 });
  await r.configMap('kyverno', 'allowed');
  await r.configMap('kyverno', 'allowed');
  t.equal(api.seen.length, 2);
});

const REGISTRY_POLICY = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: registries}
spec:
  validationFailureAction: Enforce
  rules:
  - name: allowed-registry
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: allowed
      configMap: {name: allowed, namespace: kyverno}
    validate:
      message: "registry not allowed"
      deny:
        conditions:
          any:
          - key: "{{ request.object.spec.containers[0].image }}"
            operator: NotEquals
            value: "{{ allowed.data.registries }}/*"
`;

t.test('the server Engine answers configMap context entries through the resolver', async (t) => {
  const api = await fakeApiServer(t);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pol-'));
  writeFileSync(join(dir, 'p.yaml'), REGISTRY_POLICY);
  const resolver = new ServerResolver({ kube: await kubeTransport({ kubeconfig: api.kubeconfig }) });
  const noCluster = new ServerResolver();
  const input = (image: string): AdmissionInput => ({
    operation: 'CREATE', kind: { group: '', version: 'v1', kind: 'Pod' }, oldObject: null, userInfo: { username: 'u' }, roles: [], clusterRoles: [],
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image }] } } as KubeObject,
  });
  const statusOf = async (store: PolicyStore, image: string) => {
    const out = await store.current!.decider.evaluate(input(image), { mode: 'validate' });
    return out.results[0]!.rules[0]!;
  };
  const store = new PolicyStore({ paths: [dir], budgetMs: 1000, engineOptions: { resolver } });
  t.ok((await store.reload()).ok);
  t.equal((await statusOf(store, 'docker.io/nginx')).status, 'fail');
  t.equal((await statusOf(store, 'ghcr.io/app')).status, 'pass');

  const offline = new PolicyStore({ paths: [dir], budgetMs: 1000, engineOptions: { resolver: noCluster } });
  t.ok((await offline.reload()).ok);
  const r = await statusOf(offline, 'ghcr.io/app');
  t.equal(r.status, 'error');
  t.match(r.message, /no Kubernetes cluster configured/);
});

/** Fake registry: basic auth user/pass, one single-platform image. */
async function fakeRegistry(t: { teardown(fn: () => unknown): void }) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { User: '1000' } }));
  const configDigest = 'sha256:' + createHash('sha256').update(config).digest('hex');
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers: [],
  }));
  const manifestDigest = 'sha256:' + createHash('sha256').update(manifest).digest('hex');
  let manifestGets = 0;
  const want = 'Basic ' + Buffer.from('bob:secret').toString('base64');
  const server = createServer((req, res) => {
    if (req.headers.authorization !== want) {
      return res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
    }
    if (req.url === '/v2/team/app/manifests/1.0') {
      manifestGets++;
      return res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': manifestDigest }).end(manifest);
    }
    if (req.url === `/v2/team/app/blobs/${configDigest}`) return res.writeHead(200).end(config);
    res.writeHead(404).end();
  });
  const port = await listen(server);
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { host: `127.0.0.1:${port}`, manifestDigest, gets: () => manifestGets };
}

t.test('imageData: registry credentials from a docker config file, cached answers', async (t) => {
  const reg = await fakeRegistry(t);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-docker-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('bob:secret').toString('base64') } } }));

  const anonymous = new ServerResolver({ registry: await registryClientFromFiles({ env: {} }) });
  await t.rejects(anonymous.imageData(`${reg.host}/team/app:1.0`), /failed to fetch image descriptor/);

  // DOCKER_CONFIG names the directory, --registry-config the file.
  for (const files of [{ env: { DOCKER_CONFIG: dir } }, { configFile: join(dir, 'config.json'), env: {} }]) {
    const r = await createServerResolver(files);
    const before = reg.gets();
    const data = await r.imageData(`${reg.host}/team/app:1.0`) as Record<string, JsonValue>;
    t.equal(data.resolvedImage, `${reg.host}/team/app@${reg.manifestDigest}`);
    t.equal(data.identifier, '1.0');
    t.same((data.configData as { config: unknown }).config, { User: '1000' });
    await r.imageData(`${reg.host}/team/app:1.0`);
    t.equal(reg.gets() - before, 1, 'second lookup served from the cache');
  }
  await t.rejects(registryClientFromFiles({ caFile: join(dir, 'missing.pem'), env: {} }), /cannot read registry CA/);
});

t.test('startServer and serve: context options reach the Engine; a bad kubeconfig is fatal', async (t) => {
  const api = await fakeApiServer(t);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-srv-'));
  const certs = await generateCerts({ names: ['localhost'] });
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  writeFileSync(tls.certFile, certs.cert);
  writeFileSync(tls.keyFile, certs.key);
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  writeFileSync(join(policies, 'p.yaml'), REGISTRY_POLICY);
  const base = { policyPaths: [policies], tls, host: '127.0.0.1', port: 0, metricsPort: null, logger: captureLogger().logger, watch: false, processMetrics: false } as const;

  const server = await startServer({ ...base, context: { kubeconfig: api.kubeconfig, env: {} } });
  t.teardown(() => server.close());
  const admit = async (image: string) => {
    const object = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image }] } };
    const res = await server.app.inject({ method: 'POST', url: '/validate', payload: JSON.stringify(review({ object })), headers: { 'content-type': 'application/json' } });
    return (JSON.parse(res.body) as { response: { allowed: boolean } }).response.allowed;
  };
  t.equal(await admit('docker.io/nginx'), false);
  t.equal(await admit('ghcr.io/app'), true);
  t.equal(api.seen.length, 1, 'one API read for both admissions');

  await t.rejects(startServer({ ...base, context: { kubeconfig: join(dir, 'missing-kubeconfig'), env: {} } }));
  t.equal(await runServeCommand([
    '--policies', policies, '--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--port', '0', '--metrics-port', '0',
    '--log-level', 'silent', '--kubeconfig', join(dir, 'missing-kubeconfig'),
  ]), 1, 'serve --kubeconfig with a missing file cannot start');
});
