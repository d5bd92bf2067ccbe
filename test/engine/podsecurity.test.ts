/**
 * validate.podSecurity checks: every control passes and fails where the Pod
 * Security Standards say, with Kyverno's version semantics and rule messages.
 */
import t from 'tap';
import {
  compilePodSecurity, extractPodSpec, formatViolations, podSecurityFailMessage, podSecurityPassMessage,
  PodSecurityVersionError, PodSpecError, type PodView,
} from '../../src/engine/podsecurity/index.ts';

type Obj = Record<string, unknown>;

/** A container that satisfies every restricted check. */
const clean = (name = 'app', extra: Obj = {}): Obj => ({
  name,
  image: `example.com/${name}:1`,
  securityContext: {
    allowPrivilegeEscalation: false,
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
    capabilities: { drop: ['ALL'] },
  },
  ...extra,
});

/** `clean` with securityContext fields merged in. */
const withSC = (sc: Obj, name = 'app'): Obj => {
  const c = clean(name);
  return { ...c, securityContext: { ...(c.securityContext as Obj), ...sc } };
};

const pod = (spec: Obj, metadata: Obj = { name: 'p' }): PodView => ({ metadata, spec: { containers: [clean()], ...spec } });

const run = (level: string, version: string | undefined, p: PodView) => compilePodSecurity({ level, version })(p);
const ids = (level: string, version: string | undefined, p: PodView) => run(level, version, p).violations.map((v) => v.id);
const errors = (level: string, p: PodView) => formatViolations(run(level, 'latest', p).violations, 'Pod');

t.test('a fully restricted pod passes every level', async (t) => {
  for (const level of ['baseline', 'restricted']) t.same(ids(level, 'latest', pod({})), [], level);
});

t.test('privileged', async (t) => {
  const bad = pod({ containers: [withSC({ privileged: true })] });
  t.same(ids('baseline', 'latest', bad), ['privileged']);
  t.equal(errors('baseline', bad), '(Forbidden reason: privileged, field error list: [spec.containers[0].securityContext.privileged is forbidden, forbidden values found: true])');
  t.same(ids('baseline', 'latest', pod({ containers: [withSC({ privileged: false })] })), []);
});

t.test('host namespaces', async (t) => {
  t.same(ids('baseline', 'latest', pod({ hostNetwork: true, hostPID: true })), ['hostNamespaces']);
  t.equal(errors('baseline', pod({ hostIPC: true })), '(Forbidden reason: host namespaces, field error list: [spec.hostIPC is forbidden, forbidden values found: true])');
  t.same(ids('baseline', 'latest', pod({ hostNetwork: false, hostPID: false, hostIPC: false })), []);
});

t.test('hostPath volumes (baseline) and volume types (restricted)', async (t) => {
  const hp = pod({ volumes: [{ name: 'v', hostPath: { path: '/etc' } }] });
  t.same(ids('baseline', 'latest', hp), ['hostPathVolumes']);
  t.equal(errors('baseline', hp), '(Forbidden reason: hostPath volumes, field error list: [spec.volumes[0].hostPath is forbidden, forbidden values found: /etc])');
  // Kyverno runs both checks at restricted (no upstream override)
  t.same(ids('restricted', 'latest', hp), ['hostPathVolumes', 'restrictedVolumes']);
  const nfs = pod({ volumes: [{ name: 'a', configMap: { name: 'x' } }, { name: 'b', nfs: { server: 's', path: '/' } }] });
  t.same(ids('baseline', 'latest', nfs), []);
  t.equal(errors('restricted', nfs), '(Forbidden reason: restricted volume types, field error list: [spec.volumes[1].nfs: Forbidden])');
  const unknown = run('restricted', 'latest', pod({ volumes: [{ name: 'u', somethingNew: {} }] }));
  t.match(unknown.violations[0], { id: 'restrictedVolumes', detail: 'volume "u" uses restricted volume type "unknown"' });
  const allowed = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'image', 'persistentVolumeClaim', 'projected', 'secret'];
  t.same(ids('restricted', 'latest', pod({ volumes: allowed.map((k, i) => ({ name: `v${i}`, [k]: {} })) })), []);
});

t.test('host ports', async (t) => {
  const bad = pod({ containers: [clean('a', { ports: [{ containerPort: 80 }, { containerPort: 443, hostPort: 8443 }] })] });
  t.same(ids('baseline', 'latest', bad), ['hostPorts']);
  t.equal(errors('baseline', bad), '(Forbidden reason: hostPort, field error list: [spec.containers[0].ports[1].hostPort is forbidden, forbidden values found: 8443])');
  t.same(ids('baseline', 'latest', pod({ containers: [clean('a', { ports: [{ containerPort: 80, hostPort: 0 }] })] })), []);
});

t.test('capabilities: baseline allows the default set, restricted requires drop ALL', async (t) => {
  const add = (caps: string[]) => pod({ containers: [withSC({ capabilities: { drop: ['ALL'], add: caps } })] });
  t.same(ids('baseline', 'latest', add(['CHOWN', 'NET_BIND_SERVICE'])), []);
  const bad = add(['SYS_ADMIN', 'NET_RAW', 'SYS_ADMIN']);
  t.same(ids('baseline', 'latest', bad), ['capabilities_baseline']);
  t.equal(errors('baseline', bad), '(Forbidden reason: non-default capabilities, field error list: [spec.containers[0].securityContext.capabilities.add is forbidden, forbidden values found: [NET_RAW SYS_ADMIN]])');
  t.same(ids('restricted', 'latest', add(['NET_BIND_SERVICE'])), []);
  t.same(ids('restricted', 'latest', add(['CHOWN'])), ['capabilities_restricted']);
  const noCaps = pod({ containers: [withSC({ capabilities: null })] });
  t.equal(errors('restricted', noCaps), '(Forbidden reason: unrestricted capabilities, field error list: [spec.containers[0].securityContext.capabilities.drop: Required value])');
  const dropSome = pod({ containers: [withSC({ capabilities: { drop: ['NET_RAW', 'CHOWN'] } })] });
  t.equal(errors('restricted', dropSome), '(Forbidden reason: unrestricted capabilities, field error list: [spec.containers[0].securityContext.capabilities.drop is forbidden, forbidden values found: [CHOWN NET_RAW]])');
  t.equal(run('restricted', 'latest', noCaps).violations[0].detail, 'container "app" must set securityContext.capabilities.drop=["ALL"]');
});

t.test('AppArmor: annotations and appArmorProfile', async (t) => {
  const ann = (v: string) => pod({}, { name: 'p', annotations: { 'container.apparmor.security.beta.kubernetes.io/app': v } });
  for (const ok of ['runtime/default', 'localhost/my-profile', '']) t.same(ids('baseline', 'latest', ann(ok)), [], ok);
  t.same(ids('baseline', 'latest', ann('unconfined')), ['appArmorProfile']);
  // Kyverno rewrites every "metadata" path under spec.template, even for a Pod
  t.equal(errors('baseline', ann('unconfined')), '(Forbidden reason: forbidden AppArmor profile, field error list: [spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/app] is forbidden, forbidden values found: unconfined])');
  t.same(ids('baseline', 'latest', pod({ securityContext: { appArmorProfile: { type: 'Unconfined' } } })), ['appArmorProfile']);
  t.same(ids('baseline', 'latest', pod({ containers: [withSC({ appArmorProfile: { type: 'Localhost', localhostProfile: 'x' } })] })), []);
  t.same(ids('baseline', 'latest', pod({ containers: [withSC({ appArmorProfile: { type: 'Unconfined' } })] })), ['appArmorProfile']);
});

t.test('SELinux: allowed types, user and role', async (t) => {
  const se = (opts: Obj) => pod({ securityContext: { seLinuxOptions: opts } });
  t.same(ids('baseline', 'latest', se({ type: 'container_t', level: 's0:c1' })), []);
  t.same(ids('baseline', 'latest', se({ type: 'spc_t' })), ['seLinuxOptions']);
  t.equal(errors('baseline', pod({ containers: [withSC({ seLinuxOptions: { user: 'root' } })] })), '(Forbidden reason: seLinuxOptions, field error list: [spec.containers[0].securityContext.seLinuxOptions.user is forbidden, forbidden values found: root])');
  t.same(ids('baseline', 'latest', se({ role: 'sysadm_r' })), ['seLinuxOptions']);
  // container_engine_t joined the allowed list in v1.31
  t.same(ids('baseline', 'latest', se({ type: 'container_engine_t' })), []);
  t.same(ids('baseline', 'v1.30', se({ type: 'container_engine_t' })), ['seLinuxOptions']);
});

t.test('/proc mount type and user namespaces', async (t) => {
  const unmasked = (hostUsers?: boolean) => pod({ hostUsers, containers: [withSC({ procMount: 'Unmasked' })] });
  t.same(ids('baseline', 'latest', pod({ containers: [withSC({ procMount: 'Default' })] })), []);
  t.same(ids('baseline', 'latest', unmasked()), ['procMount']);
  t.equal(errors('baseline', unmasked()), '(Forbidden reason: procMount, field error list: [spec.containers[0].securityContext.procMount is forbidden, forbidden values found: Unmasked])');
  t.same(ids('baseline', 'latest', unmasked(false)), [], 'relaxed for hostUsers: false at latest');
  t.same(ids('baseline', 'v1.32', unmasked(false)), ['procMount'], 'not relaxed before v1.35');
  t.same(ids('restricted', 'latest', unmasked(false)), ['procMount_restricted']);
  t.same(ids('restricted', 'latest', unmasked(true)), ['procMount', 'procMount_restricted']);
});

t.test('seccomp: baseline forbids Unconfined, restricted requires a profile', async (t) => {
  t.same(ids('baseline', 'latest', pod({ containers: [{ name: 'a', image: 'a' }] })), []);
  t.same(ids('baseline', 'latest', pod({ securityContext: { seccompProfile: { type: 'Unconfined' } } })), ['seccompProfile_baseline']);
  const noProfile = pod({ containers: [withSC({ seccompProfile: null })] });
  t.same(ids('restricted', 'latest', noProfile), ['seccompProfile_restricted']);
  t.equal(errors('restricted', noProfile), '(Forbidden reason: seccompProfile, field error list: [spec.containers[0].securityContext.seccompProfile.type: Required value])');
  t.same(ids('restricted', 'latest', pod({ securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } }, containers: [withSC({ seccompProfile: null })] })), [], 'pod level covers containers');
  const unconfined = pod({ containers: [withSC({ seccompProfile: { type: 'Unconfined' } })] });
  t.same(ids('restricted', 'latest', unconfined), ['seccompProfile_baseline', 'seccompProfile_restricted']);
  // before v1.19 seccomp was expressed with alpha annotations; a pinned old version still checks them
  const annotated = pod({}, { name: 'p', annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'unconfined' } });
  t.same(ids('baseline', 'v1.18', annotated), ['seccompProfile_baseline']);
  t.same(ids('baseline', 'latest', annotated), []);
});

t.test('sysctls: the allowed list grew across versions', async (t) => {
  const sysctl = (name: string) => pod({ securityContext: { sysctls: [{ name: 'kernel.shm_rmid_forced', value: '1' }, { name, value: '1' }] } });
  t.same(ids('baseline', 'latest', sysctl('net.ipv4.ip_unprivileged_port_start')), []);
  t.same(ids('baseline', 'latest', sysctl('kernel.msgmax')), ['sysctls']);
  t.equal(errors('baseline', sysctl('kernel.msgmax')), '(Forbidden reason: forbidden sysctls, field error list: [spec.securityContext.sysctls[1].name is forbidden, forbidden values found: kernel.msgmax])');
  for (const [name, since] of [['net.ipv4.ip_local_reserved_ports', 27], ['net.ipv4.tcp_keepalive_time', 29], ['net.ipv4.tcp_rmem', 32]] as const) {
    t.same(ids('baseline', 'latest', sysctl(name)), [], `${name} allowed at latest`);
    t.ok(ids('baseline', `v1.${since - 1}`, sysctl(name)).includes('sysctls'), `${name} forbidden before v1.${since}`);
  }
  // Kyverno quirk: a pinned version also runs the older, stricter versions of a check
  t.same(ids('baseline', 'v1.29', sysctl('net.ipv4.tcp_keepalive_time')), ['sysctls', 'sysctls']);
});

t.test('Windows HostProcess', async (t) => {
  t.same(ids('baseline', 'latest', pod({ securityContext: { windowsOptions: { hostProcess: true } } })), ['windowsHostProcess']);
  t.equal(errors('baseline', pod({ containers: [withSC({ windowsOptions: { hostProcess: true } })] })), '(Forbidden reason: hostProcess, field error list: [spec.containers[0].securityContext.windowsOptions.hostProcess is forbidden, forbidden values found: true])');
  t.same(ids('baseline', 'latest', pod({ securityContext: { windowsOptions: { hostProcess: false } } })), []);
});

t.test('host probes / lifecycle hooks (v1.34+)', async (t) => {
  const probed = pod({ containers: [clean('a', { livenessProbe: { httpGet: { host: '10.0.0.1', port: 80 } }, lifecycle: { preStop: { tcpSocket: { host: 'x', port: 1 } } } })] });
  t.same(ids('baseline', 'latest', probed), ['hostProbesAndHostLifecycle']);
  t.same(ids('baseline', 'v1.34', probed), ['hostProbesAndHostLifecycle']);
  t.same(ids('baseline', 'v1.33', probed), []);
  t.equal(errors('baseline', probed), '(Forbidden reason: probe or lifecycle host, field error list: [spec.containers[0].livenessProbe.httpGet.host is forbidden, forbidden values found: 10.0.0.1, spec.containers[0].lifecycle.preStop.tcpSocket.host is forbidden, forbidden values found: x])');
  t.same(ids('baseline', 'latest', pod({ containers: [clean('a', { readinessProbe: { httpGet: { host: '', port: 80 } } })] })), []);
});

t.test('privilege escalation', async (t) => {
  t.equal(errors('restricted', pod({ containers: [withSC({ allowPrivilegeEscalation: null })] })), '(Forbidden reason: allowPrivilegeEscalation != false, field error list: [spec.containers[0].securityContext.allowPrivilegeEscalation: Required value])');
  t.equal(errors('restricted', pod({ initContainers: [withSC({ allowPrivilegeEscalation: true }, 'init')] })), '(Forbidden reason: allowPrivilegeEscalation != false, field error list: [spec.initContainers[0].securityContext.allowPrivilegeEscalation is forbidden, forbidden values found: true])');
  t.same(ids('baseline', 'latest', pod({ containers: [withSC({ allowPrivilegeEscalation: true })] })), [], 'restricted-only control');
});

t.test('windows pods are exempt from some restricted checks since v1.25', async (t) => {
  const win = pod({ os: { name: 'windows' }, containers: [{ name: 'w', image: 'w', securityContext: { runAsNonRoot: true } }], securityContext: { seccompProfile: null } });
  t.same(ids('restricted', 'latest', win), []);
  // pinned: the pre-1.25 versions run too (Kyverno), so they still report
  t.same(ids('restricted', 'v1.25', win), ['allowPrivilegeEscalation', 'capabilities_restricted', 'seccompProfile_restricted']);
  t.same(ids('restricted', 'latest', { ...win, spec: { ...win.spec, os: { name: 'linux' } } }), ['allowPrivilegeEscalation', 'capabilities_restricted', 'seccompProfile_restricted']);
});

t.test('running as non-root', async (t) => {
  t.same(ids('restricted', 'latest', pod({ securityContext: { runAsNonRoot: true }, containers: [withSC({ runAsNonRoot: null })] })), []);
  const implicit = pod({ containers: [withSC({ runAsNonRoot: null })] });
  t.equal(errors('restricted', implicit), '(Forbidden reason: runAsNonRoot != true, field error list: [spec.containers[0].securityContext.runAsNonRoot: Required value])');
  const explicit = pod({ securityContext: { runAsNonRoot: false }, containers: [withSC({ runAsNonRoot: false })] });
  t.equal(errors('restricted', explicit), '(Forbidden reason: runAsNonRoot != true, field error list: [spec.securityContext.runAsNonRoot is forbidden, forbidden values found: false, spec.containers[0].securityContext.runAsNonRoot is forbidden, forbidden values found: false])');
  t.same(ids('restricted', 'latest', { ...implicit, spec: { ...implicit.spec, hostUsers: false } }), [], 'user namespace');
  t.same(ids('restricted', 'v1.32', { ...implicit, spec: { ...implicit.spec, hostUsers: false } }), ['runAsNonRoot']);
});

t.test('running as non-root user (runAsUser != 0, v1.23+)', async (t) => {
  const root = pod({ securityContext: { runAsUser: 0 } });
  t.same(ids('restricted', 'latest', root), ['runAsUser']);
  t.equal(errors('restricted', root), '(Forbidden reason: runAsUser=0, field error list: [spec.securityContext.runAsUser is forbidden, forbidden values found: 0])');
  t.same(ids('restricted', 'latest', pod({ securityContext: { runAsUser: 1000 }, containers: [withSC({ runAsUser: 1001 })] })), []);
  t.same(ids('restricted', 'v1.22', root), [], 'check starts at v1.23');
  t.same(ids('restricted', 'latest', { ...root, spec: { ...root.spec, hostUsers: false } }), []);
});

t.test('levels and versions', async (t) => {
  const bad = pod({ hostPID: true, containers: [withSC({ allowPrivilegeEscalation: true })] });
  t.same(ids('baseline', 'latest', bad), ['hostNamespaces']);
  t.same(ids('restricted', 'latest', bad), ['allowPrivilegeEscalation', 'hostNamespaces']);
  // Kyverno only narrows the checks for "baseline"; any other level runs all of them
  t.same(ids('privileged', 'latest', bad), ['allowPrivilegeEscalation', 'hostNamespaces']);
  t.same(ids('baseline', undefined, bad), ['hostNamespaces'], 'omitted version is latest');
  t.same(ids('restricted', 'v1.7', bad), ['hostNamespaces'], 'allowPrivilegeEscalation starts at v1.8');
  for (const v of ['1.24', 'v1', 'v2.0', 'v1.024', 'LATEST']) t.throws(() => compilePodSecurity({ level: 'baseline', version: v }), PodSecurityVersionError, v);
  t.throws(() => compilePodSecurity({ level: 'baseline', version: 'v1.x' }), { message: 'must be "latest" or "v1.x"' });
});

t.test('containers of every kind are checked, in upstream order', async (t) => {
  const p = pod({
    containers: [withSC({ privileged: true }, 'main')],
    initContainers: [withSC({ privileged: true }, 'init')],
    ephemeralContainers: [withSC({ privileged: true }, 'debug')],
  });
  const [v] = run('baseline', 'latest', p).violations;
  t.equal(v.detail, 'containers "init", "main", "debug" must not set securityContext.privileged=true');
  t.same(v.errors.map((e) => e.field), [
    'spec.initContainers[0].securityContext.privileged', 'spec.containers[0].securityContext.privileged', 'spec.ephemeralContainers[0].securityContext.privileged',
  ]);
});

t.test('rule messages', async (t) => {
  // a bare nginx pod under restricted:latest, as Kyverno reports it
  const bare = compilePodSecurity({ level: 'restricted', version: 'latest' })({ metadata: { name: 'nginx' }, spec: { containers: [{ name: 'nginx', image: 'nginx' }] } });
  t.equal(podSecurityFailMessage('validate-pod-security', { level: 'restricted', version: 'latest' }, bare.violations, 'Pod'),
    'Validation rule \'validate-pod-security\' failed. It violates PodSecurity "restricted:latest": ' +
    '(Forbidden reason: allowPrivilegeEscalation != false, field error list: [spec.containers[0].securityContext.allowPrivilegeEscalation: Required value])' +
    '(Forbidden reason: unrestricted capabilities, field error list: [spec.containers[0].securityContext.capabilities.drop: Required value])' +
    '(Forbidden reason: runAsNonRoot != true, field error list: [spec.containers[0].securityContext.runAsNonRoot: Required value])' +
    '(Forbidden reason: seccompProfile, field error list: [spec.containers[0].securityContext.seccompProfile.type: Required value])');
  const spec = { level: 'restricted', version: 'latest' };
  const p = pod({ hostNetwork: true, containers: [withSC({ runAsNonRoot: null })] });
  const { violations } = compilePodSecurity(spec)(p);
  t.equal(podSecurityFailMessage('restricted', spec, violations, 'Pod'),
    'Validation rule \'restricted\' failed. It violates PodSecurity "restricted:latest": ' +
    '(Forbidden reason: host namespaces, field error list: [spec.hostNetwork is forbidden, forbidden values found: true])' +
    '(Forbidden reason: runAsNonRoot != true, field error list: [spec.containers[0].securityContext.runAsNonRoot: Required value])');
  t.equal(podSecurityFailMessage('r', { level: 'baseline' }, [], 'Pod'), 'Validation rule \'r\' failed. It violates PodSecurity "baseline:": ', 'version printed as written');
  t.equal(podSecurityPassMessage('baseline'), 'Validation rule \'baseline\' passed.');
  t.equal(formatViolations(violations, 'Deployment'),
    '(Forbidden reason: host namespaces, field error list: [spec.template.spec.hostNetwork is forbidden, forbidden values found: true])' +
    '(Forbidden reason: runAsNonRoot != true, field error list: [spec.template.spec.containers[0].securityContext.runAsNonRoot: Required value])');
  t.match(formatViolations(violations, 'CronJob'), /\[spec\.jobTemplate\.spec\.template\.spec\.hostNetwork is forbidden/);
});

t.test('extractPodSpec: pods, controllers and cronjobs', async (t) => {
  const spec = { containers: [clean()] };
  const meta = { annotations: { a: 'b' } };
  t.same(extractPodSpec({ kind: 'Pod', metadata: meta, spec }), { metadata: meta, spec });
  for (const kind of ['Deployment', 'DaemonSet', 'StatefulSet', 'ReplicaSet', 'Job', 'ReplicationController']) {
    t.same(extractPodSpec({ kind, metadata: { name: 'd' }, spec: { template: { metadata: meta, spec } } }), { metadata: meta, spec }, kind);
  }
  t.same(extractPodSpec({ kind: 'CronJob', spec: { jobTemplate: { spec: { template: { metadata: meta, spec } } } } }), { metadata: meta, spec });
  t.throws(() => extractPodSpec({ kind: 'Service', spec: {} }), PodSpecError);
});
