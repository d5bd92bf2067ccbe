/**
 * Watch files/directories for changes: fs.watch for promptness plus a polling
 * fallback (fs.watch misses Kubernetes' symlink-swapped Secret/ConfigMap
 * volumes and some network filesystems). Both only schedule a check; the
 * check compares a stat signature, so the callback fires once per real change.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface Watcher {
  close(): void;
}

export interface WatchOptions {
  debounceMs?: number;
  pollMs?: number;
}

const MAX_ENTRIES = 5000;

async function signatureOf(path: string, out: string[]): Promise<void> {
  if (out.length > MAX_ENTRIES) return;
  let st;
  try {
    st = await stat(path); // follows symlinks: a swapped ..data link changes the target's ino/mtime
  } catch {
    out.push(`${path}:missing`);
    return;
  }
  if (st.isDirectory()) {
    let names: string[];
    try {
      names = (await readdir(path)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('..')) continue; // Kubernetes volume internals; their targets are seen through the links
      await signatureOf(join(path, name), out);
    }
  } else {
    out.push(`${path}:${st.ino}:${st.size}:${st.mtimeMs}`);
  }
}

export async function pathsSignature(paths: readonly string[]): Promise<string> {
  const out: string[] = [];
  for (const p of paths) await signatureOf(p, out);
  return out.join('\n');
}

export function watchPaths(paths: readonly string[], onChange: () => void, options: WatchOptions = {}): Watcher {
  const debounceMs = options.debounceMs ?? 250;
  const pollMs = options.pollMs ?? 5000;
  let closed = false;
  let last: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let checking = false;

  const check = async (): Promise<void> => {
    if (closed || checking) return;
    checking = true;
    try {
      const sig = await pathsSignature(paths);
      if (last !== undefined && sig !== last && !closed) onChange();
      last = sig;
    } finally {
      checking = false;
    }
  };
  const schedule = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => { void check(); }, debounceMs);
    timer.unref();
  };

  void check();
  const watchers: FSWatcher[] = [];
  // Directories are watched recursively; a file through its parent directory,
  // since editors and cert rotators replace files by rename.
  const targets = new Map<string, boolean>();
  for (const p of paths) {
    let isDir = false;
    try { isDir = statSync(p).isDirectory(); } catch { /* missing: watch the parent */ }
    if (isDir) targets.set(p, true);
    else if (!targets.has(dirname(p))) targets.set(dirname(p), false);
  }
  for (const [target, recursive] of targets) {
    try {
      const w = watch(target, { recursive, persistent: false }, schedule);
      w.on('error', () => {}); // polling still covers this path
      watchers.push(w);
    } catch {
      // Not watchable (missing, unsupported): polling covers it.
    }
  }
  const poll = setInterval(() => { void check(); }, pollMs);
  poll.unref();

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers) w.close();
    },
  };
}
