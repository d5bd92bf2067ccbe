import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { runCertsCommand } from '../../src/cli/certs.ts';

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string) => { out.push(String(c)); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => { err.push(String(c)); return true; }) as typeof process.stderr.write;
  try {
    const code = await runCertsCommand(argv);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

t.test('portcullis certs writes a CA and a serving certificate and prints the caBundle', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-certs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'out');
  const r = await run(['--out', out, '--dns', 'portcullis.portcullis.svc,portcullis.portcullis.svc.cluster.local', '--dns', '127.0.0.1']);
  t.equal(r.code, 0);
  const ca = await readFile(join(out, 'ca.crt'));
  t.equal(r.stdout.trim(), ca.toString('base64'), 'caBundle is base64 of ca.crt');
  const cert = new X509Certificate(await readFile(join(out, 'tls.crt')));
  const caCert = new X509Certificate(ca);
  t.ok(caCert.ca);
  t.ok(cert.verify(caCert.publicKey), 'signed by the CA');
  t.notOk(cert.ca);
  t.equal(cert.subjectAltName, 'DNS:portcullis.portcullis.svc, DNS:portcullis.portcullis.svc.cluster.local, IP Address:127.0.0.1');
  t.ok(cert.checkHost('portcullis.portcullis.svc'));
  t.equal((await stat(join(out, 'tls.key'))).mode & 0o777, 0o600, 'key is 0600');
  const key = await readFile(join(out, 'tls.key'));
  t.doesNotThrow(() => createSecureContext({ cert: cert.toString(), key }), 'key matches the certificate');

  const again = await run(['--out', out, '--dns', 'other', '--if-missing']);
  t.equal(again.code, 0);
  t.equal(again.stdout.trim(), ca.toString('base64'), '--if-missing keeps the existing pair');
  t.same(await readFile(join(out, 'tls.key')), key);
});

t.test('usage errors', async (t) => {
  t.equal((await run(['--dns', 'x'])).code, 2, '--out required');
  t.equal((await run(['--out', '/tmp/x'])).code, 2, '--dns required');
  t.equal((await run(['--out', '/tmp/x', '--dns', 'a', '--bogus'])).code, 2);
  t.equal((await run(['--out', '/tmp/x', '--dns', 'a', '--days', '0'])).code, 2);
});
