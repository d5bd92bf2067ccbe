/**
 * Vocabulary of the Pod Security Standards evaluator. Field errors mirror the
 * k8s.io/apimachinery field.Error values that pod-security-admission emits with
 * field errors enabled: Kyverno's exclusions and its rule message are built from
 * their `field` path and `badValue`, so the badValue keeps its Go type
 * (string / bool / int / []string) — each formats and matches differently.
 */

/** A Go-typed bad value; '' stands for "no bad value" (forbidden()/required() without withBadValue). */
export type BadValue = string | number | boolean | string[];

export interface FieldError {
  type: 'Forbidden' | 'Required';
  /** Path as field.Path prints it: `spec.containers[0].securityContext.privileged`. */
  field: string;
  badValue: BadValue;
}

/** Outcome of one versioned check on one pod. */
export interface CheckOutcome {
  reason: string;
  detail: string;
  errors: FieldError[];
}

/** A failed check as reported to users. */
export interface Violation {
  /** pod-security-admission check id, e.g. `capabilities_restricted`. */
  id: string;
  /** Kyverno control name, e.g. `Capabilities`. */
  controlName: string;
  /** ForbiddenReason, e.g. `unrestricted capabilities`. */
  reason: string;
  /** ForbiddenDetail, e.g. `container "nginx" must set securityContext.capabilities.drop=["ALL"]`. */
  detail: string;
  errors: FieldError[];
}

export type Json = unknown;
export type JsonObj = Record<string, unknown>;

/** What checks read: pod metadata and spec as plain JSON. */
export interface PodView {
  metadata?: JsonObj;
  spec: JsonObj;
}

export type CheckFn = (pod: PodView) => CheckOutcome | null;

/** A Pod Security Standards check with its versions (oldest first), as registered upstream. */
export interface CheckDef {
  id: string;
  level: 'baseline' | 'restricted';
  versions: { minor: number; check: CheckFn }[];
}

/** One `validate.podSecurity.exclude[]` entry. */
export interface PodSecurityExclude {
  controlName: string;
  images?: string[];
  restrictedField?: string;
  values?: string[];
}

export interface PodSecuritySpec {
  level: string;
  version?: string;
  exclude?: PodSecurityExclude[];
}

export interface PodSecurityResult {
  allowed: boolean;
  violations: Violation[];
}
