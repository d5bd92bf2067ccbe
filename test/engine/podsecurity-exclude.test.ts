/**
 * validate.podSecurity.exclude: Kyverno exempts individual field errors, matched by
 * control name, container image (wildcards), restricted field path and values.
 * Pod-level fields are only exempted by image-less entries; container fields by
 * entries whose images select that container.
 */
import t from 'tap';
import { compilePodSecurity, compilePodSecurityException, formatViolations, validatePodSecuritySpec, type PodSecurityExclude, type PodView } from '../../src/engine/podsecurity/index.ts';

type Obj = Record<string, unknown>;

const container = (name: string, image: string, sc: Obj = {}, extra: Obj = {}): Obj => ({
  name, image,
  securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' }, capabilities: { drop: ['ALL'] }, ...sc },
  ...extra,
});
const pod = (spec: Obj, metadata: Obj = { name: 'p' }): PodView => ({ metadata, spec });
const evalPod = (level: string, exclude: PodSecurityExclude[], p: PodView, version = 'latest') => compilePodSecurity({ level, version, exclude })(p);
const allowed = (level: string, exclude: PodSecurityExclude[], p: PodView) => evalPod(level, exclude, p).allowed;

t.test('container-level controls are exempted per matching image', async (t) => {
  const p = pod({ containers: [
    container('nginx', 'ghcr.io/kyverno/test-nginx:1', { capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] } }),
    container('busy', 'busybox:1.28', { capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] } }),
  ] });
  t.notOk(allowed('restricted', [], p));
  const partial = evalPod('restricted', [{ controlName: 'Capabilities', images: ['ghcr.io/kyverno/*'] }], p);
  t.notOk(partial.allowed, 'busybox is not covered');
  t.same(partial.violations.map((v) => v.errors.map((e) => e.field)), [
    ['spec.containers[1].securityContext.capabilities.add'], ['spec.containers[1].securityContext.capabilities.add'],
  ]);
  t.ok(allowed('restricted', [{ controlName: 'Capabilities', images: ['ghcr.io/kyverno/*', 'busy?ox:*'] }], p));
  t.ok(allowed('restricted', [{ controlName: 'Capabilities', images: ['*'] }], p));
  t.notOk(allowed('restricted', [{ controlName: 'Privileged Containers', images: ['*'] }], p), 'other controls are not exempted');
});

t.test('pod-level fields are exempted only by image-less exclusions', async (t) => {
  const p = pod({ hostNetwork: true, containers: [container('nginx', 'nginx')] });
  t.ok(allowed('baseline', [{ controlName: 'Host Namespaces' }], p));
  t.notOk(allowed('baseline', [{ controlName: 'Host Namespaces', images: ['nginx'] }], p));
  const hp = pod({ securityContext: { windowsOptions: { hostProcess: true } }, containers: [container('nginx', 'nginx:1.2.3')] });
  t.ok(allowed('baseline', [{ controlName: 'HostProcess' }], hp));
  const both = pod({ securityContext: { windowsOptions: { hostProcess: false } }, containers: [container('nginx', 'nginx', { windowsOptions: { hostProcess: true } })] });
  t.ok(allowed('baseline', [{ controlName: 'HostProcess', images: ['nginx'] }], both));
});

t.test('an image-less exclusion of a container control only uses the bare "fake" container', async (t) => {
  // the fake container sets nothing, so it only "violates" checks that require a field
  const priv = pod({ containers: [container('a', 'a', { privileged: true })] });
  t.notOk(allowed('baseline', [{ controlName: 'Privileged Containers' }], priv));
  const unset = (name: string) => container(name, name, { allowPrivilegeEscalation: null });
  t.ok(allowed('restricted', [{ controlName: 'Privilege Escalation' }], pod({ containers: [unset('a')] })));
  const res = evalPod('restricted', [{ controlName: 'Privilege Escalation' }], pod({ containers: [unset('a'), unset('b')] }));
  t.notOk(res.allowed, 'one error removed per error of the fake container');
  t.same(res.violations[0].errors.map((e) => e.field), ['spec.containers[1].securityContext.allowPrivilegeEscalation'], 'first error swapped out for the last');
});

t.test('restrictedField and values', async (t) => {
  const hostPath = (path: string) => pod({ containers: [container('nginx', 'nginx')], volumes: [{ name: 'v', hostPath: { path } }] });
  const byPath: PodSecurityExclude[] = [{ controlName: 'HostPath Volumes', restrictedField: 'spec.volumes[*].hostPath', values: ['/etc/nginx'] }];
  t.ok(allowed('baseline', byPath, hostPath('/etc/nginx')));
  t.notOk(allowed('baseline', byPath, hostPath('/var/lib1')));
  t.notOk(allowed('baseline', [{ controlName: 'HostPath Volumes', restrictedField: 'spec.volumes[*]', values: ['/etc/nginx'] }], hostPath('/etc/nginx')), 'field must match exactly');

  const ports = pod({ containers: [container('nginx', 'nginx', {}, { ports: [{ hostPort: 10 }, { hostPort: 20 }] })] });
  const ex = (values: string[], restrictedField = 'spec.containers[*].ports[*].hostPort'): PodSecurityExclude[] =>
    [{ controlName: 'Host Ports', images: ['nginx'], restrictedField, values }];
  t.ok(allowed('baseline', ex(['10', '20']), ports));
  t.notOk(allowed('baseline', ex(['10']), ports), 'port 20 not covered');
  t.ok(allowed('baseline', ex(['?0']), ports), 'values are wildcards');
  t.notOk(allowed('baseline', ex(['10', '20'], 'spec.containers[*].ports.hostPort'), ports));
  t.notOk(allowed('baseline', ex(['10', '20'], 'spec.initContainers[*].ports[*].hostPort'), ports), 'other container list');

  const caps = pod({ containers: [container('nginx', 'nginx', { capabilities: { drop: ['ALL'], add: ['NET_RAW', 'SYS_ADMIN'] } })] });
  const capEx = (values: string[]): PodSecurityExclude[] => [
    { controlName: 'Capabilities', images: ['nginx'], restrictedField: 'spec.containers[*].securityContext.capabilities.add', values },
  ];
  t.notOk(allowed('baseline', capEx(['NET_RAW']), caps), 'every bad value must be covered');
  t.ok(allowed('baseline', capEx(['NET_RAW', 'SYS_*']), caps));

  const sysctls = pod({ containers: [container('nginx', 'nginx')], securityContext: { sysctls: [{ name: 'net.core.somaxconn', value: '1' }, { name: 'kernel.msgmax', value: '1' }] } });
  const sysEx = (values: string[]): PodSecurityExclude[] => [{ controlName: 'Sysctls', restrictedField: 'spec.securityContext.sysctls[*].name', values }];
  t.notOk(allowed('baseline', sysEx(['net.*']), sysctls));
  t.ok(allowed('baseline', sysEx(['net.*', 'kernel.msgmax']), sysctls));
});

t.test('container lists are told apart by field, containers by name', async (t) => {
  const p = pod({
    containers: [container('nginx', 'nginx', { windowsOptions: { hostProcess: true } })],
    initContainers: [container('nginx', 'nginx', { windowsOptions: { hostProcess: true } })],
    ephemeralContainers: [container('nginx', 'nginx', { windowsOptions: { hostProcess: true } })],
  });
  const entry = (list: string): PodSecurityExclude => ({ controlName: 'HostProcess', images: ['nginx'], restrictedField: `spec.${list}[*].securityContext.windowsOptions.hostProcess`, values: ['true'] });
  t.notOk(allowed('baseline', [entry('containers'), entry('initContainers')], p));
  t.ok(allowed('baseline', [entry('containers'), entry('initContainers'), entry('ephemeralContainers')], p));
  const mixed = pod({ containers: [container('a', 'allowed:1', { privileged: true }), container('b', 'other:1', { privileged: true })] });
  const res = evalPod('baseline', [{ controlName: 'Privileged Containers', images: ['allowed:*'], restrictedField: 'spec.containers[*].securityContext.privileged', values: ['true'] }], mixed);
  t.same(res.violations[0].errors.map((e) => e.field), ['spec.containers[1].securityContext.privileged'], 'only the matching container is exempt');
});

t.test('AppArmor annotations by restricted field', async (t) => {
  const prefix = 'container.apparmor.security.beta.kubernetes.io/';
  const p = pod({ containers: [container('nginx', 'nginx')] }, { name: 'p', annotations: { [`${prefix}a`]: 'unconfined', [`${prefix}b`]: 'runtime/default', [`${prefix}c`]: 'unknown' } });
  const ex = (key: string, value: string): PodSecurityExclude => ({ controlName: 'AppArmor', restrictedField: `metadata.annotations[${prefix}${key}]`, values: [value] });
  t.notOk(allowed('baseline', [ex('a', 'unconfined')], p));
  t.ok(allowed('baseline', [ex('a', 'unconfined'), ex('c', 'unknown')], p));
  t.ok(allowed('baseline', [{ controlName: 'AppArmor' }], p), 'whole control');
});

t.test('seccomp: control name covers baseline and restricted checks', async (t) => {
  const missing = pod({ containers: [container('c', 'busybox', { seccompProfile: null })] });
  const ex: PodSecurityExclude[] = [{ controlName: 'Seccomp' }, { controlName: 'Seccomp', images: ['*'] }];
  t.notOk(allowed('restricted', [], missing));
  t.ok(allowed('restricted', ex, missing));
  const alsoRoot = pod({ containers: [container('c', 'busybox', { seccompProfile: { type: 'Unconfined' }, runAsNonRoot: false })] });
  const res = evalPod('restricted', ex, alsoRoot);
  t.same(res.violations.map((v) => v.id), ['runAsNonRoot']);
  t.equal(formatViolations(res.violations, 'Pod'), '(Forbidden reason: runAsNonRoot != true, field error list: [spec.containers[0].securityContext.runAsNonRoot is forbidden, forbidden values found: false])');
});

t.test('/proc Mount Type covers both procMount checks', async (t) => {
  const p = pod({ containers: [container('nginx', 'nginx', { procMount: 'Unmasked' })] });
  t.same(evalPod('restricted', [], p).violations.map((v) => v.id), ['procMount', 'procMount_restricted']);
  t.ok(allowed('restricted', [{ controlName: '/proc Mount Type', images: ['nginx'] }], p));
  t.ok(allowed('restricted', [{ controlName: '/proc Mount Type', images: ['nginx'], restrictedField: 'spec.containers[*].securityContext.procMount', values: ['Unmasked'] }], p));
});

t.test('unknown control names and unrelated exclusions change nothing', async (t) => {
  const p = pod({ hostPID: true, containers: [container('nginx', 'nginx')] });
  t.notOk(allowed('baseline', [{ controlName: 'No Such Control' }], p));
  t.notOk(allowed('baseline', [{ controlName: 'HostPath Volumes' }], p));
  t.ok(allowed('baseline', [{ controlName: 'HostPath Volumes' }], pod({ containers: [container('nginx', 'nginx')] })));
});

t.test('pinned versions: duplicate results collapse once exclusions apply', async (t) => {
  const p = pod({ containers: [container('nginx', 'nginx')], securityContext: { sysctls: [{ name: 'net.ipv4.tcp_rmem', value: '1' }] } });
  t.same(evalPod('baseline', [], p, 'v1.31').violations.map((v) => v.id), ['sysctls', 'sysctls', 'sysctls']);
  t.same(evalPod('baseline', [{ controlName: 'AppArmor' }], p, 'v1.31').violations.map((v) => v.id), ['sysctls']);
});

t.test('validatePodSecuritySpec mirrors Kyverno policy validation', async (t) => {
  const path = 'spec.rules[0].validate.podSecurity';
  t.same(validatePodSecuritySpec({ level: 'restricted', version: 'latest', exclude: [{ controlName: 'Capabilities', images: ['*'] }, { controlName: 'Host Namespaces' }] }, path), []);
  t.same(validatePodSecuritySpec({ level: 'baseline', exclude: [{ controlName: 'Capabilities' }] }, path), [
    'spec.rules[0].validate.podSecurity.exclude[0].controlName: Invalid value: "Capabilities": exclude.images must be specified for the container level control',
  ]);
  t.same(validatePodSecuritySpec({ level: 'baseline', exclude: [{ controlName: 'Sysctls', images: ['x'] }] }, path), [
    'spec.rules[0].validate.podSecurity.exclude[0].controlName: Invalid value: "Sysctls": exclude.images must not be specified for the pod level control',
  ]);
  t.same(validatePodSecuritySpec({ level: 'baseline', exclude: [{ controlName: 'Seccomp', restrictedField: 'spec.securityContext.seccompProfile.type' }, { controlName: 'Seccomp', values: ['x'] }] }, path), [
    'spec.rules[0].validate.podSecurity.exclude[0].values: Forbidden: values is required',
    'spec.rules[0].validate.podSecurity.exclude[1].restrictedField: Forbidden: restrictedField is required',
  ]);
  t.equal(validatePodSecuritySpec({ level: 'strict', version: 'v9' }, path).length, 2);
});

t.test('containers sharing a name and image are exempted one error each', async (t) => {
  const caps = (drop: unknown[], add: string[]) => container('nginx', 'nginx', { capabilities: { drop, add } });
  const p = pod({
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [caps(['ALL'], ['BAR', 'FOO']), caps(['ALL', 'BAR'], ['BAR', 'BAZ']), caps(['ALL'], ['NET_BIND_SERVICE', 'CHOWN'])],
  });
  const ex = (values: string[]): PodSecurityExclude[] => [{ controlName: 'Capabilities', images: ['nginx'], restrictedField: 'spec.containers[*].securityContext.capabilities.add', values }];
  const v124 = (exclude: PodSecurityExclude[]) => evalPod('restricted', exclude, p, 'v1.24');
  t.ok(v124(ex(['BAR', 'FOO', 'BAZ', 'CHOWN'])).allowed);
  const res = v124(ex(['BAR', 'FOO', 'BAZ']));
  t.notOk(res.allowed, 'CHOWN (restricted only) is not covered');
  // containers are matched by name, so with identical names the swap-removal decides which error stays
  t.same(res.violations.map((v) => [v.id, v.errors.map((e) => e.field)]), [['capabilities_restricted', ['spec.containers[1].securityContext.capabilities.add']]]);
  // a null entry in drop decodes as "" — still not ALL
  const nullDrop = pod({ containers: [caps([null], [])] });
  t.equal(formatViolations(evalPod('restricted', [], nullDrop).violations, 'Pod'), '(Forbidden reason: unrestricted capabilities, field error list: [spec.containers[0].securityContext.capabilities.drop is forbidden, forbidden values found: []])');
  t.ok(allowed('restricted', [{ controlName: 'Capabilities', images: ['nginx'] }], nullDrop));
});

t.test('pod and container seccomp exemptions combine (pinned v1.19)', async (t) => {
  const p = pod({
    securityContext: { seccompProfile: { type: 'Unconfined' } },
    containers: [
      container('nginx', 'nginx', { seccompProfile: null }),
      container('nginx', 'nginx', { seccompProfile: {} }),
      container('nginx', 'nginx', { seccompProfile: { type: 'Unconfined' } }),
      container('nginx', 'nginx', { seccompProfile: { type: 'Localhost' } }),
    ],
  });
  const run = (exclude: PodSecurityExclude[]) => evalPod('baseline', exclude, p, 'v1.19');
  t.same(run([]).violations[0].errors.map((e) => e.field), [
    'spec.securityContext.seccompProfile.type', 'spec.containers[1].securityContext.seccompProfile.type', 'spec.containers[2].securityContext.seccompProfile.type',
  ]);
  t.ok(run([{ controlName: 'Seccomp' }, { controlName: 'Seccomp', images: ['nginx'] }]).allowed);
  t.notOk(run([{ controlName: 'Seccomp' }]).allowed, 'container fields need an entry with images');
  const byValue = run([
    { controlName: 'Seccomp', restrictedField: 'spec.securityContext.seccompProfile.type', values: ['Unconfined'] },
    { controlName: 'Seccomp', images: ['nginx'], restrictedField: 'spec.containers[*].securityContext.seccompProfile.type', values: ['Unconfined'] },
  ]);
  // the empty type carries no bad value, so any `values` list covers it
  t.ok(byValue.allowed);
});

t.test('PolicyException podSecurity entries', async (t) => {
  const spec = { level: 'baseline', version: 'latest' };
  const p = pod({ hostNetwork: true, containers: [container('nginx', 'nginx:1', { privileged: true })] });
  const { violations } = compilePodSecurity(spec)(p);
  t.same(violations.map((v) => v.id), ['hostNamespaces', 'privileged']);
  const both = compilePodSecurityException(spec, [{ controlName: 'Host Namespaces' }, { controlName: 'Privileged Containers', images: ['nginx:*'] }]);
  t.same(both(p, violations, 'Pod'), [], 'everything exempted: Kyverno skips the rule');
  t.same(violations.map((v) => v.errors.length), [1, 1], 'the rule result is not modified');
  const one = compilePodSecurityException(spec, [{ controlName: 'Host Namespaces' }]);
  t.same(one(p, violations, 'Pod').map((v) => v.id), ['privileged']);
  // Kyverno compares against fields already rewritten to the resource's paths: nothing matches for controllers
  t.same(both(p, violations, 'Deployment').map((v) => v.id), ['hostNamespaces', 'privileged']);
});
