import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { generateCerts } from '../../src/server/certgen.ts';
import { closeOnSignals, startServer } from '../../src/server/server.ts';
import { runServeCommand } from '../../src/cli/serve.ts';
import { captureLogger, results, review, scripted } from './fixtures/helpers.ts';

function call(port: number, ca: string, method: string, path: string, payload?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = payload === undefined ? undefined : JSON.stringify(payload);
    const req = request({ host: '127.0.0.1', port, path, method, ca, servername: 'localhost', agent: false, headers: data ? { 'content-type': 'application/json' } : {} }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

t.test('SIGTERM: unready while draining, still answering reviews, then a clean close', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-shutdown-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const certs = await generateCerts({ names: ['localhost'] });
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(tls.certFile, certs.cert);
  await writeFile(tls.keyFile, certs.key);
  const server = await startServer({
    policyPaths: [], tls, host: '127.0.0.1', port: 0, metricsPort: null, logger: captureLogger().logger, watch: false, processMetrics: false,
    loader: async () => ({ policies: [], errors: [] }), createDecider: () => scripted((i) => results(i, [])),
  });
  t.equal((await call(server.port, certs.caCert, 'GET', '/readyz')).status, 200);

  let released!: () => void;
  const drainGate = new Promise<void>((r) => (released = r));
  // SIGUSR2 stands in for SIGTERM (emitting SIGTERM would reach tap's own handlers).
  const exit = closeOnSignals(server, () => drainGate, ['SIGUSR2'], ['SIGUSR2']);
  process.emit('SIGUSR2', 'SIGUSR2');
  const ready = await call(server.port, certs.caCert, 'GET', '/readyz');
  t.equal(ready.status, 503);
  t.match(JSON.parse(ready.body).reasons, ['shutting down']);
  const answered = await call(server.port, certs.caCert, 'POST', '/validate', review({ uid: 'during-drain' }));
  t.equal(answered.status, 200, 'reviews still answered while draining');
  released();
  t.equal(await exit, 0);
  await t.rejects(call(server.port, certs.caCert, 'GET', '/healthz'), { code: 'ECONNREFUSED' });
});

t.test('serve: usage errors exit 2 without starting', async (t) => {
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    t.equal(await runServeCommand(['--port', 'abc']), 2);
    t.equal(await runServeCommand(['--log-level', 'loud']), 2);
    t.equal(await runServeCommand(['--unknown']), 2);
  } finally {
    process.stderr.write = write;
  }
});

t.test('serve: a missing certificate is a clean start failure (exit 1)', async (t) => {
  t.equal(await runServeCommand([
    '--policies', '/nonexistent-dir', '--tls-cert', '/nonexistent/tls.crt', '--tls-key', '/nonexistent/tls.key',
    '--port', '0', '--metrics-port', '0', '--log-level', 'silent',
  ]), 1);
});
