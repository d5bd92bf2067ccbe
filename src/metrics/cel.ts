/**
 * Series for policies.kyverno.io kinds, with Kyverno's names and labels
 * (pkg/metrics vpol.go / mpol.go): Kyverno reports these policies apart from
 * ClusterPolicy rules, per policy rather than per rule.
 *  - kyverno_validating_policy_results_total / _execution_duration_seconds:
 *    one result per policy and request (the status of its first rule response),
 *    labelled with the policy's validation mode ("Deny" / "Audit", the
 *    admissionregistration ValidationAction names Kyverno uses here);
 *  - kyverno_image_validating_policy_results_total / _execution_duration_seconds:
 *    the same, for ImageValidatingPolicies;
 *  - kyverno_mutating_policy_results_total: one per rule response;
 *    kyverno_mutating_policy_execution_duration_seconds one per policy.
 * policy_namespace is the policy's own namespace ("" for cluster-wide kinds),
 * and the cause label is `execution_cause`, as Kyverno spells them here.
 * Request-derived labels arrive already bounded by the caller.
 */
import type { Registry } from 'prom-client';
import { FastCounter, FastHistogram } from './fast.ts';
import type { RuleStatus } from '../engine/types.ts';

export type CelFamily = 'validating' | 'image-validating' | 'mutating';

/** Policy facts these series need (a CompiledPolicy satisfies it). */
export interface CelPolicyInfo {
  name: string;
  namespace?: string;
  kind: string;
  validationFailureAction: 'Enforce' | 'Audit';
  background: boolean;
  cel?: { type: string };
}

export interface BoundedRequest {
  kind: string;
  namespace: string;
  operation: string;
}

const EXECUTION_CAUSE = 'admission_request';

/**
 * Which Kyverno family a CEL policy reports under; undefined for kinds Kyverno
 * does not count in these series. A kind Portcullis cannot evaluate yet
 * ('unsupported') still reports by its kind, so its `error` results show up.
 */
export function celFamily(policy: CelPolicyInfo): CelFamily | undefined {
  const kind = policy.kind.replace(/^Namespaced/, '');
  if (kind === 'ImageValidatingPolicy') return 'image-validating';
  const t = policy.cel?.type;
  if (t === 'validating' || t === 'mutating') return t;
  if (kind === 'ValidatingPolicy') return 'validating';
  if (kind === 'MutatingPolicy') return 'mutating';
  return undefined;
}

export class CelPolicyMetrics {
  readonly validatingResults: FastCounter;
  readonly validatingDuration: FastHistogram;
  readonly imageValidatingResults: FastCounter;
  readonly imageValidatingDuration: FastHistogram;
  readonly mutatingResults: FastCounter;
  readonly mutatingDuration: FastHistogram;

  constructor(registry: Registry, buckets: readonly number[]) {
    this.validatingResults = new FastCounter(registry, 'kyverno_validating_policy_results_total',
      'can be used to track the results associated with the validating policies applied in the user\'s cluster, at the level from rule to policy to admission requests.');
    this.validatingDuration = new FastHistogram(registry, 'kyverno_validating_policy_execution_duration_seconds',
      'can be used to track the latencies (in seconds) associated with the execution/processing of individual validation policies when they evaluate incoming resource requests.', buckets);
    this.imageValidatingResults = new FastCounter(registry, 'kyverno_image_validating_policy_results_total',
      'can be used to track the results associated with the image validating policies applied in the user\'s cluster, at the level from rule to policy to admission requests.');
    this.imageValidatingDuration = new FastHistogram(registry, 'kyverno_image_validating_policy_execution_duration_seconds',
      'can be used to track the latencies (in seconds) associated with the execution/processing of image validating policies when they evaluate incoming resource requests.', buckets);
    this.mutatingResults = new FastCounter(registry, 'kyverno_mutating_policy_results_total',
      'can be used to track the results associated with the mutating policies applied in the user\'s cluster, at the level from rule to policy to admission requests.');
    this.mutatingDuration = new FastHistogram(registry, 'kyverno_mutating_policy_execution_duration_seconds',
      'can be used to track the latencies (in seconds) associated with the execution/processing of individual mutating policies when they evaluate incoming resource requests.', buckets);
  }

  /** One CEL policy's responses for one request; `seconds` is the policy's evaluation time. */
  record(policy: CelPolicyInfo, statuses: readonly RuleStatus[], req: BoundedRequest, seconds: number): void {
    if (statuses.length === 0) return;
    const family = celFamily(policy);
    if (!family) return;
    const validating = family !== 'mutating';
    const mode = policy.validationFailureAction === 'Enforce' ? 'Deny' : 'Audit';
    const prefix = `${policy.namespace ?? ''}\0${policy.name}\0${policy.background}\0${validating ? mode : ''}\0${req.kind}\0${req.namespace}\0${req.operation}\0`;
    const labels = (status: RuleStatus) => () => ({
      ...(validating ? { policy_validation_mode: mode } : {}),
      policy_background_mode: String(policy.background),
      policy_name: policy.name,
      policy_namespace: policy.namespace ?? '',
      resource_kind: req.kind,
      resource_namespace: req.namespace,
      resource_request_operation: req.operation,
      execution_cause: EXECUTION_CAUSE,
      result: status,
    });
    const results = family === 'validating' ? this.validatingResults : family === 'image-validating' ? this.imageValidatingResults : this.mutatingResults;
    const duration = family === 'validating' ? this.validatingDuration : family === 'image-validating' ? this.imageValidatingDuration : this.mutatingDuration;
    // Kyverno: a validating policy counts once (its first response); a mutating policy counts every response.
    const counted = validating ? statuses.slice(0, 1) : statuses;
    for (const status of counted) results.child(prefix + status, labels(status)).value++;
    const first = statuses[0]!;
    duration.observe(duration.child(prefix + first, labels(first)), seconds);
  }
}
