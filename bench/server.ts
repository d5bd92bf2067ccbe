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
import { imageMallocEnv, imageNodeOptions } from '../test/support/node-options.ts';

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

/** Quantiles of the webhook's own review-duration histogram (bucket upper bounds, ms). */
export interface ServerSideLatency {
  reviews: number;
  p50UpToMs: number;
  p99UpToMs: number;
}

export interface TargetFigures {
  saturation: LoadFigures;
  halfRate: LoadFigures & { rate: number };
  /** Over the half-rate runs, as the server's /metrics saw them (webhook targets only). */
  halfRateServerSide?: ServerSideLatency;
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
  /** The webhook as deployed: production Node options (PRODUCTION_NODE_OPTIONS). */
  real: TargetFigures;
  bare: TargetFigures;
  /** The real server with a no-op engine: the HTTP/TLS/envelope/metrics/logging layer alone. */
  layer: TargetFigures;
  /** The webhook with Node's default heap sizing: what the production options trade. */
  nodeDefaults: TargetFigures;
  /** The bare handler at the webhook's half rate: this machine's latency floor at that load. */
  bareAtWebhookRate: LoadFigures & { rate: number };
  /** real / bare throughput at saturation. */
  throughputRatio: number;
  /** Measured seconds per target and load, summed over the rounds. */
  durationSec: number;
  rounds: number;
  connections: number;
}

export interface ServerBenchOptions {
  /** Measured seconds per target and load, split into `rounds` interleaved runs (default 15). */
  durationSec?: number;
  /** Interleaved rounds (default 5): every target sees the same machine drift. */
  rounds?: number;
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
interface ChildReady { type: 'ready'; port: number; metricsPort?: number }
interface ChildRss { type: 'rss'; idle: number; peak: number }
interface ChildCpu { type: 'cpu'; user: number; system: number }
const CHILD = fileURLToPath(new URL('./server-child.mjs', import.meta.url));

// ---------------------------------------------------------------- parent side

type Role = 'real' | 'bare' | 'layer';

/**
 * The webhook runs with the image's Node options (the Dockerfile's NODE_OPTIONS,
 * which deploy/ repeats): a small young generation and an old-generation cap
 * that keeps V8 growing the old space in small steps.
 */
export const PRODUCTION_NODE_OPTIONS = imageNodeOptions();
/** And the image's glibc malloc settings (environment variables, read at process start). */
const PRODUCTION_ENV = imageMallocEnv();

interface Target { role: Role; flags: readonly string[]; proc: ChildProcess; port: number; metricsPort: number | undefined }

function spawnTarget(role: Role, dir: string, flags: readonly string[] = [], env: Record<string, string> = {}): Promise<Target> {
  const proc = fork(CHILD, [role, dir], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: ['--expose-gc', ...flags], env: { ...process.env, ...env, PORTCULLIS_BENCH_SERVER: DIST_SERVER },
  });
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`${role} server exited with ${code}`)));
    proc.once('message', (m: ChildReady) => resolve({ role, flags, proc, port: m.port, metricsPort: m.metricsPort }));
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

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Rounds of one target folded into one figure: summed counts, median latencies. */
function fold(runs: readonly LoadFigures[], seconds: number): LoadFigures {
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  return {
    reqPerSec: Math.round(requests / seconds), requests,
    p50Ms: median(runs.map((r) => r.p50Ms)), p99Ms: median(runs.map((r) => r.p99Ms)), p999Ms: median(runs.map((r) => r.p999Ms)),
    errors: runs.reduce((n, r) => n + r.errors, 0), non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
  };
}

/**
 * 0..n-1 starting at `round` mod n: each round starts with another target. A run measured
 * straight after another server's run does measurably better or worse than one after a pause,
 * so a fixed order would favour a fixed position.
 */
function rotated(n: number, round: number): number[] {
  return Array.from({ length: n }, (_, k) => (k + round) % n);
}

const DURATION_BUCKET = 'kyverno_admission_review_duration_seconds_bucket{';

/** The admission-duration histogram from /metrics, summed over its label sets: upper bound (s) → cumulative count. */
async function durationBuckets(metricsPort: number): Promise<Map<number, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(DURATION_BUCKET)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (!le) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/** Quantiles of the reviews counted between two histogram readings. */
function serverSideLatency(before: Map<number, number>, after: Map<number, number>): ServerSideLatency {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const reviews = counts[counts.length - 1] ?? 0;
  const upTo = (q: number) => (bounds[counts.findIndex((c) => c >= q * reviews)] ?? Infinity) * 1000;
  return { reviews, p50UpToMs: upTo(0.5), p99UpToMs: upTo(0.99) };
}

/**
 * Every target is loaded in turn, round after round, so a slow spell of this
 * machine (its speed drifts by up to 2× within seconds) hits all of them alike.
 */
async function measureInterleaved(
  targets: readonly Target[], ca: string, durationSec: number, rounds: number, connections: number,
  /** Also load target `baseline` at target `at`'s half rate: the machine's latency floor at that load. */
  floor: { baseline: number; at: number },
): Promise<{ figures: TargetFigures[]; floor: LoadFigures & { rate: number } }> {
  const perRound = durationSec / rounds;
  for (const t of targets) await load(t.port, ca, { durationSec: 2, connections }); // warm-up: JIT, TLS sessions, caches
  const sat = targets.map(() => [] as LoadFigures[]);
  const cpu = targets.map(() => 0);
  for (let round = 0; round < rounds; round++) {
    for (const i of rotated(targets.length, round)) {
      const t = targets[i]!;
      const before = await cpuOf(t.proc);
      sat[i]!.push(await load(t.port, ca, { durationSec: perRound, connections }));
      cpu[i]! += (await cpuOf(t.proc)) - before;
    }
  }
  const saturation = sat.map((runs) => fold(runs, durationSec));
  const rates = saturation.map((s) => Math.max(1, Math.floor(s.reqPerSec / 2)));
  // Latency at half rate, in rounds too, plus the floor run. Rounds are longer here: every run opens
  // its connections with a burst of TLS handshakes, which in short rounds alone would set the p99.
  const halfRounds = Math.max(1, Math.floor(rounds / 2));
  const jobs = [...targets.map((t, i) => ({ t, rate: rates[i]! })), { t: targets[floor.baseline]!, rate: rates[floor.at]! }];
  const half = jobs.map(() => [] as LoadFigures[]);
  const histogramsBefore = await Promise.all(targets.map((t) => (t.metricsPort ? durationBuckets(t.metricsPort) : undefined)));
  for (let round = 0; round < halfRounds; round++) {
    for (const j of rotated(jobs.length, round)) {
      const { t, rate } = jobs[j]!;
      half[j]!.push(await load(t.port, ca, { durationSec: durationSec / halfRounds, connections: Math.min(connections, 16), rate }));
    }
  }
  const halfFigures = half.map((runs) => fold(runs, durationSec));
  const out: TargetFigures[] = [];
  for (const [i, t] of targets.entries()) {
    const rss = await rssOf(t.proc);
    const before = histogramsBefore[i];
    out.push({
      saturation: saturation[i]!, halfRate: { ...halfFigures[i]!, rate: rates[i]! },
      ...(before && t.metricsPort ? { halfRateServerSide: serverSideLatency(before, await durationBuckets(t.metricsPort)) } : {}),
      idleRssMiB: rss.idle / 2 ** 20, peakRssMiB: rss.peak / 2 ** 20,
      cpuUsPerRequest: cpu[i]! / Math.max(1, saturation[i]!.requests),
    });
  }
  return { figures: out, floor: { ...halfFigures[jobs.length - 1]!, rate: rates[floor.at]! } };
}

const DIST_SERVER = new URL('../dist/server/server.js', import.meta.url).href;

export async function benchServer(options: ServerBenchOptions = {}): Promise<ServerBenchFigures> {
  // Measure what the image runs: the compiled JavaScript.
  execFileSync('npm', ['run', 'build'], { stdio: 'inherit', cwd: fileURLToPath(new URL('..', import.meta.url)) });
  const durationSec = options.durationSec ?? 15;
  const connections = options.connections ?? 32;
  const rounds = options.rounds ?? 5;
  const { generateCerts } = await import('../src/server/certgen.ts');
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-bench-'));
  try {
    const certs = await generateCerts({ names: ['localhost', '127.0.0.1'] });
    await writeFile(join(dir, 'tls.crt'), certs.cert);
    await writeFile(join(dir, 'tls.key'), certs.key, { mode: 0o600 });
    const production = PRODUCTION_NODE_OPTIONS.split(' ');
    const targets: Target[] = [];
    try {
      // The image's settings, or Node's and glibc's defaults.
      for (const [role, asImage] of [['bare', false], ['layer', true], ['real', true], ['real', false]] as const) {
        targets.push(await spawnTarget(role, dir, asImage ? production : [], asImage ? PRODUCTION_ENV : {}));
      }
      const { figures, floor } = await measureInterleaved(targets, certs.caCert, durationSec, rounds, connections, { baseline: 0, at: 2 });
      const [bare, layer, real, nodeDefaults] = figures;
      return { real: real!, bare: bare!, layer: layer!, nodeDefaults: nodeDefaults!, bareAtWebhookRate: floor, throughputRatio: real!.saturation.reqPerSec / bare!.saturation.reqPerSec, durationSec, rounds, connections };
    } finally {
      for (const t of targets) {
        t.proc.removeAllListeners('exit');
        t.proc.kill('SIGKILL');
      }
    }
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

autocannon against the real server (built \`dist/\`, as the image runs it, with the image's Node options
\`${PRODUCTION_NODE_OPTIONS}\` that deploy/ repeats and its glibc settings \`${Object.entries(PRODUCTION_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}\`; \`policies/\` bundle, info logging, metrics) and, in the same run, a bare fastify
HTTPS handler that parses the same AdmissionReview and answers allowed. Request mix: a realistic 3-container Pod and
its Deployment, each sent to /mutate then /validate. All servers run at once. Saturation (${f.connections} connections): they are
loaded in turn, ${f.rounds} rounds of ${f1(f.durationSec / f.rounds)} s each after a 2 s warm-up, each round starting with the next server,
so this machine's speed drift and any effect of running order hit them alike (req/s over all rounds, latencies the median of the rounds). Half rate: each server at a fixed rate of half its
saturation throughput (16 connections), in ${Math.max(1, Math.floor(f.rounds / 2))} interleaved rounds of ${f1(f.durationSec / Math.max(1, Math.floor(f.rounds / 2)))} s. autocannon's fixed-rate
mode sends from all its connections in lockstep, so the server sees bursts of 16 reviews at once and the last of a burst
waits for the other 15: that queueing, not a review's own time, sets these latencies (see the server-side figures below).

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
p99 at half rate: **${f2(f.real.halfRate.p99Ms)} ms** (target < 2 ms). This machine's floor at that load: the bare handler at the
webhook's rate (${f.bareAtWebhookRate.rate} req/s), in the same rounds, has p50 / p99 / p99.9 ${f2(f.bareAtWebhookRate.p50Ms)} / ${f2(f.bareAtWebhookRate.p99Ms)} / ${f2(f.bareAtWebhookRate.p999Ms)} ms.
${f.real.halfRateServerSide ? `Inside the server (its own \`kyverno_admission_review_duration_seconds\` from /metrics, request received to answer sent, over the
same half-rate runs: ${f.real.halfRateServerSide.reviews} reviews): 50% answered within ${f2(f.real.halfRateServerSide.p50UpToMs)} ms, 99% within ${f2(f.real.halfRateServerSide.p99UpToMs)} ms
(histogram bucket bounds).` : ''}
RSS of the webhook: ${f1(f.real.idleRssMiB)} MiB idle, ${f1(f.real.peakRssMiB)} MiB peak under load (target < 120 MiB);
bare: ${f1(f.bare.idleRssMiB)} / ${f1(f.bare.peakRssMiB)} MiB (idle measured after a full GC in both).
With Node's and glibc's defaults (heap sizing, malloc) instead of the production settings, the webhook does ${f.nodeDefaults.saturation.reqPerSec} req/s
(${((f.nodeDefaults.saturation.reqPerSec / f.real.saturation.reqPerSec) * 100).toFixed(0)}% of the production figure, ${f1(f.nodeDefaults.cpuUsPerRequest)} µs CPU per request) with
${f1(f.nodeDefaults.idleRssMiB)} MiB idle and ${f1(f.nodeDefaults.peakRssMiB)} MiB peak RSS.`;
}

/** For bench/run.ts: the figures as a BENCHMARKS.md section and a console summary. */
export async function runServerBench(options: ServerBenchOptions = {}): Promise<{ markdown: string; summary: ServerBenchFigures; figures: ServerBenchFigures }> {
  const figures = await benchServer(options);
  return { markdown: serverBenchMarkdown(figures), summary: figures, figures };
}

if (import.meta.main) {
  const durationSec = Number(process.env.BENCH_SECONDS ?? 15);
  const figures = await benchServer({ durationSec, ...(process.env.BENCH_ROUNDS ? { rounds: Number(process.env.BENCH_ROUNDS) } : {}) });
  console.log(JSON.stringify(figures, null, 2));
  console.log(serverBenchMarkdown(figures));
}
