import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get as httpGet } from 'node:http';
import { connect } from 'node:tls';
import { generateCerts } from '../../src/server/certgen.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import { captureLogger, policy, postJson, results, review, rule, scripted, until } from './fixtures/helpers.ts';

interface Reply { status: number; body: string }

const post = (port: number, ca: string, path: string, payload: unknown): Promise<Reply> => postJson(port, ca, path, payload);

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** Handshake with the given CA only; resolves to the negotiated protocol or the error code. */
function handshake(port: number, ca: string, options: { maxVersion?: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' } = {}): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...options }, () => {
      resolve(socket.getProtocol() ?? 'unknown');
      socket.end();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(`error:${err.code ?? err.message}`));
  });
}

t.test('admission over a real TLS socket, metrics on a separate plain port, cert rotation, graceful close', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const first = await generateCerts({ names: ['localhost', '127.0.0.1'] });
  const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(files.certFile, first.cert);
  await writeFile(files.keyFile, first.key);

  const strict = policy({ name: 'disallow-privileged-containers', rules: [{ name: 'privileged-containers' }] });
  let gate: Promise<void> | undefined;
  const decider = scripted(async (input) => {
    if (gate) await gate;
    const privileged = JSON.stringify(input.object).includes('"privileged":true');
    return results(input, [{ policy: strict, rules: [rule('privileged-containers', privileged ? 'fail' : 'pass', 'Privileged mode is disallowed.')] }]);
  });
  const log = captureLogger();
  const server: RunningServer = await startServer({
    policyPaths: [], tls: files, host: '127.0.0.1', port: 0, metricsPort: 0, logger: log.logger,
    loader: async () => ({ policies: [strict], errors: [] }), createDecider: () => decider,
    processMetrics: false, watchPollMs: 50,
  });
  let closed = false;
  t.teardown(() => (closed ? undefined : server.close()));

  t.equal(await handshake(server.port, first.caCert, { maxVersion: 'TLSv1.1' }).then((r) => r.startsWith('error:')), true, 'TLS 1.1 refused');
  t.match(await handshake(server.port, first.caCert), /^TLSv1\.[23]$/);

  const allowed = await post(server.port, first.caCert, '/validate', review({ uid: 'tls-1' }));
  t.equal(allowed.status, 200);
  t.same(JSON.parse(allowed.body).response, { uid: 'tls-1', allowed: true });
  const privilegedPod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad' }, spec: { containers: [{ name: 'c', image: 'x', securityContext: { privileged: true } }] } };
  const denied = JSON.parse((await post(server.port, first.caCert, '/validate', review({ uid: 'tls-2', object: privilegedPod }))).body);
  t.equal(denied.response.allowed, false);
  t.equal(denied.response.status.code, 403);

  const metricsText = await scrape(server.metricsPort!);
  t.match(metricsText, /kyverno_admission_requests_total\{resource_kind="Pod",resource_namespace="default",resource_request_operation="create",request_allowed="true"\} 1/);
  t.match(metricsText, /kyverno_admission_requests_total\{[^}]*request_allowed="false"\} 1/);
  t.match(metricsText, /kyverno_policy_results_total\{[^}]*policy_name="disallow-privileged-containers"[^}]*rule_result="fail"[^}]*\} 1/);
  t.match(metricsText, /kyverno_policy_rule_info_total\{[^}]*rule_name="privileged-containers"[^}]*\} 1/);
  t.match(metricsText, /kyverno_policy_changes_total\{[^}]*policy_change_type="created"\} 1/);

  // Rotation: a new CA and certificate written in place are picked up without restart.
  const second = await generateCerts({ names: ['localhost', '127.0.0.1'] });
  await writeFile(files.keyFile, second.key);
  await writeFile(files.certFile, second.cert);
  t.ok(await until(async () => /^TLSv1/.test(await handshake(server.port, second.caCert))), 'new certificate served');
  t.match(await handshake(server.port, first.caCert), /^error:/, 'old CA no longer verifies');
  t.ok(log.lines.some((l) => l.msg === 'serving certificate reloaded'));

  // A broken pair is refused and the current certificate keeps serving.
  await writeFile(files.certFile, 'not a certificate');
  t.ok(await until(() => log.lines.some((l) => l.msg === 'serving certificate change not applied; keeping the current certificate')));
  t.match(await handshake(server.port, second.caCert), /^TLSv1/);

  // Graceful close: an in-flight review completes; new connections are refused afterwards.
  let release!: () => void;
  gate = new Promise((r) => (release = r));
  const inFlight = post(server.port, second.caCert, '/validate', review({ uid: 'in-flight' }));
  t.ok(await until(() => decider.calls.length === 3), 'review reached the engine');
  const closing = server.close();
  closed = true;
  release();
  const finished = await inFlight;
  t.equal(finished.status, 200);
  t.equal(JSON.parse(finished.body).response.uid, 'in-flight');
  await closing;
  t.match(await handshake(server.port, second.caCert), /^error:ECONNREFUSED/);
});
