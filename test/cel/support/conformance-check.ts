/** Shared body of the per-family conformance tests: per-suite numbers and floors. */
import { existsSync } from 'node:fs';
import type { Test } from 'tap';
import { CONFORMANCE_ROOT, scoreFolders } from './conformance.ts';

export const hasConformanceData = existsSync(CONFORMANCE_ROOT);

export function checkFolders(t: Test, pattern: RegExp, minFolders: number): void {
  const scores = scoreFolders(pattern);
  t.ok(scores.length >= minFolders, `${scores.length} folders found`);
  let expected = 0;
  let matched = 0;
  for (const s of scores) {
    t.comment(`${s.suite}: ${s.matched}/${s.expected}`);
    for (const m of s.misses.slice(0, 5)) t.comment(`  ${m}`);
    expected += s.expected;
    matched += s.matched;
    t.ok(s.expected > 0, `${s.suite} has expectations`);
    t.ok(s.matched / s.expected >= 0.95, `${s.suite} reproduces at least 95% (${s.matched}/${s.expected})`);
  }
  t.ok(matched / expected >= 0.99, `overall ${matched}/${expected}`);
}
