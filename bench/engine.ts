/**
 * Engine benchmark: the compiled default bundle (policies/) evaluated against a
 * realistic 3-container Pod, mutate + validate, on one core. Baseline in the same
 * run: the per-request floor of JSON-parsing the same Pod and building its input.
 */
import { loadPolicyPaths } from '../src/policy/load.ts';
import { compilePolicies } from '../src/policy/compile.ts';
import { Engine } from '../src/engine/engine.ts';
import { realisticPod, admissionInput } from './fixtures.ts';

export interface EngineBenchResult {
  policies: number;
  rules: number;
  iterations: number;
  /** Engine only: evaluate() on an input parsed just before (parse not timed). Mode `all`. */
  medianUs: number;
  p99Us: number;
  perSecond: number;
  /** The webhook's two calls, engine only: /mutate (mode mutate) and /validate (mode validate). */
  mutateMedianUs: number;
  validateMedianUs: number;
  /** JSON-parse + evaluate, what one request pays in total. */
  requestMedianUs: number;
  /** Baseline: JSON-parsing the same Pod and building its admission input. */
  baselineMedianUs: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Times `fn(prepare())` per iteration; `prepare` runs outside the timed region. */
async function measure<T>(iterations: number, prepare: () => T, fn: (x: T) => unknown | Promise<unknown>): Promise<Float64Array> {
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const x = prepare();
    const t0 = process.hrtime.bigint();
    await fn(x);
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  return samples.sort();
}

export async function runEngineBench(iterations = 20_000): Promise<EngineBenchResult> {
  const loaded = await loadPolicyPaths([new URL('../policies', import.meta.url).pathname]);
  if (loaded.errors.length) throw new Error(`bundle failed to load: ${JSON.stringify(loaded.errors)}`);
  const { policies, errors } = compilePolicies(loaded.policies);
  if (errors.length) throw new Error(`bundle failed to compile: ${JSON.stringify(errors)}`);
  const engine = new Engine(policies);
  const text = JSON.stringify(realisticPod());

  // Sanity: the benchmark Pod is admitted by every policy, so we time the full pass.
  const check = await engine.evaluate(admissionInput(JSON.parse(text)), { mode: 'all' });
  const bad = check.results.flatMap((r) => r.rules.filter((x) => x.status === 'fail' || x.status === 'error').map((x) => `${r.policy.name}/${x.name}: ${x.message}`));
  if (bad.length) throw new Error(`benchmark Pod is not admitted:\n${bad.join('\n')}`);

  // Every evaluation gets a freshly parsed input, as a request does.
  const fresh = () => admissionInput(JSON.parse(text));
  const none = () => undefined;
  const evaluate = (mode: 'all' | 'mutate' | 'validate') => (input: ReturnType<typeof fresh>) => engine.evaluate(input, { mode });
  const request = () => engine.evaluate(fresh(), { mode: 'all' });
  // Warm-up until the JIT has settled (a server runs millions of reviews): every mode, twice.
  const warm = Math.min(iterations, 10_000);
  for (let round = 0; round < 2; round++) {
    for (const mode of ['all', 'mutate', 'validate'] as const) await measure(warm, fresh, evaluate(mode));
    await measure(warm, none, fresh);
  }
  // The rows are measured interleaved, in rounds of 100 evaluations each: this VM's speed
  // drifts within seconds, and every row (the baseline included) then sees the same drift.
  const rounds = Math.max(1, Math.floor(iterations / 100));
  const rows = { base: [] as Float64Array[], all: [] as Float64Array[], mutate: [] as Float64Array[], validate: [] as Float64Array[], request: [] as Float64Array[] };
  for (let round = 0; round < rounds; round++) {
    rows.base.push(await measure(100, none, fresh));
    rows.all.push(await measure(100, fresh, evaluate('all')));
    rows.mutate.push(await measure(100, fresh, evaluate('mutate')));
    rows.validate.push(await measure(100, fresh, evaluate('validate')));
    rows.request.push(await measure(100, none, request));
  }
  const merged = (parts: Float64Array[]) => {
    const out = new Float64Array(parts.length * 100);
    parts.forEach((p, i) => out.set(p, i * 100));
    return out.sort();
  };
  const base = merged(rows.base);
  const samples = merged(rows.all);
  const mutate = merged(rows.mutate);
  const validate = merged(rows.validate);
  const requests = merged(rows.request);
  const total = samples.reduce((a, b) => a + b, 0);
  return {
    policies: policies.length,
    rules: policies.reduce((n, p) => n + p.rules.length, 0),
    iterations: rounds * 100,
    medianUs: percentile(samples, 0.5),
    p99Us: percentile(samples, 0.99),
    perSecond: Math.round(iterations / (total / 1e6)),
    mutateMedianUs: percentile(mutate, 0.5),
    validateMedianUs: percentile(validate, 0.5),
    requestMedianUs: percentile(requests, 0.5),
    baselineMedianUs: percentile(base, 0.5),
  };
}

if (import.meta.main) {
  const r = await runEngineBench(Number(process.argv[2] ?? 20_000));
  console.log(JSON.stringify(r, null, 2));
}
