/**
 * Where Kyverno's podSecurity handler finds the pod in an admitted resource
 * (validate_pss.go getSpec): a Pod itself, else the pod template of a
 * controller or CronJob (its annotations count, e.g. for AppArmor — the
 * policy library's chainsaw suites reject a CronJob for a template annotation).
 */
import { asObj } from './helpers.ts';
import type { PodView } from './types.ts';

const TEMPLATE_KINDS = new Set(['DaemonSet', 'Deployment', 'Job', 'StatefulSet', 'ReplicaSet', 'ReplicationController']);

export class PodSpecError extends Error {
  override name = 'PodSpecError';
}

/** The kinds podSecurity can evaluate. */
export function hasPodSpec(kind: string): boolean {
  return kind === 'Pod' || kind === 'CronJob' || TEMPLATE_KINDS.has(kind);
}

/** Throws PodSpecError('could not find correct resource type') for other kinds, like Kyverno. */
export function extractPodSpec(resource: { kind?: unknown; metadata?: unknown; spec?: unknown }): PodView {
  const kind = typeof resource.kind === 'string' ? resource.kind : '';
  const spec = asObj(resource.spec);
  if (kind === 'Pod') return { metadata: asObj(resource.metadata), spec: spec ?? {} };
  if (TEMPLATE_KINDS.has(kind)) {
    const template = asObj(spec?.template);
    return { metadata: asObj(template?.metadata), spec: asObj(template?.spec) ?? {} };
  }
  if (kind === 'CronJob') {
    const jobTemplate = asObj(spec?.jobTemplate);
    const template = asObj(asObj(jobTemplate?.spec)?.template);
    return { metadata: asObj(template?.metadata), spec: asObj(template?.spec) ?? {} };
  }
  throw new PodSpecError('could not find correct resource type');
}
