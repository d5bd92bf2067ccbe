/**
 * The Node options the image runs the webhook with: the Dockerfile's
 * `ENV NODE_OPTIONS=...`, the one source the deploy manifests, the Helm chart
 * and the server benchmark are checked against.
 */
import { readFileSync } from 'node:fs';

export function imageNodeOptions(): string {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
  const m = /^ENV\s+NODE_OPTIONS="([^"]*)"/m.exec(dockerfile);
  if (!m) throw new Error('the Dockerfile sets no NODE_OPTIONS');
  return m[1]!;
}
