/**
 * Kyverno policy-library suites whose rules are plain `validate.pattern` /
 * `validate.anyPattern` rules (no variables, context, preconditions, foreach
 * or deny): every resource result in kyverno-test.yaml must match ours.
 * Pod controllers and CronJobs are checked the way Kyverno's autogen rewrites
 * a Pod pattern (spec.template / spec.jobTemplate.spec.template).
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import {
  anyPatternRuleResult, compileAnyPattern, compilePattern, patternRuleResult, type CompiledPattern,
} from '../../src/engine/pattern/index.ts';
import type { JsonValue } from '../../src/engine/types.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/conformance/kyverno-policies');
const SUITES = ['pod-security', 'best-practices', 'other'];
const CONTROLLERS = new Set(['DaemonSet', 'Deployment', 'Job', 'StatefulSet', 'ReplicaSet', 'ReplicationController']);

type Doc = Record<string, any>;

function yamlDocs(file: string): Doc[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Doc).filter((d) => d && typeof d === 'object');
}

function testDirs(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    if (e.name === '.kyverno-test') out.push(join(dir, e.name));
    else if (!e.name.startsWith('.')) testDirs(join(dir, e.name), out);
  }
  return out;
}

/** Autogen's rewrite of a Pod pattern for the given controller kind. */
function forKind(pattern: JsonValue, kind: string, podRule: boolean): JsonValue {
  if (!podRule) return pattern;
  if (kind === 'CronJob') return { spec: { jobTemplate: { spec: { template: pattern } } } };
  if (CONTROLLERS.has(kind)) return { spec: { template: pattern } };
  return pattern;
}

function isPurePatternRule(rule: Doc): boolean {
  const v = rule.validate;
  if (!v || !(v.pattern || v.anyPattern) || v.foreach || v.deny) return false;
  if (rule.preconditions || rule.context) return false;
  return !JSON.stringify(v).includes('{{');
}

let checked = 0;
for (const suite of SUITES) {
  const base = join(root, suite);
  if (!existsSync(base)) continue;
  for (const dir of testDirs(base)) {
    const file = join(dir, 'kyverno-test.yaml');
    if (!existsSync(file)) continue;
    const test = yamlDocs(file)[0]!;
    const policies = (test.policies ?? []).flatMap((p: string) => yamlDocs(resolve(dir, p)));
    const resources = (test.resources ?? []).flatMap((p: string) => yamlDocs(resolve(dir, p)));
    const cases: { rule: string; resource: string; kind: string; expected: string; got: string; message: string }[] = [];
    const compiled = new Map<string, CompiledPattern | CompiledPattern[]>();
    for (const r of test.results ?? []) {
      const policy = policies.find((p: Doc) => p.metadata?.name === r.policy);
      const name: string = String(r.rule).replace(/^autogen-(cronjob-)?/, '');
      const rule = policy?.spec?.rules?.find((x: Doc) => x.name === name);
      if (!rule || !isPurePatternRule(rule)) continue;
      const podRule = JSON.stringify(rule.match ?? {}).includes('"Pod"');
      for (const resName of r.resources ?? (r.resource ? [r.resource] : [])) {
        const res = resources.find((x: Doc) => x.metadata?.name === resName && (!r.kind || x.kind === r.kind));
        if (!res) continue;
        const key = `${name}/${res.kind}`;
        let c = compiled.get(key);
        if (!c) {
          const v = rule.validate;
          c = v.pattern
            ? compilePattern(forKind(v.pattern, res.kind, podRule))
            : compileAnyPattern(v.anyPattern.map((p: JsonValue) => forKind(p, res.kind, podRule)));
          compiled.set(key, c);
        }
        const got = Array.isArray(c)
          ? anyPatternRuleResult(r.rule, rule.validate.message, c, res as JsonValue)
          : patternRuleResult(r.rule, rule.validate.message, c(res as JsonValue));
        cases.push({ rule: r.rule, resource: resName, kind: res.kind, expected: r.result, got: got.status, message: got.message });
      }
    }
    if (cases.length === 0) continue;
    checked += cases.length;
    t.test(dir.slice(root.length + 1, -'/.kyverno-test'.length), async (t) => {
      for (const c of cases) {
        t.equal(c.got, c.expected, `${c.rule} ${c.kind}/${c.resource}${c.got === c.expected ? '' : ': ' + c.message}`);
      }
    });
  }
}

// The policy library lives beside the checkout (../shared); a clone without it has nothing to replay.
const noData = existsSync(root) ? false : `no conformance data at ${root}`;

t.test('the suites were found and exercised', { skip: noData }, async (t) => {
  t.ok(checked > 500, `${checked} resource results checked`);
});

t.test('chainsaw report message for restrict-runtimeClassName (CREATE)', { skip: noData }, async (t) => {
  const dir = join(root, 'psp-migration/restrict-runtimeClassName');
  const policy = yamlDocs(join(dir, 'restrict-runtimeClassName.yaml'))[0]!;
  const rule = policy.spec.rules[0];
  const report = yamlDocs(join(dir, '.chainsaw-test/report.yaml'))[0]!;
  const bad = yamlDocs(join(dir, '.chainsaw-test/bad.yaml'))[0]!;
  const good = yamlDocs(join(dir, '.chainsaw-test/good.yaml'));
  const c = compilePattern(rule.validate.pattern);
  const expected = report.results.find((r: Doc) => r.resources[0].name === bad.metadata.name);
  const got = patternRuleResult(rule.name, rule.validate.message, c(bad as JsonValue));
  t.equal(got.status, expected.result);
  t.equal(got.message, expected.message);
  for (const g of good) {
    const exp = report.results.find((r: Doc) => r.resources[0].name === g.metadata.name);
    if (!exp) continue;
    const r = patternRuleResult(rule.name, rule.validate.message, c(g as JsonValue));
    t.equal(r.status, exp.result, g.metadata.name);
    t.equal(r.message, exp.message);
  }
});
