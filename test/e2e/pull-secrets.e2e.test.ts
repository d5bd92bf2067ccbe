/**
 * imagePullSecrets through the real Kubernetes API: a real kube-apiserver
 * (test/cluster harness) holds a kubernetes.io/dockerconfigjson Secret made
 * with kubectl; kubernetesSecretReader reads it through src/kube (client
 * certificate from the harness's kubeconfig), and the resulting credentials let a signed
 * image on a TLS + htpasswd docker-registry verify. Without the secret the
 * verification fails with an auth error naming the image.
 */
import t from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harnessMissing, startCluster } from '../cluster/harness.ts';
import { startRegistry, pushImage, makeTlsCertificate, dockerConfigFor } from '../support/registry/harness.ts';
import { generateKeyPair, signImage } from '../support/cosign/tools.ts';
import { RegistryClient } from '../../src/images/registry/client.ts';
import { RegistryError } from '../../src/images/registry/errors.ts';
import { closeHttpAgents } from '../../src/images/registry/http.ts';
import { kubernetesSecretReader, podCredentialStore, cachedSecretReader } from '../../src/images/registry/pull-secrets.ts';
import { parseImageReference } from '../../src/images/reference.ts';
import { verifyImageSignatures } from '../../src/images/cosign/verify.ts';

const missing = harnessMissing();
if (missing) {
  t.fail(missing);
} else {
  t.teardown(() => closeHttpAgents());
  const NS = 'apps';
  const [cluster, tlsFiles, key] = await Promise.all([startCluster({ t }), makeTlsCertificate(), generateKeyPair()]);
  t.teardown(async () => { await tlsFiles.cleanup(); await key.cleanup(); });
  const reg = await startRegistry({ tls: { cert: tlsFiles.cert, key: tlsFiles.key }, user: 'alice:s3cret' });
  t.teardown(() => reg.stop());
  const A = reg.address;
  const cfg = await dockerConfigFor(A, 'alice', 's3cret');
  t.teardown(() => cfg.cleanup());
  const digest = await pushImage(`${A}/private/app:v1`, { dockerConfig: cfg.dir, insecure: true });
  await signImage(`${A}/private/app@${digest}`, key, { dockerConfig: cfg.dir, extraArgs: ['--allow-insecure-registry'] });

  const kubectl = async (args: string[]) => {
    const r = await cluster.kubectl(args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  await kubectl(['create', 'namespace', NS]);
  await kubectl(['-n', NS, 'create', 'secret', 'docker-registry', 'regcred',
    `--docker-server=${A}`, '--docker-username=alice', '--docker-password=s3cret']);
  await kubectl(['-n', NS, 'create', 'secret', 'docker-registry', 'wrongcred',
    `--docker-server=${A}`, '--docker-username=alice', '--docker-password=nope']);

  const image = `${A}/private/app:v1`;
  const https = () => 'https' as const;
  const attestors = [{ entries: [{ keys: { publicKeys: key.publicKeyPem, rekor: { ignoreTlog: true } } }] }];
  const pod = (secrets: string[]) => ({ kind: 'Pod', metadata: { name: 'web', namespace: NS },
    spec: { imagePullSecrets: secrets.map((name) => ({ name })), containers: [{ name: 'web', image }] } });
  const reader = await kubernetesSecretReader({ kubeconfig: cluster.kubeconfig });

  t.test('the reader returns the Secret kubectl created, and undefined for a missing one', async (t) => {
    const secret = await reader(NS, 'regcred');
    t.equal(secret?.type, 'kubernetes.io/dockerconfigjson');
    const data = (secret as { data?: Record<string, string> }).data ?? {};
    const config = JSON.parse(Buffer.from(data['.dockerconfigjson'], 'base64').toString('utf8'));
    t.equal(config.auths[A].username, 'alice');
    t.equal(await reader(NS, 'nope'), undefined);
    t.equal(await reader('no-such-namespace', 'regcred'), undefined);
  });

  t.test('a Pod with the pull secret verifies the signed private image', async (t) => {
    const credentials = await podCredentialStore(pod(['missing', 'regcred']), NS, cachedSecretReader(reader));
    t.same(credentials(A), { username: 'alice', password: 's3cret' });
    const client = new RegistryClient({ schemeFor: https, ca: tlsFiles.pem, credentials, retries: 0 });
    t.equal(await client.resolveDigest(parseImageReference(image)), digest);
    const r = await verifyImageSignatures(image, attestors, { client, useCache: false });
    t.same(r, { verified: true, status: 'pass', image, digest, message: `verified image signatures for ${image}` });
  });

  t.test('without the secret (or with a wrong one) verification fails with an auth error naming the image', async (t) => {
    for (const secrets of [[], ['missing'], ['wrongcred']]) {
      const credentials = await podCredentialStore(pod(secrets), NS, reader);
      const client = new RegistryClient({ schemeFor: https, ca: tlsFiles.pem, credentials, retries: 0 });
      try {
        await client.resolveDigest(parseImageReference(image));
        t.fail('expected an auth error');
      } catch (e) {
        t.ok(e instanceof RegistryError && e.kind === 'auth', `auth error with secrets [${secrets}]`);
      }
      const r = await verifyImageSignatures(image, attestors, { client, useCache: false });
      t.equal(r.status, 'fail', `secrets [${secrets}]`);
      t.match(r.message, new RegExp(`^failed to verify image ${image.replace(/[.:/]/g, '\\$&')}: .*(requires credentials|access denied)`));
    }
  });

  t.test('an unreachable API server is an error, not a missing secret', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-kc-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    // Same credentials, a closed port.
    const kc = (await readFile(cluster.kubeconfig, 'utf8')).replace(cluster.server, 'https://127.0.0.1:1');
    await writeFile(join(dir, 'kubeconfig'), kc);
    const down = await kubernetesSecretReader({ kubeconfig: join(dir, 'kubeconfig') });
    await t.rejects(down(NS, 'regcred'), /cannot read secret apps\/regcred/);
  });
}
