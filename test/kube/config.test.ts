/**
 * Kubernetes access settings (src/kube/config.ts): kubeconfig users with
 * token, token file, client certificate and basic auth; CA data or file;
 * in-cluster service account; the lookup order; exec users handed to
 * @kubernetes/client-node; clear errors for broken kubeconfigs.
 */
import t, { type Test } from 'tap';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeAccess, type KubeRequestOptions } from '../../src/kube/config.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-kube-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function kubeconfig(cluster: string, user: string, context = 'ctx'): string {
  return `apiVersion: v1
kind: Config
current-context: ${context}
contexts:
- name: ctx
  context: {cluster: c1, user: u1}
clusters:
- name: c1
  cluster:
${cluster}
users:
- name: u1
  user:
${user}
`;
}

async function applied(access: { apply(o: KubeRequestOptions): Promise<void> }): Promise<KubeRequestOptions> {
  const opts: KubeRequestOptions = { headers: {} };
  await access.apply(opts);
  return opts;
}

t.test('token user and CA data', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'config');
  await writeFile(file, kubeconfig(`    server: https://api.example:6443/prefix\n    certificate-authority-data: ${b64('CA PEM')}`, '    token: t0k'));
  const access = await loadKubeAccess({ kubeconfig: file });
  t.equal(access.server.href, 'https://api.example:6443/prefix');
  const opts = await applied(access);
  t.equal(opts.ca, 'CA PEM');
  t.equal(opts.headers.authorization, 'Bearer t0k');
  t.equal(opts.cert, undefined);
});

t.test('client certificate and CA from files relative to the kubeconfig; token file; TLS options', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'pki'));
  await writeFile(join(dir, 'pki', 'ca.crt'), 'CA FILE');
  await writeFile(join(dir, 'pki', 'client.crt'), 'CERT');
  await writeFile(join(dir, 'pki', 'client.key'), 'KEY');
  await writeFile(join(dir, 'token'), 'from-file\n');
  const file = join(dir, 'config');
  await writeFile(file, kubeconfig(
    '    server: https://127.0.0.1:6443\n    certificate-authority: pki/ca.crt\n    tls-server-name: kubernetes',
    '    client-certificate: pki/client.crt\n    client-key: pki/client.key\n    tokenFile: token'));
  const opts = await applied(await loadKubeAccess({ kubeconfig: file }));
  t.equal(opts.ca, 'CA FILE');
  t.equal(opts.cert, 'CERT');
  t.equal(opts.key, 'KEY');
  t.equal(opts.servername, 'kubernetes');
  t.equal(opts.headers.authorization, 'Bearer from-file');
});

t.test('basic auth and insecure-skip-tls-verify', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'config');
  await writeFile(file, kubeconfig('    server: https://10.0.0.1\n    insecure-skip-tls-verify: true', '    username: admin\n    password: s3cret'));
  const opts = await applied(await loadKubeAccess({ kubeconfig: file }));
  t.equal(opts.rejectUnauthorized, false);
  t.equal(opts.headers.authorization, `Basic ${b64('admin:s3cret')}`);
});

t.test('broken kubeconfigs fail with the file and the reason', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'config');
  await writeFile(file, kubeconfig('    server: https://x', '    token: a', 'missing'));
  await t.rejects(loadKubeAccess({ kubeconfig: file }), { message: `kubeconfig ${file}: context "missing" not found` });
  await writeFile(file, 'apiVersion: v1\nkind: Config\n');
  await t.rejects(loadKubeAccess({ kubeconfig: file }), { message: `kubeconfig ${file} has no current-context` });
  await writeFile(file, kubeconfig('    certificate-authority-data: eA==', '    token: a'));
  await t.rejects(loadKubeAccess({ kubeconfig: file }), /has no server/);
  await t.rejects(loadKubeAccess({ kubeconfig: join(dir, 'nope') }), /cannot read kubeconfig .*nope: ENOENT/);
});

t.test('in-cluster: service host and port, CA and bearer token from the service account', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'ca.crt'), 'CLUSTER CA');
  await writeFile(join(dir, 'token'), 'sa-token\n');
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const access = await loadKubeAccess({ env, serviceAccountDir: dir, home: dir });
  t.equal(access.server.href, 'https://10.96.0.1/');
  t.equal(access.source, 'in-cluster service account');
  const opts = await applied(access);
  t.equal(opts.ca, 'CLUSTER CA');
  t.equal(opts.headers.authorization, 'Bearer sa-token');
  const v6 = await loadKubeAccess({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, serviceAccountDir: dir, home: dir });
  t.equal(v6.server.host, '[fd00::1]:6443');
});

t.test('lookup order: $KUBECONFIG, then ~/.kube/config, then in-cluster; nothing is an error', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'ca.crt'), 'CA');
  await writeFile(join(dir, 'token'), 'sa');
  const file = join(dir, 'explicit');
  await writeFile(file, kubeconfig('    server: https://from-env', '    token: a'));
  const inCluster = { KUBERNETES_SERVICE_HOST: '10.0.0.1' };
  const fromEnv = await loadKubeAccess({ env: { ...inCluster, KUBECONFIG: `${join(dir, 'absent')}:${file}` }, serviceAccountDir: dir, home: dir });
  t.equal(fromEnv.server.host, 'from-env');
  await mkdir(join(dir, 'home', '.kube'), { recursive: true });
  await writeFile(join(dir, 'home', '.kube', 'config'), kubeconfig('    server: https://from-home', '    token: a'));
  t.equal((await loadKubeAccess({ env: inCluster, serviceAccountDir: dir, home: join(dir, 'home') })).server.host, 'from-home');
  t.equal((await loadKubeAccess({ env: inCluster, serviceAccountDir: dir, home: dir })).server.host, '10.0.0.1');
  await t.rejects(loadKubeAccess({ env: {}, home: dir }), /no Kubernetes configuration/);
});

t.test('exec users are handed to @kubernetes/client-node', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'config');
  await writeFile(file, kubeconfig('    server: https://exec.example', '    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/false'));
  const access = await loadKubeAccess({ kubeconfig: file });
  t.equal(access.server.host, 'exec.example');
  t.match(access.source, /via @kubernetes\/client-node/);
});
