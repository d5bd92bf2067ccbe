/**
 * The runtime environment the image runs the webhook with: the Dockerfile's
 * `ENV NODE_OPTIONS=...` and its glibc malloc settings, the one source the
 * deploy manifests, the Helm chart, `npm start` and the server benchmark are
 * checked against.
 */
import { readFileSync } from 'node:fs';

function imageEnv(name: string): string {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
  const m = new RegExp(`^ENV\\s+${name}="?([^"\\n]*)"?$`, 'm').exec(dockerfile);
  if (!m) throw new Error(`the Dockerfile sets no ${name}`);
  return m[1]!;
}

export function imageNodeOptions(): string {
  return imageEnv('NODE_OPTIONS');
}

/** The image's glibc malloc settings (environment variables read at process start). */
export function imageMallocEnv(): Record<string, string> {
  return { MALLOC_ARENA_MAX: imageEnv('MALLOC_ARENA_MAX'), MALLOC_MMAP_THRESHOLD_: imageEnv('MALLOC_MMAP_THRESHOLD_') };
}
