/**
 * Starts the real kube-apiserver + etcd harness built by test/cluster/build.sh
 * and hands back a kubeconfig and a kubectl runner. Always stopped: register
 * `stop` with t.teardown (or pass `t`), and a process exit kills it too.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  kubeconfig: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** Runs the harness's kubectl against this cluster; never throws on a non-zero exit. */
  kubectl(args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** SIGTERM, wait for a clean exit (SIGKILL after 30 s), remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** A tap test (or anything with teardown): stop() is registered before the start is awaited. */
  t?: { teardown(fn: () => unknown): void };
  /** Milliseconds to wait for READY (default 180 s: a cold etcd + apiserver on a busy 2-core machine). */
  readyTimeoutMs?: number;
}

/** Where build.sh puts the binaries (shared by every clone). */
export function clusterBinDir(): string {
  if (process.env.PORTCULLIS_CLUSTER_BIN_DIR) return process.env.PORTCULLIS_CLUSTER_BIN_DIR;
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'portcullis', 'bin');
}

/** Why the harness cannot run here, or undefined when both binaries are built. */
export function harnessMissing(): string | undefined {
  const bin = clusterBinDir();
  for (const name of ['portcullis-cluster', 'kubectl']) {
    if (!existsSync(join(bin, name))) return `${join(bin, name)} is not built (run: bash test/cluster/build.sh)`;
  }
  return undefined;
}

/**
 * Harness processes still running, with their kubeconfig dirs: stopped if this
 * process exits first (SIGTERM: the harness then removes its own data dir; it
 * also stops by itself when its parent dies without exiting normally).
 */
const running = new Map<ChildProcess, string>();
process.on('exit', () => {
  for (const [child, dir] of running) {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});

export async function startCluster(options: StartOptions = {}): Promise<Cluster> {
  const missing = harnessMissing();
  if (missing) throw new Error(missing);
  const bin = clusterBinDir();
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-cluster-'));
  const kubeconfig = join(dir, 'kubeconfig');

  // The harness makes (and on any exit removes) its own etcd data directory.
  const child = spawn(join(bin, 'portcullis-cluster'), ['--kubeconfig', kubeconfig], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.set(child, dir);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    running.delete(child);
    resolve(code);
  }));

  // The apiserver logs a lot; keep the tail for error messages.
  const logTail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    logTail.push(line);
    if (logTail.length > 60) logTail.shift();
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  options.t?.teardown(stop);

  const kubectl = (args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> =>
    new Promise((resolve) => {
      const proc = execFile(join(bin, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], {
        timeout: opts.timeoutMs ?? 60_000, maxBuffer: 32 * 1024 * 1024, env: { ...process.env, KUBECONFIG: kubeconfig },
      }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
      proc.stdin?.end(opts.input ?? '');
    });

  try {
    const server = await waitForReady(child, exited, options.readyTimeoutMs ?? 180_000, logTail);
    // READY means the harness saw /readyz ok; confirm the client path works too.
    const readyz = await kubectl(['get', '--raw=/readyz']);
    if (readyz.code !== 0 || readyz.stdout.trim() !== 'ok') {
      throw new Error(`kubectl get --raw=/readyz: ${readyz.stdout}${readyz.stderr}`);
    }
    return { kubeconfig, server, kubectl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function waitForReady(child: ChildProcess, exited: Promise<number | null>, timeoutMs: number, logTail: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`not READY after ${timeoutMs} ms`), timeoutMs);
    function fail(why: string): void {
      clearTimeout(timer);
      reject(new Error(`portcullis-cluster ${why}\n${logTail.join('\n')}`));
    }
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^READY (\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => fail(`exited with ${code} before READY`));
  });
}

/**
 * Installs CustomResourceDefinitions from YAML files or folders and waits until
 * every one is Established (served). Server-side apply: Kyverno's CRDs are far
 * larger than the 256 KiB client-side apply keeps in its annotation.
 */
export async function installCrds(cluster: Pick<Cluster, 'kubectl'>, paths: readonly string[]): Promise<string[]> {
  const files = paths.flatMap((p) => ['-f', p]);
  const applied = await cluster.kubectl(['apply', '--server-side', '--field-manager=portcullis-tests', ...files, '-o', 'name'], { timeoutMs: 120_000 });
  if (applied.code !== 0) throw new Error(`installing CRDs failed: ${applied.stderr}`);
  const names = applied.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('customresourcedefinition'));
  if (names.length === 0) throw new Error(`no CustomResourceDefinition in ${paths.join(', ')}`);
  const wait = await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...names], { timeoutMs: 90_000 });
  if (wait.code !== 0) throw new Error(`CRDs not Established: ${wait.stderr}`);
  return names.map((n) => n.slice(n.indexOf('/') + 1));
}
