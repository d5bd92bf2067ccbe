/**
 * deploy/monitoring must only use metrics and labels the server exports, so
 * the alerts and the dashboard cannot silently drift from the code.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { Metrics } from '../../src/metrics/metrics.ts';
import { policy, rule } from '../server/fixtures/helpers.ts';

async function exported() {
  const m = new Metrics();
  const p = policy({ name: 'p', rules: [{ name: 'r' }] });
  m.recordAdmission({ kind: 'Pod', namespace: 'ns', operation: 'CREATE', dryRun: false }, true, 0.001);
  m.recordPolicyResults(p, [rule('r', 'fail')], { kind: 'Pod', namespace: 'ns', operation: 'CREATE', dryRun: false }, 0.001);
  m.setPolicyRuleInfo([p]);
  m.recordPolicyChange(p, 'created');
  const names = new Set<string>();
  const labels = new Set<string>(['job', 'instance', 'le']); // added by Prometheus / histograms
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    for (const v of metric.values as Array<{ labels: Record<string, unknown> }>) for (const l of Object.keys(v.labels)) labels.add(l);
  }
  return { names, labels };
}

function expressions(): string[] {
  const rule = YAML.parse(readFileSync('deploy/monitoring/prometheusrule.yaml', 'utf8')) as { spec: { groups: Array<{ rules: Array<{ expr: string }> }> } };
  const dash = JSON.parse(readFileSync('deploy/monitoring/grafana-dashboard.json', 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
  return [
    ...rule.spec.groups.flatMap((g) => g.rules.map((r) => r.expr)),
    ...dash.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr)),
  ];
}

t.test('alerts and dashboard reference only exported metrics and labels', async (t) => {
  const { names, labels } = await exported();
  const exprs = expressions();
  t.ok(exprs.length > 10);
  for (const expr of exprs) {
    for (const [metric] of expr.matchAll(/\b(?:kyverno|process|nodejs)_[a-z0-9_]+/g)) {
      const base = metric.replace(/_(bucket|sum|count)$/, '');
      t.ok(names.has(metric) || names.has(base), `${metric} is exported`);
    }
    const used = [
      ...[...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/([a-z_]+)\s*(?:=~|!=|!~|=)/g)].map((x) => x[1]!)),
      ...[...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim())),
    ];
    for (const l of used) t.ok(labels.has(l), `label ${l} is exported (${expr.slice(0, 60)}…)`);
  }
});

t.test('the PrometheusRule has denial-rate, error-rate and p99-latency alerts', async (t) => {
  const doc = YAML.parse(readFileSync('deploy/monitoring/prometheusrule.yaml', 'utf8')) as { kind: string; spec: { groups: Array<{ rules: Array<{ alert?: string; expr: string }> }> } };
  t.equal(doc.kind, 'PrometheusRule');
  const alerts = doc.spec.groups.flatMap((g) => g.rules).filter((r) => r.alert);
  t.ok(alerts.some((a) => /request_allowed="false"/.test(a.expr)), 'denial rate');
  t.ok(alerts.some((a) => /rule_result="error"/.test(a.expr)), 'error rate');
  t.ok(alerts.some((a) => /p99/.test(a.expr)), 'p99 latency');
});
