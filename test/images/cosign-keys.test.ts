import t from 'tap';
import { generateKeyPairSync, sign, createHash } from 'node:crypto';
import { splitPublicKeys, parsePublicKey, verifyWithKey } from '../../src/images/cosign/keys.ts';
import { verifyRekorBundle } from '../../src/images/cosign/rekor.ts';
import { parseSimpleSigning, signatureTag } from '../../src/images/cosign/signatures.ts';
import { stableStringify } from '../../src/images/cosign/cache.ts';

const payload = Buffer.from(JSON.stringify({
  critical: { identity: { 'docker-reference': 'r/x' }, image: { 'docker-manifest-digest': `sha256:${'a'.repeat(64)}` }, type: 'cosign container image signature' },
  optional: null,
}));

function pair(type: 'ec' | 'rsa' | 'ed25519', curve?: string) {
  const { publicKey, privateKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: curve! })
    : type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  return { pem: publicKey.export({ type: 'spki', format: 'pem' }) as string, privateKey };
}

t.test('key types and descriptions', async (t) => {
  t.equal(parsePublicKey(pair('ec', 'P-256').pem).description, 'ecdsa-p256');
  t.equal(parsePublicKey(pair('ec', 'P-384').pem).description, 'ecdsa-p384');
  t.equal(parsePublicKey(pair('ec', 'P-521').pem).description, 'ecdsa-p521');
  t.equal(parsePublicKey(pair('rsa').pem).description, 'rsa-2048');
  t.equal(parsePublicKey(pair('ed25519').pem).description, 'ed25519');
  t.throws(() => parsePublicKey(pair('ec', 'secp256k1').pem), /unsupported elliptic curve secp256k1/);
  t.throws(() => parsePublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'), /invalid public key/);
  const x448 = generateKeyPairSync('x448').publicKey.export({ type: 'spki', format: 'pem' }) as string;
  t.throws(() => parsePublicKey(x448), /unsupported public key type x448/);
});

t.test('signature verification per algorithm and hash', async (t) => {
  for (const [type, curve, hash] of [['ec', 'P-256', 'sha256'], ['ec', 'P-384', 'sha384'], ['rsa', undefined, 'sha256'], ['rsa', undefined, 'sha512']] as const) {
    const k = pair(type, curve);
    const sig = sign(hash, payload, k.privateKey);
    const pk = parsePublicKey(k.pem);
    t.ok(verifyWithKey(pk, payload, sig, hash), `${type} ${curve ?? ''} ${hash}`);
    t.notOk(verifyWithKey(pk, payload, sig, hash === 'sha256' ? 'sha512' : 'sha256'), 'other hash fails');
    t.notOk(verifyWithKey(pk, Buffer.concat([payload, Buffer.from(' ')]), sig, hash), 'tampered payload fails');
  }
  const ed = pair('ed25519');
  const edSig = sign(null, payload, ed.privateKey);
  t.ok(verifyWithKey(parsePublicKey(ed.pem), payload, edSig, 'sha256'), 'Ed25519 is pure: the hash setting is ignored');
  t.notOk(verifyWithKey(parsePublicKey(ed.pem), payload, Buffer.alloc(64), 'sha256'));
  t.notOk(verifyWithKey(parsePublicKey(pair('ec', 'P-256').pem), payload, Buffer.from('garbage')), 'malformed DER is just invalid');
});

t.test('splitting several PEM keys', async (t) => {
  const a = pair('ec', 'P-256').pem;
  const b = pair('ed25519').pem;
  const parts = splitPublicKeys(`${a}\n${b}`);
  t.equal(parts.length, 2);
  t.equal(parsePublicKey(parts[1]).description, 'ed25519');
  t.same(splitPublicKeys('no pem here'), []);
});

t.test('simple-signing payload and tag names', async (t) => {
  t.equal(parseSimpleSigning(payload).critical.image['docker-manifest-digest'], `sha256:${'a'.repeat(64)}`);
  t.throws(() => parseSimpleSigning(Buffer.from('nope')), /not valid JSON/);
  t.throws(() => parseSimpleSigning(Buffer.from('{"critical":{}}')), /not a simple-signing document/);
  t.equal(signatureTag(`sha256:${'b'.repeat(64)}`), `sha256-${'b'.repeat(64)}.sig`);
  t.equal(signatureTag(`sha256:${'b'.repeat(64)}`, 'att'), `sha256-${'b'.repeat(64)}.att`);
});

t.test('Rekor bundle: SET, log ID and entry binding checked offline', async (t) => {
  const rekor = pair('ec', 'P-256');
  const rekorKey = parsePublicKey(rekor.pem).key;
  const logID = createHash('sha256').update(rekorKey.export({ format: 'der', type: 'spki' })).digest('hex');
  const signer = pair('ec', 'P-256');
  const signature = sign('sha256', payload, signer.privateKey);
  const body = Buffer.from(JSON.stringify({
    apiVersion: '0.0.1', kind: 'hashedrekord',
    spec: { data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') } },
      signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(signer.pem).toString('base64') } } },
  })).toString('base64');
  const entry = { body, integratedTime: 1700000000, logIndex: 42, logID };
  const set = sign('sha256', Buffer.from(stableStringify(entry)), rekor.privateKey).toString('base64');
  const bundle = JSON.stringify({ SignedEntryTimestamp: set, Payload: entry });
  t.equal(verifyRekorBundle(bundle, rekor.pem, { payload, signature }), undefined);
  t.match(verifyRekorBundle(bundle, pair('ec', 'P-256').pem, { payload, signature }), /log ID mismatch/);
  t.match(verifyRekorBundle(JSON.stringify({ SignedEntryTimestamp: set, Payload: { ...entry, logIndex: 43 } }), rekor.pem, { payload, signature }),
    /SignedEntryTimestamp does not verify/);
  t.match(verifyRekorBundle(bundle, rekor.pem, { payload: Buffer.from('other'), signature }), /not about this signature payload/);
  t.match(verifyRekorBundle(bundle, rekor.pem, { payload, signature: Buffer.from('x') }), /not about this signature$/);
  t.match(verifyRekorBundle('{', rekor.pem, { payload, signature }), /not JSON/);
  t.match(verifyRekorBundle('{}', rekor.pem, { payload, signature }), /missing fields/);
});
