/**
 * Registry client against real docker-registry instances: plain, TLS + htpasswd
 * (basic auth), and token auth (bearer flow with a test token server). Images
 * are pushed with the real crane.
 */
import t, { type Test } from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startRegistry, pushImage, crane, makeTlsCertificate, dockerConfigFor } from '../support/registry/harness.ts';
import { startTokenServer } from '../support/registry/token-server.ts';
import { RegistryClient } from '../../src/images/registry/client.ts';
import { RegistryError } from '../../src/images/registry/errors.ts';
import { closeHttpAgents } from '../../src/images/registry/http.ts';
import { parseDockerConfig, credentialStore } from '../../src/images/registry/credentials.ts';
import { MEDIA } from '../../src/images/registry/media.ts';
import { podCredentialStore, cachedSecretReader } from '../../src/images/registry/pull-secrets.ts';
import { parseImageReference } from '../../src/images/reference.ts';
import { fetchImageData } from '../../src/images/imagedata.ts';
import { generateKeyPair, signImage } from '../support/cosign/tools.ts';
import { verifyImageSignatures } from '../../src/images/cosign/verify.ts';

t.teardown(() => closeHttpAgents());

async function rejects(t: Test, p: Promise<unknown>, kind: string, message: RegExp): Promise<void> {
  try {
    await p;
    t.fail(`expected a ${kind} error`);
  } catch (e) {
    t.ok(e instanceof RegistryError, 'RegistryError');
    t.equal((e as RegistryError).kind, kind);
    t.match((e as Error).message, message);
  }
}

t.test('plain registry: manifests, blobs, index → platform manifest', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const A = reg.address;
  const [amd, arm] = await Promise.all([
    pushImage(`${A}/multi/app:amd64`, { platform: 'linux/amd64' }),
    pushImage(`${A}/multi/app:arm64`, { platform: 'linux/arm64' }),
  ]);
  await crane(['index', 'append', '-m', `${A}/multi/app:amd64`, '-m', `${A}/multi/app:arm64`, '-t', `${A}/multi/app:v1`]);
  const indexDigest = await crane(['digest', `${A}/multi/app:v1`]);
  const client = new RegistryClient({ timeoutMs: 5000 });
  const img = parseImageReference(`${A}/multi/app:v1`);

  const head = await client.headManifest(img, 'v1');
  t.equal(head.digest, indexDigest);
  t.equal(head.mediaType, MEDIA.ociIndex);
  t.equal(await client.resolveDigest(img), indexDigest);

  const top = await client.getManifest(img, indexDigest);
  t.equal(top.digest, indexDigest);
  t.equal(top.mediaType, MEDIA.ociIndex);

  const forArm = await client.getPlatformManifest(img, { os: 'linux', architecture: 'arm64' });
  t.equal(forArm.digest, indexDigest);
  t.equal(forArm.manifestDigest, arm);
  const forDefault = await client.getPlatformManifest(img);
  t.equal(forDefault.manifestDigest, amd, 'linux/amd64 by default');
  await rejects(t, client.getPlatformManifest(img, { os: 'windows', architecture: 'amd64' }), 'not-found', /no manifest for platform windows\/amd64/);

  const config = await client.getBlob(img, forArm.manifest.config.digest);
  t.equal(JSON.parse(config.toString()).architecture, 'arm64');

  const single = await client.getPlatformManifest(parseImageReference(`${A}/multi/app:amd64`));
  t.equal(single.manifestDigest, amd, 'a plain manifest is its own platform manifest');

  await rejects(t, client.headManifest(img, 'nope'), 'not-found', /resolving .*multi\/app:nope: not found/);
  await rejects(t, client.getManifest(img, 'nope'), 'not-found', /MANIFEST_UNKNOWN/);
  await rejects(t, client.getBlob(img, `sha256:${'0'.repeat(64)}`), 'not-found', /fetching blob sha256:0+ of .*: not found/);
  await rejects(t, client.getManifest(parseImageReference(`${A}/none/here:v1`), 'v1'), 'not-found', /NAME_UNKNOWN|MANIFEST_UNKNOWN/);
  t.same(await client.getReferrers(img, indexDigest), [], 'registries without the referrers API give an empty list');

  const data = await fetchImageData(`${A}/multi/app:v1`, client) as Record<string, any>;
  t.equal(data.image, `${A}/multi/app:v1`);
  t.equal(data.resolvedImage, `${A}/multi/app@${indexDigest}`, 'resolvedImage carries the index digest');
  t.equal(data.registry, A);
  t.equal(data.repository, 'multi/app');
  t.equal(data.identifier, 'v1');
  t.equal(data.configData.architecture, 'amd64');
  t.ok([MEDIA.ociManifest, MEDIA.dockerManifest].includes(data.manifest.mediaType), 'the platform manifest, not the index');
  const byDigest = await fetchImageData(`${A}/multi/app@${arm}`, client) as Record<string, any>;
  t.equal(byDigest.identifier, arm);
  t.equal(byDigest.configData.architecture, 'arm64');
  await t.rejects(fetchImageData(`${A}/multi/app:gone`, client), /^failed to fetch image descriptor: .*multi\/app:gone, error: .*not found/);
  await rejects(t, new RegistryClient({ maxManifestBytes: 10 }).getManifest(img, 'v1'), 'too-large', /exceeds the 10-byte limit/);
});

t.test('TLS + htpasswd registry: CA bundle and basic credentials', async (t) => {
  const tlsFiles = await makeTlsCertificate();
  t.teardown(() => tlsFiles.cleanup());
  const reg = await startRegistry({ tls: { cert: tlsFiles.cert, key: tlsFiles.key }, user: 'alice:s3cret' });
  t.teardown(() => reg.stop());
  const A = reg.address;
  const cfg = await dockerConfigFor(A, 'alice', 's3cret');
  t.teardown(() => cfg.cleanup());
  const digest = await pushImage(`${A}/private/app:v1`, { dockerConfig: cfg.dir, insecure: true });
  const img = parseImageReference(`${A}/private/app:v1`);
  const https = () => 'https' as const;

  await rejects(t, new RegistryClient({ schemeFor: https, retries: 0 }).resolveDigest(img), 'tls', /TLS failure talking to 127\.0\.0\.1:\d+/);
  await rejects(t, new RegistryClient({ schemeFor: https, ca: tlsFiles.pem }).resolveDigest(img), 'auth',
    /requires credentials and none are configured/);
  const wrong = credentialStore(parseDockerConfig({ auths: { [A]: { username: 'alice', password: 'nope' } } }));
  await rejects(t, new RegistryClient({ schemeFor: https, ca: tlsFiles.pem, credentials: wrong }).resolveDigest(img), 'auth', /access denied \(HTTP 401\)/);

  const insecure = new RegistryClient({ schemeFor: https, allowInsecure: true, credentials: credentialStore(parseDockerConfig(cfg.json)) });
  t.equal(await insecure.resolveDigest(img), digest, 'allowInsecureRegistry accepts the untrusted certificate');
  const client = new RegistryClient({ schemeFor: https, ca: tlsFiles.pem, credentials: credentialStore(parseDockerConfig(cfg.json)) });
  t.equal(await client.resolveDigest(img), digest);
  const m = await client.getPlatformManifest(img);
  t.equal(m.manifestDigest, digest);

  // The same credentials as a Pod's imagePullSecret, read through a (fake) Kubernetes API.
  let reads = 0;
  const reader = cachedSecretReader(async (ns, name) => {
    reads++;
    if (ns !== 'apps' || name !== 'regcred') return undefined;
    return { kind: 'Secret', metadata: { name, namespace: ns }, type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(cfg.json).toString('base64') } };
  });
  const pod = { kind: 'Pod', spec: { imagePullSecrets: [{ name: 'missing' }, { name: 'regcred' }], containers: [{ name: 'c', image: `${A}/private/app:v1` }] } };
  const fromPod = new RegistryClient({ schemeFor: https, ca: tlsFiles.pem, credentials: await podCredentialStore(pod, 'apps', reader) });
  t.equal(await fromPod.resolveDigest(img), digest, 'pull secret credentials');
  await podCredentialStore(pod, 'apps', reader);
  t.equal(reads, 2, 'secrets are cached between admissions');
  const noSecrets = new RegistryClient({ schemeFor: https, ca: tlsFiles.pem, credentials: await podCredentialStore({ kind: 'Pod', spec: {} }, 'apps', reader) });
  await rejects(t, noSecrets.resolveDigest(img), 'auth', /requires credentials/);
  t.ok((await client.getBlob(img, m.manifest.layers[0].digest)).length > 0);

  // cosign signature stored on the authenticated TLS registry, verified through it.
  const key = await generateKeyPair();
  t.teardown(() => key.cleanup());
  await signImage(`${A}/private/app@${digest}`, key, { dockerConfig: cfg.dir, extraArgs: ['--allow-insecure-registry'] });
  const attestors = [{ entries: [{ keys: { publicKeys: key.publicKeyPem, rekor: { ignoreTlog: true } } }] }];
  const verified = await verifyImageSignatures(`${A}/private/app:v1`, attestors, { client, useCache: false });
  t.equal(verified.status, 'pass', verified.message);
  const anonymous = await verifyImageSignatures(`${A}/private/app:v1`, attestors,
    { client: new RegistryClient({ schemeFor: https, ca: tlsFiles.pem }), useCache: false });
  t.equal(anonymous.status, 'fail', 'without credentials the signature cannot be read');
  t.match(anonymous.message, /requires credentials and none are configured/);
});

t.test('token auth registry: bearer flow, scopes, token reuse', async (t) => {
  const signer = await makeTlsCertificate();
  t.teardown(() => signer.cleanup());
  const service = 'portcullis-registry';
  const issuer = 'portcullis-token-issuer';
  const tokens = await startTokenServer({ certFile: signer.cert, keyFile: signer.key, user: 'bob', password: 'pw', service, issuer });
  t.teardown(() => tokens.stop());
  const reg = await startRegistry({ token: { realm: tokens.realm, service, issuer, rootCert: signer.cert } });
  t.teardown(() => reg.stop());
  const A = reg.address;
  const cfg = await dockerConfigFor(A, 'bob', 'pw');
  t.teardown(() => cfg.cleanup());
  const [privDigest, pubDigest] = await Promise.all([
    pushImage(`${A}/private/app:v1`, { dockerConfig: cfg.dir }),
    pushImage(`${A}/public/app:v1`, { dockerConfig: cfg.dir }),
  ]);

  const anonymous = new RegistryClient();
  t.equal(await anonymous.resolveDigest(parseImageReference(`${A}/public/app:v1`)), pubDigest, 'anonymous token for a public repository');
  await rejects(t, anonymous.resolveDigest(parseImageReference(`${A}/private/app:v1`)), 'auth', /access denied \(HTTP 401\)/);

  const badCreds = new RegistryClient({ credentials: credentialStore(parseDockerConfig({ auths: { [A]: { auth: Buffer.from('bob:x').toString('base64') } } })) });
  await rejects(t, badCreds.resolveDigest(parseImageReference(`${A}/private/app:v1`)), 'auth', /token endpoint 127\.0\.0\.1:\d+ refused the configured credentials \(HTTP 401\)/);

  const client = new RegistryClient({ credentials: credentialStore(parseDockerConfig(cfg.json)) });
  const img = parseImageReference(`${A}/private/app:v1`);
  const before = tokens.requests.length;
  t.equal(await client.resolveDigest(img), privDigest);
  const m = await client.getPlatformManifest(img);
  await client.getBlob(img, m.manifest.config.digest);
  const used = tokens.requests.slice(before);
  t.equal(used.length, 1, 'one token serves every call on the repository');
  t.same(used[0], { scope: ['repository:private/app:pull'], user: 'bob', authorized: true });
});

/** The RegistryError a promise rejects with (a resolved promise is a test failure). */
async function failure(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RegistryError) return e;
    throw e;
  }
  throw new Error('expected a RegistryError');
}

/** Local HTTP server scripted per request, for failure modes a healthy registry does not produce. */
async function scripted(handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void) {
  let n = 0;
  const server = http.createServer((req, res) => handler(req, res, n++));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

t.test('retries, timeouts, deadlines and redirects', async (t) => {
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.ociConfig, digest: `sha256:${'1'.repeat(64)}`, size: 2 }, layers: [] });
  const flaky = await scripted((_req, res, n) => {
    if (n < 2) { res.writeHead(503).end(); return; }
    res.writeHead(200, { 'content-type': MEDIA.ociManifest }).end(manifest);
  });
  t.teardown(flaky.close);
  const repo = { host: flaky.host, repository: 'x/y' };
  const m = await new RegistryClient({ retries: 2, retryDelayMs: 1 }).getManifest(repo, 'v1');
  t.equal(m.mediaType, MEDIA.ociManifest, 'two 503s then success');
  const down = await scripted((_req, res) => { res.writeHead(503).end('{"errors":[{"code":"UNAVAILABLE","message":"maintenance"}]}'); });
  t.teardown(down.close);
  await rejects(t, new RegistryClient({ retries: 1, retryDelayMs: 1 }).getManifest({ host: down.host, repository: 'x/y' }, 'v1'),
    'server', /registry error HTTP 503 \(UNAVAILABLE: maintenance\)/);

  const silent = await scripted(() => { /* never answers */ });
  t.teardown(silent.close);
  const slow = new RegistryClient({ timeoutMs: 100, retries: 3 });
  const err = await failure(slow.getManifest({ host: silent.host, repository: 'x/y' }, 'v1'));
  t.equal(err.kind, 'timeout');
  t.ok(err.transient);
  t.match(err.message, /registry 127\.0\.0\.1:\d+ did not answer in time/);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 20);
  const aborted = await failure(new RegistryClient({ timeoutMs: 10_000 }).getManifest({ host: silent.host, repository: 'x/y' }, 'v1', { signal: controller.signal }));
  t.equal(aborted.kind, 'timeout');
  t.match(aborted.message, /aborted \(deadline\)/);

  const refused = await failure(new RegistryClient({ retries: 1, retryDelayMs: 1 }).getManifest({ host: '127.0.0.1:9', repository: 'x/y' }, 'v1'));
  t.equal(refused.kind, 'network');
  t.match(refused.message, /cannot reach registry 127\.0\.0\.1:9 \(ECONNREFUSED\)/);

  // Blob redirect to another origin: followed, without the registry credentials.
  const blob = Buffer.from('{"hello":"world"}');
  const { createHash } = await import('node:crypto');
  const blobDigest = 'sha256:' + createHash('sha256').update(blob).digest('hex');
  const seen: Array<string | undefined> = [];
  const storage = await scripted((req, res) => { seen.push(req.headers.authorization); res.writeHead(200).end(blob); });
  t.teardown(storage.close);
  const reg = await scripted((req, res) => {
    if (!req.headers.authorization) { res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end(); return; }
    res.writeHead(307, { location: `http://${storage.host}/blob?sig=1` }).end();
  });
  t.teardown(reg.close);
  const withCreds = new RegistryClient({ credentials: () => ({ username: 'u', password: 'p' }) });
  t.same(await withCreds.getBlob({ host: reg.host, repository: 'x/y' }, blobDigest), blob);
  t.same(seen, [undefined], 'Authorization is not forwarded to the storage origin');
  await rejects(t, withCreds.getBlob({ host: reg.host, repository: 'x/y' }, `sha256:${'2'.repeat(64)}`), 'protocol', /content does not match its digest/);
});
