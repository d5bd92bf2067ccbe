/**
 * Restricted-level Pod Security Standards checks (upstream check_*.go), each
 * returning reason, detail and field errors, or null when allowed.
 */
import {
  asArr, asObj, asStr, CONTAINER_LISTS, containerName, forbidden, inUserNamespace, isSet, isWindowsPod, joinQuote,
  pluralize, podSecurityContext, required, securityContext, someContainerContext, sortedSet, visitContainers,
} from './helpers.ts';
import { validSeccompType } from './checks-baseline.ts';
import type { CheckOutcome, FieldError, JsonObj, PodView } from './types.ts';

function setterList(names: string[]): string {
  return `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;
}

// Superset guards: the passing Pod is answered without the reporting walk.
const allowsEscalation = (sc: JsonObj) => sc.allowPrivilegeEscalation !== false;
const runsAsRoot = (sc: JsonObj) => sc.runAsUser === 0;

/** True when some container sets no securityContext at all (checks that require a field fail on it). */
function someContainerWithoutContext(pod: PodView): boolean {
  for (const list of CONTAINER_LISTS) {
    const items = pod.spec[list];
    if (!Array.isArray(items)) continue;
    for (const c of items) if (!asObj(asObj(c)?.securityContext)) return true;
  }
  return false;
}

export function allowPrivilegeEscalation1_8(pod: PodView): CheckOutcome | null {
  if (!someContainerWithoutContext(pod) && !someContainerContext(pod, allowsEscalation)) return null;
  const badContainers: string[] = [];
  const errors: FieldError[] = [];
  visitContainers(pod, (c, path) => {
    const ape = securityContext(c)?.allowPrivilegeEscalation;
    if (ape === false) return;
    const field = `${path}.securityContext.allowPrivilegeEscalation`;
    badContainers.push(containerName(c));
    errors.push(ape === true ? forbidden(field, true) : required(field));
  });
  if (!badContainers.length) return null;
  return {
    reason: 'allowPrivilegeEscalation != false',
    detail: `${setterList(badContainers)} must set securityContext.allowPrivilegeEscalation=false`,
    errors,
  };
}

/** From v1.25 pods with `spec.os.name: windows` are exempt from some restricted checks. */
function exemptWindows(check: (pod: PodView) => CheckOutcome | null) {
  return (pod: PodView) => (isWindowsPod(pod) ? null : check(pod));
}

export const allowPrivilegeEscalation1_25 = exemptWindows(allowPrivilegeEscalation1_8);

export function capabilitiesRestricted1_22(pod: PodView): CheckOutcome | null {
  const missingDrop: string[] = [];
  const missingDropErrs: FieldError[] = [];
  const adding: string[] = [];
  const addingErrs: FieldError[] = [];
  const forbiddenCaps: string[] = [];
  visitContainers(pod, (c, path) => {
    // Field paths and lists are built only on failure: this runs for every container of every Pod.
    const caps = asObj(securityContext(c)?.capabilities);
    if (!caps) {
      missingDrop.push(containerName(c));
      missingDropErrs.push(required(`${path}.securityContext.capabilities.drop`));
      return;
    }
    const dropList = asArr(caps.drop);
    if (!dropList.includes('ALL')) {
      const drop = dropList.map(asStr);
      const field = `${path}.securityContext.capabilities.drop`;
      missingDrop.push(containerName(c));
      missingDropErrs.push(drop.length ? forbidden(field, sortedSet(drop)) : required(field));
    }
    const add = caps.add;
    if (!Array.isArray(add) || add.length === 0) return;
    const bad = add.map(asStr).filter((cap) => cap !== 'NET_BIND_SERVICE');
    if (bad.length) {
      adding.push(containerName(c));
      forbiddenCaps.push(...bad);
      addingErrs.push(forbidden(`${path}.securityContext.capabilities.add`, sortedSet(bad)));
    }
  });
  if (!missingDrop.length && !adding.length) return null;
  const details: string[] = [];
  if (missingDrop.length) details.push(`${setterList(missingDrop)} must set securityContext.capabilities.drop=["ALL"]`);
  if (adding.length) {
    details.push(`${setterList(adding)} must not include ${joinQuote(sortedSet(forbiddenCaps))} in securityContext.capabilities.add`);
  }
  if (!details.length) return null;
  return { reason: 'unrestricted capabilities', detail: details.join('; '), errors: [...missingDropErrs, ...addingErrs] };
}

export const capabilitiesRestricted1_25 = exemptWindows(capabilitiesRestricted1_22);

/** Volume sources the restricted profile allows. */
const ALLOWED_VOLUME_SOURCES = [
  'configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'image', 'persistentVolumeClaim', 'projected', 'secret',
];
/** Known restricted sources, in upstream's switch order (the first one set names the violation). */
const RESTRICTED_VOLUME_SOURCES = [
  'hostPath', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'nfs', 'iscsi', 'glusterfs', 'rbd',
  'flexVolume', 'cinder', 'cephfs', 'flocker', 'fc', 'azureFile', 'vsphereVolume', 'quobyte', 'azureDisk',
  'photonPersistentDisk', 'portworxVolume', 'scaleIO', 'storageos',
];

export function restrictedVolumes(pod: PodView): CheckOutcome | null {
  const names: string[] = [];
  const types: string[] = [];
  const errors: FieldError[] = [];
  asArr(pod.spec.volumes).forEach((v, i) => {
    const vol = asObj(v) ?? {};
    if (ALLOWED_VOLUME_SOURCES.some((k) => isSet(vol[k]))) return;
    const type = RESTRICTED_VOLUME_SOURCES.find((k) => isSet(vol[k])) ?? 'unknown';
    names.push(asStr(vol.name));
    types.push(type);
    errors.push(forbidden(`spec.volumes[${i}].${type}`));
  });
  if (!names.length) return null;
  const unique = sortedSet(types);
  return {
    reason: 'restricted volume types',
    detail: `${pluralize('volume', 'volumes', names.length)} ${joinQuote(names)} ${pluralize('uses', 'use', names.length)} ${pluralize('restricted volume type', 'restricted volume types', unique.length)} ${joinQuote(unique)}`,
    errors,
  };
}

export function runAsNonRoot1_0(pod: PodView): CheckOutcome | null {
  const setters: string[] = [];
  const setterErrs: FieldError[] = [];
  let podRunAsNonRoot = false;
  const podValue = podSecurityContext(pod)?.runAsNonRoot;
  if (typeof podValue === 'boolean') {
    if (!podValue) {
      setters.push('pod');
      setterErrs.push(forbidden('spec.securityContext.runAsNonRoot', false));
    } else podRunAsNonRoot = true;
  }
  const explicit: string[] = [];
  const implicit: string[] = [];
  const implicitErrs: FieldError[] = [];
  visitContainers(pod, (c, path) => {
    const value = securityContext(c)?.runAsNonRoot;
    if (typeof value === 'boolean') {
      if (!value) {
        explicit.push(containerName(c));
        setterErrs.push(forbidden(`${path}.securityContext.runAsNonRoot`, false));
      }
    } else if (!podRunAsNonRoot) {
      implicit.push(containerName(c));
      implicitErrs.push(required(`${path}.securityContext.runAsNonRoot`));
    }
  });
  if (explicit.length) setters.push(setterList(explicit));
  const details: string[] = [];
  if (setters.length) details.push(`${setters.join(' and ')} must not set securityContext.runAsNonRoot=false`);
  if (implicit.length) details.push(`pod or ${setterList(implicit)} must set securityContext.runAsNonRoot=true`);
  if (!details.length) return null;
  return { reason: 'runAsNonRoot != true', detail: details.join('\n'), errors: [...setterErrs, ...implicitErrs] };
}

/** Since v1.35 pods in a user namespace (hostUsers: false) may run as root inside it. */
function relaxUserNamespace(check: (pod: PodView) => CheckOutcome | null) {
  return (pod: PodView) => (inUserNamespace(pod) ? null : check(pod));
}

export const runAsNonRoot1_35 = relaxUserNamespace(runAsNonRoot1_0);

export function runAsUser1_23(pod: PodView): CheckOutcome | null {
  if (podSecurityContext(pod)?.runAsUser !== 0 && !someContainerContext(pod, runsAsRoot)) return null;
  const setters: string[] = [];
  const errors: FieldError[] = [];
  if (podSecurityContext(pod)?.runAsUser === 0) {
    setters.push('pod');
    errors.push(forbidden('spec.securityContext.runAsUser', 0));
  }
  const explicit: string[] = [];
  visitContainers(pod, (c, path) => {
    if (securityContext(c)?.runAsUser !== 0) return;
    explicit.push(containerName(c));
    errors.push(forbidden(`${path}.securityContext.runAsUser`, 0));
  });
  if (explicit.length) setters.push(setterList(explicit));
  if (!setters.length) return null;
  return { reason: 'runAsUser=0', detail: `${setters.join(' and ')} must not set runAsUser=0`, errors };
}

export const runAsUser1_35 = relaxUserNamespace(runAsUser1_23);

export function seccompRestricted1_19(pod: PodView): CheckOutcome | null {
  const setters: string[] = [];
  const setterErrs: FieldError[] = [];
  const badValues: string[] = [];
  let podSet = false;
  const podProfile = asObj(podSecurityContext(pod)?.seccompProfile);
  if (podProfile) {
    if (!validSeccompType(podProfile.type)) {
      setters.push('pod');
      setterErrs.push(forbidden('spec.securityContext.seccompProfile.type', asStr(podProfile.type)));
      badValues.push(asStr(podProfile.type));
    } else podSet = true;
  }
  const explicit: string[] = [];
  const implicit: string[] = [];
  const implicitErrs: FieldError[] = [];
  visitContainers(pod, (c, path) => {
    const profile = asObj(securityContext(c)?.seccompProfile);
    if (profile) {
      if (!validSeccompType(profile.type)) {
        explicit.push(containerName(c));
        setterErrs.push(forbidden(`${path}.securityContext.seccompProfile.type`, asStr(profile.type)));
        badValues.push(asStr(profile.type));
      }
    } else if (!podSet) {
      implicit.push(containerName(c));
      implicitErrs.push(required(`${path}.securityContext.seccompProfile.type`));
    }
  });
  if (explicit.length) setters.push(setterList(explicit));
  if (setters.length) {
    return {
      reason: 'seccompProfile',
      detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sortedSet(badValues))}`,
      errors: setterErrs,
    };
  }
  if (implicit.length) {
    return {
      reason: 'seccompProfile',
      detail: `pod or ${setterList(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
      errors: implicitErrs,
    };
  }
  return null;
}

export const seccompRestricted1_25 = exemptWindows(seccompRestricted1_19);
