/**
 * Structural pattern matching: anchors, arrays, failure paths and outcomes,
 * written from Kyverno's documented semantics (Validate Rules > Patterns,
 * Anchors) and its engine's reported paths/messages.
 */
import t from 'tap';
import { compilePattern, compilePatternTest, type PatternOutcome } from '../../src/engine/pattern/index.ts';
import type { JsonValue } from '../../src/engine/types.ts';

function check(pattern: JsonValue, resource: JsonValue): PatternOutcome {
  return compilePattern(pattern)(resource);
}

function failPath(pattern: JsonValue, resource: JsonValue): string | undefined {
  const r = check(pattern, resource);
  return r.ok || r.skip || r.error ? undefined : r.path;
}

const pod = (containers: JsonValue[], extra: Record<string, JsonValue> = {}): JsonValue => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers, ...extra },
});

t.test('plain keys: leaf mismatch path has the trailing slash', async (t) => {
  const p = { spec: { containers: [{ image: '!*:latest' }] } };
  t.same(check(p, pod([{ image: 'nginx:1.25' }])), { ok: true });
  const r = check(p, pod([{ image: 'nginx:1.25' }, { image: 'nginx:latest' }]));
  t.same(r, {
    ok: false,
    path: '/spec/containers/1/image/',
    message: "resource value 'nginx:latest' does not match '!*:latest' at path /spec/containers/1/image/",
  });
});

t.test('missing plain key is compared as null', async (t) => {
  t.equal(failPath({ spec: { hostNetwork: false } }, pod([])), '/spec/hostNetwork/', 'a boolean pattern needs a boolean');
  t.ok(check({ spec: { hostNetwork: null } }, pod([])).ok, 'a null pattern accepts an absent key');
  const r = check({ metadata: { labels: { app: '?*' } } }, { metadata: { labels: {} } });
  t.same(r, { ok: false, path: '/metadata/labels/app/', message: "resource value '<nil>' does not match '?*' at path /metadata/labels/app/" });
  const m = check({ metadata: { labels: { app: '?*' } } }, { metadata: {} });
  t.same(m, {
    ok: false, path: '/metadata/labels/',
    message: 'pattern and resource have different structures. Path: /metadata/labels/. Expected map[string]interface {}, found <nil>',
  });
});

t.test('"*" on a plain key requires a non-null value and reports the parent path', async (t) => {
  const p = { spec: { containers: [{ name: '*', resources: { limits: { memory: '*' } } }] } };
  t.same(check(p, pod([{ name: 'a', resources: { limits: { memory: '1Gi' } } }])), { ok: true });
  t.same(check(p, pod([{ name: 'a', resources: { limits: {} } }])), {
    ok: false, path: '/spec/containers/0/resources/limits/',
    message: '/spec/containers/0/resources/limits//memory not found',
  });
  t.same(check({ a: '*' }, { a: null }), { ok: false, path: '/', message: '//a not found' }, 'explicit null is absent');
  t.same(check({ a: '*' }, { a: 0 }), { ok: true }, 'zero is present');
  t.same(check({ a: '*' }, { a: { b: 1 } }), { ok: true }, 'maps are present');
});

t.test('"?*" needs a non-empty value', async (t) => {
  t.ok(check({ a: '?*' }, { a: 'x' }).ok);
  t.notOk(check({ a: '?*' }, { a: '' }).ok);
  t.notOk(check({ a: '?*' }, {}).ok);
  t.ok(check({ a: '?*' }, { a: 5 }).ok, 'numbers are rendered to text');
});

t.test('equality anchor =(): checked only when present', async (t) => {
  const p = { spec: { '=(securityContext)': { '=(runAsNonRoot)': true } } };
  t.ok(check(p, pod([])).ok);
  t.ok(check(p, pod([], { securityContext: {} })).ok);
  t.ok(check(p, pod([], { securityContext: { runAsNonRoot: true } })).ok);
  t.same(check(p, pod([], { securityContext: { runAsNonRoot: false } })), {
    ok: false, path: '/spec/securityContext/runAsNonRoot/',
    message: "resource value 'false' does not match 'true' at path /spec/securityContext/runAsNonRoot/",
  });
  t.ok(check(p, pod([], { securityContext: { runAsNonRoot: null } })).ok === false, 'present null is checked');
});

t.test('negation anchor X(): the key must be absent', async (t) => {
  const p = { spec: { 'X(hostPID)': 'null' } };
  t.ok(check(p, pod([])).ok);
  t.same(check(p, pod([], { hostPID: false })), {
    ok: false, path: '/spec/hostPID/', message: 'negation anchor matched in resource: /spec/hostPID/ is not allowed',
  });
  t.notOk(check(p, pod([], { hostPID: null })).ok, 'present with null value still fails');
});

t.test('negation failure inside an array element', async (t) => {
  const p = { spec: { volumes: [{ 'X(hostPath)': 'null' }] } };
  t.ok(check(p, pod([], { volumes: [{ name: 'a', emptyDir: {} }] })).ok);
  t.equal(failPath(p, pod([], { volumes: [{ name: 'a', emptyDir: {} }, { name: 'b', hostPath: { path: '/' } }] })), '/spec/volumes/1/hostPath/');
});

t.test('conditional anchor () on a plain map: failing condition skips the rule', async (t) => {
  const p = { metadata: { '(name)': 'prod-*', labels: { team: '?*' } } };
  const skipped = check(p, { metadata: { name: 'dev-1' } });
  t.same(skipped, {
    ok: false, path: '', skip: true,
    message: "conditional anchor mismatch: resource value 'dev-1' does not match 'prod-*' at path /metadata/name/",
  });
  t.same(check(p, { metadata: { labels: {} } }), {
    ok: false, path: '', skip: true,
    message: "conditional anchor mismatch: conditional anchor key doesn't exist in the resource",
  }, 'absent conditional key skips too');
  t.equal(failPath(p, { metadata: { name: 'prod-1', labels: {} } }), '/metadata/labels/team/');
  t.ok(check(p, { metadata: { name: 'prod-1', labels: { team: 'a' } } }).ok);
});

t.test('conditional anchors in list elements: non-matching elements are skipped', async (t) => {
  const p = { spec: { containers: [{ '(image)': '*:latest', imagePullPolicy: 'Always' }] } };
  t.ok(check(p, pod([{ image: 'a:latest', imagePullPolicy: 'Always' }, { image: 'b:1.0' }])).ok, 'one applies and passes');
  t.equal(failPath(p, pod([{ image: 'b:1.0' }, { image: 'a:latest', imagePullPolicy: 'IfNotPresent' }])), '/spec/containers/1/imagePullPolicy/');
  t.ok(check(p, pod([])).ok, 'empty list passes');
  // Every element skipped: the array aggregates the skips and the rule is skipped.
  t.same(check(p, pod([{ image: 'b:1.0' }, { image: 'c:2' }])), {
    ok: false, path: '', skip: true,
    message: "conditional anchor mismatch: resource value 'b:1.0' does not match '*:latest' at path /spec/containers/0/image/; " +
      "conditional anchor mismatch: resource value 'c:2' does not match '*:latest' at path /spec/containers/1/image/",
  });
  // Kyverno's own table (TestConditionalAnchorWithMultiplePatterns).
  const k = { spec: { containers: [{ name: '*', '(image)': '*:latest | !*:*', imagePullPolicy: '!Always' }] } };
  const c = (image: string, imagePullPolicy: string) => ({ name: 'c', image, imagePullPolicy });
  const outcome = (r: PatternOutcome) => r.ok ? 'pass' : r.skip ? 'skip' : r.error ? 'error' : 'fail';
  t.equal(outcome(check(k, pod([c('nginx:1.2.3', 'Always')]))), 'skip');
  t.equal(outcome(check(k, pod([c('nginx:latest', 'Always')]))), 'fail');
  t.equal(outcome(check(k, pod([c('nginx', 'Never')]))), 'pass');
  t.equal(outcome(check(k, pod([c('nginx:1.2.3', 'Always'), c('busybox:1.28', 'Always')]))), 'skip');
  t.equal(outcome(check(k, pod([c('busybox:1.28', 'Always'), c('nginx', 'Never')]))), 'pass');
  t.equal(outcome(check(k, pod([c('nginx', 'Always'), c('busybox:1.28', 'Always')]))), 'fail');
});

t.test('a failure while some anchor key of the pattern is absent is a path-less error', async (t) => {
  // Kyverno tracks conditional/existence/negation anchor keys; when one was
  // never present in the resource, a plain mismatch is reported without a path.
  const p = { spec: { 'X(hostIPC)': 'null', serviceAccountName: 'app' } };
  t.same(check(p, { spec: { serviceAccountName: 'other' } }), {
    ok: false, path: '', error: true,
    message: "resource value 'other' does not match 'app' at path /spec/serviceAccountName/",
  });
  t.same(check({ spec: { '=(hostIPC)': false, serviceAccountName: 'app' } }, { spec: { serviceAccountName: 'other' } }), {
    ok: false, path: '/spec/serviceAccountName/',
    message: "resource value 'other' does not match 'app' at path /spec/serviceAccountName/",
  }, 'equality anchors are not tracked');
});

t.test('nested conditional anchors down to a list (if volumes has docker.sock then label)', async (t) => {
  const p = {
    metadata: { labels: { 'allow-docker': 'true' } },
    '(spec)': { '(volumes)': [{ '(hostPath)': { path: '/var/run/docker.sock' } }] },
  };
  const base = (labels: Record<string, string>, volumes?: JsonValue) => ({
    metadata: { name: 'x', labels }, spec: { containers: [{ name: 'c' }], ...(volumes ? { volumes } : {}) },
  });
  const noVolumes = check(p, base({ run: 'x' }));
  t.ok(!noVolumes.ok && noVolumes.skip, 'no volumes: skip');
  const other = check(p, base({ 'allow-docker': 'false' }, [{ name: 't', hostPath: { path: '/random' } }]));
  t.ok(!other.ok && other.skip, 'other hostPath: skip');
  if (!other.ok) {
    t.equal(other.message,
      "conditional anchor mismatch: conditional anchor mismatch: conditional anchor mismatch: resource value '/random' does not match '/var/run/docker.sock' at path /spec/volumes/0/hostPath/path/");
  }
  t.equal(failPath(p, base({ 'allow-docker': 'false' }, [{ name: 't', hostPath: { path: '/var/run/docker.sock' } }])), '/metadata/labels/allow-docker/');
  t.ok(check(p, base({ 'allow-docker': 'true' }, [{ name: 't', hostPath: { path: '/var/run/docker.sock' } }])).ok);
});

t.test('global anchor <(): a failing global condition skips the whole rule', async (t) => {
  const p = { spec: { containers: [{ name: '*', '<(image)': 'corp.io/*' }], imagePullSecrets: [{ name: 'regcred' }] } };
  const r = check(p, pod([{ name: 'a', image: 'docker.io/nginx' }], { imagePullSecrets: [{ name: 'x' }] }));
  t.same(r, {
    ok: false, path: '', skip: true,
    message: "global anchor mismatch: resource value 'docker.io/nginx' does not match 'corp.io/*' at path /spec/containers/0/image/",
  });
  t.equal(failPath(p, pod([{ name: 'a', image: 'corp.io/nginx' }], { imagePullSecrets: [{ name: 'x' }] })), '/spec/imagePullSecrets/0/name/');
  t.ok(check(p, pod([{ name: 'a', image: 'corp.io/nginx' }], { imagePullSecrets: [{ name: 'regcred' }] })).ok);
  t.ok(check({ spec: { '<(hostNetwork)': true, x: 1 } }, { spec: { x: 1 } }).ok, 'absent global key is no condition');
  const top = check({ metadata: { '<(name)': 'nginx' }, spec: { imagePullSecrets: [{ name: 'regcred' }] } },
    { metadata: { name: 'other' }, spec: { imagePullSecrets: [{ name: 'cred' }] } });
  t.ok(!top.ok && top.skip, 'a global anchor outside arrays skips the rule');
  const mixed = { spec: { containers: [{ name: '*', '<(image)': '*:latest', imagePullPolicy: '!Always' }] } };
  t.ok(check(mixed, pod([{ name: 'a', image: 'n:latest', imagePullPolicy: 'IfNotPresent' }, { name: 'b', image: 'n:v2', imagePullPolicy: 'IfNotPresent' }])).ok,
    'one element applies and passes, the other is skipped');
});

t.test('existence anchor ^(): at least one element must match', async (t) => {
  const p = { spec: { '^(containers)': [{ image: 'nginx:*' }] } };
  t.ok(check(p, pod([{ image: 'redis:7' }, { image: 'nginx:1' }])).ok);
  t.same(check(p, pod([{ image: 'redis:7' }])), {
    ok: false, path: '/spec/containers/', message: 'existence anchor validation failed at path /spec/containers/',
  });
  t.notOk(check(p, pod([])).ok, 'an empty list has no match');
  t.ok(check(p, { spec: {} }).ok, 'absent key is not checked');
  const multi = { spec: { '^(containers)': [{ image: 'nginx:*' }, { image: 'redis:*' }] } };
  t.ok(check(multi, pod([{ image: 'redis:7' }, { image: 'nginx:1' }])).ok, 'each pattern element needs a match');
  t.notOk(check(multi, pod([{ image: 'nginx:1' }])).ok);
  t.same(check(p, pod([], { containers: { image: 'x' } })), {
    ok: false, path: '/spec/containers/',
    message: 'invalid resource type map[string]interface {}: Existence ^ () anchor can be used only on list/array type resource',
  });
});

t.test('add-if-absent +() is a mutate anchor: validate treats the key literally', async (t) => {
  t.same(check({ metadata: { '+(team)': 'a' } }, { metadata: { team: 'a' } }), {
    ok: false, path: '/metadata/+(team)/', message: "resource value '<nil>' does not match 'a' at path /metadata/+(team)/",
  });
});

t.test('anchors are evaluated before plain keys, sorted; keys holding anchors first', async (t) => {
  const p = { spec: { a: 'x', '=(b)': 'y', c: { '=(d)': 'y' } } };
  t.equal(failPath(p, { spec: { a: 'no', b: 'no', c: { d: 'no' } } }), '/spec/b/', 'anchor first');
  t.equal(failPath(p, { spec: { a: 'no', c: { d: 'no' } } }), '/spec/c/d/', 'then keys with nested anchors');
  t.equal(failPath(p, { spec: { a: 'no', c: { d: 'y' } } }), '/spec/a/');
  const sorted = { z: 1, m: 2, a: 3 };
  t.equal(failPath(sorted, { z: 0, m: 0, a: 0 }), '/a/', 'plain keys in byte order');
});

t.test('arrays: scalar list patterns apply to every element', async (t) => {
  const p = { spec: { containers: [{ args: ['!*--privileged*'] }] } };
  t.ok(check(p, pod([{ args: ['--a', '--b'] }])).ok);
  t.same(check(p, pod([{ args: ['--a', '--privileged=true'] }])), {
    ok: false, path: '/spec/containers/0/args/',
    message: "resource value '[--a --privileged=true]' does not match '!*--privileged*' at path /spec/containers/0/args/",
  });
  t.ok(check({ a: 'x*' }, { a: ['x1', 'x2'] }).ok, 'a scalar pattern over a resource list checks each element');
  t.notOk(check({ a: 'x*' }, { a: ['x1', 'y2'] }).ok);
  t.ok(check({ a: [1] }, { a: [] }).ok, 'empty resource list passes');
  t.ok(check({ replicas: 3 }, { replicas: [] }).ok, 'a scalar pattern over an empty list passes');
  t.ok(check({ spec: { containers: [{ 'X(securityContext)': 'null' }] } }, pod([])).ok, 'negation over an empty list passes');
  t.notOk(check({ spec: { containers: [{ name: 'a' }] } }, { spec: {} }).ok, 'an omitted list fails where an empty one passes');
});

t.test('arrays: only the first map element of a pattern list is used', async (t) => {
  const p = { items: [{ name: 'a*' }, { name: 'b*' }] };
  t.ok(check(p, { items: [{ name: 'a1' }, { name: 'a2' }] }).ok);
  t.equal(failPath(p, { items: [{ name: 'a1' }, { name: 'b2' }] }), '/items/1/name/');
});

t.test('arrays: nested lists are matched by position', async (t) => {
  const p = { m: [['a'], ['b*']] };
  t.ok(check(p, { m: [['a'], ['bc'], ['extra']] }).ok);
  t.equal(failPath(p, { m: [['a'], ['c']] }), '/m/1/');
  t.same(check(p, { m: [['a']] }), {
    ok: false, path: '', error: true,
    message: 'validate Array failed, array length mismatch, resource Array len is 1 and pattern Array len is 2',
  });
});

t.test('arrays: structure mismatches and empty pattern lists', async (t) => {
  t.same(check({ spec: { containers: [{ name: '*' }] } }, { spec: { containers: 'x' } }), {
    ok: false, path: '/spec/containers/',
    message: 'validation rule failed at path /spec/containers/, resource does not satisfy the expected overlay pattern',
  });
  t.same(check({ a: [] }, { a: [1] }), { ok: false, path: '/a/', message: 'pattern Array empty' });
  t.same(check({ a: { b: 1 } }, { a: 'str' }), {
    ok: false, path: '/a/',
    message: 'pattern and resource have different structures. Path: /a/. Expected map[string]interface {}, found string',
  });
  t.match(check({ a: { b: 1 } }, { a: 5 }), { message: /found int64$/ });
  t.match(check({ a: { b: 1 } }, { a: [1] }), { message: /found \[\]interface \{\}$/ });
});

t.test('wildcard keys under metadata labels/annotations resolve to resource keys', async (t) => {
  const p = { metadata: { labels: { 'app.kubernetes.io/*': '?*' } } };
  t.ok(check(p, { metadata: { labels: { 'app.kubernetes.io/name': 'web' } } }).ok);
  t.same(check(p, { metadata: { labels: { 'app.kubernetes.io/name': '' } } }), {
    ok: false, path: '/metadata/labels/app.kubernetes.io/name/',
    message: "resource value '' does not match '?*' at path /metadata/labels/app.kubernetes.io/name/",
  });
  t.equal(failPath(p, { metadata: { labels: { other: 'x' } } }), '/metadata/labels/app.kubernetes.io/*/', 'no match keeps the wildcard key');
  const anchored = { spec: { template: { metadata: { annotations: { 'X(sidecar.*/inject)': 'null' } } } } };
  t.equal(failPath(anchored, { spec: { template: { metadata: { annotations: { 'sidecar.io/inject': 'true' } } } } }),
    '/spec/template/metadata/annotations/sidecar.io/inject/', 'anchored wildcard key expands too');
  t.ok(check(anchored, { spec: { template: { metadata: { annotations: { a: 'b' } } } } }).ok);
  t.notOk(check({ spec: { 'app*': 'x' } }, { spec: { app1: 'x' } }).ok, 'outside labels/annotations keys are literal');
});

t.test('$() references resolve against the pattern itself', async (t) => {
  const p = {
    spec: { containers: [{ name: '*', resources: { requests: { memory: '$(<=./../../limits/memory)' }, limits: { memory: '2048Mi' } } }] },
  };
  const res = (req: string) => pod([{ name: 'a', resources: { requests: { memory: req }, limits: { memory: '2048Mi' } } }]);
  t.ok(check(p, res('1Gi')).ok);
  t.ok(check(p, res('2Gi')).ok, '2Gi == 2048Mi');
  t.same(check(p, res('3Gi')), {
    ok: false, path: '/spec/containers/0/resources/requests/memory/',
    message: "resource value '3Gi' does not match '<=2048Mi' at path /spec/containers/0/resources/requests/memory/",
  });
  const abs = compilePattern({ spec: { a: 'x-*', b: '$(/spec/a)' } });
  t.ok(abs({ spec: { a: 'x-1', b: 'x-2' } }).ok, 'absolute path, value copied verbatim (wildcards stay active)');
  t.ok(compilePattern({ a: 5, b: '$(>=./../a)' })({ a: 5, b: 7 }).ok, 'numbers with an operator become %f text');
  t.throws(() => compilePattern({ a: 5, b: '$(./../a)' }), /NotResolvedReferenceErr,reference \$\(\.\/\.\.\/a\) not resolved at path \/b/);
  t.throws(() => compilePattern({ b: '$(./../nope)' }), /got nil resolved variable/);
  t.ok(compilePattern({ a: 'x', b: '\\$(./../a)' })({ a: 'x', b: '$(./../a)' }).ok, 'escaped reference is literal');
  t.ok(compilePattern({ 'X(a)': 'null', c: { '=(d)': 'q', e: '$(./../d)' } })({ c: { d: 'q', e: 'q' } }).ok, 'anchors are ignored when matching paths');
});

t.test('top-level non-map patterns and resources', async (t) => {
  t.ok(check('*', 'anything').ok);
  t.same(check({ a: 1 }, null), {
    ok: false, path: '/',
    message: 'pattern and resource have different structures. Path: /. Expected map[string]interface {}, found <nil>',
  });
});

t.test('a compiled pattern is reusable and independent of call order', async (t) => {
  const c = compilePattern({ spec: { containers: [{ '(image)': '*:latest', imagePullPolicy: 'Always' }] } });
  const bad = pod([{ image: 'a:latest' }]);
  const good = pod([{ image: 'a:latest', imagePullPolicy: 'Always' }]);
  const first = c(bad);
  t.ok(c(good).ok);
  t.same(c(bad), first);
  t.equal(Object.isFrozen(c(good)), true, 'success result is a shared frozen object');
});

t.test('inherited object properties are not resource keys', async (t) => {
  t.notOk(check({ constructor: '*' }, {}).ok);
  t.notOk(check({ toString: '?*' }, {}).ok);
  t.ok(check({ 'X(constructor)': 'null' }, {}).ok);
});

t.test('compilePatternTest gives the verdict compilePattern reports as ok', async (t) => {
  const patterns: JsonValue[] = [
    'web', 'web*', '!web', '>=2', '1-5', 'a | b', null, true,
    { name: 'web' }, { '(name)': 'web', image: '*:1.0' }, { 'X(hostPath)': 'null' }, { '^(containers)': [{ name: 'a' }] },
    { spec: { '=(hostNetwork)': false, containers: [{ '(image)': '*:latest', imagePullPolicy: 'Always' }] } },
  ];
  const resources: unknown[] = [
    'web', 'web-1', 'x', 3, 1, 'b', null, true, { name: 'web' }, { name: 'web', image: 'nginx:1.0' }, { name: 'db', image: 'x:2' },
    { hostPath: null }, { spec: { hostNetwork: true, containers: [{ image: 'a:latest', imagePullPolicy: 'IfNotPresent' }] } },
    { spec: { containers: [{ image: 'a:1', imagePullPolicy: 'IfNotPresent' }] } }, { containers: [{ name: 'a' }] }, [],
  ];
  let checked = 0;
  for (const p of patterns) {
    const full = compilePattern(p);
    const test = compilePatternTest(p);
    for (const r of resources) {
      t.equal(test(r), full(r).ok, `${JSON.stringify(p)} on ${JSON.stringify(r)}`);
      checked++;
    }
  }
  t.equal(checked, patterns.length * resources.length);
});
