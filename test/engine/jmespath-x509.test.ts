import t from 'tap';
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { searchJMESPath } from '../../src/engine/jmespath/index.ts';
import type { JsonObject } from '../../src/engine/types.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

async function selfSigned(): Promise<string> {
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 1024 };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0102',
    name: 'CN=kyverno.test, O=Portcullis',
    notBefore: new Date('2024-01-01T00:00:00Z'),
    notAfter: new Date('2025-01-01T00:00:00Z'),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 2, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'kyverno.test' }]),
    ],
  });
  return cert.toString('pem');
}

t.test('x509_decode gives Go field names', async (t) => {
  const pem = await selfSigned();
  const out = searchJMESPath('x509_decode(@)', pem) as JsonObject;
  const subject = out.Subject as JsonObject;
  t.equal(subject.CommonName, 'kyverno.test');
  t.same(subject.Organization, ['Portcullis']);
  t.equal((out.Issuer as JsonObject).CommonName, 'kyverno.test');
  t.equal(out.NotBefore, '2024-01-01T00:00:00Z');
  t.equal(out.NotAfter, '2025-01-01T00:00:00Z');
  t.equal(out.SerialNumber, 258);
  t.equal(out.IsCA, true);
  t.equal(out.MaxPathLen, 2);
  t.same(out.DNSNames, ['kyverno.test']);
  t.equal((out.PublicKey as JsonObject).E, 65537);
  t.match((out.PublicKey as JsonObject).N, /^[0-9]+$/);
  t.equal(searchJMESPath("x509_decode(base64_decode('" + Buffer.from(pem).toString('base64') + "')).Subject.CommonName", null), 'kyverno.test');
  t.throws(() => searchJMESPath("x509_decode('nope')", null), { message: 'failed to decode PEM block' });
});
