/**
 * Embedded SCTs checked offline against `ctlog.pubkey`: a test CA leaf
 * re-issued with an RFC 6962 SCT from a test CT log, signed by real
 * cosign, verified as keyless / certificates signatures and attestations.
 */
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, pushImage } from '../support/registry/harness.ts';
import { createTestCA, signWithCertificate, attestWithCertificate } from '../support/cosign/ca.ts';
import { createTestCTLog, embedSct } from '../support/cosign/ct.ts';
import { RegistryClient } from '../../src/images/registry/client.ts';
import { closeHttpAgents } from '../../src/images/registry/http.ts';
import { verifyImageSignatures } from '../../src/images/cosign/verify.ts';
import { verifyImageAttestations } from '../../src/images/cosign/attestations.ts';
import { verifyEmbeddedScts, ctLogKey } from '../../src/images/cosign/sct.ts';
import type { AttestorSet, CTLogConfig } from '../../src/images/cosign/types.ts';

const registry = await startRegistry();
t.teardown(async () => { closeHttpAgents(); await registry.stop(); });
const A = registry.address;
const ca = await createTestCA();
t.teardown(() => ca.cleanup());
const log = createTestCTLog();
const otherLog = createTestCTLog();

const SUBJECT = 'dev@example.com';
const ISSUER = 'https://accounts.example.com';
const leaf = await ca.issueLeaf({ name: 'ct', san: `email:${SUBJECT}`, issuer: ISSUER });
const [sctPem, forgedPem] = await Promise.all([embedSct(ca, leaf.certPem, log), embedSct(ca, leaf.certPem, log, { tamper: true })]);
const sctLeaf = { ...leaf, certPem: sctPem, certFile: join(ca.dir, 'ct-sct.pem') };
const forgedLeaf = { ...leaf, certPem: forgedPem, certFile: join(ca.dir, 'ct-forged.pem') };
await Promise.all([writeFile(sctLeaf.certFile, sctPem), writeFile(forgedLeaf.certFile, forgedPem)]);

const withSct = `${A}/ct/with-sct:v1`;
const forged = `${A}/ct/forged:v1`;
const plain = `${A}/ct/plain:v1`;
const [withSctDigest, forgedDigest, plainDigest] = await Promise.all([withSct, forged, plain].map((r) => pushImage(r)));
await Promise.all([
  signWithCertificate(`${A}/ct/with-sct@${withSctDigest}`, sctLeaf),
  attestWithCertificate(`${A}/ct/with-sct@${withSctDigest}`, sctLeaf, { ok: true }, 'vuln'),
  signWithCertificate(`${A}/ct/forged@${forgedDigest}`, forgedLeaf),
  signWithCertificate(`${A}/ct/plain@${plainDigest}`, leaf),
]);

const client = new RegistryClient({ timeoutMs: 5000, retryDelayMs: 5 });
const keyless = (ctlog: CTLogConfig | undefined): AttestorSet[] => [{ entries: [{ keyless: {
  subject: SUBJECT, issuer: ISSUER, roots: ca.rootPem, rekor: { ignoreTlog: true }, ctlog,
} }] }];
const verify = async (image: string, attestors: AttestorSet[]) => (await verifyImageSignatures(image, attestors, { client, useCache: false }));

t.test('verifyEmbeddedScts on the certificates themselves', async (t) => {
  const inter = new X509Certificate(ca.intermediatePem);
  t.equal(verifyEmbeddedScts(new X509Certificate(sctPem), inter, ctLogKey(log.pubkeyPem)), undefined);
  t.equal(verifyEmbeddedScts(new X509Certificate(sctPem), inter, ctLogKey(otherLog.pubkeyPem)),
    'embedded SCT was not issued by the configured CT log (ctlog.pubkey)');
  t.equal(verifyEmbeddedScts(new X509Certificate(forgedPem), inter, ctLogKey(log.pubkeyPem)), 'embedded SCT verification failed: invalid signature');
  t.equal(verifyEmbeddedScts(new X509Certificate(sctPem), new X509Certificate(ca.rootPem), ctLogKey(log.pubkeyPem)),
    'embedded SCT verification failed: invalid signature', 'the issuer key hash is part of the signed data');
  t.match(verifyEmbeddedScts(new X509Certificate(leaf.certPem), inter, ctLogKey(log.pubkeyPem)), /no embedded SCT/);
  t.throws(() => ctLogKey('not a key'), /invalid ctlog\.pubkey/);
});

t.test('keyless signatures: SCT verified against ctlog.pubkey', async (t) => {
  const ok = await verify(withSct, keyless({ pubkey: log.pubkeyPem }));
  t.equal(ok.status, 'pass', ok.message);
  const wrongLog = await verify(withSct, keyless({ pubkey: otherLog.pubkeyPem }));
  t.equal(wrongLog.status, 'fail');
  t.equal(wrongLog.message, `failed to verify image ${withSct}: .attestors[0].entries[0].keyless: no matching signatures: embedded SCT was not issued by the configured CT log (ctlog.pubkey)`);
  const bad = await verify(forged, keyless({ pubkey: log.pubkeyPem }));
  t.match(bad.message, /no matching signatures: embedded SCT verification failed: invalid signature$/);
  const none = await verify(plain, keyless({ pubkey: log.pubkeyPem }));
  t.match(none.message, /no matching signatures: no embedded SCT in the certificate/);
  const noKey = await verify(withSct, keyless(undefined));
  t.match(noKey.message, /embedded SCT cannot be verified offline: ctlog\.pubkey is not configured/);
  t.equal((await verify(forged, keyless({ pubkey: log.pubkeyPem, ignoreSCT: true }))).status, 'pass', 'ignoreSCT skips the check');
  const badKey = await verify(withSct, keyless({ pubkey: 'garbage' }));
  t.match(badKey.message, /keyless: invalid ctlog\.pubkey/);
});

t.test('certificates attestor: SCT checked with the issuer from the chain', async (t) => {
  const chain = ca.intermediatePem + ca.rootPem;
  const certs = (certChain: string | undefined): AttestorSet[] =>
    [{ entries: [{ certificates: { certChain, rekor: { ignoreTlog: true }, ctlog: { pubkey: log.pubkeyPem } } }] }];
  t.equal((await verify(withSct, certs(chain))).status, 'pass');
  t.equal((await verify(withSct, certs(undefined))).status, 'pass', 'the chain carried by the signature supplies the issuer');
  t.match((await verify(forged, certs(chain))).message, /embedded SCT verification failed/);
});

t.test('attestations: keyless attestor with ctlog.pubkey', async (t) => {
  const spec = (pubkey: string) => [{ predicateType: 'https://cosign.sigstore.dev/attestation/vuln/v1',
    attestors: [{ entries: [{ keyless: { subject: SUBJECT, issuer: ISSUER, roots: ca.rootPem, rekor: { ignoreTlog: true }, ctlog: { pubkey } } }] }] }];
  const evaluate = () => ({ pass: true });
  t.equal((await verifyImageAttestations(withSct, spec(log.pubkeyPem), { client, evaluate, useCache: false })).status, 'pass');
  const wrong = await verifyImageAttestations(withSct, spec(otherLog.pubkeyPem), { client, evaluate, useCache: false });
  t.equal(wrong.message, `failed to verify image ${withSct}: no matching attestations: embedded SCT was not issued by the configured CT log (ctlog.pubkey)`);
});
