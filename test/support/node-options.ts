/**
 * The runtime environment the image runs the webhook with: the Dockerfile's
 * `ENV NODE_OPTIONS=...` and `ENV MALLOC_ARENA_MAX=...`, the one source the
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

/** glibc's arena cap, from the image: the benchmark runs the webhook with it. */
export function imageMallocArenaMax(): string {
  return imageEnv('MALLOC_ARENA_MAX');
}
