/**
 * Kyverno policy-library suites that use `validate.podSecurity`: every resource's
 * expected pass/fail (kyverno-test.yaml results, and the chainsaw pod-good/bad and
 * podcontroller-good/bad files, whose bad resources Kyverno must reject) must
 * match our evaluator. Controllers are evaluated through their pod template.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { compilePodSecurity, extractPodSpec, type PodSecuritySpec } from '../../src/engine/podsecurity/index.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/conformance/kyverno-policies');
const SUITES = ['pod-security', 'psa', 'psp-migration'];

type Doc = Record<string, any>;

function yamlDocs(file: string): Doc[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Doc).filter((d) => d && typeof d === 'object');
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

interface Case { label: string; resource: Doc; spec: PodSecuritySpec; expectFail: boolean }

function casesFor(policyFile: string): Case[] {
  const policy = yamlDocs(policyFile).find((d) => d.kind === 'ClusterPolicy' || d.kind === 'Policy');
  const rules: Doc[] = (policy?.spec?.rules ?? []).filter((r: Doc) => r.validate?.podSecurity);
  if (!policy || !rules.length) return [];
  const dir = dirname(policyFile);
  const cases: Case[] = [];
  const testFile = join(dir, '.kyverno-test', 'kyverno-test.yaml');
  if (existsSync(testFile)) {
    const test = yamlDocs(testFile)[0];
    const resources = (test.resources ?? []).flatMap((f: string) => yamlDocs(join(dir, '.kyverno-test', f)));
    for (const result of test.results ?? []) {
      const rule = rules.find((r) => r.name === result.rule);
      if (!rule || result.policy !== policy.metadata.name) continue;
      for (const name of result.resources ?? []) {
        const short = String(name).split('/').pop();
        const resource = resources.find((r: Doc) => r.metadata?.name === short && (!result.kind || r.kind === result.kind));
        if (!resource) continue;
        cases.push({ label: `${policy.metadata.name}/${rule.name} ${resource.kind}/${short} (kyverno-test)`, resource, spec: rule.validate.podSecurity, expectFail: result.result === 'fail' });
      }
    }
  }
  const chainsaw = join(dir, '.chainsaw-test');
  if (existsSync(chainsaw) && rules.length === 1) {
    for (const [file, expectFail] of [['pod-good.yaml', false], ['pod-bad.yaml', true], ['podcontroller-good.yaml', false], ['podcontroller-bad.yaml', true]] as const) {
      const p = join(chainsaw, file);
      if (!existsSync(p)) continue;
      for (const resource of yamlDocs(p)) {
        cases.push({ label: `${policy.metadata.name} ${resource.kind}/${resource.metadata?.name} (chainsaw ${file})`, resource, spec: rules[0].validate.podSecurity, expectFail });
      }
    }
  }
  return cases;
}

t.test('podSecurity conformance suites', { skip: existsSync(root) ? false : `no conformance data at ${root}` }, async (t) => {
  const files = SUITES.map((s) => join(root, s)).filter(existsSync).flatMap((d) => walk(d))
    .filter((f) => !f.includes('/.') && readFileSync(f, 'utf8').includes('podSecurity:'));
  const cases = files.flatMap(casesFor);
  t.ok(cases.length >= 8, `found ${cases.length} podSecurity cases in ${files.length} policies`);
  let matched = 0;
  for (const c of cases) {
    const result = compilePodSecurity(c.spec)(extractPodSpec(c.resource));
    const ok = result.allowed === !c.expectFail;
    if (ok) matched++;
    t.ok(ok, `${c.label}: expected ${c.expectFail ? 'fail' : 'pass'}`, { violations: result.violations.map((v) => v.id) });
  }
  t.comment(`podSecurity conformance: ${matched}/${cases.length} resources match`);
});
