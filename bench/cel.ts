/**
 * CEL vs pattern engine benchmark: the Pod Security Standards as Kyverno's
 * library writes them twice — `pod-security` (kyverno.io/v1 patterns and
 * deny rules, without the podSecurity subrule folder) and `pod-security-vpol`
 * (policies.kyverno.io ValidatingPolicies in CEL) — each compiled into one
 * engine and evaluated against the same realistic 3-container Pod, in one run.
 * Reads the policy library beside the checkout (../shared); skipped without it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadPolicyPaths } from '../src/policy/load.ts';
import { compilePolicies } from '../src/policy/compile.ts';
import { Engine } from '../src/engine/engine.ts';
import { realisticPod, admissionInput } from './fixtures.ts';

const library = fileURLToPath(new URL('../../shared/conformance/kyverno-policies/', import.meta.url));

export interface CelBenchResult { patternPolicies: number; celPolicies: number; patternUs: number; celUs: number }

async function engineFor(paths: string[]): Promise<{ engine: Engine; count: number }> {
  const loaded = await loadPolicyPaths(paths);
  const { policies } = compilePolicies(loaded.policies);
  return { engine: new Engine(policies), count: policies.length };
}

async function medianUs(engine: Engine, iterations: number): Promise<number> {
  const text = JSON.stringify(realisticPod());
  const samples = new Float64Array(iterations);
  for (let i = 0; i < 2000; i++) await engine.evaluate(admissionInput(JSON.parse(text)), { mode: 'validate' });
  for (let i = 0; i < iterations; i++) {
    const input = admissionInput(JSON.parse(text));
    const t0 = process.hrtime.bigint();
    await engine.evaluate(input, { mode: 'validate' });
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  samples.sort();
  return samples[Math.floor(iterations / 2)]!;
}

export async function runCelBench(iterations = 10_000): Promise<CelBenchResult | undefined> {
  if (!existsSync(library)) return undefined;
  const pattern = await engineFor([`${library}pod-security/baseline`, `${library}pod-security/restricted`]);
  const cel = await engineFor([`${library}pod-security-vpol`]);
  return {
    patternPolicies: pattern.count, celPolicies: cel.count,
    patternUs: await medianUs(pattern.engine, iterations), celUs: await medianUs(cel.engine, iterations),
  };
}

export function celBenchMarkdown(r: CelBenchResult): string {
  return `## CEL vs patterns: Pod Security Standards

Kyverno's policy library writes the Pod Security Standards both ways; each set compiled into one engine and
evaluated (validate) against the same 3-container Pod, median of the same run.

| bundle | policies | median µs per Pod |
| --- | ---: | ---: |
| \`pod-security\` (kyverno.io/v1 patterns, deny) | ${r.patternPolicies} | ${r.patternUs.toFixed(1)} |
| \`pod-security-vpol\` (ValidatingPolicy, CEL) | ${r.celPolicies} | ${r.celUs.toFixed(1)} |`;
}

if (import.meta.main) {
  const r = await runCelBench();
  console.log(r ? celBenchMarkdown(r) : 'no policy library beside the checkout');
}
