import t from 'tap';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseDockerConfig, credentialStore, credentialsFromSecrets, loadDockerConfigFile, normaliseRegistryKey,
} from '../../src/images/registry/credentials.ts';
import { parseWwwAuthenticate, TokenCache, tokenUrl, basicAuthorization } from '../../src/images/registry/auth.ts';
import { pullSecretNames, credentialsFromSecretNames, podCredentialStore } from '../../src/images/registry/pull-secrets.ts';
import { selectPlatform, parsePlatform, MEDIA, type ImageIndex } from '../../src/images/registry/media.ts';
import { RegistryError, fromSocketError } from '../../src/images/registry/errors.ts';
import { defaultScheme, digestMatches, sha256Digest } from '../../src/images/registry/client.ts';
import { VerificationCache, configKey, stableStringify } from '../../src/images/cosign/cache.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

t.test('docker config.json credentials', async (t) => {
  const creds = parseDockerConfig(JSON.stringify({
    auths: {
      'https://index.docker.io/v1/': { auth: b64('hub:pw') },
      'ghcr.io': { username: 'gh', password: 'tok' },
      'https://quay.io': { identitytoken: 'refresh' },
      'localhost:5000': { auth: b64('me:with:colon') },
      'empty.io': {},
    },
    credsStore: 'desktop',
  }));
  const store = credentialStore(creds);
  t.same(store('docker.io'), { username: 'hub', password: 'pw' });
  t.same(store('index.docker.io'), { username: 'hub', password: 'pw' });
  t.same(store('registry-1.docker.io'), { username: 'hub', password: 'pw' });
  t.same(store('ghcr.io'), { username: 'gh', password: 'tok' });
  t.same(store('quay.io'), { identityToken: 'refresh' });
  t.same(store('localhost:5000'), { username: 'me', password: 'with:colon' });
  t.equal(store('empty.io'), undefined);
  t.equal(store('other.io'), undefined);
  t.equal(normaliseRegistryKey('HTTPS://Ghcr.IO/v2/'), 'ghcr.io');
  // Earlier stores win.
  const layered = credentialStore(parseDockerConfig({ auths: { 'ghcr.io': { auth: b64('a:b') } } }), creds);
  t.same(layered('ghcr.io'), { username: 'a', password: 'b' });
  t.throws(() => parseDockerConfig('{'));
});

t.test('config file loading', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-cfg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { 'r.io': { auth: b64('u:p') } } }));
  t.same((await loadDockerConfigFile(join(dir, 'config.json'))).get('r.io'), { username: 'u', password: 'p' });
  t.equal((await loadDockerConfigFile(join(dir, 'missing.json'))).size, 0, 'a missing file means no credentials');
  await writeFile(join(dir, 'bad.json'), '{');
  await t.rejects(loadDockerConfigFile(join(dir, 'bad.json')), /cannot read docker config/);
});

t.test('imagePullSecrets (dockerconfigjson and legacy dockercfg)', async (t) => {
  const secrets = [
    { kind: 'Secret', metadata: { name: 'opaque' }, data: { token: b64('x') } },
    { kind: 'Secret', metadata: { name: 'new' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(JSON.stringify({ auths: { 'ghcr.io': { auth: b64('a:1') } } })) } },
    { kind: 'Secret', metadata: { name: 'old' }, type: 'kubernetes.io/dockercfg', data: { '.dockercfg': b64(JSON.stringify({ 'https://quay.io': { auth: b64('b:2') } })) } },
    { kind: 'Secret', metadata: { name: 'dup' }, data: { '.dockerconfigjson': b64(JSON.stringify({ auths: { 'ghcr.io': { auth: b64('z:9') } } })) } },
  ];
  const m = credentialsFromSecrets(secrets);
  t.same(m.get('ghcr.io'), { username: 'a', password: '1' }, 'first secret wins');
  t.same(m.get('quay.io'), { username: 'b', password: '2' });
  t.throws(() => credentialsFromSecrets([{ metadata: { name: 's', namespace: 'ns' }, data: { '.dockerconfigjson': b64('{') } } as never]),
    /invalid pull secret ns\/s/);
});

t.test('pull secret names from pods and templates; fallback store', async (t) => {
  t.same(pullSecretNames({ kind: 'Pod', spec: { imagePullSecrets: [{ name: 'a' }, { name: '' }, {}, { name: 'b' }] } }), ['a', 'b']);
  t.same(pullSecretNames({ kind: 'Deployment', spec: { template: { spec: { imagePullSecrets: [{ name: 'd' }] } } } }), ['d']);
  t.same(pullSecretNames({ kind: 'CronJob', spec: { jobTemplate: { spec: { template: { spec: { imagePullSecrets: [{ name: 'c' }] } } } } } }), ['c']);
  t.same(pullSecretNames({ kind: 'Pod', spec: {} }), []);
  const secret = { kind: 'Secret', data: { '.dockerconfigjson': b64(JSON.stringify({ auths: { 'r.io': { auth: b64('u:p') } } })) } };
  const m = await credentialsFromSecretNames('ns', ['x', 'y'], async (_ns, name) => (name === 'y' ? secret : undefined));
  t.same(m.get('r.io'), { username: 'u', password: 'p' });
  const store = await podCredentialStore({ kind: 'Pod', spec: { imagePullSecrets: [{ name: 'y' }] } }, 'ns', async () => secret,
    (host) => (host === 'other.io' ? { username: 'fallback' } : undefined));
  t.same(store('r.io'), { username: 'u', password: 'p' });
  t.same(store('other.io'), { username: 'fallback' });
  await t.rejects(credentialsFromSecretNames('ns', ['x'], async () => { throw new Error('forbidden'); }), /forbidden/);
});

t.test('WWW-Authenticate parsing and token URLs', async (t) => {
  t.same(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull,push' } },
  ]);
  t.same(parseWwwAuthenticate('Basic realm="x y"'), [{ scheme: 'basic', params: { realm: 'x y' } }]);
  t.same(parseWwwAuthenticate(['Basic realm=plain', 'Bearer realm="a\\"b"']), [
    { scheme: 'basic', params: { realm: 'plain' } }, { scheme: 'bearer', params: { realm: 'a"b' } },
  ]);
  t.same(parseWwwAuthenticate(undefined), []);
  const url = tokenUrl({ scheme: 'bearer', params: { realm: 'https://t.io/token?x=1', service: 's' } }, ['repository:a/b:pull']);
  t.equal(url.toString(), 'https://t.io/token?x=1&service=s&scope=repository%3Aa%2Fb%3Apull');
  t.throws(() => tokenUrl({ scheme: 'bearer', params: {} }, []), /without realm/);
  t.equal(basicAuthorization({ username: 'u', password: 'p' }), `Basic ${b64('u:p')}`);
  t.equal(basicAuthorization({ identityToken: 'x' }), undefined);
});

t.test('token cache expiry', async (t) => {
  const c = new TokenCache(2);
  c.set('a', 'tok', 60, 0);
  t.equal(c.get('a', 49_000), 'tok');
  t.equal(c.get('a', 50_000), undefined, 'refreshed 10 s before expiry');
  c.set('a', '1', 60, 0);
  c.set('b', '2', 60, 0);
  c.set('c', '3', 60, 0);
  t.equal(c.get('a', 0), undefined, 'bounded');
  t.equal(c.get('c', 0), '3');
});

t.test('platform selection', async (t) => {
  const index: ImageIndex = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [
    { mediaType: MEDIA.ociManifest, digest: 'sha256:1', size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { mediaType: MEDIA.ociManifest, digest: 'sha256:2', size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { mediaType: MEDIA.ociManifest, digest: 'sha256:3', size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: MEDIA.ociManifest, digest: 'sha256:4', size: 1 },
  ] };
  t.equal(selectPlatform(index)?.digest, 'sha256:3');
  t.equal(selectPlatform(index, parsePlatform('linux/arm64'))?.digest, 'sha256:2');
  t.equal(selectPlatform(index, parsePlatform('linux/arm/v7'))?.digest, 'sha256:1');
  t.equal(selectPlatform(index, parsePlatform('linux/arm/v6')), undefined);
  t.throws(() => parsePlatform('linux'), /invalid platform/);
});

t.test('error classification', async (t) => {
  const url = 'https://r.io/v2/';
  t.equal(fromSocketError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), url, 'w').kind, 'network');
  t.equal(fromSocketError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), url, 'w').kind, 'tls');
  t.equal(fromSocketError(Object.assign(new Error('t'), { name: 'TimeoutError' }), url, 'w').kind, 'timeout');
  const e = new RegistryError('auth', 'm');
  t.equal(fromSocketError(e, url, 'w'), e);
  t.notOk(e.transient);
  t.ok(new RegistryError('server', 'm').transient);
  t.equal(defaultScheme('localhost:5000'), 'http');
  t.equal(defaultScheme('127.0.0.1:5000'), 'http');
  t.equal(defaultScheme('[::1]:5000'), 'http');
  t.equal(defaultScheme('ghcr.io'), 'https');
  t.equal(defaultScheme('localhost.evil.com'), 'https');
  const body = Buffer.from('abc');
  t.ok(digestMatches(body, sha256Digest(body)));
  t.notOk(digestMatches(body, `sha256:${'0'.repeat(64)}`));
  t.notOk(digestMatches(body, 'md5:900150983cd24fb0d6963f7d28e17f72'));
});

t.test('verification cache: TTLs, single flight, keys', async (t) => {
  const cache = new VerificationCache<{ status: 'pass' | 'fail' | 'error'; n: number }>({ max: 2, ttlMs: 60_000, negativeTtlMs: 0 });
  const events: string[] = [];
  cache.onEvent = (o) => events.push(o);
  let loads = 0;
  const load = (status: 'pass' | 'fail' | 'error') => () => new Promise<{ status: typeof status; n: number }>((r) => setImmediate(() => r({ status, n: ++loads })));
  const [a, b] = await Promise.all([cache.get('k', load('pass')), cache.get('k', load('pass'))]);
  t.equal(a, b);
  t.equal(loads, 1);
  t.same(cache.get('k', load('pass')), { status: 'pass', n: 1 });
  await cache.get('f', load('fail'));
  await cache.get('f', load('fail'));
  t.equal(loads, 3, 'negative TTL 0 disables failure caching');
  await cache.get('e', load('error'));
  t.equal(cache.size, 1, 'errors are never stored');
  await cache.get('x', load('pass'));
  await cache.get('y', load('pass'));
  t.equal(cache.size, 2, 'LRU bound');
  t.same(events.slice(0, 3), ['coalesced', 'miss', 'hit']);
  const rejecting = cache.get('boom', () => Promise.reject(new Error('bad')));
  await t.rejects(rejecting as Promise<unknown>, /bad/);
  t.equal(cache.peek('boom'), undefined, 'a throwing load is not cached');
  await cache.get('boom', load('pass'));

  const cfg = { entries: [{ keys: { publicKeys: 'x' } }] };
  t.equal(configKey(cfg), configKey({ entries: [{ keys: { publicKeys: 'x' } }] }), 'equal configs give equal keys');
  t.not(configKey(cfg), configKey({ entries: [{ keys: { publicKeys: 'y' } }] }));
  t.equal(stableStringify({ b: 1, a: [1, { d: 2, c: undefined }] }), '{"a":[1,{"d":2}],"b":1}');
});
