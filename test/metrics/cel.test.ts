/**
 * policies.kyverno.io kinds report under Kyverno's own series
 * (kyverno_validating_policy_* / kyverno_mutating_policy_*), never under the
 * ClusterPolicy rule series.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metrics } from '../../src/metrics/metrics.ts';
import { OVERFLOW_VALUE } from '../../src/metrics/labels.ts';
import { buildApp } from '../../src/server/app.ts';
import { PolicyStore } from '../../src/server/policy-set.ts';
import type { CompiledPolicy } from '../../src/policy/compile.ts';
import { pod, review, rule } from '../server/fixtures/helpers.ts';

type Values = Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
async function values(m: Metrics, name: string): Promise<Values> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (metric?.values ?? []) as Values;
}

function celPolicy(p: { name: string; kind: string; namespace?: string; type: string; action?: 'Enforce' | 'Audit'; background?: boolean }): CompiledPolicy {
  return {
    name: p.name, kind: p.kind, ...(p.namespace ? { namespace: p.namespace } : {}), rules: [], cel: { type: p.type },
    validationFailureAction: p.action ?? 'Enforce', background: p.background ?? true,
  } as unknown as CompiledPolicy;
}

const req = { kind: 'Pod', namespace: 'prod', operation: 'CREATE', dryRun: false };

t.test('ValidatingPolicy: one result per policy with Kyverno labels; never in kyverno_policy_results_total', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const p = celPolicy({ name: 'no-privileged', kind: 'ValidatingPolicy', type: 'validating' });
  m.recordPolicyResults(p, [rule('validation', 'fail', 'x'), rule('validation', 'pass')], req, 0.002);
  const v = await values(m, 'kyverno_validating_policy_results_total');
  t.same(v, [{
    labels: {
      policy_validation_mode: 'Deny', policy_background_mode: 'true', policy_name: 'no-privileged', policy_namespace: '',
      resource_kind: 'Pod', resource_namespace: 'prod', resource_request_operation: 'create', execution_cause: 'admission_request', result: 'fail',
    },
    value: 1,
  }], 'the first response counts once for the policy');
  const d = await values(m, 'kyverno_validating_policy_execution_duration_seconds');
  t.same(d.filter((x) => x.metricName?.endsWith('_sum')).map((x) => x.value), [0.004], 'the policy time is the sum of its responses');
  t.same(d.filter((x) => x.metricName?.endsWith('_count')).map((x) => x.labels.result), ['fail']);
  t.same(await values(m, 'kyverno_policy_results_total'), []);
  t.same(await values(m, 'kyverno_mutating_policy_results_total'), []);
});

t.test('ImageValidatingPolicy: Kyverno\'s image validating series, not the validating one', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const p = celPolicy({ name: 'verify-signed', kind: 'ImageValidatingPolicy', type: 'validating' });
  m.recordPolicyResults(p, [rule('verify-signed', 'fail', 'unsigned')], req, 0.003);
  const [v] = await values(m, 'kyverno_image_validating_policy_results_total');
  t.match(v!.labels, { policy_name: 'verify-signed', policy_validation_mode: 'Deny', resource_kind: 'Pod', result: 'fail' });
  t.equal(v!.value, 1);
  const d = await values(m, 'kyverno_image_validating_policy_execution_duration_seconds');
  t.same(d.filter((x) => x.metricName?.endsWith('_count')).map((x) => x.value), [1]);
  t.same(await values(m, 'kyverno_validating_policy_results_total'), []);
  t.same(await values(m, 'kyverno_policy_results_total'), []);
});

t.test('namespaced and audit validating policies', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const p = celPolicy({ name: 'team', kind: 'NamespacedValidatingPolicy', namespace: 'team-a', type: 'validating', action: 'Audit', background: false });
  m.recordPolicyResults(p, [rule('validation', 'warn')], req, 0.001);
  const [v] = await values(m, 'kyverno_validating_policy_results_total');
  t.match(v!.labels, { policy_namespace: 'team-a', policy_validation_mode: 'Audit', policy_background_mode: 'false', result: 'warn' });
});

t.test('MutatingPolicy: every response counts, no validation mode label', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const p = celPolicy({ name: 'add-labels', kind: 'MutatingPolicy', type: 'mutating' });
  m.recordPolicyResults(p, [rule('', 'pass', 'success', 'Mutation'), rule('', 'pass', 'success', 'Mutation')], req, 0.001);
  const v = await values(m, 'kyverno_mutating_policy_results_total');
  t.equal(v.length, 1);
  t.equal(v[0]!.value, 2);
  t.notOk('policy_validation_mode' in v[0]!.labels);
  t.match(v[0]!.labels, { policy_name: 'add-labels', result: 'pass', execution_cause: 'admission_request' });
  const d = await values(m, 'kyverno_mutating_policy_execution_duration_seconds');
  t.same(d.filter((x) => x.metricName?.endsWith('_count')).map((x) => x.value), [1], 'one duration sample per policy');
});

t.test('unsupported kinds report by kind; kinds Kyverno does not count here are dropped', async (t) => {
  const m = new Metrics({ processMetrics: false });
  m.recordPolicyResults(celPolicy({ name: 'v', kind: 'ValidatingPolicy', type: 'unsupported' }), [rule('', 'error', 'not supported')], req, 0);
  m.recordPolicyResults(celPolicy({ name: 'i', kind: 'ImageValidatingPolicy', type: 'unsupported' }), [rule('', 'error', 'not supported')], req, 0);
  t.same((await values(m, 'kyverno_validating_policy_results_total')).map((x) => [x.labels.policy_name, x.labels.result]), [['v', 'error']]);
  t.same(await values(m, 'kyverno_policy_results_total'), []);
});

t.test('request-derived labels stay bounded', async (t) => {
  const m = new Metrics({ processMetrics: false, maxLabelValues: 2 });
  const p = celPolicy({ name: 'v', kind: 'ValidatingPolicy', type: 'validating' });
  for (let i = 0; i < 5; i++) m.recordPolicyResults(p, [rule('validation', 'pass')], { ...req, namespace: `ns-${i}` }, 0);
  const v = await values(m, 'kyverno_validating_policy_results_total');
  t.same(v.map((x) => [x.labels.resource_namespace, x.value]), [['ns-0', 1], ['ns-1', 1], [OVERFLOW_VALUE, 3]]);
});

t.test('the webhook records real ValidatingPolicy and MutatingPolicy evaluations', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-celm-'));
  const rules = "matchConstraints: {resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}";
  writeFileSync(join(dir, 'p.yaml'), `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: need-team}
spec:
  validationActions: [Audit]
  ${rules}
  validations:
  - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
    message: team label required
---
apiVersion: policies.kyverno.io/v1
kind: MutatingPolicy
metadata: {name: add-owner}
spec:
  ${rules}
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{metadata: Object.metadata{labels: {'owner': 'me'}}}"
`);
  const metrics = new Metrics({ processMetrics: false });
  const store = new PolicyStore({ paths: [dir], budgetMs: 5000, metrics });
  const loaded = await store.reload();
  t.ok(loaded.ok, JSON.stringify(loaded.errors));
  const app = buildApp({ policies: store, metrics });
  t.teardown(() => app.close());
  const post = (url: string) => app.inject({ method: 'POST', url, payload: JSON.stringify(review({ object: pod() })), headers: { 'content-type': 'application/json' } });
  t.equal((await post('/validate')).statusCode, 200);
  t.equal((await post('/mutate')).statusCode, 200);
  const v = await values(metrics, 'kyverno_validating_policy_results_total');
  t.same(v.map((x) => [x.labels.policy_name, x.labels.policy_validation_mode, x.labels.result, x.value]), [['need-team', 'Audit', 'fail', 1]]);
  const mu = await values(metrics, 'kyverno_mutating_policy_results_total');
  t.same(mu.map((x) => [x.labels.policy_name, x.labels.result, x.value]), [['add-owner', 'pass', 1]]);
  t.same(await values(metrics, 'kyverno_policy_results_total'), [], 'CEL kinds stay out of the rule series');
});
