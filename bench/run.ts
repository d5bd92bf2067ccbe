/**
 * `npm run bench`: every benchmark, printed and written to BENCHMARKS.md with the
 * command and the machine it ran on. Each figure has its same-run baseline.
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { runEngineBench } from './engine.ts';

const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
const sections: string[] = [];
const fmt = (n: number, d = 1) => n.toFixed(d);

console.log(`machine: ${machine}`);
console.log('engine: default bundle × realistic 3-container Pod …');
const e = await runEngineBench();
console.log(e);
sections.push(`## Engine (policy evaluation, no HTTP)

The compiled default bundle (\`policies/\`: ${e.policies} policies, ${e.rules} rules after autogen) evaluated against a
realistic 3-container Pod (\`bench/fixtures.ts\`), ${e.iterations} evaluations per row on one core. Each evaluation gets a
freshly parsed input, as a request does; "engine" rows time \`evaluate()\` alone, the request row adds the JSON parse.
Baseline: JSON-parsing the same Pod and building its admission input, the floor of any request.

| measure | median µs per Pod | p99 µs |
| --- | ---: | ---: |
| engine, mutate then validate (CLI mode \`all\`) | ${fmt(e.medianUs)} | ${fmt(e.p99Us)} |
| engine, /mutate's share (mode \`mutate\`) | ${fmt(e.mutateMedianUs)} | |
| engine, /validate's share (mode \`validate\`) | ${fmt(e.validateMedianUs)} | |
| request: JSON parse + engine (mode \`all\`) | ${fmt(e.requestMedianUs)} | |
| baseline: JSON parse + admission input | ${fmt(e.baselineMedianUs)} | |

Engine evaluations per second (mode \`all\`, one core): ${e.perSecond}.
Target: under 20 µs per Pod for this bundle (engine, mode \`all\`).`);

try {
  const { runCelBench, celBenchMarkdown } = await import('./cel.ts');
  console.log('cel: Pod Security Standards, patterns vs CEL …');
  const r = await runCelBench();
  if (r) {
    console.log(r);
    sections.push(celBenchMarkdown(r));
  }
} catch (err) {
  console.error(`CEL benchmark failed: ${(err as Error).message}`);
  process.exitCode = 1;
}

try {
  // The image benchmark uses the same real components as the tests.
  execFileSync('bash', ['test/support/setup-images.sh'], { stdio: 'inherit' });
  const { runImageBench, imageBenchMarkdown } = await import('./images.ts');
  console.log('images: cosign verification against a local registry …');
  const r = await runImageBench();
  console.log(r);
  sections.push(imageBenchMarkdown(r));
} catch (err) {
  console.error(`image benchmark failed: ${(err as Error).message}`);
  process.exitCode = 1;
}

try {
  const server = await import('./server.ts') as { runServerBench?: () => Promise<{ markdown: string; summary: unknown }> };
  if (server.runServerBench) {
    console.log('server: HTTPS load vs bare fastify …');
    const s = await server.runServerBench();
    console.log(s.summary);
    sections.push(s.markdown);
  }
} catch (err) {
  console.error(`server benchmark failed: ${(err as Error).message}`);
  process.exitCode = 1;
}

const doc = `# Benchmarks

Produced by \`./nodew npm run bench\` (\`bench/run.ts\`) on ${new Date().toISOString().slice(0, 10)}.
Machine: ${machine}.
Figures vary with the machine and its load; compare each figure with the baseline measured in the same run.

${sections.join('\n\n')}
`;
let keep = '';
try {
  // Sections recorded by hand (e.g. harness timings) live below this marker and are kept.
  const old = readFileSync('BENCHMARKS.md', 'utf8');
  const i = old.indexOf('<!-- manual -->');
  if (i >= 0) keep = `\n${old.slice(i)}`;
} catch { /* first run */ }
writeFileSync('BENCHMARKS.md', doc + keep);
console.log('wrote BENCHMARKS.md');
