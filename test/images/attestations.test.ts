/**
 * cosign attestations end to end: real registry, real `cosign attest` (DSSE +
 * in-toto), verification and condition evaluation through the caller's evaluator.
 */
import t from 'tap';
import { startRegistry, pushImage, crane } from '../support/registry/harness.ts';
import { generateKeyPair, attestImage, signImage } from '../support/cosign/tools.ts';
import { RegistryClient } from '../../src/images/registry/client.ts';
import { closeHttpAgents } from '../../src/images/registry/http.ts';
import { verifyImageAttestations, dssePae, type ConditionEvaluator, type InTotoStatement, type StatementsEntry } from '../../src/images/cosign/attestations.ts';
import { signatureTag } from '../../src/images/cosign/signatures.ts';
import { VerificationCache } from '../../src/images/cosign/cache.ts';

const registry = await startRegistry();
t.teardown(async () => { closeHttpAgents(); await registry.stop(); });
const A = registry.address;
const [key, other] = await Promise.all([generateKeyPair(), generateKeyPair()]);
t.teardown(async () => { await key.cleanup(); await other.cleanup(); });

const clean = `${A}/test/clean:v1`;
const vulnerable = `${A}/test/vulnerable:v1`;
const bare = `${A}/test/bare:v1`;
const bundled = `${A}/test/bundled:v1`;
const [cleanDigest, vulnDigest, bareDigest, bundledDigest] = await Promise.all([clean, vulnerable, bare, bundled].map((r) => pushImage(r)));
const VULN = 'https://cosign.sigstore.dev/attestation/vuln/v1';
await Promise.all([
  attestImage(`${A}/test/clean@${cleanDigest}`, key, { scanner: { result: { summary: { CRITICAL: 0, HIGH: 2 } } } }, 'vuln'),
  attestImage(`${A}/test/vulnerable@${vulnDigest}`, key, { scanner: { result: { summary: { CRITICAL: 3 } } } }, 'vuln'),
  signImage(`${A}/test/bare@${bareDigest}`, key),
  attestImage(`${A}/test/bundled@${bundledDigest}`, key, { scanner: { result: { summary: { CRITICAL: 1 } } } }, 'vuln', { bundle: true }),
]);

const client = new RegistryClient({ timeoutMs: 5000, retryDelayMs: 5 });
/** Stand-in for the engine's conditions: `CRITICAL` in the vuln summary must equal the expected value. */
const noCriticals: ConditionEvaluator = (conditions, statement) => {
  const critical = (statement.predicate as { scanner: { result: { summary: { CRITICAL: number } } } }).scanner.result.summary.CRITICAL;
  const want = (conditions as Array<{ all: Array<{ value: number }> }>)[0].all[0].value;
  return critical === want ? { pass: true } : { pass: false, message: `CRITICAL is ${critical}` };
};
const spec = (pem: string, extra: object = {}) => [{
  predicateType: VULN,
  attestors: [{ entries: [{ keys: { publicKeys: pem, rekor: { ignoreTlog: true } } }] }],
  conditions: [{ all: [{ key: '{{ scanner.result.summary.CRITICAL }}', operator: 'Equals', value: 0 }] }],
  ...extra,
}];
const verify = (image: string, specs: ReturnType<typeof spec>) => verifyImageAttestations(image, specs, { client, evaluate: noCriticals });

t.test('attested image with no criticals passes', async (t) => {
  const r = await verify(clean, spec(key.publicKeyPem));
  t.same(r, { verified: true, status: 'pass', image: `${A}/test/clean@${cleanDigest}`, digest: cleanDigest,
    message: `verified image attestations for ${A}/test/clean@${cleanDigest}` });
});

t.test('conditions failing on the predicate fail the rule', async (t) => {
  const r = await verify(vulnerable, spec(key.publicKeyPem));
  t.equal(r.status, 'fail');
  t.equal(r.message, `.attestations[0].attestors[0].entries[0].keys: attestation checks failed for ${A}/test/vulnerable@${vulnDigest} and predicate ${VULN}: CRITICAL is 3`);
});

t.test('wrong key, missing attestations, wrong predicate type', async (t) => {
  const wrong = await verify(clean, spec(other.publicKeyPem));
  t.equal(wrong.status, 'fail');
  t.equal(wrong.message, `failed to verify image ${clean}: no matching attestations: invalid signature when validating ASN.1 encoded signature`);
  const none = await verify(bare, spec(key.publicKeyPem));
  t.equal(none.message, `failed to verify image ${bare}: no matching attestations: no attestations found`);
  const otherType = await verify(clean, spec(key.publicKeyPem, { predicateType: 'https://slsa.dev/provenance/v0.2' }));
  t.equal(otherType.message, `.attestations[0].attestors[0].entries[0].keys: attestions not found for predicate type https://slsa.dev/provenance/v0.2`);
  const missingType = await verify(clean, spec(key.publicKeyPem, { predicateType: '' }));
  t.equal(missingType.message, '.attestations[0]: missing predicateType');
  const tlog = await verifyImageAttestations(clean, [{ predicateType: VULN, attestors: [{ entries: [{ keys: { publicKeys: key.publicKeyPem } }] }] }],
    { client, evaluate: noCriticals });
  t.match(tlog.message, /attestation not found in transparency log/);
});

t.test('an attestation copied to another image fails the subject check', async (t) => {
  const image = `${A}/test/copy:v1`;
  const digest = await pushImage(image);
  await crane(['copy', `${A}/test/clean:${signatureTag(cleanDigest, 'att')}`, `${A}/test/copy:${signatureTag(digest, 'att')}`]);
  const r = await verify(image, spec(key.publicKeyPem));
  t.equal(r.message, `failed to verify image ${image}: no matching attestations: no matching subject digest found`);
});

t.test('count across entries', async (t) => {
  const specs = [{
    predicateType: VULN,
    attestors: [{ count: 1, entries: [
      { keys: { publicKeys: key.publicKeyPem, rekor: { ignoreTlog: true } } },
      { keys: { publicKeys: other.publicKeyPem, rekor: { ignoreTlog: true } } },
    ] }],
  }];
  t.equal((await verifyImageAttestations(clean, specs, { client, evaluate: noCriticals })).status, 'pass', 'first entry suffices');
});

t.test('verified statements are fetched once for concurrent admissions; conditions run per admission', async (t) => {
  const statementCache = new VerificationCache<StatementsEntry>();
  let evaluations = 0;
  const counting: ConditionEvaluator = (c, s) => { evaluations++; return noCriticals(c, s); };
  const specs = spec(key.publicKeyPem);
  const results = await Promise.all(Array.from({ length: 100 }, () =>
    verifyImageAttestations(clean, specs, { client, evaluate: counting, statementCache })));
  t.ok(results.every((r) => r.status === 'pass'));
  t.equal(statementCache.stats.loads, 1, 'one registry round');
  t.equal(evaluations, 100, 'conditions evaluated for every admission');
  const bypass = await verifyImageAttestations(clean, specs, { client, evaluate: counting, statementCache, useCache: false });
  t.equal(bypass.status, 'pass');
  t.equal(statementCache.stats.loads, 1, 'useCache: false bypasses the cache');
});

t.test('attestations in sigstore bundles (cosignOCI11)', async (t) => {
  const r = await verifyImageAttestations(bundled, spec(key.publicKeyPem), { client, evaluate: noCriticals, cosignOCI11: true });
  t.equal(r.status, 'fail', 'found, verified, and the condition sees CRITICAL 1');
  t.match(r.message, /attestation checks failed for .*bundled@sha256:[0-9a-f]{64} and predicate https:\/\/cosign\.sigstore\.dev\/attestation\/vuln\/v1: CRITICAL is 1$/);
  const lenient: ConditionEvaluator = () => ({ pass: true });
  t.equal((await verifyImageAttestations(bundled, spec(key.publicKeyPem), { client, evaluate: lenient, cosignOCI11: true })).status, 'pass');
  const wrong = await verifyImageAttestations(bundled, spec(other.publicKeyPem), { client, evaluate: lenient, cosignOCI11: true });
  t.match(wrong.message, /no matching attestations: invalid signature when validating ASN\.1 encoded signature$/);
  const tagScheme = await verifyImageAttestations(bundled, spec(key.publicKeyPem), { client, evaluate: lenient });
  t.match(tagScheme.message, /no attestations found$/);
});

t.test('DSSE pre-authentication encoding', async (t) => {
  t.equal(dssePae('application/vnd.in-toto+json', Buffer.from('{}')).toString(), 'DSSEv1 28 application/vnd.in-toto+json 2 {}');
  const s: InTotoStatement = { predicateType: VULN };
  t.equal(s.predicateType, VULN);
});
