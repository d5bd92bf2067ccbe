import t from 'tap';
import { Metrics } from '../../src/metrics/metrics.ts';
import { BoundedLabel, OVERFLOW_VALUE } from '../../src/metrics/labels.ts';
import { policy, rule } from '../server/fixtures/helpers.ts';

async function values(m: Metrics, name: string) {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (metric?.values ?? []) as Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
}

t.test('admission requests: Kyverno labels, lower-case operation, bool as string', async (t) => {
  const m = new Metrics({ processMetrics: false });
  m.recordAdmission({ kind: 'Pod', namespace: 'default', operation: 'CREATE', dryRun: false }, false, 0.002);
  m.recordAdmission({ kind: 'Pod', namespace: 'default', operation: 'CREATE', dryRun: false }, false, 0.003);
  const v = await values(m, 'kyverno_admission_requests_total');
  t.same(v, [{ labels: { resource_kind: 'Pod', resource_namespace: 'default', resource_request_operation: 'create', request_allowed: 'false' }, value: 2 }]);
  const text = await m.render();
  t.match(text, /kyverno_admission_review_duration_seconds_bucket\{le="0\.0025",resource_kind="Pod",resource_namespace="default",resource_request_operation="create",request_allowed="false"\} 1/);
  t.match(text, /kyverno_admission_review_duration_seconds_count\{.*\} 2/);
});

t.test('policy results: one series per rule result, cluster policy namespace "-", dry_run kept apart', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const p = policy({ name: 'require-limits', background: false, rules: [{ name: 'check' }, { name: 'autogen-check' }] });
  const req = { kind: 'Pod', namespace: 'prod', operation: 'UPDATE', dryRun: false };
  m.recordPolicyResults(p, [rule('check', 'fail', 'x'), { ...rule('autogen-check', 'skip'), durationSeconds: 0.0001 }], req, 0.001);
  m.recordPolicyResults(p, [rule('check', 'fail', 'x')], { ...req, dryRun: true }, 0.001);
  const v = await values(m, 'kyverno_policy_results_total');
  t.equal(v.length, 3);
  t.same(v[0]!.labels, {
    policy_name: 'require-limits', policy_namespace: '-', policy_type: 'cluster', policy_validation_mode: 'enforce',
    policy_background_mode: 'false', resource_kind: 'Pod', resource_namespace: 'prod', resource_request_operation: 'update',
    rule_execution_cause: 'admission_request', dry_run: 'false', rule_name: 'check', rule_type: 'validate', rule_result: 'fail',
  });
  t.equal(v.filter((x) => x.labels.dry_run === 'true').length, 1, 'dry-run results carry dry_run="true"');
  const d = await values(m, 'kyverno_policy_execution_duration_seconds');
  const sums = d.filter((x) => x.metricName === 'kyverno_policy_execution_duration_seconds_sum');
  t.same(sums.map((x) => x.value), [0.001, 0.0001, 0.001], 'own rule timing preferred over the fallback');
});

t.test('namespaced policy labels and audit mode', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const p = policy({ name: 'team-rule', kind: 'Policy', namespace: 'team-a', validationFailureAction: 'Audit', rules: [{ name: 'm', type: 'Mutation' }] });
  m.recordPolicyResults(p, [rule('m', 'pass', '', 'Mutation')], { kind: 'Pod', namespace: 'team-a', operation: 'CREATE', dryRun: false }, 0);
  const [v] = await values(m, 'kyverno_policy_results_total');
  t.match(v!.labels, { policy_namespace: 'team-a', policy_type: 'namespaced', policy_validation_mode: 'audit', rule_type: 'mutate', rule_result: 'pass' });
});

t.test('rule info reflects exactly the current policy set', async (t) => {
  const m = new Metrics({ processMetrics: false });
  m.setPolicyRuleInfo([policy({ name: 'a', rules: [{ name: 'r1' }, { name: 'r2', type: 'ImageVerify' }] })]);
  let v = await values(m, 'kyverno_policy_rule_info_total');
  t.same(v.map((x) => [x.labels.policy_name, x.labels.rule_name, x.labels.rule_type, x.labels.status_ready, x.value]),
    [['a', 'r1', 'validate', 'true', 1], ['a', 'r2', 'imageVerify', 'true', 1]]);
  m.setPolicyRuleInfo([policy({ name: 'b', rules: [{ name: 'only' }] })]);
  v = await values(m, 'kyverno_policy_rule_info_total');
  t.same(v.map((x) => x.labels.policy_name), ['b'], 'removed policies disappear');
});

t.test('policy changes counter', async (t) => {
  const m = new Metrics({ processMetrics: false });
  m.recordPolicyChange(policy({ name: 'a' }), 'created');
  m.recordPolicyChange(policy({ name: 'a' }), 'updated');
  const v = await values(m, 'kyverno_policy_changes_total');
  t.same(v.map((x) => [x.labels.policy_name, x.labels.policy_change_type, x.value]), [['a', 'created', 1], ['a', 'updated', 1]]);
});

t.test('cardinality stays bounded: extra namespaces fold into "other"', async (t) => {
  const m = new Metrics({ processMetrics: false, maxLabelValues: 3 });
  for (let i = 0; i < 10; i++) m.recordAdmission({ kind: 'Pod', namespace: `ns-${i}`, operation: 'CREATE', dryRun: false }, true, 0.001);
  const v = await values(m, 'kyverno_admission_requests_total');
  t.same(v.map((x) => [x.labels.resource_namespace, x.value]), [['ns-0', 1], ['ns-1', 1], ['ns-2', 1], [OVERFLOW_VALUE, 7]]);
  const b = new BoundedLabel(1);
  t.equal(b.value('x'), 'x');
  t.equal(b.value('x'), 'x');
  t.equal(b.value('y'), OVERFLOW_VALUE);
});

t.test('process metrics are exported by default', async (t) => {
  const m = new Metrics();
  const text = await m.render();
  t.match(text, /process_resident_memory_bytes/);
  t.match(text, /nodejs_eventloop_lag_seconds/);
});
