/**
 * Public keys for cosign signature checks: PEM parsing (one or several keys in
 * one string, as Kyverno's `publicKeys` allows) and signature verification with
 * node:crypto. ECDSA (P-256/P-384/P-521) and RSA (PKCS#1 v1.5) verify over the
 * configured hash (Kyverno `signatureAlgorithm`, default sha256); Ed25519 is
 * pure (no pre-hash).
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';

export type HashAlgorithm = 'sha224' | 'sha256' | 'sha384' | 'sha512';

export interface PublicKey {
  key: KeyObject;
  /** `ecdsa-p256`, `rsa-2048`, `ed25519`, … for messages. */
  description: string;
}

const END = '-----END PUBLIC KEY-----';

/** Split a string holding several PEM public keys (Kyverno splits on the END marker). */
export function splitPublicKeys(pem: string): string[] {
  const parts = pem.split(END);
  const out: string[] = [];
  for (let i = 0; i < parts.length - 1; i++) out.push(parts[i] + END);
  return out;
}

const CURVE_NAMES: Record<string, string> = { prime256v1: 'p256', secp384r1: 'p384', secp521r1: 'p521' };

/** Parse one PEM public key (SPKI or PKCS#1 RSA); throws with a reason on unsupported input. */
export function parsePublicKey(pem: string): PublicKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem.trim(), format: 'pem' });
  } catch (e) {
    throw new Error(`invalid public key: ${(e as Error).message}`);
  }
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    const name = CURVE_NAMES[curve];
    if (!name) throw new Error(`unsupported elliptic curve ${curve}`);
    return { key, description: `ecdsa-${name}` };
  }
  if (type === 'rsa') return { key, description: `rsa-${key.asymmetricKeyDetails?.modulusLength ?? '?'}` };
  if (type === 'ed25519') return { key, description: 'ed25519' };
  throw new Error(`unsupported public key type ${type}`);
}

/** True when `signature` is valid for `payload` under `key`. */
export function verifyWithKey(key: PublicKey | KeyObject, payload: Buffer, signature: Buffer, hash: HashAlgorithm = 'sha256'): boolean {
  const k = 'key' in key && 'description' in key ? (key as PublicKey).key : (key as KeyObject);
  try {
    if (k.asymmetricKeyType === 'ed25519') return cryptoVerify(null, payload, k, signature);
    return cryptoVerify(hash, payload, k, signature);
  } catch {
    return false;
  }
}

export function isHashAlgorithm(s: string): s is HashAlgorithm {
  return s === 'sha224' || s === 'sha256' || s === 'sha384' || s === 'sha512';
}
