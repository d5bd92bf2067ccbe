/**
 * `portcullis conformance DIR --out FILE`: run every Test suite below DIR
 * (each in a worker thread, with a time limit), aggregate per top-level folder
 * (pod-security, best-practices, other, *-cel …) and write a Markdown report
 * with every mismatching expectation. Always exits 0 — it is a report; a suite
 * that fails to load, throws or times out is counted as an error row.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';
import { parseCommand, type Output } from './args.ts';
import { Worker } from 'node:worker_threads';
import { discoverTestFiles, readTestFile } from './test/discover.ts';
import type { ResultRow } from './test/match.ts';
import { renderTable } from './test/output.ts';
import type { TestCaseReport } from './test/run.ts';

export type { Output } from './args.ts';

export interface SuiteResult {
  /** Suite folder relative to DIR (the folder holding `.kyverno-test/`). */
  suite: string;
  /** Top-level folder under DIR. */
  folder: string;
  /** Expected results declared by the Test (one per expectation and resource). */
  declared: number;
  rows: ResultRow[];
  error?: string;
  warnings: string[];
  durationMs: number;
}

export interface FolderStats {
  folder: string;
  suites: number;
  suiteErrors: number;
  expected: number;
  matched: number;
  /** Rows that passed only because the policy did not apply (expected was not `skip`). */
  excludedPasses: number;
}

export const CONFORMANCE_USAGE = `Usage: portcullis conformance DIR --out FILE [flags]

Runs every Kyverno CLI Test suite (kyverno-test.yaml) below DIR and writes a Markdown report.

Flags:
      --out FILE        report file (required)
      --timeout SECONDS time limit per suite (default 60)
  -j, --jobs N          suites run in parallel (default 1)
  -f, --file-name NAME  test file name (default kyverno-test.yaml)
  -h, --help            show this help
`;

/** Suite folder and top-level folder of a Test file. */
export function suiteLocation(root: string, testFile: string): { suite: string; folder: string } {
  let dir = dirname(testFile);
  // The library keeps tests in `<policy>/.kyverno-test/`: the suite is the policy folder.
  if (dir.endsWith(`${sep}.kyverno-test`)) dir = dirname(dir);
  const rel = relative(root, dir) || '.';
  const parts = rel.split(sep);
  return { suite: parts.join('/'), folder: parts.length > 1 ? parts[0]! : '.' };
}

function rowMatched(r: ResultRow): boolean {
  return r.count !== 'fail';
}

export function aggregate(results: readonly SuiteResult[]): { folders: FolderStats[]; total: FolderStats } {
  const byFolder = new Map<string, FolderStats>();
  const total: FolderStats = { folder: 'Total', suites: 0, suiteErrors: 0, expected: 0, matched: 0, excludedPasses: 0 };
  for (const s of results) {
    let f = byFolder.get(s.folder);
    if (!f) {
      f = { folder: s.folder, suites: 0, suiteErrors: 0, expected: 0, matched: 0, excludedPasses: 0 };
      byFolder.set(s.folder, f);
    }
    const errored = s.error !== undefined;
    const expected = errored ? Math.max(s.declared, s.rows.length) : s.rows.length;
    const matched = errored ? 0 : s.rows.filter(rowMatched).length;
    const excluded = errored ? 0 : s.rows.filter((r) => r.excluded && r.expected !== 'skip').length;
    for (const t of [f, total]) {
      t.suites++;
      if (errored) t.suiteErrors++;
      t.expected += expected;
      t.matched += matched;
      t.excludedPasses += excluded;
    }
  }
  const folders = [...byFolder.values()].sort((a, b) => (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : 0));
  return { folders, total };
}

export function rate(matched: number, expected: number): string {
  if (expected === 0) return '-';
  return `${((100 * matched) / expected).toFixed(1)}%`;
}

function statsCells(s: FolderStats): string[] {
  return [s.folder, String(s.suites), String(s.suiteErrors), String(s.expected), String(s.matched), rate(s.matched, s.expected), String(s.excludedPasses)];
}

const STATS_HEADERS = ['Folder', 'Suites', 'Suite errors', 'Expected', 'Matched', 'Rate', 'Passed as excluded'];

export function renderStatsTable(folders: readonly FolderStats[], total: FolderStats): string {
  return renderTable(STATS_HEADERS, [...folders.map(statsCells), statsCells(total)]);
}

function md(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

interface Cause {
  reason: string;
  message: string;
  count: number;
  suites: Set<string>;
}

/**
 * Group mismatches by reason and message (policy/rule names and quoted values masked, so
 * the same engine gap in different policies groups together); top 20.
 */
export function topCauses(rows: readonly { suite: string; r: ResultRow }[], limit = 20): Cause[] {
  const byKey = new Map<string, Cause>();
  for (const { suite, r } of rows) {
    const reason = r.reason.startsWith('Resource diff') ? 'Resource diff' : r.reason;
    let message = r.message;
    // (Very short names are left alone: masking them would garble the text.)
    if (r.policy.length >= 3) message = message.split(r.policy).join('<policy>');
    if (r.rule.length >= 3) message = message.split(r.rule).join('<rule>');
    message = reason === 'Resource diff' ? '(patched/generated resource differs)' : message.replace(/'[^']*'|"[^"]*"/g, '…').slice(0, 160);
    const key = `${reason}\u0000${message}`;
    let c = byKey.get(key);
    if (!c) byKey.set(key, (c = { reason, message, count: 0, suites: new Set() }));
    c.count++;
    c.suites.add(suite);
  }
  return [...byKey.values()].sort((a, b) => b.count - a.count).slice(0, limit);
}

/** The Markdown report: summary table, suite errors, then every mismatching expectation. */
export function renderMarkdown(root: string, results: readonly SuiteResult[], generatedAt: Date): string {
  const { folders, total } = aggregate(results);
  const out: string[] = [];
  out.push('# Conformance report', '');
  out.push(`Kyverno CLI Test suites below \`${root}\`, run ${generatedAt.toISOString()}.`);
  out.push(`${total.suites} suites, ${total.expected} expected results, ${total.matched} matched (${rate(total.matched, total.expected)}).`);
  out.push('"Passed as excluded": rows that Kyverno scores as passing because the policy did not apply to the resource, although the Test expected another result.', '');
  out.push(`| ${STATS_HEADERS.join(' | ')} |`, `|${STATS_HEADERS.map(() => '---|').join('')}`);
  for (const f of folders) out.push(`| ${statsCells(f).join(' | ')} |`);
  out.push(`| ${statsCells(total).map((c) => `**${c}**`).join(' | ')} |`, '');

  const errored = results.filter((s) => s.error !== undefined);
  out.push(`## Suite errors (${errored.length})`, '');
  if (errored.length > 0) {
    out.push('| Suite | Error |', '|---|---|');
    for (const s of errored) out.push(`| ${md(s.suite)} | ${md(s.error!)} |`);
    out.push('');
  }

  const mismatches = results.flatMap((s) => (s.error === undefined ? s.rows.filter((r) => !rowMatched(r)).map((r) => ({ s, r })) : []));
  const causes = topCauses(mismatches.map((m) => ({ suite: m.s.suite, r: m.r })));
  if (causes.length > 0) {
    out.push('## Most frequent mismatch causes', '', '| Count | Suites | Reason | Message |', '|---|---|---|---|');
    for (const c of causes) out.push(`| ${c.count} | ${c.suites.size} | ${md(c.reason)} | ${md(c.message)} |`);
    out.push('');
  }
  out.push(`## Mismatching expectations (${mismatches.length})`, '');
  if (mismatches.length > 0) {
    out.push('| Suite | Policy | Rule | Resource | Expected | Got | Reason | Message |', '|---|---|---|---|---|---|---|---|');
    for (const { s, r } of mismatches) {
      const msg = r.message.length > 300 ? `${r.message.slice(0, 300)}…` : r.message;
      out.push(`| ${md(s.suite)} | ${md(r.policy)} | ${md(r.rule)} | ${md(r.resource)} | ${r.expected} | ${r.actual ?? '-'} | ${md(r.reason)} | ${md(msg)} |`);
    }
    out.push('');
  }
  const warned = results.filter((s) => s.warnings.length > 0);
  if (warned.length > 0) {
    out.push(`## Load warnings (${warned.length} suites)`, '');
    for (const s of warned) for (const w of s.warnings) out.push(`- ${md(s.suite)}: ${md(w)}`);
    out.push('');
  }
  return out.join('\n');
}

/** Count the expected results a Test declares (one per expectation and named resource). */
export async function declaredExpectations(testFile: string): Promise<number> {
  try {
    const spec = await readTestFile(testFile);
    return spec.results.reduce((n, r) => n + Math.max(1, r.resources.length), 0);
  } catch {
    return 0;
  }
}

type WorkerReply = { id?: number; ready?: boolean; report?: TestCaseReport; error?: string };

/** Time allowed for a worker to load its modules before the first suite. */
const WORKER_STARTUP_MS = 120_000;

/** A worker that runs one suite at a time; replaced after a timeout or crash. */
class SuiteWorker {
  private worker: Promise<Worker> | undefined;
  private nextId = 0;
  private readonly url: URL;
  private readonly execArgv: string[] | undefined;

  constructor(url: URL, execArgv?: string[]) {
    this.url = url;
    this.execArgv = execArgv;
  }

  /** Start a worker and wait for its `ready` message, so loading time is not charged to a suite. */
  private spawn(): Promise<Worker> {
    return new Promise((resolveSpawn, rejectSpawn) => {
      // A memory cap too: a runaway suite dies alone (and becomes an error row).
      const w = new Worker(this.url, { resourceLimits: { maxOldGenerationSizeMb: 1024 }, ...(this.execArgv ? { execArgv: this.execArgv } : {}) });
      const fail = (e: Error) => {
        clearTimeout(timer);
        w.off('message', onMessage);
        void w.terminate();
        rejectSpawn(e);
      };
      const onMessage = (m: WorkerReply) => {
        if (!m.ready) return;
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', fail);
        resolveSpawn(w);
      };
      const timer = setTimeout(() => fail(new Error('worker did not start')), WORKER_STARTUP_MS);
      w.on('message', onMessage);
      w.once('error', fail);
    });
  }

  async run(path: string, timeoutMs: number): Promise<{ report?: TestCaseReport; error?: string }> {
    let worker: Worker;
    try {
      worker = await (this.worker ??= this.spawn());
    } catch (e) {
      this.worker = undefined;
      return { error: `worker failed to start: ${(e as Error).message}` };
    }
    const id = ++this.nextId;
    return new Promise((resolveRun) => {
      let done = false;
      const finish = (r: { report?: TestCaseReport; error?: string }, kill: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (kill) {
          this.worker = undefined;
          void worker.terminate();
        }
        resolveRun(r);
      };
      const onMessage = (m: WorkerReply) => {
        if (m.id === id) finish(m.report ? { report: m.report } : { error: m.error ?? 'worker returned nothing' }, false);
      };
      const onError = (e: Error) => finish({ error: `suite crashed: ${e.message}` }, true);
      const onExit = (code: number) => finish({ error: `worker exited with code ${code}` }, true);
      const timer = setTimeout(() => finish({ error: `timed out after ${timeoutMs / 1000}s` }, true), timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage({ id, path });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await (await w.catch(() => undefined))?.terminate();
  }
}

/** The worker next to this module: `.ts` in a checkout, `.js` once compiled to dist/. */
function defaultWorkerUrl(): URL {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./test/conformance-worker${ext}`, import.meta.url);
}

/** Run all suites below root; never throws for a suite. */
export async function runConformance(
  root: string,
  options: {
    timeoutMs: number;
    jobs: number;
    fileName?: string;
    onSuite?: (s: SuiteResult, done: number, total: number) => void;
    /** Worker script (tests substitute one); receives `{ id, path }`, answers `{ id, report | error }`. */
    workerUrl?: URL;
    /** Node flags for the workers (default: the parent's). */
    workerExecArgv?: string[];
  },
): Promise<SuiteResult[]> {
  const { files } = await discoverTestFiles([root], options.fileName);
  const results: SuiteResult[] = new Array(files.length);
  let next = 0;
  let done = 0;
  const lane = async () => {
    const worker = new SuiteWorker(options.workerUrl ?? defaultWorkerUrl(), options.workerExecArgv);
    try {
      while (next < files.length) {
        const i = next++;
        const file = files[i]!;
        const { suite, folder } = suiteLocation(root, file);
        const declared = await declaredExpectations(file);
        const started = performance.now();
        const r = await worker.run(file, options.timeoutMs);
        const report = r.report;
        const result: SuiteResult = {
          suite,
          folder,
          declared,
          rows: report?.rows ?? [],
          warnings: report?.warnings ?? [],
          durationMs: Math.round(performance.now() - started),
        };
        const error = r.error ?? report?.error;
        if (error !== undefined) result.error = error;
        results[i] = result;
        options.onSuite?.(result, ++done, files.length);
      }
    } finally {
      await worker.close();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs, files.length || 1)) }, lane));
  return results;
}

export async function runConformanceCommand(
  argv: readonly string[],
  out: Output = process.stdout,
  workers: { workerUrl?: URL; workerExecArgv?: string[] } = {},
): Promise<number> {
  const parsed = parseCommand(argv, {
    out: { type: 'string' },
    timeout: { type: 'string' },
    jobs: { type: 'string', short: 'j' },
    'file-name': { type: 'string', short: 'f' },
    help: { type: 'boolean', short: 'h' },
  }, CONFORMANCE_USAGE, out, 2);
  if (typeof parsed === 'number') return parsed;
  const f = parsed.values;
  const root = parsed.positionals[0];
  if (root === undefined || f.out === undefined) {
    out.write(`Error: DIR and --out FILE are required\n\n${CONFORMANCE_USAGE}`);
    return 2;
  }
  const timeoutS = Number(f.timeout ?? '60');
  const jobs = Number(f.jobs ?? '1');
  if (!(timeoutS > 0) || !(jobs >= 1)) {
    out.write('Error: --timeout and --jobs must be positive numbers\n');
    return 2;
  }
  const results = await runConformance(root, {
    timeoutMs: timeoutS * 1000,
    jobs: Math.floor(jobs),
    fileName: f['file-name'],
    ...workers,
    onSuite: (s, done, total) => {
      const matched = s.rows.filter(rowMatched).length;
      const status = s.error !== undefined ? `ERROR ${s.error.split('\n')[0]}` : `${matched}/${s.rows.length}`;
      out.write(`[${done}/${total}] ${s.suite}: ${status}\n`);
    },
  });
  await writeFile(f.out, renderMarkdown(root, results, new Date()));
  const { folders, total } = aggregate(results);
  out.write('\n' + renderStatsTable(folders, total));
  out.write(`\nReport written to ${f.out}\n`);
  return 0;
}
