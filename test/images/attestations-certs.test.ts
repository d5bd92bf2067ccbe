/**
 * Attestations made by real `cosign attest` with a test CA's Fulcio-style
 * certificate attached, verified with `keyless` (roots, subject, issuer,
 * extensions) and `certificates` attestors, as Kyverno's verifyImages
 * `attestations[].attestors` allow.
 */
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { startRegistry, pushImage } from '../support/registry/harness.ts';
import { createTestCA, attestWithCertificate } from '../support/cosign/ca.ts';
import { generateKeyPair, attestImage } from '../support/cosign/tools.ts';
import { RegistryClient } from '../../src/images/registry/client.ts';
import { closeHttpAgents } from '../../src/images/registry/http.ts';
import { verifyImageAttestations, type AttestationSpec, type ConditionEvaluator } from '../../src/images/cosign/attestations.ts';
import type { Attestor, KeylessAttestor, CertificateAttestor } from '../../src/images/cosign/types.ts';

const registry = await startRegistry();
t.teardown(async () => { closeHttpAgents(); await registry.stop(); });
const A = registry.address;
const [ca, foreignCa, key] = await Promise.all([createTestCA(), createTestCA(), generateKeyPair()]);
t.teardown(async () => { await ca.cleanup(); await foreignCa.cleanup(); await key.cleanup(); });

const SUBJECT = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';
const [leaf, foreignLeaf] = await Promise.all([
  ca.issueLeaf({ name: 'release', san: `URI:${SUBJECT}`, issuer: ISSUER, repository: 'acme/app' }),
  foreignCa.issueLeaf({ name: 'release', san: `URI:${SUBJECT}`, issuer: ISSUER, repository: 'acme/app' }),
]);

const VULN = 'https://cosign.sigstore.dev/attestation/vuln/v1';
const good = `${A}/att/good:v1`;
const foreign = `${A}/att/foreign:v1`;
const keyed = `${A}/att/keyed:v1`;
const bundled = `${A}/att/bundled:v1`;
const [goodDigest, foreignDigest, keyedDigest, bundledDigest] = await Promise.all([good, foreign, keyed, bundled].map((r) => pushImage(r)));
const predicate = (critical: number) => ({ scanner: { result: { summary: { CRITICAL: critical } } } });
await Promise.all([
  attestWithCertificate(`${A}/att/good@${goodDigest}`, leaf, predicate(0), 'vuln'),
  attestWithCertificate(`${A}/att/foreign@${foreignDigest}`, foreignLeaf, predicate(0), 'vuln'),
  // A plain key attestation: no certificate on the layer.
  attestImage(`${A}/att/keyed@${keyedDigest}`, key, predicate(0), 'vuln'),
  // Sigstore bundle (OCI 1.1 referrer): cosign stores only the leaf certificate, no chain.
  attestWithCertificate(`${A}/att/bundled@${bundledDigest}`, leaf, predicate(2), 'vuln', { bundle: true }),
]);

const client = new RegistryClient({ timeoutMs: 5000, retryDelayMs: 5 });
const noCriticals: ConditionEvaluator = (_c, s) => {
  const n = (s.predicate as ReturnType<typeof predicate>).scanner.result.summary.CRITICAL;
  return n === 0 ? { pass: true } : { pass: false, message: `CRITICAL is ${n}` };
};
const spec = (entry: Attestor): AttestationSpec[] => [{ predicateType: VULN, attestors: [{ entries: [entry] }], conditions: [{ all: [] }] }];
const keyless = (extra: Partial<KeylessAttestor> = {}): Attestor => ({ keyless: {
  subject: SUBJECT, issuer: ISSUER, roots: ca.rootPem, rekor: { ignoreTlog: true }, ctlog: { ignoreSCT: true }, ...extra,
} });
const certificates = (extra: Partial<CertificateAttestor> = {}): Attestor => ({ certificates: {
  rekor: { ignoreTlog: true }, ctlog: { ignoreSCT: true }, ...extra,
} });
const verify = (image: string, entry: Attestor) =>
  verifyImageAttestations(image, spec(entry), { client, evaluate: noCriticals, useCache: false });

t.test('keyless attestor: chain to custom roots, subject, issuer, extensions', async (t) => {
  const r = await verify(good, keyless());
  t.same(r, { verified: true, status: 'pass', image: `${A}/att/good@${goodDigest}`, digest: goodDigest,
    message: `verified image attestations for ${A}/att/good@${goodDigest}` });
  t.equal((await verify(good, keyless({ subject: undefined, subjectRegExp: '^https://github\\.com/acme/.*$' }))).status, 'pass');
  t.equal((await verify(good, keyless({ additionalExtensions: { githubWorkflowRepository: 'acme/app' } }))).status, 'pass');
});

t.test('keyless attestor: wrong identity, foreign CA, no certificate, SCT and tlog policy', async (t) => {
  const subject = await verify(good, keyless({ subject: 'https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main' }));
  t.equal(subject.status, 'fail');
  t.equal(subject.message, `failed to verify image ${good}: no matching attestations: none of the expected identities matched what was in the certificate, got subjects [${SUBJECT}] with issuer ${ISSUER}`);
  const issuer = await verify(good, keyless({ issuer: 'https://accounts.google.com' }));
  t.match(issuer.message, /none of the expected identities matched/);
  const ext = await verify(good, keyless({ additionalExtensions: { githubWorkflowRepository: 'acme/other' } }));
  t.match(ext.message, /expected extension githubWorkflowRepository to be acme\/other, got acme\/app$/);
  const f = await verify(foreign, keyless());
  t.equal(f.message, `failed to verify image ${foreign}: no matching attestations: x509: certificate signed by unknown authority`);
  const k = await verify(keyed, keyless());
  t.equal(k.message, `failed to verify image ${keyed}: no matching attestations: no certificate found on signature`);
  const noRoots = await verify(good, keyless({ roots: undefined }));
  t.match(noRoots.message, /keyless verification needs `roots`/);
  const sct = await verify(good, keyless({ ctlog: undefined }));
  t.match(sct.message, /no matching attestations: no embedded SCT in the certificate/);
  const tlog = await verify(good, keyless({ rekor: undefined }));
  t.match(tlog.message, /attestation not found in transparency log/);
});

t.test('certificates attestor: given certificate and/or chain', async (t) => {
  const chain = ca.intermediatePem + ca.rootPem;
  t.equal((await verify(good, certificates({ cert: leaf.certPem, certChain: chain }))).status, 'pass');
  t.equal((await verify(good, certificates({ cert: leaf.certPem }))).status, 'pass', 'the given certificate alone');
  t.equal((await verify(good, certificates({ certChain: chain }))).status, 'pass', "the attestation's certificate checked against the chain");
  const wrong = await verify(good, certificates({ cert: foreignLeaf.certPem }));
  t.equal(wrong.status, 'fail');
  t.match(wrong.message, /no matching attestations: invalid signature when validating ASN\.1 encoded signature$/);
  const foreignChain = await verify(foreign, certificates({ certChain: chain }));
  t.match(foreignChain.message, /x509: certificate signed by unknown authority$/);
  const bad = await verify(good, certificates({ cert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }));
  t.match(bad.message, /invalid certificate/);
});

t.test('keys attestors on a certificate attestation: the certificate\'s public key verifies, an unrelated key does not', async (t) => {
  const leafKey = new X509Certificate(leaf.certPem).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  t.equal((await verify(good, { keys: { publicKeys: leafKey, rekor: { ignoreTlog: true } } })).status, 'pass');
  const r = await verify(good, { keys: { publicKeys: key.publicKeyPem, rekor: { ignoreTlog: true } } });
  t.match(r.message, /no matching attestations: invalid signature when validating ASN\.1 encoded signature$/);
});

t.test('sigstore bundle attestations (cosignOCI11) with a keyless attestor', async (t) => {
  const oci11 = (entry: Attestor) => verifyImageAttestations(bundled, spec(entry), { client, evaluate: noCriticals, useCache: false, cosignOCI11: true });
  const r = await oci11(keyless({ roots: ca.intermediatePem + ca.rootPem }));
  t.equal(r.status, 'fail', 'verified, then the condition sees CRITICAL 2');
  t.equal(r.message, `.attestations[0].attestors[0].entries[0].keyless: attestation checks failed for ${A}/att/bundled@${bundledDigest} and predicate ${VULN}: CRITICAL is 2`);
  const rootOnly = await oci11(keyless());
  t.match(rootOnly.message, /no matching attestations: x509: certificate signed by unknown authority$/, 'the bundle carries no intermediate');
  const wrongSubject = await oci11(keyless({ roots: ca.intermediatePem + ca.rootPem, subject: 'https://example.com/other' }));
  t.match(wrongSubject.message, /none of the expected identities matched/);
});
