/**
 * CEL http.Get / http.Post against a real HTTP server on 127.0.0.1: the
 * webhook's client reaches only URLs under the operator's prefixes (checked
 * on the parsed URL), follows no redirect to another origin, and bounds time
 * and size; offline the calls are a clear error. x509.decode returns Kyverno's
 * CertificateOutput fields.
 */
import t from 'tap';
import 'reflect-metadata';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { httpCaller, parseAllowPrefixes } from '../../src/server/cel-http.ts';
import { compileExpression } from '../../src/cel/env.ts';
import { toJson } from '../../src/cel/values.ts';
import { parsePolicyText } from '../../src/policy/load.ts';
import { compilePolicies } from '../../src/policy/compile.ts';
import { Engine } from '../../src/engine/engine.ts';
import { ServerResolver } from '../../src/server/resolver.ts';
import { runServeCommand } from '../../src/cli/serve.ts';
import type { AdmissionInput, JsonObject } from '../../src/engine/types.ts';

const body = (req: IncomingMessage) => new Promise<string>((resolve) => {
  let s = '';
  req.on('data', (c: Buffer) => { s += c.toString(); });
  req.on('end', () => resolve(s));
});

async function startApi(): Promise<{ server: Server; base: string }> {
  const server = createServer(async (req, res) => {
    const json = (status: number, v: unknown, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(v));
    const url = new URL(req.url!, 'http://x');
    switch (url.pathname) {
      case '/api/data': return json(200, { allowed: true, team: req.headers['x-team'] ?? null });
      case '/api/list': return json(200, [1, 2, 3]);
      case '/api/echo': return json(200, { method: req.method, body: JSON.parse(await body(req)), type: req.headers['content-type'] });
      case '/api/missing': return json(404, { message: 'nope' });
      case '/api/not-json': return res.writeHead(200).end('<html>');
      case '/api/big': return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ s: 'x'.repeat(4096) }));
      case '/api/hang': return; // never answers
      case '/api/redirect-ok': return json(302, {}, { location: '/api/data' });
      case '/api/redirect-out': return json(302, {}, { location: '/secret' });
      case '/api/redirect-host': return json(302, {}, { location: `http://localhost:${(server.address() as { port: number }).port}/api/data` });
      case '/secret': return json(200, { secret: true });
      case '/api2/data': return json(200, { sibling: true });
      default: return json(404, {});
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

t.test('httpCaller: allowed prefixes, refusals, limits', async (t) => {
  const { server, base } = await startApi();
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  const call = httpCaller({ allow: [`${base}/api/`], timeoutMs: 300, maxBytes: 1024 });
  const get = (url: string, headers: Record<string, string> = {}) => call({ method: 'GET', url, headers });

  t.same(await get(`${base}/api/data`, { 'X-Team': 'red' }), { allowed: true, team: 'red' }, 'GET with headers');
  t.same(await get(`${base}/api/list`), [1, 2, 3], 'any JSON value');
  t.same(await call({ method: 'POST', url: `${base}/api/echo`, headers: {}, body: { a: [1] } }),
    { method: 'POST', body: { a: [1] }, type: 'application/json' }, 'POST sends the body as JSON');
  t.same(await get(`${base}/api/redirect-ok`), { allowed: true, team: null }, 'a same-origin redirect inside the allow list is followed');

  await t.rejects(get(`${base}/secret`), /is not allowed by the server's CEL http allow list/);
  await t.rejects(get(`${base}/api2/data`), /not allowed/, 'a sibling path is not under the prefix');
  await t.rejects(get(`${base}/api/../secret`), /\/secret is not allowed/, 'dot segments are resolved before matching');
  await t.rejects(get(`${base}/api/%2e%2e/secret`), /\/secret is not allowed/, 'encoded dot segments too');
  await t.rejects(get(`http://127.0.0.1:1@${base.slice(7)}/api/data`), /credentials/);
  await t.rejects(get(`${base.replace('127.0.0.1', 'localhost')}/api/data`), /not allowed/, 'another host');
  await t.rejects(get('file:///etc/passwd'), /not allowed/);
  await t.rejects(get(`${base}/api/redirect-out`), /\/secret is not allowed/, 'a redirect outside the prefix');
  await t.rejects(get(`${base}/api/redirect-host`), /redirect to another host \(http:\/\/localhost:\d+\) refused/);
  await t.rejects(get(`${base}/api/missing`), /^HTTP 404 Not Found$/);
  await t.rejects(get(`${base}/api/not-json`), /Unable to decode JSON body/);
  await t.rejects(get(`${base}/api/big`), /response exceeds 1024 bytes/);
  await t.rejects(get(`${base}/api/hang`), /timed out after 300 ms/);
  await t.rejects(get(`${base}/api/data`, { Host: 'evil' }), /header "Host" may not be set/);

  const off = httpCaller({ allow: [] });
  await t.rejects(off({ method: 'GET', url: `${base}/api/data`, headers: {} }), /CEL http calls are disabled \(allow URL prefixes with --cel-http-allow\)/);
});

t.test('allow prefixes are checked when the server starts', async (t) => {
  t.throws(() => parseAllowPrefixes(['api.example.com/v1']), /not an absolute URL/);
  t.throws(() => parseAllowPrefixes(['ftp://example.com/']), /only http and https/);
  t.throws(() => parseAllowPrefixes(['https://user:pw@example.com/']), /no credentials/);
  t.throws(() => new ServerResolver({ celHttp: { allow: ['https://example.com/?q=1'] } }), /no credentials, query or fragment/);
  t.same(parseAllowPrefixes(['https://example.com']), [{ origin: 'https://example.com', path: '/' }]);
  // `serve --cel-http-allow` refuses a bad prefix as a usage error, before anything starts.
  const write = process.stderr.write;
  let said = '';
  process.stderr.write = ((s: string) => { said += s; return true; }) as typeof process.stderr.write;
  try {
    t.equal(await runServeCommand(['--cel-http-allow', 'https://ok.example/', '--cel-http-allow', 'nope']), 2);
  } finally {
    process.stderr.write = write;
  }
  t.match(said, /invalid CEL http allow prefix "nope"/);
});

const input = (): AdmissionInput => ({
  operation: 'CREATE', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' } }, oldObject: null,
  kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'default', userInfo: {}, roles: [], clusterRoles: [],
});

function engine(expression: string, resolver: ServerResolver): Engine {
  const loaded = parsePolicyText(`apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: http-check}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - expression: ${JSON.stringify(expression)}
    message: not allowed by the service
`, 'p.yaml');
  return new Engine(compilePolicies(loaded.policies).policies, { resolver });
}

t.test('http.Get / http.Post in a ValidatingPolicy through the webhook resolver', async (t) => {
  const { server, base } = await startApi();
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  const allowed = new ServerResolver({ celHttp: { allow: [`${base}/api/`] } });
  const rules = async (expr: string, r = allowed) => (await engine(expr, r).evaluate(input(), { mode: 'validate' })).results[0]!.rules.map((x) => [x.status, x.message]);

  t.same(await rules(`http.Get('${base}/api/data').allowed && http.Get('${base}/api/data', {'X-Team': 'red'}).team == 'red'`), [['pass', 'success']]);
  t.same(await rules(`http.Post('${base}/api/echo', {'n': object.metadata.name}).body.n == 'p' && http.Post('${base}/api/echo', 'x', {'Content-Type': 'text/json'}).type == 'text/json'`), [['pass', 'success']]);
  t.same(await rules(`http.Get('${base}/api/data').team == 'blue'`), [['fail', 'not allowed by the service']]);
  const [denied] = await rules(`http.Get('${base}/secret').secret`);
  t.equal(denied![0], 'error');
  t.match(denied![1], /request failed: .*\/secret is not allowed by the server's CEL http allow list/);
  const [off] = await rules(`http.Get('${base}/api/data').allowed`, new ServerResolver());
  t.match(off![1], /request failed: .*CEL http calls are disabled/, 'off by default');
  const [missing] = await rules(`http.Get('${base}/api/missing').allowed`);
  t.match(missing![1], /request failed: HTTP 404 Not Found/);
});

// Kyverno's own x509 test certificate (pkg/cel/libs/x509): RSA, self-signed CA, three extensions.
const KYVERNO_CERT = `-----BEGIN CERTIFICATE-----
MIIC7TCCAdWgAwIBAgIBADANBgkqhkiG9w0BAQsFADAYMRYwFAYDVQQDDA0qLmt5
dmVybm8uc3ZjMB4XDTIyMTAxMDExNDYzMloXDTIzMTAxMDEyNDYzMlowGDEWMBQG
A1UEAwwNKi5reXZlcm5vLnN2YzCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoC
ggEBAOKF+2P0Ufp855hpdsGD4lYkd6oU7HZAOWm1XskAMwrdsqWwTNNAinyHRoPQ
IbNbGDQ+r6Cggc2mlxHJ90PnC2weHj5otaD17Z+ARZpJZ4HMWkEfFt8sxwo9vuQJ
RWihqNwFheowjswoSB1DHnPufrZHfztkMoRx278ZfHaIMdlSTg50ektkNDoHA3OJ
sxxw54X3HR1iq6SZwN8xNT0TI6B6BbfAYWMNmKCiZ2iV6kW//XnTEqGd2WcmhuP0
SjwO4tCJbj9oV6+Bj/uhFr7J4foErMaodYDBtQs/ul2tcAwSBHfnC2KcLbiZTZsC
0Rs0WPJ4YwF/cOsD7Z/RmLs4FHsCAwEAAaNCMEAwDgYDVR0PAQH/BAQDAgKkMA8G
A1UdEwEB/wQFMAMBAf8wHQYDVR0OBBYEFJaK+3Wfnf7rVkYBzMCLSaV56NMqMA0G
CSqGSIb3DQEBCwUAA4IBAQDY7F6b+t9BX7098JyGk6zeT39MoLdSv+8IaKXn+m8G
yOKn3CZkruko57ycvPd4taC0gggtmUYynFhwPMQr+boNrrK9rat8Jw3yPPsBq/8D
/s6tvwxSNXBfPUI5OvNIB/hA5XpJpdHQaCkYm+FWkcJsolkkbSOfVjUjImW26JHB
nnPPtR4Y7dx0SVoPS19IC0T5RmdvgqlXj4XbhTnX3QOujVHn8u+wQ8po7EngHDQs
+onfkp8ipe0QpEJL1ZdW2LhyDXGKrZ2y8UPZ9wYNzxHWaj1Thu4B9YFdsPUwWqSx
n9e+FygpoktlD8YgT7jwgiVKX7Koz++zyvMIdhvRrtgS
-----END CERTIFICATE-----`;

const decode = (pem: string) => toJson(compileExpression('x509.decode(cert)', ['cert']).evaluate({ cert: pem })) as JsonObject;

t.test("x509.decode: Kyverno's certificate fields", async (t) => {
  const out = decode(KYVERNO_CERT);
  t.equal(out.IsCA, true);
  t.equal(out.BasicConstraintsValid, true);
  t.equal(out.KeyUsage, 37, 'digitalSignature | keyEncipherment | certSign, as Go numbers them');
  t.equal(out.SerialNumber, 0);
  t.equal(out.PublicKeyAlgorithm, 1);
  t.equal(out.MaxPathLen, -1);
  t.equal(out.MaxPathLenZero, false);
  t.equal(out.NotBefore, '2022-10-10T11:46:32Z');
  t.equal(out.NotAfter, '2023-10-10T12:46:32Z');
  t.equal((out.Issuer as JsonObject).CommonName, '*.kyverno.svc');
  t.equal((out.Issuer as JsonObject).SerialNumber, '');
  t.equal((out.PublicKey as JsonObject).E, 65537);
  t.match((out.PublicKey as JsonObject).N, /^28595925905962223424520947352207105451744616797088171943239289907331901888529856098458304611629660120574607501039902142361333982065793213267074854658525100799280158707840279479550961169213763526857247298653141711003931642606662052674943191476488665842309583311097351331994267413776792462637192775240062778036062353517979538994974045127175206597906751521558536719043095219698535279694800624795673809356898452438518041024126624051887044932164506019573725987204208750674129677584956156611454245004918943771571492757639432459688931855526941886354880727024912384140238027697348634609952850513122734230521040730560514233467$/);
  const exts = out.Extensions as JsonObject[];
  t.equal(exts.length, 3);
  t.same(exts.map((e) => [e.Id, e.Critical]), [[[2, 5, 29, 15], true], [[2, 5, 29, 19], true], [[2, 5, 29, 14], false]]);
  t.equal(exts[0]!.Value, 'AwICpA==', 'the extension value DER, base64');
  // The raw parts are the DER slices of the certificate.
  const der = Buffer.from(out.Raw as string, 'base64');
  for (const k of ['RawTBSCertificate', 'RawSubject', 'RawIssuer', 'RawSubjectPublicKeyInfo']) {
    const part = Buffer.from(out[k] as string, 'base64');
    t.ok(part.length > 10 && der.includes(part), `${k} is a slice of Raw`);
  }
  t.equal(out.RawSubject, out.RawIssuer, 'self-signed');
  t.equal(Buffer.from(out.RawSubjectPublicKeyInfo as string, 'base64')[0], 0x30);
  t.equal(out.Subject, undefined, 'Kyverno\'s CEL output has no Subject field');
  t.equal(out.ExtKeyUsage, null);
  t.equal(out.DNSNames, null);
  t.equal(compileExpression("x509.decode(cert).IsCA && x509.decode(cert).Issuer.CommonName.endsWith('.kyverno.svc')", ['cert']).evaluate({ cert: KYVERNO_CERT }), true);
});

t.test('x509.decode: SANs, extended key usages, AIA, CRL and policies; errors', async (t) => {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 1024 };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0102', name: 'CN=leaf.test', notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2025-01-01T00:00:00Z'),
    signingAlgorithm: alg, keys,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'leaf.test' }, { type: 'ip', value: '10.0.0.1' }, { type: 'email', value: 'a@leaf.test' }]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.AuthorityInfoAccessExtension({ ocsp: ['http://ocsp.test'], caIssuers: ['http://ca.test/ca.crt'] }),
      new x509.CRLDistributionPointsExtension(['http://crl.test/ca.crl']),
      new x509.CertificatePolicyExtension(['2.23.140.1.2.1']),
      new x509.BasicConstraintsExtension(false),
    ],
  });
  const out = decode(cert.toString('pem'));
  t.equal(out.SerialNumber, 258);
  t.same(out.DNSNames, ['leaf.test']);
  t.same(out.IPAddresses, ['10.0.0.1']);
  t.same(out.EmailAddresses, ['a@leaf.test']);
  t.same(out.ExtKeyUsage, [1, 2], 'Go ExtKeyUsageServerAuth, ExtKeyUsageClientAuth');
  t.same(out.OCSPServer, ['http://ocsp.test']);
  t.same(out.IssuingCertificateURL, ['http://ca.test/ca.crt']);
  t.same(out.CRLDistributionPoints, ['http://crl.test/ca.crl']);
  t.same(out.PolicyIdentifiers, [[2, 23, 140, 1, 2, 1]]);
  t.equal(out.KeyUsage, 0);
  t.equal(out.IsCA, false);
  t.equal(out.BasicConstraintsValid, true);

  const ec = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const ecCert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=ec', keys: ec, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
  t.throws(() => decode(ecCert.toString('pem')), /certificate should use rsa algorithm/);
  t.throws(() => decode('not a valid PEM'), /failed to decode PEM block/);
  t.throws(() => decode('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'), /PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST/);
});

t.test('x509.decode: certificate requests', async (t) => {
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 1024 };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=req.test, O=Portcullis', keys, signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'req.test' }])],
  });
  const out = decode(csr.toString('pem'));
  t.equal((out.Subject as JsonObject).CommonName, 'req.test');
  t.same((out.Subject as JsonObject).Organization, ['Portcullis']);
  t.same(out.DNSNames, ['req.test']);
  t.same((out.Extensions as JsonObject[]).map((e) => e.Id), [[2, 5, 29, 17]]);
  t.equal((out.PublicKey as JsonObject).E, 65537);
  t.ok(Buffer.from(out.Raw as string, 'base64').includes(Buffer.from(out.RawTBSCertificateRequest as string, 'base64')));
});
