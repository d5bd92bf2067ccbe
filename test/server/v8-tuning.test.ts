/**
 * The server tunes V8 at start (see src/server/v8-tuning.ts), checked in child
 * processes: Maglev off (through V8's natives syntax: a function Maglev compiles
 * before the call stays interpreted after it), and scavenges without helper
 * threads (through --trace-gc-nvp's per-scavenge background time).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

t.test('after tuneV8ForServing, V8 no longer compiles with Maglev', async (t) => {
  const child = fileURLToPath(new URL('./fixtures/v8-tuning-child.ts', import.meta.url));
  const out = JSON.parse(execFileSync(process.execPath, ['--allow-natives-syntax', child], { encoding: 'utf8' })) as { before: boolean; after: boolean };
  t.same(out, { before: true, after: false });
});

t.test('after tuneV8ForServing, scavenges run on the main thread only', async (t) => {
  const child = fileURLToPath(new URL('./fixtures/v8-scavenge-child.ts', import.meta.url));
  const out = execFileSync(process.execPath, ['--trace-gc-nvp', child], { encoding: 'utf8' });
  const [before, after] = out.split('--- tuned ---');
  const helperMs = (text: string) => [...text.matchAll(/gc=s .*?background\.scavenge\.parallel=([\d.]+)/g)].map((m) => Number(m[1]));
  t.ok(helperMs(before!).some((ms) => ms > 0), 'untuned, helper threads share the scavenges');
  const tuned = helperMs(after!);
  t.ok(tuned.length > 0, `scavenges after tuning: ${tuned.length}`);
  t.ok(tuned.every((ms) => ms === 0), 'tuned, none uses them');
});
