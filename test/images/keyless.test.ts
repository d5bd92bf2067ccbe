/**
 * Certificate-based signatures made by real cosign with a test CA issuing
 * Fulcio-style certificates, verified as `keyless` (custom roots, subject and
 * issuer, extensions) and as `certificates` attestors.
 */
import t from 'tap';
import { startRegistry, pushImage, getManifestJson, putManifest } from '../support/registry/harness.ts';
import { createTestCA, signWithCertificate } from '../support/cosign/ca.ts';
import { RegistryClient } from '../../src/images/registry/client.ts';
import { closeHttpAgents } from '../../src/images/registry/http.ts';
import { verifyImageSignatures, type VerificationResult } from '../../src/images/cosign/verify.ts';
import { signatureTag, ANNOTATION } from '../../src/images/cosign/signatures.ts';
import { parseCertificates, certificateSubjects, certificateIssuer, certificateExtension, checkIdentity } from '../../src/images/cosign/certs.ts';
import type { AttestorSet, KeylessAttestor } from '../../src/images/cosign/types.ts';

const registry = await startRegistry();
t.teardown(async () => { closeHttpAgents(); await registry.stop(); });
const A = registry.address;
const [ca, foreignCa] = await Promise.all([createTestCA(), createTestCA()]);
t.teardown(async () => { await ca.cleanup(); await foreignCa.cleanup(); });

const SUBJECT = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';
const [leaf, foreignLeaf] = await Promise.all([
  ca.issueLeaf({ name: 'release', san: `URI:${SUBJECT}`, issuer: ISSUER, repository: 'acme/app' }),
  foreignCa.issueLeaf({ name: 'release', san: `URI:${SUBJECT}`, issuer: ISSUER, repository: 'acme/app' }),
]);

const good = `${A}/keyless/good:v1`;
const foreign = `${A}/keyless/foreign:v1`;
const expired = `${A}/keyless/expired:v1`;
const [goodDigest, foreignDigest, expiredDigest] = await Promise.all([good, foreign, expired].map((r) => pushImage(r)));
await Promise.all([
  signWithCertificate(`${A}/keyless/good@${goodDigest}`, leaf),
  signWithCertificate(`${A}/keyless/foreign@${foreignDigest}`, foreignLeaf),
  signWithCertificate(`${A}/keyless/expired@${expiredDigest}`, leaf),
]);
// Same key and identity, but a certificate that expired in 2020: swap it into the signature layer.
const expiredPem = await ca.reissue('release', '20200101000000Z', '20200102000000Z');
const sigManifest = await getManifestJson(A, 'keyless/expired', signatureTag(expiredDigest)) as { layers: Array<{ annotations: Record<string, string> }> };
sigManifest.layers[0].annotations[ANNOTATION.certificate] = expiredPem;
await putManifest(A, 'keyless/expired', signatureTag(expiredDigest), sigManifest);

const client = new RegistryClient({ timeoutMs: 5000, retryDelayMs: 5 });
const keyless = (extra: Partial<KeylessAttestor> = {}): AttestorSet[] => [{ entries: [{ keyless: {
  subject: SUBJECT, issuer: ISSUER, roots: ca.rootPem, rekor: { ignoreTlog: true }, ctlog: { ignoreSCT: true }, ...extra,
} }] }];
const verify = async (image: string, attestors: AttestorSet[]): Promise<VerificationResult> =>
  await verifyImageSignatures(image, attestors, { client, useCache: false });

t.test('keyless: chain to custom roots, subject and issuer', async (t) => {
  const r = await verify(good, keyless());
  t.equal(r.status, 'pass', r.message);
  t.equal(r.message, `verified image signatures for ${good}`);
  t.equal((await verify(good, keyless({ subject: undefined, subjectRegExp: '^https://github\\.com/acme/.*@refs/heads/main$' }))).status, 'pass');
  t.equal((await verify(good, keyless({ issuer: undefined, issuerRegExp: 'githubusercontent' }))).status, 'pass');
  t.equal((await verify(good, keyless({ additionalExtensions: { githubWorkflowRepository: 'acme/app' } }))).status, 'pass');
});

t.test('keyless: wrong subject, issuer or extension', async (t) => {
  const subject = await verify(good, keyless({ subject: 'https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main' }));
  t.equal(subject.status, 'fail');
  t.equal(subject.message, `failed to verify image ${good}: .attestors[0].entries[0].keyless: no matching signatures: none of the expected identities matched what was in the certificate, got subjects [${SUBJECT}] with issuer ${ISSUER}`);
  const issuer = await verify(good, keyless({ issuer: 'https://accounts.google.com' }));
  t.match(issuer.message, /none of the expected identities matched/);
  const regexp = await verify(good, keyless({ subject: undefined, subjectRegExp: '^https://github\\.com/other/' }));
  t.equal(regexp.status, 'fail');
  const ext = await verify(good, keyless({ additionalExtensions: { githubWorkflowRepository: 'acme/other' } }));
  t.match(ext.message, /expected extension githubWorkflowRepository to be acme\/other, got acme\/app/);
});

t.test('keyless: foreign CA, expired certificate, missing roots, SCT and tlog policy', async (t) => {
  const f = await verify(foreign, keyless());
  t.equal(f.status, 'fail');
  t.match(f.message, new RegExp(`^failed to verify image ${foreign}: .*keyless: no matching signatures: x509: certificate signed by unknown authority$`));
  const e = await verify(expired, keyless());
  t.equal(e.status, 'fail');
  t.match(e.message, /no matching signatures: x509: certificate has expired or is not yet valid/);
  const noRoots = await verify(good, keyless({ roots: undefined }));
  t.match(noRoots.message, /keyless verification needs `roots`/);
  const sct = await verify(good, keyless({ ctlog: undefined }));
  t.match(sct.message, /no embedded SCT in the certificate/);
  const tlog = await verify(good, keyless({ rekor: undefined }));
  t.match(tlog.message, /signature not found in transparency log/);
  const keyOnly = await verify(`${A}/keyless/good@${goodDigest}`, [{ entries: [{ keys: { publicKeys: '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEDUJF8Bg6dhgtxldBCMsiATuLXiad\n9Wc4j6tkP15o1J9vq5HCQykPotogdCMZ6DpwFHNSQ96VguUmcINnHluCtQ==\n-----END PUBLIC KEY-----', rekor: { ignoreTlog: true } } }] }]);
  t.equal(keyOnly.status, 'fail', 'an unrelated key does not verify a certificate signature');
});

t.test('certificates attestor: given signing certificate and chain', async (t) => {
  const chain = ca.intermediatePem + ca.rootPem;
  const certs = (cert: string | undefined, certChain?: string): AttestorSet[] =>
    [{ entries: [{ certificates: { cert, certChain, rekor: { ignoreTlog: true }, ctlog: { ignoreSCT: true } } }] }];
  t.equal((await verify(good, certs(leaf.certPem, chain))).status, 'pass');
  t.equal((await verify(good, certs(leaf.certPem))).status, 'pass', 'without a chain only the signature is checked');
  t.equal((await verify(good, certs(undefined, chain))).status, 'pass', 'the certificate from the signature, checked against the chain');
  const wrongCert = await verify(good, certs(foreignLeaf.certPem));
  t.match(wrongCert.message, /\.certificates: no matching signatures: invalid signature when validating ASN\.1 encoded signature/);
  const foreignChain = await verify(foreign, certs(undefined, chain));
  t.match(foreignChain.message, /x509: certificate signed by unknown authority/);
});

t.test('certificate helpers on real certificates', async (t) => {
  const [cert] = parseCertificates(leaf.certPem);
  t.same(certificateSubjects(cert), [SUBJECT]);
  t.equal(certificateIssuer(cert), ISSUER);
  t.equal(certificateExtension(cert, 'githubWorkflowRepository'), 'acme/app');
  t.equal(certificateExtension(cert, 'githubWorkflowSha'), undefined);
  t.equal(checkIdentity(cert, { subject: SUBJECT, issuer: ISSUER }), undefined);
  t.throws(() => checkIdentity(cert, { subjectRegExp: 'x'.repeat(2000) }), /longer than 1024/);
  t.throws(() => parseCertificates('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), /invalid certificate/);
});
