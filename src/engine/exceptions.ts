/**
 * Kyverno PolicyExceptions (kyverno.io/v2 and v2beta1 `PolicyException`),
 * compiled once, with Kyverno's semantics:
 *  - `exceptions[]` names the policy (`name` for a ClusterPolicy,
 *    `namespace/name` for a Policy) and its rules; both are wildcard patterns.
 *    Autogen rules are not implied: an exception for a Pod rule must list
 *    `autogen-<rule>` / `autogen-cronjob-<rule>` (or a wildcard) to cover
 *    controllers, as Kyverno's documentation shows;
 *  - `match` is an any/all block of resource filters (no exclude); a match
 *    with neither any nor all matches nothing;
 *  - `conditions` (any/all, precondition operators) run against the rule's
 *    JSON context; a condition that cannot be evaluated means the exception
 *    does not apply;
 *  - every matching exception is reported, keyed `namespace/name`.
 * Rules then turn into a skip (`exceptionSkip`), except validate.podSecurity
 * rules, where exceptions that carry `podSecurity` entries only exempt those
 * controls (`podSecurityException`).
 */
import type { JsonObject, JsonValue, KubeObject, RuleStatus } from './types.ts';
import type { ContextData } from './variables.ts';
import { compileRuleMatcher, type CompiledMatcher, type MatchTarget } from './match.ts';
import { compileConditions, type CompiledConditions } from './conditions.ts';
import { compileWildcard, type StringMatcher } from './wildcard.ts';
import {
  compilePodSecurityException, type ExceptionApplier, type PodSecurityExclude, type PodSecuritySpec, type PodView, type Violation,
} from './podsecurity/index.ts';

const API_VERSIONS = new Set(['kyverno.io/v2', 'kyverno.io/v2beta1']);

/** An exception that applies to one request. */
export interface MatchedException {
  /** `namespace/name` (just `name` without a namespace), as Kyverno reports it. */
  key: string;
  /** Its `podSecurity` entries (empty: the whole rule is exempted). */
  podSecurity: readonly PodSecurityExclude[];
}

/** The exceptions of one policy rule that accept this request, in document order. */
export type RuleExceptions = (target: MatchTarget, data?: ContextData) => MatchedException[];

export interface ExceptionError {
  exception: string;
  reason: string;
}

export interface CompiledExceptions {
  /** Number of usable exceptions. */
  readonly size: number;
  /** Documents that are PolicyExceptions but cannot be used, with the reason. */
  readonly errors: readonly ExceptionError[];
  /**
   * The exceptions naming this policy rule; undefined when none does (the usual
   * case: callers can resolve this once per compiled rule). Name patterns are
   * matched once per (policy, rule) and remembered.
   */
  forRule(policyKey: string, ruleName: string): RuleExceptions | undefined;
  /** Convenience: the key of the first exception that applies, or undefined. */
  find(policyKey: string, ruleName: string, target: MatchTarget, data?: ContextData): string | undefined;
}

export interface CompileExceptionsOptions {
  /** Kyverno's `--exceptionNamespace`: honour only exceptions in these namespaces (default: all; `*` wildcards allowed). */
  namespaces?: readonly string[];
}

interface CompiledException {
  key: string;
  names: Array<{ policy: StringMatcher; rules: StringMatcher[] }>;
  matches: CompiledMatcher;
  conditions?: CompiledConditions;
  podSecurity: PodSecurityExclude[];
}

/** Kyverno's policy key: `name` for cluster-wide policies, `namespace/name` for a namespaced Policy. */
export function policyKey(policy: { name: string; namespace?: string; kind?: string }): string {
  return policy.kind !== 'ClusterPolicy' && policy.namespace ? `${policy.namespace}/${policy.name}` : policy.name;
}

export function isPolicyException(doc: KubeObject): boolean {
  return doc.kind === 'PolicyException' && API_VERSIONS.has(String(doc.apiVersion));
}

const hasUserInfo = (f: JsonObject) => !!(f.roles || f.clusterRoles || f.subjects);

function compileOne(doc: KubeObject): CompiledException {
  const meta = doc.metadata ?? {};
  const key = meta.namespace ? `${meta.namespace}/${meta.name ?? ''}` : String(meta.name ?? '');
  const spec = (doc.spec ?? {}) as JsonObject;
  const list = Array.isArray(spec.exceptions) ? (spec.exceptions as JsonObject[]) : [];
  const names = list.map((e, i) => {
    if (typeof e?.policyName !== 'string' || e.policyName === '') throw new Error(`spec.exceptions[${i}].policyName: An exception requires a policy name`);
    const ruleNames = Array.isArray(e.ruleNames) ? (e.ruleNames as JsonValue[]).map(String) : [];
    return { policy: compileWildcard(e.policyName), rules: ruleNames.map((r) => compileWildcard(r)) };
  });
  const match = (spec.match ?? {}) as JsonObject;
  const filters = [...((match.any as JsonObject[] | undefined) ?? []), ...((match.all as JsonObject[] | undefined) ?? [])];
  // Kyverno rejects user info in the match of exceptions that apply in background scans (the default).
  if (spec.background !== false && filters.some(hasUserInfo)) {
    throw new Error('spec.match: invalid field: user information (roles, clusterRoles, subjects) requires spec.background: false');
  }
  const matches = compileExceptionMatch(match);
  let conditions: CompiledConditions | undefined;
  if (spec.conditions !== undefined && spec.conditions !== null) {
    try {
      conditions = compileConditions(spec.conditions);
    } catch (e) {
      throw new Error(`spec.conditions: ${(e as Error).message}`);
    }
  }
  const podSecurity = Array.isArray(spec.podSecurity) ? (spec.podSecurity as unknown as PodSecurityExclude[]) : [];
  return { key, names, matches, ...(conditions ? { conditions } : {}), podSecurity };
}

const requestHasUserInfo = ({ input }: MatchTarget) => {
  const u = input.userInfo;
  return !!(u.username || u.uid || u.groups?.length || input.roles.length || input.clusterRoles.length);
};

/**
 * any/all of resource filters. Unlike rule matching, a filter naming users is
 * checked strictly: a request without user info (offline runs) does not match
 * it, as Kyverno's exception matcher compares against the empty user info.
 */
function compileExceptionMatch(match: JsonObject): CompiledMatcher {
  const any = Array.isArray(match.any) && match.any.length > 0 ? (match.any as JsonObject[]) : undefined;
  const all = !any && Array.isArray(match.all) && match.all.length > 0 ? (match.all as JsonObject[]) : undefined;
  const list = any ?? all;
  if (!list) return () => false;
  const filters = list.map((f) => {
    const m = compileRuleMatcher({ any: [f] }, undefined);
    return hasUserInfo(f) ? (t: MatchTarget) => requestHasUserInfo(t) && m(t) : m;
  });
  return any ? (t) => filters.some((f) => f(t)) : (t) => filters.every((f) => f(t));
}

function namesRule(e: CompiledException, policy: string, rule: string): boolean {
  return e.names.some((n) => n.policy(policy) && n.rules.some((r) => r(rule)));
}

function applies(e: CompiledException, target: MatchTarget, data: ContextData | undefined): boolean {
  if (!e.matches(target)) return false;
  if (!e.conditions) return true;
  if (!data) return false;
  try {
    return e.conditions(data).passed;
  } catch {
    return false; // Kyverno logs the evaluation error and skips this exception
  }
}

/** Compile the PolicyException documents among `docs` (other documents are ignored). */
export function compileExceptions(docs: readonly KubeObject[], options: CompileExceptionsOptions = {}): CompiledExceptions {
  const inNamespace = options.namespaces ? options.namespaces.map((n) => compileWildcard(n)) : undefined;
  const compiled: CompiledException[] = [];
  const errors: ExceptionError[] = [];
  for (const doc of docs) {
    if (!isPolicyException(doc)) continue;
    if (inNamespace && !inNamespace.some((m) => m(doc.metadata?.namespace ?? ''))) continue;
    try {
      compiled.push(compileOne(doc));
    } catch (e) {
      const meta = doc.metadata ?? {};
      errors.push({ exception: meta.namespace ? `${meta.namespace}/${meta.name ?? ''}` : String(meta.name ?? ''), reason: (e as Error).message });
    }
  }
  const perRule = new Map<string, RuleExceptions | undefined>();
  const forRule = (policy: string, rule: string): RuleExceptions | undefined => {
    const k = `${policy}\0${rule}`;
    if (perRule.has(k)) return perRule.get(k);
    const named = compiled.filter((e) => namesRule(e, policy, rule));
    const fn: RuleExceptions | undefined = named.length === 0 ? undefined : (target, data) => {
      const out: MatchedException[] = [];
      for (const e of named) if (applies(e, target, data)) out.push({ key: e.key, podSecurity: e.podSecurity });
      return out;
    };
    perRule.set(k, fn);
    return fn;
  };
  return {
    size: compiled.length,
    errors,
    forRule,
    find(policy, rule, target, data) {
      return forRule(policy, rule)?.(target, data)[0]?.key;
    },
  };
}

export interface ExceptionSkip {
  status: Extract<RuleStatus, 'skip'>;
  message: string;
  /** Keys of the exceptions, comma-separated (RuleResponse.exception). */
  exception: string;
}

/**
 * Kyverno's response for a validate / mutate / verifyImages / generate rule
 * that exceptions apply to. The message has no space before the keys: that is
 * Kyverno's own text ("…policy exceptions" + keys), kept for exact output.
 */
export function exceptionSkip(matched: readonly MatchedException[]): ExceptionSkip {
  const keys = matched.map((m) => m.key).join(', ');
  return { status: 'skip', message: `rule is skipped due to policy exceptions${keys}`, exception: keys };
}

/**
 * validate.podSecurity with exceptions, in two steps as Kyverno runs them:
 *  - before evaluating (`before`): an exception without podSecurity entries
 *    skips the rule outright ("rule is skipped due to policy exception <key>");
 *  - after a failed evaluation (`after`): the podSecurity entries of all
 *    matching exceptions exempt controls; nothing left → skip ("…policy
 *    exceptions <keys>"), else the remaining violations (for the fail message).
 * Appliers are compiled once per rule and set of exceptions.
 */
export function podSecurityException(spec: PodSecuritySpec): {
  before(matched: readonly MatchedException[]): ExceptionSkip | undefined;
  after(matched: readonly MatchedException[], pod: PodView, violations: readonly Violation[], kind: string): ExceptionSkip | Violation[];
} {
  const appliers = new Map<string, ExceptionApplier>();
  return {
    before(matched) {
      const whole = matched.find((m) => m.podSecurity.length === 0);
      if (!whole) return undefined;
      return { status: 'skip', message: `rule is skipped due to policy exception ${whole.key}`, exception: whole.key };
    },
    after(matched, pod, violations, kind) {
      if (matched.length === 0) return [...violations];
      const keys = matched.map((m) => m.key).join(', ');
      let apply = appliers.get(keys);
      if (!apply) {
        apply = compilePodSecurityException(spec, matched.flatMap((m) => m.podSecurity));
        appliers.set(keys, apply);
      }
      const remaining = apply(pod, violations, kind);
      if (remaining.length > 0) return remaining;
      return { status: 'skip', message: `rule is skipped due to policy exceptions ${keys}`, exception: keys };
    },
  };
}
