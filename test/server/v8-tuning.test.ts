/**
 * The server turns V8's Maglev tier off at start (see src/server/v8-tuning.ts).
 * Checked in a child process through V8's natives syntax: a function Maglev
 * compiles before the call stays interpreted after it.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

t.test('after tuneV8ForServing, V8 no longer compiles with Maglev', async (t) => {
  const child = fileURLToPath(new URL('./fixtures/v8-tuning-child.ts', import.meta.url));
  const out = JSON.parse(execFileSync(process.execPath, ['--allow-natives-syntax', child], { encoding: 'utf8' })) as { before: boolean; after: boolean };
  t.same(out, { before: true, after: false });
});
