/**
 * cosign signatures end to end: a real docker-registry on loopback, images
 * pushed with crane, signatures made by the real cosign CLI; verification by
 * src/images/cosign against them.
 */
import t from 'tap';
import { startRegistry, pushImage, crane, putBlob, putManifest, getManifestJson } from '../support/registry/harness.ts';
import { generateKeyPair, importKeyPair, signImage, type KeyPair } from '../support/cosign/tools.ts';
import { RegistryClient } from '../../src/images/registry/client.ts';
import { closeHttpAgents } from '../../src/images/registry/http.ts';
import { verifyImageSignatures, type VerifyOptions, type VerificationResult } from '../../src/images/cosign/verify.ts';
import { VerificationCache } from '../../src/images/cosign/cache.ts';
import { signatureTag, ANNOTATION } from '../../src/images/cosign/signatures.ts';
import type { AttestorSet } from '../../src/images/cosign/types.ts';

const registry = await startRegistry();
t.teardown(async () => { closeHttpAgents(); await registry.stop(); });
const A = registry.address;

// (cosign 2.6 signs imported Ed25519 keys with Ed25519ph, which neither `cosign verify` nor Kyverno's
// pure-Ed25519 verifier accept; Ed25519 is covered with node-made signatures in cosign-keys.test.ts.)
const [p256, other, p384, rsa] = await Promise.all([
  generateKeyPair(), generateKeyPair(), importKeyPair('ec:P-384'), importKeyPair('rsa:2048'),
]);
t.teardown(() => Promise.all([p256, other, p384, rsa].map((k) => k.cleanup())).then(() => undefined));

const signed = `${A}/test/signed:v1`;
const unsigned = `${A}/test/unsigned:v1`;
const multi = `${A}/test/multi:v1`;
const copied = `${A}/test/copied:v1`;
const tampered = `${A}/test/tampered:v1`;
const elsewhere = `${A}/test/elsewhere:v1`;
const bundled = `${A}/test/bundled:v1`;
// Push everything, then sign distinct images concurrently (signatures of one image are appended sequentially).
const [signedDigest, unsignedDigest, multiDigest, copiedDigest, tamperedDigest, elsewhereDigest, bundledDigest] =
  await Promise.all([signed, unsigned, multi, copied, tampered, elsewhere, bundled].map((r) => pushImage(r)));
await Promise.all([
  signImage(`${A}/test/signed@${signedDigest}`, p256, { annotations: { team: 'payments' } }),
  signImage(`${A}/test/multi@${multiDigest}`, p384).then(() => signImage(`${A}/test/multi@${multiDigest}`, rsa)),
  signImage(`${A}/test/tampered@${tamperedDigest}`, p256),
  signImage(`${A}/test/elsewhere@${elsewhereDigest}`, p256),
  signImage(`${A}/test/bundled@${bundledDigest}`, p256, { bundle: true }),
]);

const client = new RegistryClient({ timeoutMs: 5000, retryDelayMs: 5 });
const opts = (extra: Partial<VerifyOptions> = {}): VerifyOptions => ({ client, useCache: false, ...extra });
const keys = (k: KeyPair | string, more: Record<string, unknown> = {}): AttestorSet[] =>
  [{ entries: [{ keys: { publicKeys: typeof k === 'string' ? k : k.publicKeyPem, rekor: { ignoreTlog: true }, ...more } }] }];

async function verify(image: string, attestors: AttestorSet[], o: Partial<VerifyOptions> = {}): Promise<VerificationResult> {
  return await verifyImageSignatures(image, attestors, opts(o));
}

t.test('signed image verifies by tag and by digest', async (t) => {
  const byTag = await verify(signed, keys(p256));
  t.same(byTag, {
    verified: true, status: 'pass', image: signed, digest: signedDigest, message: `verified image signatures for ${signed}`,
  });
  const byDigest = await verify(`${A}/test/signed@${signedDigest}`, keys(p256));
  t.equal(byDigest.status, 'pass');
  t.equal(byDigest.digest, signedDigest);
});

t.test('unsigned image fails naming the image and the reason', async (t) => {
  const r = await verify(unsigned, keys(p256));
  t.equal(r.status, 'fail');
  t.equal(r.verified, false);
  t.equal(r.digest, unsignedDigest);
  t.equal(r.message, `failed to verify image ${unsigned}: .attestors[0].entries[0].keys: no signatures found`);
});

t.test('wrong key fails', async (t) => {
  const r = await verify(signed, keys(other));
  t.equal(r.status, 'fail');
  t.equal(r.message, `failed to verify image ${signed}: .attestors[0].entries[0].keys: no matching signatures: invalid signature when validating ASN.1 encoded signature`);
});

t.test('P-384 and RSA keys; the hash is the rule signatureAlgorithm', async (t) => {
  t.equal((await verify(multi, keys(rsa))).status, 'pass', 'RSA PKCS#1 v1.5 with sha256');
  // cosign signs with a P-384 key over SHA-384; Kyverno verifies with signatureAlgorithm (default sha256).
  t.equal((await verify(multi, keys(p384, { signatureAlgorithm: 'sha384' }))).status, 'pass', 'P-384 with sha384');
  const defaultHash = await verify(multi, keys(p384));
  t.equal(defaultHash.status, 'fail', 'P-384 signature checked with the default sha256 does not verify');
  t.match(defaultHash.message, /invalid signature when validating ASN\.1 encoded signature/);
  const rsaWrong = await verify(multi, keys(rsa, { signatureAlgorithm: 'sha512' }));
  t.match(rsaWrong.message, /no matching signatures: crypto\/rsa: verification error$/);
  const bad = await verify(multi, keys(rsa, { signatureAlgorithm: 'md5' }));
  t.match(bad.message, /\.keys: unsupported signature algorithm md5$/);
});

t.test('a signature copied to another image fails the digest claim', async (t) => {
  const image = copied;
  const digest = copiedDigest;
  await crane(['copy', `${A}/test/signed:${signatureTag(signedDigest)}`, `${A}/test/copied:${signatureTag(digest)}`]);
  const r = await verify(image, keys(p256));
  t.equal(r.status, 'fail');
  t.equal(r.message, `failed to verify image ${image}: .attestors[0].entries[0].keys: no matching signatures: invalid or missing digest in claim: ${signedDigest}`);
});

t.test('a tampered payload fails the signature check', async (t) => {
  const image = tampered;
  const digest = tamperedDigest;
  const sigManifest = await getManifestJson(A, 'test/tampered', signatureTag(digest)) as {
    layers: Array<{ digest: string; size: number; mediaType: string; annotations: Record<string, string> }>;
  };
  const payload = JSON.parse(await crane(['blob', `${A}/test/tampered@${sigManifest.layers[0].digest}`]));
  payload.optional = { injected: 'yes' };
  const body = Buffer.from(JSON.stringify(payload));
  const blobDigest = await putBlob(A, 'test/tampered', body);
  sigManifest.layers[0] = { ...sigManifest.layers[0], digest: blobDigest, size: body.length };
  await putManifest(A, 'test/tampered', signatureTag(digest), sigManifest);
  const r = await verify(image, keys(p256));
  t.equal(r.status, 'fail');
  t.match(r.message, /no matching signatures: invalid signature when validating ASN\.1 encoded signature$/);
});

t.test('payload annotations required by the rule', async (t) => {
  t.equal((await verify(signed, keys(p256), { annotations: { team: 'payments' } })).status, 'pass');
  const r = await verify(signed, keys(p256), { annotations: { team: 'billing' } });
  t.equal(r.status, 'fail');
  t.match(r.message, /missing or incorrect annotation team/);
});

t.test('transparency log required unless ignoreTlog', async (t) => {
  const r = await verify(signed, [{ entries: [{ keys: { publicKeys: p256.publicKeyPem } }] }]);
  t.equal(r.status, 'fail');
  t.match(r.message, /signature not found in transparency log/);
});

t.test('attestor sets: count, expanded keys, nesting, AND across sets', async (t) => {
  const both = `${p256.publicKeyPem}\n${other.publicKeyPem}`;
  // Two keys in one entry become two entries; without count both must verify.
  const all = await verify(signed, keys(both));
  t.equal(all.status, 'fail');
  t.match(all.message, /\.attestors\[0\]\.entries\[1\]\.keys: no matching signatures/);
  t.notMatch(all.message, /entries\[0\]/, 'the passing entry is not reported');
  const one = await verify(signed, [{ count: 1, entries: [{ keys: { publicKeys: both, rekor: { ignoreTlog: true } } }] }]);
  t.equal(one.status, 'pass');
  const orderIndependent = await verify(signed, [{ count: 1, entries: [
    { keys: { publicKeys: other.publicKeyPem, rekor: { ignoreTlog: true } } },
    { keys: { publicKeys: p256.publicKeyPem, rekor: { ignoreTlog: true } } },
  ] }]);
  t.equal(orderIndependent.status, 'pass');
  const nested = await verify(signed, [{ entries: [{ attestor: { entries: [{ keys: { publicKeys: other.publicKeyPem, rekor: { ignoreTlog: true } } }] } }] }]);
  t.equal(nested.message, `failed to verify image ${signed}: .attestors[0].entries[0].attestor.entries[0].keys: no matching signatures: invalid signature when validating ASN.1 encoded signature`);
  const andSets = await verify(signed, [...keys(p256), ...keys(other)]);
  t.match(andSets.message, /^failed to verify image .*: \.attestors\[1\]\.entries\[0\]\.keys:/);
  const badKey = await verify(signed, keys('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'));
  t.match(badKey.message, /\.keys: invalid public key/);
});

t.test('signatures in another repository (rule `repository`)', async (t) => {
  const image = elsewhere;
  const digest = elsewhereDigest;
  await crane(['copy', `${A}/test/elsewhere:${signatureTag(digest)}`, `${A}/sigs/store:${signatureTag(digest)}`]);
  await crane(['delete', `${A}/test/elsewhere:${signatureTag(digest)}`]).catch(() => undefined);
  t.equal((await verify(image, keys(p256), { repository: `${A}/sigs/store` })).status, 'pass');
});

t.test('sigstore bundles attached as OCI 1.1 referrers (cosignOCI11)', async (t) => {
  const ok = await verify(bundled, keys(p256), { cosignOCI11: true });
  t.equal(ok.status, 'pass', ok.message);
  t.equal(ok.digest, bundledDigest);
  const tagScheme = await verify(bundled, keys(p256));
  t.equal(tagScheme.message, `failed to verify image ${bundled}: .attestors[0].entries[0].keys: no signatures found`, 'the .sig tag scheme does not see bundles');
  const wrong = await verify(bundled, keys(other), { cosignOCI11: true });
  t.match(wrong.message, /no matching signatures: invalid signature when validating ASN\.1 encoded signature$/);
  const tlog = await verify(bundled, [{ entries: [{ keys: { publicKeys: p256.publicKeyPem } }] }], { cosignOCI11: true });
  t.match(tlog.message, /the bundle has no tlog entries/);
  const none = await verify(unsigned, keys(p256), { cosignOCI11: true });
  t.match(none.message, /\.keys: no signatures found$/);
  // A bundle made for another image does not verify this one.
  const image = `${A}/test/bundle-copy:v1`;
  const digest = await pushImage(image);
  const { crane: craneRun } = await import('../support/registry/harness.ts');
  const idx = JSON.parse(await craneRun(['manifest', `${A}/test/bundled:${bundledDigest.replace(':', '-')}`])) as { manifests: Array<{ digest: string }> };
  await craneRun(['copy', `${A}/test/bundled@${idx.manifests[0].digest}`, `${A}/test/bundle-copy:copied-bundle`]);
  await putManifest(A, 'test/bundle-copy', digest.replace(':', '-'), { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: idx.manifests[0].digest, size: 1 }] });
  const copiedBundle = await verify(image, keys(p256), { cosignOCI11: true });
  t.equal(copiedBundle.status, 'fail');
  t.match(copiedBundle.message, /no signatures found|no matching subject digest found/);
});

t.test('missing image and unreachable registry', async (t) => {
  const missing = await verify(`${A}/test/nope:v1`, keys(p256));
  t.equal(missing.status, 'fail');
  t.match(missing.message, new RegExp(`^failed to verify image ${A}/test/nope:v1: resolving .*: not found`));
  const down = await verify('127.0.0.1:9/test/x:v1', keys(p256));
  t.equal(down.status, 'error', 'network failures are errors, not policy failures');
  t.match(down.message, /failed to verify image 127\.0\.0\.1:9\/test\/x:v1: .*cannot reach registry 127\.0\.0\.1:9 \(ECONNREFUSED\)/);
});

t.test('a registry that never answers gives an error within the deadline', async (t) => {
  const http = await import('node:http');
  const server = http.createServer(() => { /* hang */ });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  // The client's per-request timeout is 5 s; the verification deadline (300 ms) is what ends the call.
  const r = await verify(`${host}/slow/app:v1`, keys(p256), { timeoutMs: 300 });
  t.equal(r.status, 'error');
  t.match(r.message, new RegExp(`^failed to verify image ${host}/slow/app:v1: resolving .*: request to registry ${host} was aborted \\(deadline\\)$`));
});

t.test('cache: hit after first verification, single flight for concurrent callers', async (t) => {
  const cache = new VerificationCache<VerificationResult>();
  const attestors = keys(p256);
  const o = { client, cache } as VerifyOptions;
  const first = await Promise.all(Array.from({ length: 1000 }, () => verifyImageSignatures(signed, attestors, o)));
  t.ok(first.every((r) => r.status === 'pass'), 'all 1000 answered');
  t.equal(cache.stats.loads, 1, 'one verification for 1000 concurrent callers');
  t.equal(cache.stats.coalesced, 999);
  const warm = verifyImageSignatures(signed, attestors, o);
  t.notOk(warm instanceof Promise, 'a cache hit answers synchronously');
  t.equal(cache.stats.hits, 1);
  // Different attestor configuration → different entry.
  await verifyImageSignatures(signed, keys(other), o);
  t.equal(cache.stats.loads, 2);
  // Failures are cached briefly, registry errors not at all.
  await verifyImageSignatures('127.0.0.1:9/x/y:1', attestors, o);
  await verifyImageSignatures('127.0.0.1:9/x/y:1', attestors, o);
  t.equal(cache.stats.loads, 4, 'errors are not cached');
  await verifyImageSignatures(unsigned, attestors, o);
  await verifyImageSignatures(unsigned, attestors, o);
  t.equal(cache.stats.loads, 5, 'failures are cached');
  // useCache: false bypasses.
  await verifyImageSignatures(signed, attestors, { ...o, useCache: false });
  t.equal(cache.stats.loads, 5);
});

t.test('signature layer annotation constant matches cosign output', async (t) => {
  const m = await getManifestJson(A, 'test/signed', signatureTag(signedDigest)) as { layers: Array<{ annotations: Record<string, string> }> };
  t.ok(m.layers[0].annotations[ANNOTATION.signature]);
});
