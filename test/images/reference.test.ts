import t from 'tap';
import {
  parseImageReference, parseRawReference, tryParseImageReference, isValidDigest,
  formatImageInfo, ImageReferenceError, REASON,
} from '../../src/images/reference.ts';

const D64 = 'sha256:dead07b4d8ed7e29e98de0f4504d87e8880d4347859d839686a31da35a3b532f';

t.test('Kyverno ImageInfo fields for common forms', async (t) => {
  const cases: Array<[string, Partial<ReturnType<typeof parseImageReference>>]> = [
    ['nginx', { registry: 'docker.io', path: 'nginx', name: 'nginx', tag: 'latest', digest: '', reference: 'docker.io/nginx:latest', referenceWithTag: 'docker.io/nginx:latest' }],
    ['nginx:v10.3', { registry: 'docker.io', path: 'nginx', tag: 'v10.3', reference: 'docker.io/nginx:v10.3' }],
    ['docker.io/test/nginx:v10.3', { registry: 'docker.io', path: 'test/nginx', name: 'nginx', tag: 'v10.3' }],
    ['test/nginx', { registry: 'docker.io', path: 'test/nginx', name: 'nginx', tag: 'latest', reference: 'docker.io/test/nginx:latest' }],
    ['localhost:4443/test/nginx', { registry: 'localhost:4443', path: 'test/nginx', tag: 'latest', reference: 'localhost:4443/test/nginx:latest' }],
    ['localhost/netd:v0.4.4-gke.0', { registry: 'localhost', path: 'netd', tag: 'v0.4.4-gke.0' }],
    ['index.docker.io/busybox:v1.2.3', { registry: 'index.docker.io', path: 'busybox', name: 'busybox', tag: 'v1.2.3' }],
    [`docker.io/test/centos@${D64}`, { registry: 'docker.io', path: 'test/centos', name: 'centos', tag: '', digest: D64, reference: `docker.io/test/centos@${D64}`, referenceWithTag: 'docker.io/test/centos:' }],
    ['test.example.com/test/my-app:v2', { registry: 'test.example.com', path: 'test/my-app', name: 'my-app', tag: 'v2' }],
    ['ghcr.io/a/b/c/d:1', { registry: 'ghcr.io', path: 'a/b/c/d', name: 'd', tag: '1' }],
    ['[::1]:5000/foo/bar:x', { registry: '[::1]:5000', path: 'foo/bar', tag: 'x' }],
    ['192.168.1.10:5000/app', { registry: '192.168.1.10:5000', path: 'app', tag: 'latest' }],
    ['my-registry.local:5000/a_b/c__d/e-f--g.h:T_a.g-1', { registry: 'my-registry.local:5000', path: 'a_b/c__d/e-f--g.h', name: 'e-f--g.h', tag: 'T_a.g-1' }],
    // A first component without `.`/`:` that is not localhost is a Docker Hub namespace.
    ['myorg/app:1', { registry: 'docker.io', path: 'myorg/app', tag: '1' }],
    // localhost:5000 without a slash is a Docker Hub image `localhost` with tag `5000`.
    ['localhost:5000', { registry: 'docker.io', path: 'localhost', tag: '5000' }],
  ];
  for (const [input, want] of cases) {
    const got = parseImageReference(input);
    for (const [k, v] of Object.entries(want)) t.equal(got[k as keyof typeof got], v, `${input} ${k}`);
  }
});

t.test('tag and digest together: reference drops the tag, referenceWithTag keeps it', async (t) => {
  const img = 'registry.test.io/test/myapp:v1.2-21.g5523e95@sha256:31aaf12480bd08c54e7990c6b0e43d775a7a84603d2921a6de4abbc317b2fd10';
  const r = parseImageReference(img);
  t.equal(r.tag, 'v1.2-21.g5523e95');
  t.equal(r.digest, 'sha256:31aaf12480bd08c54e7990c6b0e43d775a7a84603d2921a6de4abbc317b2fd10');
  t.equal(r.reference, 'registry.test.io/test/myapp@sha256:31aaf12480bd08c54e7990c6b0e43d775a7a84603d2921a6de4abbc317b2fd10');
  t.equal(r.referenceWithTag, 'registry.test.io/test/myapp:v1.2-21.g5523e95');
  const f = parseImageReference(`fictional.registry.example:10443/imagename:tag@sha256:${'f'.repeat(64)}`);
  t.equal(f.registry, 'fictional.registry.example:10443');
  t.equal(f.path, 'imagename');
  t.equal(f.tag, 'tag');
});

t.test('registry-API view: Docker Hub host and library/ namespace', async (t) => {
  t.same(pick(parseImageReference('nginx')), { host: 'index.docker.io', repository: 'library/nginx' });
  t.same(pick(parseImageReference('docker.io/nginx')), { host: 'index.docker.io', repository: 'library/nginx' });
  t.same(pick(parseImageReference('index.docker.io/bitnami/redis')), { host: 'index.docker.io', repository: 'bitnami/redis' });
  t.same(pick(parseImageReference('ghcr.io/nginx')), { host: 'ghcr.io', repository: 'nginx' });
  t.same(pick(parseImageReference('127.0.0.1:5000/x/y')), { host: '127.0.0.1:5000', repository: 'x/y' });
  function pick(r: { host: string; repository: string }) { return { host: r.host, repository: r.repository }; }
});

t.test('default registry options', async (t) => {
  const g = parseImageReference('test/nginx', { defaultRegistry: 'gcr.io' });
  t.equal(g.registry, 'gcr.io');
  t.equal(g.reference, 'gcr.io/test/nginx:latest');
  const off = parseImageReference('test/nginx', { defaultRegistry: 'gcr.io', enableDefaultRegistryMutation: false });
  t.equal(off.registry, '');
  t.equal(off.reference, 'test/nginx:latest');
  t.equal(off.referenceWithTag, 'test/nginx:latest');
  t.equal(off.host, 'gcr.io', 'the API host still uses the default registry');
  // Explicit registries are unaffected by the mutation switch.
  t.equal(parseImageReference('myregistry.org/test/nginx:v10.3', { enableDefaultRegistryMutation: false }).registry, 'myregistry.org');
  // A default registry with a path prefix puts the prefix in the path.
  const ecr = parseImageReference('test/nginx:v10.3', { defaultRegistry: '123456789012.dkr.ecr.eu-west-3.amazonaws.com/docker' });
  t.equal(ecr.registry, '123456789012.dkr.ecr.eu-west-3.amazonaws.com');
  t.equal(ecr.path, 'docker/test/nginx');
});

t.test('invalid references carry the distribution reason and Kyverno message', async (t) => {
  const bad: Array<[string, string]> = [
    ['++', REASON.format],
    ['', REASON.format], // Kyverno prefixes docker.io/ first, so '' becomes 'docker.io/'
    ['Nginx', REASON.uppercase],
    ['docker.io/Library/nginx', REASON.uppercase],
    ['nginx:', REASON.format],
    ['nginx:-bad', REASON.format],
    [`nginx:${'a'.repeat(129)}`, REASON.format],
    ['nginx@sha256:abc', REASON.format],
    [`nginx@sha256:${'a'.repeat(63)}`, REASON.digestLength],
    [`nginx@sha256:${'A'.repeat(64)}`, REASON.digestFormat],
    [`nginx@md5:${'a'.repeat(32)}`, REASON.digestUnsupported],
    [`nginx@${D64}@${D64}`, REASON.format],
    ['nginx..x', REASON.format],
    ['nginx_', REASON.format],
    ['a/-b', REASON.format],
    ['host:port/x', REASON.format],
    ['-host.com/x', REASON.format],
    [`${'a'.repeat(250)}/bbbbbb`, REASON.tooLong],
    ['foo bar', REASON.format],
  ];
  for (const [input, reason] of bad) {
    const r = tryParseImageReference(input);
    t.notOk(r.ok, `${JSON.stringify(input)} is rejected`);
    if (!r.ok) t.equal(r.error.reason, reason, `${JSON.stringify(input)} reason`);
  }
  t.throws(() => parseImageReference('++'), {
    name: 'ImageReferenceError',
    message: 'bad image: docker.io/++, defaultRegistry: docker.io, enableDefaultRegistryMutation: true: invalid reference format',
  });
  t.throws(() => parseRawReference(''), new ImageReferenceError('', REASON.empty));
  t.throws(() => parseRawReference('x'.repeat(10_000)), new ImageReferenceError('x'.repeat(64) + '…', REASON.format));
});

t.test('raw grammar prefers a domain for the first component', async (t) => {
  t.same(parseRawReference('foo/bar'), { domain: 'foo', path: 'bar', tag: '', digest: '' });
  t.same(parseRawReference('foo_bar/baz'), { domain: '', path: 'foo_bar/baz', tag: '', digest: '' });
  t.same(parseRawReference('Foo/bar:v'), { domain: 'Foo', path: 'bar', tag: 'v', digest: '' });
  t.equal(parseImageReference('Foo/bar').registry, 'Foo', 'an uppercase first component is read as a host, like Kyverno');
});

t.test('helpers', async (t) => {
  t.ok(isValidDigest(D64));
  t.notOk(isValidDigest('sha256:xyz'));
  t.notOk(isValidDigest(`sha512:${'a'.repeat(64)}`));
  t.ok(isValidDigest(`sha512:${'a'.repeat(128)}`));
  t.equal(formatImageInfo({ registry: '', path: 'a/b', tag: 't', digest: '' }), 'a/b:t');
  t.equal(formatImageInfo({ registry: 'r', path: 'a/b', tag: 't', digest: D64 }), `r/a/b@${D64}`);
});
