/**
 * The checks in pod-security-admission's registration order (its DefaultChecks:
 * check files initialised alphabetically), each with its versions oldest first,
 * plus Kyverno's mapping between PSS control names and check ids.
 */
import * as b from './checks-baseline.ts';
import * as r from './checks-restricted.ts';
import type { CheckDef } from './types.ts';

export const CHECKS: readonly CheckDef[] = [
  { id: 'allowPrivilegeEscalation', level: 'restricted', versions: [
    { minor: 8, check: r.allowPrivilegeEscalation1_8 }, { minor: 25, check: r.allowPrivilegeEscalation1_25 }] },
  { id: 'appArmorProfile', level: 'baseline', versions: [{ minor: 0, check: b.appArmorProfile }] },
  { id: 'capabilities_baseline', level: 'baseline', versions: [{ minor: 0, check: b.capabilitiesBaseline }] },
  { id: 'capabilities_restricted', level: 'restricted', versions: [
    { minor: 22, check: r.capabilitiesRestricted1_22 }, { minor: 25, check: r.capabilitiesRestricted1_25 }] },
  { id: 'hostNamespaces', level: 'baseline', versions: [{ minor: 0, check: b.hostNamespaces }] },
  { id: 'hostPathVolumes', level: 'baseline', versions: [{ minor: 0, check: b.hostPathVolumes }] },
  { id: 'hostPorts', level: 'baseline', versions: [{ minor: 0, check: b.hostPorts }] },
  { id: 'hostProbesAndHostLifecycle', level: 'baseline', versions: [{ minor: 34, check: b.hostProbesAndHostLifecycle }] },
  { id: 'privileged', level: 'baseline', versions: [{ minor: 0, check: b.privileged }] },
  { id: 'procMount', level: 'baseline', versions: [
    { minor: 0, check: b.procMountStrict }, { minor: 35, check: b.procMountUserNamespaceAware }] },
  // Kyverno reports this one for pinned versions before v1.35 too (pkg/pss userns tests).
  { id: 'procMount_restricted', level: 'restricted', versions: [{ minor: 0, check: b.procMountStrict }] },
  { id: 'restrictedVolumes', level: 'restricted', versions: [{ minor: 0, check: r.restrictedVolumes }] },
  { id: 'runAsNonRoot', level: 'restricted', versions: [
    { minor: 0, check: r.runAsNonRoot1_0 }, { minor: 35, check: r.runAsNonRoot1_35 }] },
  { id: 'runAsUser', level: 'restricted', versions: [
    { minor: 23, check: r.runAsUser1_23 }, { minor: 35, check: r.runAsUser1_35 }] },
  { id: 'seLinuxOptions', level: 'baseline', versions: [
    { minor: 0, check: b.seLinuxOptions1_0 }, { minor: 31, check: b.seLinuxOptions1_31 }] },
  { id: 'seccompProfile_baseline', level: 'baseline', versions: [
    { minor: 0, check: b.seccompBaselineAnnotations }, { minor: 19, check: b.seccompBaselineFields }] },
  { id: 'seccompProfile_restricted', level: 'restricted', versions: [
    { minor: 19, check: r.seccompRestricted1_19 }, { minor: 25, check: r.seccompRestricted1_25 }] },
  { id: 'sysctls', level: 'baseline', versions: [
    { minor: 0, check: b.sysctls1_0 }, { minor: 27, check: b.sysctls1_27 },
    { minor: 29, check: b.sysctls1_29 }, { minor: 32, check: b.sysctls1_32 }] },
  { id: 'windowsHostProcess', level: 'baseline', versions: [{ minor: 0, check: b.windowsHostProcess }] },
];

/** Kyverno's `exclude[].controlName` values and the check ids each one covers. */
export const CONTROL_CHECK_IDS: Readonly<Record<string, readonly string[]>> = {
  'Capabilities': ['capabilities_baseline', 'capabilities_restricted'],
  'Seccomp': ['seccompProfile_baseline', 'seccompProfile_restricted'],
  'Privileged Containers': ['privileged'],
  'Host Ports': ['hostPorts'],
  '/proc Mount Type': ['procMount', 'procMount_restricted'],
  'Host Probes / Lifecycle Hooks': ['hostProbesAndHostLifecycle'],
  'HostProcess': ['windowsHostProcess'],
  'SELinux': ['seLinuxOptions'],
  'Host Namespaces': ['hostNamespaces'],
  'HostPath Volumes': ['hostPathVolumes'],
  'Sysctls': ['sysctls'],
  'AppArmor': ['appArmorProfile'],
  'Privilege Escalation': ['allowPrivilegeEscalation'],
  'Running as Non-root': ['runAsNonRoot'],
  'Running as Non-root user': ['runAsUser'],
  'Volume Types': ['restrictedVolumes'],
};

const CONTROL_BY_ID = new Map<string, string>(
  Object.entries(CONTROL_CHECK_IDS).flatMap(([name, ids]) => ids.map((id) => [id, name] as [string, string])),
);

export function controlNameOf(checkId: string): string {
  return CONTROL_BY_ID.get(checkId) ?? '';
}

/** Controls whose exclusions must name images (they restrict container fields only). */
export const CONTAINER_LEVEL_CONTROLS: readonly string[] = [
  'Capabilities', 'Privileged Containers', 'Host Ports', '/proc Mount Type', 'Privilege Escalation',
  'Host Probes / Lifecycle Hooks',
];

/** Controls whose exclusions must not name images (they restrict pod fields only). */
export const POD_LEVEL_CONTROLS: readonly string[] = ['Host Namespaces', 'HostPath Volumes', 'Sysctls', 'Volume Types'];
