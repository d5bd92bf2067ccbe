/**
 * Kyverno's rule messages for podSecurity (validate_pss.go + pss.FormatChecksPrint):
 * field paths are first rewritten to where they live in the admitted resource
 * (convertChecks), then every failed check prints as
 * `(Forbidden reason: R, field error list: [E1, E2])`.
 */
import type { BadValue, FieldError, Violation } from './types.ts';

const TEMPLATE_KINDS = new Set(['DaemonSet', 'Deployment', 'Job', 'StatefulSet', 'ReplicaSet', 'ReplicationController']);

/**
 * Kyverno's convertChecks: a plain substring replace of every "spec" (and then
 * every "metadata") — for all kinds, so even a Pod's annotation paths gain the
 * `spec.template.` prefix.
 */
export function resourceFieldPath(field: string, kind: string): string {
  let f = field;
  if (TEMPLATE_KINDS.has(kind)) f = f.split('spec').join('spec.template.spec');
  else if (kind === 'CronJob') f = f.split('spec').join('spec.jobTemplate.spec.template.spec');
  return f.split('metadata').join('spec.template.metadata');
}

/** Go's %+v of a bad value. */
function goValue(v: BadValue): string {
  return Array.isArray(v) ? `[${v.join(' ')}]` : String(v);
}

export function formatFieldError(e: FieldError, kind: string): string {
  const field = resourceFieldPath(e.field, kind);
  if (e.type === 'Forbidden') {
    return e.badValue === '' ? `${field}: Forbidden` : `${field} is forbidden, forbidden values found: ${goValue(e.badValue)}`;
  }
  return `${field}: Required value`;
}

/** pss.FormatChecksPrint over the converted checks. */
export function formatViolations(violations: readonly Violation[], kind: string): string {
  return violations
    .map((v) => `(Forbidden reason: ${v.reason}, field error list: [${v.errors.map((e) => formatFieldError(e, kind)).join(', ')}])`)
    .join('');
}

/** `version` is printed as written in the policy (empty when omitted), like Kyverno. */
export function podSecurityFailMessage(
  ruleName: string,
  spec: { level: string; version?: string },
  violations: readonly Violation[],
  kind: string,
): string {
  return `Validation rule '${ruleName}' failed. It violates PodSecurity "${spec.level}:${spec.version ?? ''}": ${formatViolations(violations, kind)}`;
}

export function podSecurityPassMessage(ruleName: string): string {
  return `Validation rule '${ruleName}' passed.`;
}
