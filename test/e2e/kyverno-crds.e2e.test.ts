/**
 * Kyverno's own CRDs (../shared/kyverno-crds, copied from kyverno/kyverno)
 * installed into a real kube-apiserver, then the bundled policies/ applied with
 * kubectl as ClusterPolicy objects: the real CRD schema, with strict field
 * validation, is the judge of whether they are Kyverno-valid documents.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { harnessMissing, installCrds, startCluster, type KubectlResult } from '../cluster/harness.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CRDS = join(ROOT, '../shared/kyverno-crds');
const POLICIES = join(ROOT, 'policies');

const show = (r: KubectlResult): string => `exit ${r.code}\n${r.stdout}${r.stderr}`;
const said = (r: KubectlResult): string => r.stderr.replace(/\s+/g, ' ');

interface PolicyDoc { kind: string; metadata: { name: string }; spec: { rules: { name: string }[] } }

/** policies/<name>/*.yaml: the policy files themselves, not their .kyverno-test folders. */
function bundledPolicyFiles(): string[] {
  return readdirSync(POLICIES, { withFileTypes: true }).filter((d) => d.isDirectory()).flatMap((d) =>
    readdirSync(join(POLICIES, d.name)).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(POLICIES, d.name, f)));
}

const why = harnessMissing() ?? (existsSync(CRDS) ? undefined : `${CRDS} is absent (Kyverno's CRDs are kept in ../shared beside the checkout)`);

t.test('bundled policies accepted by Kyverno\'s real CRDs', { skip: why ?? false }, async (t) => {
  const cluster = await startCluster({ t });
  const kubectl = cluster.kubectl;
  // The kyverno.io kinds (ClusterPolicy, Policy, PolicyException, GlobalContextEntry) and the reports.
  const crdFiles = readdirSync(CRDS).filter((f) => /^(kyverno\.io|wgpolicyk8s\.io)_.*\.yaml$/.test(f)).map((f) => join(CRDS, f));
  const installed = await installCrds(cluster, crdFiles);
  t.ok(installed.includes('clusterpolicies.kyverno.io') && installed.includes('policies.kyverno.io')
    && installed.includes('policyexceptions.kyverno.io'), 'Kyverno CRDs Established', { installed });

  const files = bundledPolicyFiles();
  const docs = files.flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJSON() as PolicyDoc));
  t.ok(docs.length >= 9 && docs.every((d) => d.kind === 'ClusterPolicy'), 'the bundle is ClusterPolicies');

  await t.test('kubectl apply of every bundled policy', async (t) => {
    const r = await kubectl(['apply', '--validate=strict', ...files.flatMap((f) => ['-f', f])]);
    t.equal(r.code, 0, 'accepted by the CRD schema', { output: show(r) });
    t.notMatch(r.stderr, /unknown field/i, 'no field dropped', { output: show(r) });
    const got = await kubectl(['get', 'clusterpolicies', '-o', 'json']);
    const stored = (JSON.parse(got.stdout) as { items: PolicyDoc[] }).items;
    t.same(stored.map((p) => p.metadata.name).sort(), docs.map((d) => d.metadata.name).sort(), 'every policy stored');
    for (const d of docs) {
      const s = stored.find((p) => p.metadata.name === d.metadata.name);
      t.same(s?.spec.rules.map((r) => r.name), d.spec.rules.map((r) => r.name), `${d.metadata.name}: rules kept`);
    }
  });

  await t.test('deploy/base/policies.yaml (the ConfigMap bundle) validates too', async (t) => {
    const r = await kubectl(['apply', '--validate=strict', '--dry-run=server', '-f', join(ROOT, 'deploy/base/policies.yaml')]);
    t.equal(r.code, 0, 'accepted', { output: show(r) });
  });

  await t.test('controls: the CRD schema rejects what Kyverno would', async (t) => {
    const base = docs.find((d) => d.metadata.name === 'require-image-digest') as unknown as Record<string, any>;
    const badAction = structuredClone(base);
    badAction.metadata = { name: 'bad-action' };
    badAction.spec.validationFailureAction = 'Deny';
    const r1 = await kubectl(['apply', '--validate=strict', '-f', '-'], { input: JSON.stringify(badAction) });
    t.match(said(r1), /spec\.validationFailureAction: Unsupported value: "Deny"/, 'an unknown failure action', { output: show(r1) });

    const typo = structuredClone(base);
    typo.metadata = { name: 'typo' };
    typo.spec.rules[0].validate.patern = typo.spec.rules[0].validate.pattern;
    delete typo.spec.rules[0].validate.pattern;
    const r2 = await kubectl(['apply', '--validate=strict', '-f', '-'], { input: JSON.stringify(typo) });
    t.match(said(r2), /unknown field "spec\.rules\[0\]\.validate\.patern"/, 'a misspelt field', { output: show(r2) });
  });
});
