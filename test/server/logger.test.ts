import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/server/logger.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('lines are batched, then flushed within flushMs', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'logger-')), 'out.log');
  const logger = createLogger({ dest: file, flushMs: 100, name: 'portcullis' });
  logger.info({ uid: 'u-1', allowed: true }, 'admission decision');
  await sleep(10);
  t.equal(readFileSync(file, 'utf8'), '', 'a short line waits for the batch');
  await sleep(250);
  const line = JSON.parse(readFileSync(file, 'utf8'));
  t.match(line, { level: 30, name: 'portcullis', uid: 'u-1', allowed: true, msg: 'admission decision' });
});

t.test('a full batch is written without waiting for the timer', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'logger-')), 'out.log');
  const logger = createLogger({ dest: file, flushMs: 60_000 });
  for (let i = 0; i < 400; i++) logger.info({ i }, 'line');
  await sleep(100);
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  t.ok(lines.length >= 200, `${lines.length} lines written before the flush timer`);
});

t.test('buffered lines are flushed when the process exits', async (t) => {
  const logger = fileURLToPath(new URL('../../src/server/logger.ts', import.meta.url));
  const script = `const { createLogger } = await import(${JSON.stringify(logger)});
    const log = createLogger({ flushMs: 60000 });
    log.warn({ reason: 'last words' }, 'exiting');
    process.exitCode = 0;`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  t.match(JSON.parse(out), { level: 40, reason: 'last words', msg: 'exiting' });
});

t.test('a crash still writes every line, queued and batched, in order', async (t) => {
  const logger = fileURLToPath(new URL('../../src/server/logger.ts', import.meta.url));
  const file = join(mkdtempSync(join(tmpdir(), 'logger-')), 'out.log');
  // 1,000 lines: several batches handed to the sink, the last one still open when the process dies.
  const script = `const { createLogger } = await import(${JSON.stringify(logger)});
    const log = createLogger({ dest: ${JSON.stringify(file)}, flushMs: 60000 });
    for (let i = 0; i < 1000; i++) log.info({ i }, 'line');
    throw new Error('crash');`;
  t.throws(() => execFileSync(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' }), 'the process crashed');
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).i);
  t.same(lines, Array.from({ length: 1000 }, (_, i) => i));
});

t.test("pino's logger.flush(cb) writes the open batch and calls back", async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'logger-')), 'out.log');
  const logger = createLogger({ dest: file, flushMs: 60_000 });
  logger.info({ uid: 'u-2' }, 'admission decision');
  await new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve())));
  // As with sonic-boom's own flush (minLength 0), the callback means "handed to the file", not "on disk".
  for (let i = 0; i < 50 && readFileSync(file, 'utf8') === ''; i++) await sleep(10);
  t.match(JSON.parse(readFileSync(file, 'utf8')), { uid: 'u-2' }, 'written long before the 60 s flush timer');
});

t.test('on exit, a full non-blocking stdout pipe is waited for, not given up on', async (t) => {
  const logger = fileURLToPath(new URL('../../src/server/logger.ts', import.meta.url));
  // net.Socket on fd 1 makes the pipe non-blocking, as it is when a runtime shares it. The pipe is
  // filled until it answers EAGAIN, then an open batch of lines must be written at exit.
  const script = `const { Socket } = await import('node:net'); new Socket({ fd: 1, readable: false });
    const { writeSync } = await import('node:fs');
    const filler = Buffer.alloc(4096, 'f'); filler[4095] = 10;
    for (;;) { try { writeSync(1, filler); } catch { break; } }
    const { createLogger } = await import(${JSON.stringify(logger)});
    const log = createLogger({ flushMs: 60000 });
    for (let i = 0; i < 60; i++) log.info({ i, pad: 'x'.repeat(150) }, 'line');
    process.exit(0);`;
  // The reader (a shell pipeline) starts only after 300 ms: until then the pipe stays full.
  const out = execFileSync('sh', ['-c', `"${process.execPath}" --input-type=module -e "$SCRIPT" | (sleep 0.3; cat)`],
    { encoding: 'utf8', env: { ...process.env, SCRIPT: script } });
  const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { i: number }).i);
  t.same(lines, Array.from({ length: 60 }, (_, i) => i), 'every line, in order');
});
