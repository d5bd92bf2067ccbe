/**
 * Offline check of a cosign Rekor bundle (`dev.sigstore.cosign/bundle`): the
 * SignedEntryTimestamp must be the Rekor key's signature over the canonical
 * JSON of {body, integratedTime, logID, logIndex}, the log ID must be the key's
 * ID, and the logged entry (hashedrekord) must be about this very signature
 * and payload.
 */
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { CosignSignature } from './signatures.ts';
import { stableStringify } from './cache.ts';

interface RekorBundle {
  SignedEntryTimestamp?: string;
  Payload?: { body?: string; integratedTime?: number; logIndex?: number; logID?: string };
}

/** undefined when valid, else the reason. */
export function verifyRekorBundle(bundleJson: string, rekorPubkeyPem: string, sig: Pick<CosignSignature, 'payload' | 'signature'>): string | undefined {
  let bundle: RekorBundle;
  try {
    bundle = JSON.parse(bundleJson);
  } catch {
    return 'invalid Rekor bundle: not JSON';
  }
  const p = bundle.Payload;
  if (!bundle.SignedEntryTimestamp || !p || typeof p.body !== 'string' || typeof p.integratedTime !== 'number'
    || typeof p.logIndex !== 'number' || typeof p.logID !== 'string') {
    return 'invalid Rekor bundle: missing fields';
  }
  let key;
  try {
    key = createPublicKey(rekorPubkeyPem);
  } catch (e) {
    return `invalid rekor.pubkey: ${(e as Error).message}`;
  }
  const logID = createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest('hex');
  if (logID !== p.logID) return 'Rekor bundle was not issued by the configured Rekor key (log ID mismatch)';
  const canonical = stableStringify({ body: p.body, integratedTime: p.integratedTime, logID: p.logID, logIndex: p.logIndex });
  const set = Buffer.from(bundle.SignedEntryTimestamp, 'base64');
  const ok = key.asymmetricKeyType === 'ed25519'
    ? cryptoVerify(null, Buffer.from(canonical), key, set)
    : cryptoVerify('sha256', Buffer.from(canonical), key, set);
  if (!ok) return 'invalid Rekor bundle: SignedEntryTimestamp does not verify';
  let entry: { kind?: string; spec?: { data?: { hash?: { algorithm?: string; value?: string } }; signature?: { content?: string } } };
  try {
    entry = JSON.parse(Buffer.from(p.body, 'base64').toString('utf8'));
  } catch {
    return 'invalid Rekor bundle: entry body is not JSON';
  }
  if (entry.kind !== 'hashedrekord') return `unsupported Rekor entry kind ${entry.kind}`;
  const hash = entry.spec?.data?.hash;
  if (hash?.algorithm !== 'sha256' || hash.value !== createHash('sha256').update(sig.payload).digest('hex')) {
    return 'Rekor entry is not about this signature payload';
  }
  if (entry.spec?.signature?.content !== sig.signature.toString('base64')) return 'Rekor entry is not about this signature';
  return undefined;
}
