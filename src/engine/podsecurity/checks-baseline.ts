/**
 * Baseline-level Pod Security Standards checks, one function per upstream
 * versioned check (k8s.io/pod-security-admission/policy/check_*.go), returning
 * the reason, detail and field errors upstream reports, or null when allowed.
 */
import {
  asArr, asObj, asStr, containerName, forbidden, inUserNamespace, isSet, joinQuote, pluralize,
  podSecurityContext, quote, securityContext, someContainerContext, sortedSet, byteCompare, visitContainers,
} from './helpers.ts';
import type { CheckOutcome, FieldError, JsonObj, PodView } from './types.ts';

const APPARMOR_ANNOTATION_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';

function hasAppArmorAnnotation(pod: PodView): boolean {
  const ann = asObj(pod.metadata?.annotations);
  if (ann) for (const k in ann) if (k.startsWith(APPARMOR_ANNOTATION_PREFIX)) return true;
  return false;
}

/** The AppArmor annotations, sorted (Go ranges over a map in random order; sorting keeps our output deterministic). */
function appArmorAnnotations(pod: PodView): [string, string][] {
  const ann = asObj(pod.metadata?.annotations);
  if (!ann) return [];
  let keys: string[] | undefined;
  for (const k in ann) if (Object.hasOwn(ann, k) && k.startsWith(APPARMOR_ANNOTATION_PREFIX)) (keys ??= []).push(k);
  return keys ? keys.sort(byteCompare).map((k) => [k, asStr(ann[k])]) : [];
}

function setterList(name: string[]): string {
  return `${pluralize('container', 'containers', name.length)} ${joinQuote(name)}`;
}

// Superset guards of the checks below: the passing Pod is answered without the reporting walk.
const hasAppArmorProfile = (sc: JsonObj) => sc.appArmorProfile !== undefined;
const hasPrivileged = (sc: JsonObj) => sc.privileged === true;
const hasProcMount = (sc: JsonObj) => isSet(sc.procMount);
const hasSeccompProfile = (sc: JsonObj) => sc.seccompProfile !== undefined;
const hasWindowsOptions = (sc: JsonObj) => sc.windowsOptions !== undefined;
const hasSeLinuxOptions = (sc: JsonObj) => sc.seLinuxOptions !== undefined;

export function appArmorProfile(pod: PodView): CheckOutcome | null {
  if (podSecurityContext(pod)?.appArmorProfile === undefined && !someContainerContext(pod, hasAppArmorProfile) && !hasAppArmorAnnotation(pod)) return null;
  const allowedType = (t: unknown) => t === 'RuntimeDefault' || t === 'Localhost';
  const setters: string[] = [];
  const errors: FieldError[] = [];
  const badValues: string[] = [];
  const podProfile = asObj(podSecurityContext(pod)?.appArmorProfile);
  if (podProfile && !allowedType(podProfile.type)) {
    setters.push('pod');
    errors.push(forbidden('spec.securityContext.appArmorProfile.type', asStr(podProfile.type)));
    badValues.push(asStr(podProfile.type));
  }
  const badContainers: string[] = [];
  visitContainers(pod, (c, path) => {
    const profile = asObj(securityContext(c)?.appArmorProfile);
    if (profile && !allowedType(profile.type)) {
      badContainers.push(containerName(c));
      errors.push(forbidden(`${path}.securityContext.appArmorProfile.type`, asStr(profile.type)));
      badValues.push(asStr(profile.type));
    }
  });
  if (badContainers.length) setters.push(setterList(badContainers));
  const badAnnotations: string[] = [];
  for (const [k, v] of appArmorAnnotations(pod)) {
    if (v === '' || v === 'runtime/default' || v.startsWith('localhost/')) continue;
    badAnnotations.push(`${k}=${quote(v)}`);
    errors.push(forbidden(`metadata.annotations[${k}]`, v));
  }
  if (badAnnotations.length) setters.push(pluralize('annotation', 'annotations', badAnnotations.length));
  if (!setters.length) return null;
  const list = [...sortedSet(badValues), ...badAnnotations.sort(byteCompare)];
  return {
    reason: pluralize('forbidden AppArmor profile', 'forbidden AppArmor profiles', list.length),
    detail: `${setters.join(' and ')} must not set AppArmor profile type to ${joinQuote(list)}`,
    errors,
  };
}

const DEFAULT_CAPABILITIES = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD',
  'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);

export function capabilitiesBaseline(pod: PodView): CheckOutcome | null {
  const badContainers: string[] = [];
  const all: string[] = [];
  const errors: FieldError[] = [];
  visitContainers(pod, (c, path) => {
    const add = asObj(securityContext(c)?.capabilities)?.add;
    if (!Array.isArray(add) || add.length === 0) return;
    const bad = add.map(asStr).filter((cap) => !DEFAULT_CAPABILITIES.has(cap));
    if (!bad.length) return;
    badContainers.push(containerName(c));
    all.push(...bad);
    errors.push(forbidden(`${path}.securityContext.capabilities.add`, sortedSet(bad)));
  });
  if (!badContainers.length) return null;
  return {
    reason: 'non-default capabilities',
    detail: `${setterList(badContainers)} must not include ${joinQuote(sortedSet(all))} in securityContext.capabilities.add`,
    errors,
  };
}

export function hostNamespaces(pod: PodView): CheckOutcome | null {
  const set: string[] = [];
  const errors: FieldError[] = [];
  for (const key of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (pod.spec[key] === true) {
      set.push(`${key}=true`);
      errors.push(forbidden(`spec.${key}`, true));
    }
  }
  if (!set.length) return null;
  return { reason: 'host namespaces', detail: set.join(', '), errors };
}

export function hostPathVolumes(pod: PodView): CheckOutcome | null {
  if (!Array.isArray(pod.spec.volumes) || pod.spec.volumes.length === 0) return null;
  const names: string[] = [];
  const errors: FieldError[] = [];
  asArr(pod.spec.volumes).forEach((v, i) => {
    const vol = asObj(v) ?? {};
    const hostPath = vol.hostPath;
    if (!isSet(hostPath)) return;
    names.push(asStr(vol.name));
    errors.push(forbidden(`spec.volumes[${i}].hostPath`, asStr(asObj(hostPath)?.path)));
  });
  if (!names.length) return null;
  return { reason: 'hostPath volumes', detail: `${pluralize('volume', 'volumes', names.length)} ${joinQuote(names)}`, errors };
}

export function hostPorts(pod: PodView): CheckOutcome | null {
  const badContainers: string[] = [];
  const ports: string[] = [];
  const errors: FieldError[] = [];
  visitContainers(pod, (c, path) => {
    let bad = false;
    const list = asArr(c.ports);
    for (let i = 0; i < list.length; i++) {
      const hostPort = asObj(list[i])?.hostPort;
      if (typeof hostPort !== 'number' || hostPort === 0) continue;
      bad = true;
      ports.push(String(hostPort));
      errors.push(forbidden(`${path}.ports[${i}].hostPort`, hostPort));
    }
    if (bad) badContainers.push(containerName(c));
  });
  if (!badContainers.length) return null;
  const unique = sortedSet(ports);
  return {
    reason: 'hostPort',
    detail: `${setterList(badContainers)} ${pluralize('uses', 'use', badContainers.length)} ${pluralize('hostPort', 'hostPorts', unique.length)} ${unique.join(', ')}`,
    errors,
  };
}

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'];
const HOOKS = ['postStart', 'preStop'];
const HANDLER_KINDS = ['httpGet', 'tcpSocket'];

/** Host Probes / Lifecycle Hooks (v1.34+): probe and lifecycle handlers must not set `host`. */
export function hostProbesAndHostLifecycle(pod: PodView): CheckOutcome | null {
  const badContainers: string[] = [];
  const hosts: string[] = [];
  const errors: FieldError[] = [];
  // Field paths are built only for a handler that sets a host.
  const inspect = (handler: JsonObj | undefined, path: string, at: string): boolean => {
    if (handler === undefined) return false;
    let bad = false;
    for (const kind of HANDLER_KINDS) {
      const host = asStr(asObj(handler[kind])?.host);
      if (host === '') continue;
      bad = true;
      hosts.push(host);
      errors.push(forbidden(`${path}.${at}.${kind}.host`, host));
    }
    return bad;
  };
  visitContainers(pod, (c, path) => {
    let bad = false;
    for (const probe of PROBES) bad = inspect(asObj(c[probe]), path, probe) || bad;
    const lifecycle = asObj(c.lifecycle);
    if (lifecycle) for (const hook of HOOKS) bad = inspect(asObj(lifecycle[hook]), path, `lifecycle.${hook}`) || bad;
    if (bad) badContainers.push(containerName(c));
  });
  if (!badContainers.length) return null;
  const names = sortedSet(badContainers);
  const unique = sortedSet(hosts);
  return {
    reason: 'probe or lifecycle host',
    detail: `${pluralize('container', 'containers', names.length)} ${joinQuote(names)} ${pluralize('uses', 'use', names.length)} ${pluralize('probe or lifecycle host', 'probe or lifecycle hosts', unique.length)} ${joinQuote(unique)}`,
    errors,
  };
}

export function privileged(pod: PodView): CheckOutcome | null {
  if (!someContainerContext(pod, hasPrivileged)) return null;
  const badContainers: string[] = [];
  const errors: FieldError[] = [];
  visitContainers(pod, (c, path) => {
    if (securityContext(c)?.privileged !== true) return;
    badContainers.push(containerName(c));
    errors.push(forbidden(`${path}.securityContext.privileged`, true));
  });
  if (!badContainers.length) return null;
  return { reason: 'privileged', detail: `${setterList(badContainers)} must not set securityContext.privileged=true`, errors };
}

/** procMount must be unset or "Default". */
export function procMountStrict(pod: PodView): CheckOutcome | null {
  if (!someContainerContext(pod, hasProcMount)) return null;
  const badContainers: string[] = [];
  const types: string[] = [];
  const errors: FieldError[] = [];
  visitContainers(pod, (c, path) => {
    const pm = securityContext(c)?.procMount;
    if (!isSet(pm) || pm === 'Default') return;
    badContainers.push(containerName(c));
    types.push(asStr(pm));
    errors.push(forbidden(`${path}.securityContext.procMount`, asStr(pm)));
  });
  if (!badContainers.length) return null;
  return {
    reason: 'procMount',
    detail: `${setterList(badContainers)} must not set securityContext.procMount to ${joinQuote(sortedSet(types))}`,
    errors,
  };
}

/** Since v1.35 baseline allows any procMount for pods in a user namespace (hostUsers: false). */
export function procMountUserNamespaceAware(pod: PodView): CheckOutcome | null {
  return inUserNamespace(pod) ? null : procMountStrict(pod);
}

function seLinuxOptionsWith(allowedTypes: ReadonlySet<string>) {
  return (pod: PodView): CheckOutcome | null => {
    if (podSecurityContext(pod)?.seLinuxOptions === undefined && !someContainerContext(pod, hasSeLinuxOptions)) return null;
    const setters: string[] = [];
    const errors: FieldError[] = [];
    const badTypes: string[] = [];
    let setUser = false;
    let setRole = false;
    const validate = (opts: JsonObj, prefix: string): boolean => {
      let valid = true;
      const type = asStr(opts.type);
      if (!allowedTypes.has(type)) {
        valid = false;
        badTypes.push(type);
        errors.push(forbidden(`${prefix}.seLinuxOptions.type`, type));
      }
      const user = asStr(opts.user);
      if (user !== '') {
        valid = false;
        setUser = true;
        errors.push(forbidden(`${prefix}.seLinuxOptions.user`, user));
      }
      const role = asStr(opts.role);
      if (role !== '') {
        valid = false;
        setRole = true;
        errors.push(forbidden(`${prefix}.seLinuxOptions.role`, role));
      }
      return valid;
    };
    const podOpts = asObj(podSecurityContext(pod)?.seLinuxOptions);
    if (podOpts && !validate(podOpts, 'spec.securityContext')) setters.push('pod');
    const badContainers: string[] = [];
    visitContainers(pod, (c, path) => {
      const opts = asObj(securityContext(c)?.seLinuxOptions);
      if (opts && !validate(opts, `${path}.securityContext`)) badContainers.push(containerName(c));
    });
    if (badContainers.length) setters.push(setterList(badContainers));
    if (!setters.length) return null;
    const data: string[] = [];
    const types = sortedSet(badTypes);
    if (types.length) data.push(`${pluralize('type', 'types', types.length)} ${joinQuote(types)}`);
    if (setUser) data.push('user may not be set');
    if (setRole) data.push('role may not be set');
    return {
      reason: 'seLinuxOptions',
      detail: `${setters.join(' and ')} set forbidden securityContext.seLinuxOptions: ${data.join('; ')}`,
      errors,
    };
  };
}

const SELINUX_TYPES_1_0 = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t']);
export const seLinuxOptions1_0 = seLinuxOptionsWith(SELINUX_TYPES_1_0);
export const seLinuxOptions1_31 = seLinuxOptionsWith(new Set([...SELINUX_TYPES_1_0, 'container_engine_t']));

export function validSeccompType(t: unknown): boolean {
  return t === 'RuntimeDefault' || t === 'Localhost';
}

const SECCOMP_POD_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
const SECCOMP_CONTAINER_PREFIX = 'container.seccomp.security.alpha.kubernetes.io/';

/** Before v1.19 seccomp was set through alpha annotations. */
export function seccompBaselineAnnotations(pod: PodView): CheckOutcome | null {
  const ann = asObj(pod.metadata?.annotations) ?? {};
  const found = new Map<string, FieldError[]>();
  const inspect = (key: string) => {
    if (!(key in ann)) return;
    const v = asStr(ann[key]);
    if (v === 'runtime/default' || v === 'docker/default' || v.startsWith('localhost/')) return;
    const label = `${key}=${quote(v)}`;
    found.set(label, [...(found.get(label) ?? []), forbidden(`metadata.annotations[${key}]`, v)]);
  };
  inspect(SECCOMP_POD_ANNOTATION);
  visitContainers(pod, (c) => inspect(SECCOMP_CONTAINER_PREFIX + containerName(c)));
  if (!found.size) return null;
  const labels = [...found.keys()].sort(byteCompare);
  return {
    reason: 'seccompProfile',
    detail: `forbidden ${pluralize('annotation', 'annotations', labels.length)} ${labels.join(', ')}`,
    errors: labels.flatMap((l) => found.get(l) ?? []),
  };
}

/** v1.19+: seccompProfile.type, where set, must be RuntimeDefault or Localhost. */
export function seccompBaselineFields(pod: PodView): CheckOutcome | null {
  if (podSecurityContext(pod)?.seccompProfile === undefined && !someContainerContext(pod, hasSeccompProfile)) return null;
  const setters: string[] = [];
  const errors: FieldError[] = [];
  const badValues: string[] = [];
  const podProfile = asObj(podSecurityContext(pod)?.seccompProfile);
  if (podProfile && !validSeccompType(podProfile.type)) {
    setters.push('pod');
    errors.push(forbidden('spec.securityContext.seccompProfile.type', asStr(podProfile.type)));
    badValues.push(asStr(podProfile.type));
  }
  const badContainers: string[] = [];
  visitContainers(pod, (c, path) => {
    const profile = asObj(securityContext(c)?.seccompProfile);
    if (!profile || validSeccompType(profile.type)) return;
    badContainers.push(containerName(c));
    errors.push(forbidden(`${path}.securityContext.seccompProfile.type`, asStr(profile.type)));
    badValues.push(asStr(profile.type));
  });
  if (badContainers.length) setters.push(setterList(badContainers));
  if (!setters.length) return null;
  return {
    reason: 'seccompProfile',
    detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sortedSet(badValues))}`,
    errors,
  };
}

const SYSCTLS_1_0 = [
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range', 'net.ipv4.ip_unprivileged_port_start',
];
const SYSCTLS_1_27 = [...SYSCTLS_1_0, 'net.ipv4.ip_local_reserved_ports'];
const SYSCTLS_1_29 = [
  ...SYSCTLS_1_27, 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
];
const SYSCTLS_1_32 = [...SYSCTLS_1_29, 'net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem'];

function sysctlsWith(allowedList: readonly string[]) {
  const allowed = new Set(allowedList);
  return (pod: PodView): CheckOutcome | null => {
    if (asArr(podSecurityContext(pod)?.sysctls).length === 0) return null;
    const names: string[] = [];
    const errors: FieldError[] = [];
    asArr(podSecurityContext(pod)?.sysctls).forEach((s, i) => {
      const name = asStr(asObj(s)?.name);
      if (allowed.has(name)) return;
      names.push(name);
      errors.push(forbidden(`spec.securityContext.sysctls[${i}].name`, name));
    });
    if (!names.length) return null;
    return { reason: 'forbidden sysctls', detail: names.join(', '), errors };
  };
}

export const sysctls1_0 = sysctlsWith(SYSCTLS_1_0);
export const sysctls1_27 = sysctlsWith(SYSCTLS_1_27);
export const sysctls1_29 = sysctlsWith(SYSCTLS_1_29);
export const sysctls1_32 = sysctlsWith(SYSCTLS_1_32);

export function windowsHostProcess(pod: PodView): CheckOutcome | null {
  if (podSecurityContext(pod)?.windowsOptions === undefined && !someContainerContext(pod, hasWindowsOptions)) return null;
  const setters: string[] = [];
  const errors: FieldError[] = [];
  if (asObj(podSecurityContext(pod)?.windowsOptions)?.hostProcess === true) {
    setters.push('pod');
    errors.push(forbidden('spec.securityContext.windowsOptions.hostProcess', true));
  }
  const badContainers: string[] = [];
  visitContainers(pod, (c, path) => {
    if (asObj(securityContext(c)?.windowsOptions)?.hostProcess !== true) return;
    badContainers.push(containerName(c));
    errors.push(forbidden(`${path}.securityContext.windowsOptions.hostProcess`, true));
  });
  if (badContainers.length) setters.push(setterList(badContainers));
  if (!setters.length) return null;
  return {
    reason: 'hostProcess',
    detail: `${setters.join(' and ')} must not set securityContext.windowsOptions.hostProcess=true`,
    errors,
  };
}
