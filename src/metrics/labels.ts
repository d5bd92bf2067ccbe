/**
 * Label values with Kyverno's spelling, and a guard that keeps label
 * cardinality bounded: a label fed from request data (namespace, kind) keeps
 * at most `max` distinct values; later newcomers are folded into "other".
 */
import type { Operation, RuleStatus, RuleType } from '../engine/types.ts';

export const OVERFLOW_VALUE = 'other';

export class BoundedLabel {
  readonly max: number;
  readonly #seen = new Set<string>();
  constructor(max: number) {
    this.max = max;
  }
  value(raw: string | undefined): string {
    const v = raw ?? '';
    if (this.#seen.has(v)) return v;
    if (this.#seen.size >= this.max) return OVERFLOW_VALUE;
    this.#seen.add(v);
    return v;
  }
}

/** Kyverno's rule_type values (pkg/metrics common types). */
export function ruleTypeLabel(type: RuleType): string {
  switch (type) {
    case 'Validation': return 'validate';
    case 'Mutation': return 'mutate';
    case 'Generation': return 'generate';
    case 'ImageVerify': return 'imageVerify';
    default: return '-';
  }
}

export function ruleResultLabel(status: RuleStatus): string {
  return status;
}

/** Kyverno lower-cases the admission operation: create/update/delete/connect. */
export function operationLabel(op: Operation | string): string {
  return op.toLowerCase();
}

/** Namespaced kinds: Policy and the policies.kyverno.io Namespaced* kinds; everything else is cluster-wide. */
const isNamespacedKind = (kind: string) => kind === 'Policy' || kind.startsWith('Namespaced');

export function policyTypeLabel(kind: string): 'cluster' | 'namespaced' {
  return isNamespacedKind(kind) ? 'namespaced' : 'cluster';
}

/** Kyverno reports "-" as the namespace of cluster-wide policies. */
export function policyNamespaceLabel(kind: string, namespace: string | undefined): string {
  return isNamespacedKind(kind) ? (namespace ?? '') : '-';
}
