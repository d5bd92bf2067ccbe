/**
 * Prometheus metrics with Kyverno's names and labels (pkg/metrics), so
 * existing Kyverno dashboards and alerts work unchanged. Each server gets its
 * own Registry (tests build many apps in one process).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastHistogram, type CounterSeries, type HistogramSeries } from './fast.ts';
import { CelPolicyMetrics } from './cel.ts';
import type { Operation, RuleResponse } from '../engine/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import {
  BoundedLabel, operationLabel, policyNamespaceLabel, policyTypeLabel, ruleResultLabel, ruleTypeLabel,
} from './labels.ts';

/** Policy fields the metrics need (a CompiledPolicy satisfies it). */
export type PolicyInfo = Pick<CompiledPolicy, 'name' | 'namespace' | 'kind' | 'rules' | 'validationFailureAction' | 'background'>
  & { cel?: { type: string } };

/** Request facts that label the admission and policy-result series. */
interface RuleSeries { results: CounterSeries; duration: HistogramSeries }

export interface RequestLabels {
  kind: string;
  namespace: string;
  operation: Operation | string;
  dryRun: boolean;
}

export type PolicyChangeType = 'created' | 'updated' | 'deleted';

export interface MetricsOptions {
  /** Collect Node process metrics (default true). */
  processMetrics?: boolean;
  /** Distinct values kept per request-derived label before folding into "other" (default 200). */
  maxLabelValues?: number;
}

// Admission latencies are sub-millisecond to seconds; finer low buckets than Kyverno's defaults
// so p99 under a couple of milliseconds (the 2 ms objective) is visible.
const ADMISSION_BUCKETS = [0.0005, 0.001, 0.002, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 25, 30];
const RULE_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry: Registry;
  readonly admissionRequests: FastCounter;
  readonly admissionDuration: FastHistogram;
  readonly policyResults: FastCounter;
  readonly policyExecutionDuration: FastHistogram;
  readonly policyRuleInfo: Gauge<string>;
  readonly policyChanges: Counter<string>;
  /** policies.kyverno.io kinds (ValidatingPolicy, MutatingPolicy, …). */
  readonly celPolicies: CelPolicyMetrics;
  readonly #namespaces: BoundedLabel;
  readonly #kinds: BoundedLabel;
  /** Per policy object → rule name → status → request labels: the rule's two series. */
  #ruleSeries = new WeakMap<PolicyInfo, Map<string, Map<string, Map<string, RuleSeries>>>>();

  readonly imageCache: Counter<'outcome'>;
  readonly imageVerificationDuration: Histogram;
  constructor(options: MetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    const max = options.maxLabelValues ?? 200;
    this.#namespaces = new BoundedLabel(max);
    this.#kinds = new BoundedLabel(max);
    if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
    this.admissionRequests = new FastCounter(registry, 'kyverno_admission_requests_total',
      'can be used to track the number of admission requests encountered by Kyverno in the cluster');
    this.admissionDuration = new FastHistogram(registry, 'kyverno_admission_review_duration_seconds',
      'can be used to track the latencies (in seconds) associated with the entire individual admission review', ADMISSION_BUCKETS);
    this.policyResults = new FastCounter(registry, 'kyverno_policy_results_total',
      'can be used to track the results associated with the policies applied in the user\'s cluster, at the level from rule to policy to admission requests');
    this.policyExecutionDuration = new FastHistogram(registry, 'kyverno_policy_execution_duration_seconds',
      'can be used to track the latencies (in seconds) associated with the execution/processing of the individual rules under Kyverno policies whenever they evaluate incoming resource requests',
      RULE_BUCKETS);
    this.celPolicies = new CelPolicyMetrics(registry, RULE_BUCKETS);
    this.imageCache = new Counter({
      name: 'portcullis_image_verification_cache_total',
      help: 'image verification cache lookups by outcome: hit, miss (one registry round), coalesced (joined a round in flight)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.imageVerificationDuration = new Histogram({
      name: 'portcullis_image_verification_duration_seconds',
      help: 'time of one registry round of image verification (cache misses)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.policyRuleInfo = new Gauge({
      name: 'kyverno_policy_rule_info_total',
      help: 'can be used to track the info of the rules or/and policies present in the cluster. 1 means the rule is currently existent in the cluster',
      labelNames: ['policy_name', 'policy_namespace', 'policy_type', 'policy_validation_mode', 'policy_background_mode', 'rule_name', 'rule_type', 'status_ready'],
      registers: [registry],
    });
    this.policyChanges = new Counter({
      name: 'kyverno_policy_changes_total',
      help: 'can be used to track all the changes associated with the Kyverno policies present on the cluster such as creation, updates and deletions',
      labelNames: ['policy_name', 'policy_namespace', 'policy_type', 'policy_validation_mode', 'policy_background_mode', 'policy_change_type'],
      registers: [registry],
    });
  }

  /** Request labels after the cardinality guard: the series key is built from these. */
  #bounded(req: RequestLabels): { kind: string; namespace: string; operation: string } {
    return { kind: this.#kinds.value(req.kind), namespace: this.#namespaces.value(req.namespace), operation: operationLabel(req.operation) };
  }

  // A review records each of its policies with the same (unchanged) labels object: bound it once.
  #lastRequest: RequestLabels | undefined;
  #lastBounded = { kind: '', namespace: '', operation: '' };
  #lastRequestKey = '';
  #bindRequest(req: RequestLabels): void {
    if (req === this.#lastRequest) return;
    const b = this.#bounded(req);
    this.#lastRequest = req;
    this.#lastBounded = b;
    this.#lastRequestKey = `${b.kind}\0${b.namespace}\0${b.operation}\0${req.dryRun}`;
  }

  recordAdmission(req: RequestLabels, allowed: boolean, seconds: number): void {
    const b = this.#bounded(req);
    const key = `${b.kind}\0${b.namespace}\0${b.operation}\0${allowed}`;
    const labels = () => ({ resource_kind: b.kind, resource_namespace: b.namespace, resource_request_operation: b.operation, request_allowed: String(allowed) });
    this.admissionRequests.child(key, labels).value++;
    this.admissionDuration.observe(this.admissionDuration.child(key, labels), seconds);
  }

  /**
   * One policy's rule results for one request. `fallbackSeconds` is used for rules
   * whose response carries no own timing. Pass the same `req` object for all the
   * policies of a review, unchanged in between: its labels are bound once.
   * policies.kyverno.io kinds go to their own Kyverno series (see cel.ts), never
   * to kyverno_policy_results_total.
   */
  recordPolicyResults(
    policy: PolicyInfo,
    rules: readonly (RuleResponse & { durationSeconds?: number })[],
    req: RequestLabels,
    fallbackSeconds: number,
  ): void {
    this.#bindRequest(req);
    const b = this.#lastBounded;
    const requestKey = this.#lastRequestKey;
    if (policy.cel) {
      let seconds = 0;
      for (const rule of rules) seconds += rule.durationSeconds ?? fallbackSeconds;
      this.celPolicies.record(policy, rules.map((r) => r.status), b, seconds);
      return;
    }
    // Series are found through nested maps keyed by the policy object, the rule's
    // name and status (strings from the policy, hashed once) and one short
    // per-request key, instead of hashing a long composite key per rule.
    let byRule = this.#ruleSeries.get(policy);
    if (!byRule) this.#ruleSeries.set(policy, (byRule = new Map()));
    for (const rule of rules) {
      let byStatus = byRule.get(rule.name);
      if (!byStatus) byRule.set(rule.name, (byStatus = new Map()));
      let byRequest = byStatus.get(rule.status);
      if (!byRequest) byStatus.set(rule.status, (byRequest = new Map()));
      let series = byRequest.get(requestKey);
      if (!series) {
        const key = `${policy.kind}\0${policy.namespace ?? ''}\0${policy.name}\0${policy.validationFailureAction}\0${policy.background}\0${requestKey}\0${rule.name}\0${rule.type}\0${rule.status}`;
        const labels = () => ({
          ...policyLabels(policy),
          resource_kind: b.kind, resource_namespace: b.namespace, resource_request_operation: b.operation,
          rule_execution_cause: 'admission_request', dry_run: String(req.dryRun),
          rule_name: rule.name, rule_type: ruleTypeLabel(rule.type), rule_result: ruleResultLabel(rule.status),
        });
        series = { results: this.policyResults.child(key, labels), duration: this.policyExecutionDuration.child(key, labels) };
        byRequest.set(requestKey, series);
      }
      series.results.value++;
      this.policyExecutionDuration.observe(series.duration, rule.durationSeconds ?? fallbackSeconds);
    }
  }

  /** Replace the rule-info series with the rules of the current policy set. */
  setPolicyRuleInfo(policies: readonly PolicyInfo[]): void {
    this.policyRuleInfo.reset();
    for (const policy of policies) {
      const base = policyLabels(policy);
      for (const rule of policy.rules) {
        this.policyRuleInfo.set({ ...base, rule_name: rule.name, rule_type: ruleTypeLabel(rule.type), status_ready: 'true' }, 1);
      }
    }
  }

  /** One image verification cache lookup (hook for src/images VerificationCache.onEvent). */
  recordImageCache(outcome: 'hit' | 'miss' | 'coalesced', durationMs?: number): void {
    this.imageCache.inc({ outcome });
    if (durationMs !== undefined) this.imageVerificationDuration.observe(durationMs / 1000);
  }

  recordPolicyChange(policy: PolicyInfo, change: PolicyChangeType): void {
    this.policyChanges.inc({ ...policyLabels(policy), policy_change_type: change });
  }

  contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}

function policyLabels(policy: PolicyInfo): Record<string, string> {
  return {
    policy_name: policy.name,
    policy_namespace: policyNamespaceLabel(policy.kind, policy.namespace),
    policy_type: policyTypeLabel(policy.kind),
    policy_validation_mode: policy.validationFailureAction === 'Enforce' ? 'enforce' : 'audit',
    policy_background_mode: String(policy.background),
  };
}
