/**
 * The policy model: documents as loaded (raw, schema-checked) and their
 * compiled, executable form. Compiled rules hold closures built once at load.
 */
import type { JsonObject, KubeObject } from '../engine/types.ts';

/** Where a policy document came from, for error messages (`file:line`). */
export interface PolicySource {
  file: string;
  /** 0-based index of the YAML document in the file. */
  index: number;
  /** 1-based line of the document start. */
  line: number;
}

export interface PolicyLoadError {
  file: string;
  index: number;
  line: number;
  /** JSON path inside the document (e.g. /spec/rules/0/validate). */
  path: string;
  reason: string;
}

/** kyverno.io ClusterPolicy/Policy, or a policies.kyverno.io kind (ValidatingPolicy, MutatingPolicy, …). */
export type PolicyKind = 'ClusterPolicy' | 'Policy' | (string & {});

export interface LoadedPolicy {
  kind: PolicyKind;
  name: string;
  namespace?: string;
  /** The document as written (after defaults), never mutated. */
  raw: KubeObject & { spec: JsonObject };
  source: PolicySource;
}
