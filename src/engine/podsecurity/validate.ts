/**
 * Policy-time checks Kyverno applies to a `validate.podSecurity` block
 * (api/kyverno/v1 PodSecurityStandard.Validate), worded as k8s field errors.
 */
import { CONTAINER_LEVEL_CONTROLS, POD_LEVEL_CONTROLS } from './registry.ts';
import { parsePodSecurityVersion, PodSecurityVersionError } from './evaluate.ts';
import type { PodSecuritySpec } from './types.ts';

/** `path` is where the block sits, e.g. `spec.rules[0].validate.podSecurity`. */
export function validatePodSecuritySpec(spec: PodSecuritySpec, path: string): string[] {
  const errs: string[] = [];
  if (!['privileged', 'baseline', 'restricted'].includes(spec.level)) {
    errs.push(`${path}.level: Unsupported value: ${JSON.stringify(spec.level)}: supported values: "privileged", "baseline", "restricted"`);
  }
  try {
    parsePodSecurityVersion(spec.version);
  } catch (e) {
    if (!(e instanceof PodSecurityVersionError)) throw e;
    errs.push(`${path}.version: Invalid value: ${JSON.stringify(spec.version)}: ${e.message}`);
  }
  (spec.exclude ?? []).forEach((ex, i) => {
    const p = `${path}.exclude[${i}]`;
    const images = ex.images ?? [];
    if (CONTAINER_LEVEL_CONTROLS.includes(ex.controlName) && images.length === 0) {
      errs.push(`${p}.controlName: Invalid value: ${JSON.stringify(ex.controlName)}: exclude.images must be specified for the container level control`);
    } else if (POD_LEVEL_CONTROLS.includes(ex.controlName) && images.length !== 0) {
      errs.push(`${p}.controlName: Invalid value: ${JSON.stringify(ex.controlName)}: exclude.images must not be specified for the pod level control`);
    }
    const values = ex.values ?? [];
    if (ex.restrictedField && values.length === 0) errs.push(`${p}.values: Forbidden: values is required`);
    if (!ex.restrictedField && values.length !== 0) errs.push(`${p}.restrictedField: Forbidden: restrictedField is required`);
  });
  return errs;
}
