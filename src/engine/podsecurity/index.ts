/**
 * `validate.podSecurity` — Kyverno's Pod Security Standards subrule.
 *
 *   const evaluate = compilePodSecurity({ level: 'restricted', version: 'latest', exclude: [...] });
 *   const pod = extractPodSpec(resource);          // Pod, pod controllers, CronJob
 *   const { allowed, violations } = evaluate(pod);
 *   message = allowed ? podSecurityPassMessage(rule) : podSecurityFailMessage(rule, spec, violations, resource.kind);
 *
 * compilePodSecurity throws PodSecurityVersionError for a malformed version; Kyverno
 * reports that as a rule error "failed to parse pod security api version: <message>".
 */
import {
  buildEvaluator, buildExceptionApplier, compileExcludes, parsePodSecurityVersion, selectChecks,
  type ExceptionApplier, type PodEvaluator,
} from './evaluate.ts';
import { resourceFieldPath } from './message.ts';
import type { PodSecurityExclude, PodSecuritySpec } from './types.ts';

export function compilePodSecurity(spec: PodSecuritySpec): PodEvaluator {
  const minor = parsePodSecurityVersion(spec.version);
  return buildEvaluator(selectChecks(spec.level, minor), compileExcludes(spec.exclude));
}

/**
 * A PolicyException's `podSecurity` entries for a rule with this `spec`: given the
 * pod, the rule's violations and the resource kind, returns what is left. Kyverno
 * skips the rule ("rule skipped due to policy exception <ns/name>") when nothing is
 * left, else fails it with the remaining violations in the message.
 */
export function compilePodSecurityException(spec: PodSecuritySpec, entries: readonly PodSecurityExclude[]): ExceptionApplier {
  const minor = parsePodSecurityVersion(spec.version);
  return buildExceptionApplier(selectChecks(spec.level, minor), compileExcludes(entries), resourceFieldPath);
}

export { PodSecurityVersionError, parsePodSecurityVersion, type ExceptionApplier, type PodEvaluator } from './evaluate.ts';
export { extractPodSpec, hasPodSpec, PodSpecError } from './podspec.ts';
export { formatFieldError, formatViolations, podSecurityFailMessage, podSecurityPassMessage, resourceFieldPath } from './message.ts';
export { validatePodSecuritySpec } from './validate.ts';
export { CONTROL_CHECK_IDS, controlNameOf } from './registry.ts';
export type {
  BadValue, FieldError, PodSecurityExclude, PodSecurityResult, PodSecuritySpec, PodView, Violation,
} from './types.ts';
