// Benchmark harness, not product code: the measured server child of bench/server.ts.
// Plain JavaScript on purpose: a .ts entry makes Node load its type stripper, which
// adds ~17 MiB to the RSS this benchmark reports (production runs the built dist/).
//
//   node bench/server-child.mjs ROLE DIR     ROLE: real | layer | bare; DIR holds tls.crt, tls.key
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const [role, dir] = process.argv.slice(2);
const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
let port;
let metricsPort;
if (role === 'real' || role === 'layer') {
  const { startServer } = await import(process.env.PORTCULLIS_BENCH_SERVER);
  const { createLogger } = await import(new URL('./logger.js', new URL(process.env.PORTCULLIS_BENCH_SERVER, 'file:///')).href);
  // 'layer': the same server with an engine that decides nothing, to attribute cost to HTTP/TLS/envelope vs policies.
  const noEngine = role === 'layer' ? {
    loader: async () => ({ policies: [], errors: [] }),
    createDecider: () => ({ evaluate: async (input) => ({ results: [], patchedResource: input.object, patches: [] }) }),
  } : {};
  // Production logging (one info line per decision, batched writes) into /dev/null.
  const server = await startServer({
    policyPaths: ['policies'], tls, host: '127.0.0.1', port: 0, metricsPort: 0,
    logger: createLogger({ level: 'info', dest: '/dev/null' }),
    ...noEngine,
  });
  if (!server.store.current) throw new Error('the policy bundle did not load');
  port = server.port;
  metricsPort = server.metricsPort;
} else {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ https: { cert: await readFile(tls.certFile), key: await readFile(tls.keyFile), minVersion: 'TLSv1.2' }, bodyLimit: 3 * 1024 * 1024 });
  const allow = async (request) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request.body.request.uid, allowed: true } });
  app.post('/validate', allow);
  app.post('/mutate', allow);
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = app.server.address().port;
}
// Idle RSS after a settle and a full collection (all servers alike): startup garbage is not footprint.
await new Promise((resolve) => setTimeout(resolve, 1000));
global.gc?.();
global.gc?.();
const idle = process.memoryUsage().rss;
let peak = idle;
setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50).unref();
process.on('message', (m) => {
  if (m.type === 'rss') process.send({ type: 'rss', idle, peak });
  if (m.type === 'cpu') process.send({ type: 'cpu', ...process.cpuUsage() });
});
process.send({ type: 'ready', port, metricsPort });
