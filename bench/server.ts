/**
 * End-to-end HTTPS load on loopback: the real webhook (default bundle, info
 * logging, metrics) against a bare fastify HTTPS handler that parses the same
 * AdmissionReview and answers allowed — same certificates, same request mix,
 * same run. Each server runs in its own child process; autocannon drives both
 * from this one. Figures: req/s at saturation, p50/p99/p99.9 at saturation and
 * at half the saturation rate, their ratio, and RSS at idle and under load.
 *
 *   ./nodew node bench/server.ts            (print the figures)
 *   runServerBench() / benchServer()        (used by bench/run.ts)
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { realisticDeployment, realisticPod } from './fixtures.ts';

// autocannon ships no type declarations: the slice used here.
interface Histogram { average: number; p50: number; p90: number; p99: number; p99_9: number; max: number }
interface CannonResult { requests: { average: number; total: number }; latency: Histogram; errors: number; timeouts: number; non2xx: number; '2xx': number; duration: number }
interface CannonRequest { method: string; path: string; headers: Record<string, string>; body: string }
type Cannon = (opts: Record<string, unknown>) => Promise<CannonResult>;
// Loaded by the parent only: the measured server children must not carry it.
const autocannon = (options: Parameters<Cannon>[0]) => (createRequire(import.meta.url)('autocannon') as Cannon)(options);

export interface LoadFigures {
  reqPerSec: number;
  /** Requests completed in the run. */
  requests: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  errors: number;
  non2xx: number;
}

export interface TargetFigures {
  saturation: LoadFigures;
  halfRate: LoadFigures & { rate: number };
  idleRssMiB: number;
  peakRssMiB: number;
  /**
   * Server CPU (user + system, all its threads: GC helpers and TLS included) per
   * request during the saturation run. Unlike req/s, it does not depend on how
   * the load generator and the server share this machine's cores.
   */
  cpuUsPerRequest: number;
}

export interface ServerBenchFigures {
  real: TargetFigures;
  bare: TargetFigures;
  /** The real server with a no-op engine: the HTTP/TLS/envelope/metrics/logging layer alone. */
  layer: TargetFigures;
  /** real / bare throughput at saturation. */
  /** The real server with a smaller young generation (--max-semi-space-size=8): the memory/throughput knob. */
  smallHeap: TargetFigures;
  throughputRatio: number;
  durationSec: number;
  connections: number;
}

export interface ServerBenchOptions {
  /** Seconds per measured run (default 10). */
  durationSec?: number;
  /** Concurrent connections at saturation (default 32). */
  connections?: number;
}

export function reviewBody(object: ReturnType<typeof realisticPod>, uid: string): string {
  const [group, version] = object.apiVersion!.includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion!];
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group, version, kind: object.kind },
      resource: { group, version, resource: `${object.kind!.toLowerCase()}s` },
      requestKind: { group, version, kind: object.kind },
      name: object.metadata?.name,
      namespace: object.metadata?.namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: 'a1b2', groups: ['system:serviceaccounts', 'system:authenticated'] },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  });
}

/** The apiserver's traffic for a rollout: each object is mutated, then validated. */
export function requestMix(): CannonRequest[] {
  const headers = { 'content-type': 'application/json' };
  const pod = realisticPod();
  const deployment = realisticDeployment();
  return [
    { method: 'POST', path: '/mutate', headers, body: reviewBody(pod, '0f8e2c1a-0000-4000-8000-000000000001') },
    { method: 'POST', path: '/validate', headers, body: reviewBody(pod, '0f8e2c1a-0000-4000-8000-000000000001') },
    { method: 'POST', path: '/mutate', headers, body: reviewBody(deployment, '0f8e2c1a-0000-4000-8000-000000000002') },
    { method: 'POST', path: '/validate', headers, body: reviewBody(deployment, '0f8e2c1a-0000-4000-8000-000000000002') },
  ];
}

// ---------------------------------------------------------------- child side

// The measured children run bench/server-child.mjs (plain JavaScript: see its header).
interface ChildReady { type: 'ready'; port: number }
interface ChildRss { type: 'rss'; idle: number; peak: number }
interface ChildCpu { type: 'cpu'; user: number; system: number }
const CHILD = fileURLToPath(new URL('./server-child.mjs', import.meta.url));

// ---------------------------------------------------------------- parent side

type Role = 'real' | 'bare' | 'layer';

/** V8 flags for the small-heap run: a young generation of at most 3 × 8 MiB. */
export const SMALL_HEAP_FLAGS = ['--max-semi-space-size=8'];

function spawnTarget(role: Role, dir: string, flags: readonly string[] = []): Promise<{ proc: ChildProcess; port: number }> {
  const proc = fork(CHILD, [role, dir], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: ['--expose-gc', ...flags], env: { ...process.env, PORTCULLIS_BENCH_SERVER: DIST_SERVER },
  });
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`${role} server exited with ${code}`)));
    proc.once('message', (m: ChildReady) => resolve({ proc, port: m.port }));
  });
}

/** CPU microseconds the child has used so far (user + system). */
function cpuOf(proc: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    proc.once('message', (m: ChildCpu) => resolve(m.user + m.system));
    proc.send({ type: 'cpu' });
  });
}

function rssOf(proc: ChildProcess): Promise<ChildRss> {
  return new Promise((resolve) => {
    proc.once('message', (m: ChildRss) => resolve(m));
    proc.send({ type: 'rss' });
  });
}

async function load(port: number, ca: string, opts: { durationSec: number; connections: number; rate?: number }): Promise<LoadFigures> {
  const r = await autocannon({
    url: `https://127.0.0.1:${port}`,
    requests: requestMix(),
    connections: opts.connections,
    duration: opts.durationSec,
    ...(opts.rate ? { overallRate: opts.rate } : {}),
    tlsOptions: { ca, servername: 'localhost' },
  });
  return {
    reqPerSec: Math.round(r.requests.total / r.duration),
    requests: r.requests.total,
    p50Ms: r.latency.p50, p99Ms: r.latency.p99, p999Ms: r.latency.p99_9,
    errors: r.errors + r.timeouts, non2xx: r.non2xx,
  };
}

async function measure(role: Role, dir: string, ca: string, durationSec: number, connections: number, flags: readonly string[] = []): Promise<TargetFigures> {
  const { proc, port } = await spawnTarget(role, dir, flags);
  try {
    await load(port, ca, { durationSec: 2, connections }); // warm-up: JIT, TLS sessions, caches
    const cpuBefore = await cpuOf(proc);
    const saturation = await load(port, ca, { durationSec, connections });
    const cpuUsPerRequest = ((await cpuOf(proc)) - cpuBefore) / Math.max(1, saturation.requests);
    const rate = Math.max(1, Math.floor(saturation.reqPerSec / 2));
    const halfRate = { ...(await load(port, ca, { durationSec, connections: Math.min(connections, 16), rate })), rate };
    const rss = await rssOf(proc);
    return { saturation, halfRate, idleRssMiB: rss.idle / 2 ** 20, peakRssMiB: rss.peak / 2 ** 20, cpuUsPerRequest };
  } finally {
    proc.removeAllListeners('exit');
    proc.kill('SIGKILL');
  }
}

const DIST_SERVER = new URL('../dist/server/server.js', import.meta.url).href;

export async function benchServer(options: ServerBenchOptions = {}): Promise<ServerBenchFigures> {
  // Measure what the image runs: the compiled JavaScript.
  execFileSync('npm', ['run', 'build'], { stdio: 'inherit', cwd: fileURLToPath(new URL('..', import.meta.url)) });
  const durationSec = options.durationSec ?? 10;
  const connections = options.connections ?? 32;
  const { generateCerts } = await import('../src/server/certgen.ts');
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-bench-'));
  try {
    const certs = await generateCerts({ names: ['localhost', '127.0.0.1'] });
    await writeFile(join(dir, 'tls.crt'), certs.cert);
    await writeFile(join(dir, 'tls.key'), certs.key, { mode: 0o600 });
    const bare = await measure('bare', dir, certs.caCert, durationSec, connections);
    const layer = await measure('layer', dir, certs.caCert, durationSec, connections);
    const real = await measure('real', dir, certs.caCert, durationSec, connections);
    const smallHeap = await measure('real', dir, certs.caCert, durationSec, connections, SMALL_HEAP_FLAGS);
    return { real, bare, layer, smallHeap, throughputRatio: real.saturation.reqPerSec / bare.saturation.reqPerSec, durationSec, connections };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

export function serverBenchMarkdown(f: ServerBenchFigures): string {
  const row = (name: string, r: LoadFigures, b: LoadFigures) =>
    `| ${name} | ${r.reqPerSec} | ${b.reqPerSec} | ${f2(r.p50Ms)} / ${f2(r.p99Ms)} / ${f2(r.p999Ms)} | ${f2(b.p50Ms)} / ${f2(b.p99Ms)} / ${f2(b.p999Ms)} | ${r.errors + r.non2xx} / ${b.errors + b.non2xx} |`;
  return `## Webhook server (HTTPS on loopback)

autocannon against the real server (built \`dist/\`, as the image runs it; \`policies/\` bundle, info logging, metrics) and, in the same run, a bare fastify
HTTPS handler that parses the same AdmissionReview and answers allowed. Request mix: a realistic 3-container Pod and
its Deployment, each sent to /mutate then /validate. ${f.connections} connections at saturation, ${f.durationSec} s per run after a 2 s warm-up;
the moderate run is a fixed rate of half the saturation throughput of each server.

| run | webhook req/s | bare req/s | webhook p50 / p99 / p99.9 ms | bare p50 / p99 / p99.9 ms | errors+non-2xx (webhook / bare) |
| --- | ---: | ---: | ---: | ---: | ---: |
${row('saturation', f.real.saturation, f.bare.saturation)}
${row(`half rate (${f.real.halfRate.rate} / ${f.bare.halfRate.rate} req/s)`, f.real.halfRate, f.bare.halfRate)}

Throughput ratio webhook / bare: **${(f.throughputRatio * 100).toFixed(1)}%** (target ≥ 85%).
Attribution: the same server with a no-op engine (HTTP, TLS, envelope schema, metrics, logging only) does
${f.layer.saturation.reqPerSec} req/s at saturation (${((f.layer.saturation.reqPerSec / f.bare.saturation.reqPerSec) * 100).toFixed(1)}% of bare),
p50 / p99 / p99.9 ${f2(f.layer.saturation.p50Ms)} / ${f2(f.layer.saturation.p99Ms)} / ${f2(f.layer.saturation.p999Ms)} ms; the rest of the gap is policy evaluation.
Server CPU per request at saturation (all threads, \`process.cpuUsage()\`): webhook ${f1(f.real.cpuUsPerRequest)} µs,
no-op engine ${f1(f.layer.cpuUsPerRequest)} µs, bare ${f1(f.bare.cpuUsPerRequest)} µs — policy evaluation, its metrics and the
decision cost ${f1(f.real.cpuUsPerRequest - f.layer.cpuUsPerRequest)} µs per request in the server (the engine benchmark above times the evaluation alone, warm, on an idle core).
p99 at half rate: **${f2(f.real.halfRate.p99Ms)} ms** (target < 2 ms).
RSS of the webhook: ${f1(f.real.idleRssMiB)} MiB idle, ${f1(f.real.peakRssMiB)} MiB peak under load (target < 120 MiB);
bare: ${f1(f.bare.idleRssMiB)} / ${f1(f.bare.peakRssMiB)} MiB (idle measured after a full GC in both).
Memory knob: the same webhook with \`NODE_OPTIONS=${SMALL_HEAP_FLAGS.join(' ')}\` (a smaller young generation) does
${f.smallHeap.saturation.reqPerSec} req/s at saturation (${((f.smallHeap.saturation.reqPerSec / f.real.saturation.reqPerSec) * 100).toFixed(0)}% of the default) with
${f1(f.smallHeap.idleRssMiB)} MiB idle and ${f1(f.smallHeap.peakRssMiB)} MiB peak RSS.`;
}

/** For bench/run.ts: the figures as a BENCHMARKS.md section and a console summary. */
export async function runServerBench(options: ServerBenchOptions = {}): Promise<{ markdown: string; summary: ServerBenchFigures; figures: ServerBenchFigures }> {
  const figures = await benchServer(options);
  return { markdown: serverBenchMarkdown(figures), summary: figures, figures };
}

if (import.meta.main) {
  const durationSec = Number(process.env.BENCH_SECONDS ?? 10);
  const figures = await benchServer({ durationSec });
  console.log(JSON.stringify(figures, null, 2));
  console.log(serverBenchMarkdown(figures));
}
