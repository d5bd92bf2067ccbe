/**
 * What a rule handler sees and returns. Handlers know nothing of HTTP or of
 * how the policy was loaded: they get the JSON context, the resource and the
 * admission input, and return a RuleResponse-shaped result.
 */
import type { ForeachValues } from '../foreach-values.ts';
import type { AdmissionInput, ContextResolver, JsonValue, KubeObject, PatchOperation, RuleStatus } from '../types.ts';
import type { ContextData } from '../variables.ts';
import type { ImageVerificationConfig } from './verify-images.ts';
import type { MatchedException } from '../exceptions.ts';

export interface RuleEnv {
  ruleName: string;
  /** JSON context JMESPath runs against (request, images, element, context entries …). */
  data: ContextData;
  /** The resource under evaluation (request.object, or oldObject on DELETE). */
  resource: KubeObject;
  input: AdmissionInput;
  resolver?: ContextResolver;
  /** Variables pinned by the caller (CLI values): context entries with these names are not loaded. */
  pinned?: ReadonlySet<string>;
  /** Kyverno CLI foreachValues, set per foreach element (foreach-values.ts). */
  foreachValues?: ForeachValues;
  /** foreach nesting depth (0 at rule level). */
  nesting: number;
  /** Which admission phase runs the rule: verifyImages pins digests only when mutating. */
  phase: 'mutate' | 'validate';
  /** Registry access for verifyImages rules (default: a client with no credentials). */
  images?: ImageVerificationConfig;
  /** PolicyExceptions that matched (podSecurity rules use their control exemptions). */
  exceptions?: MatchedException[];
}

export interface HandlerResult {
  status: RuleStatus;
  message: string;
  path?: string;
  /** Mutation handlers: the resource after this rule. */
  patchedResource?: KubeObject;
  patches?: PatchOperation[];
  /** Generate rules: the resources this rule would create. */
  generatedResources?: KubeObject[];
  /** Mutate-existing rules: the target as patched (one result per target). */
  patchedTarget?: KubeObject;
  /** Keys of the PolicyExceptions that turned this rule into a skip. */
  exception?: string;
}

export type RuleHandler = (env: RuleEnv) => Promise<HandlerResult> | HandlerResult;

export type { JsonValue };
