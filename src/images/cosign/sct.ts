/**
 * Offline check of the Signed Certificate Timestamps embedded in a Fulcio-style
 * certificate (RFC 6962 §3.2, precert entries) against one CT log public key,
 * Kyverno's `ctlog.pubkey`. The SCT signs the issuer's key hash and the
 * certificate's TBS without the SCT extension; the log ID is SHA-256 of the
 * log's public key (DER SubjectPublicKeyInfo). DER handling is @sigstore/core's.
 */
import { createHash, createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { ByteStream, EXTENSION_OID_SCT, X509Certificate as SigstoreCertificate, X509SCTExtension } from '@sigstore/core';

export interface CTLogKey {
  key: KeyObject;
  /** SHA-256 of the key's DER SubjectPublicKeyInfo. */
  logID: Buffer;
}

const logKeys = new Map<string, CTLogKey>();

/** Parse (and memoise) a CT log public key in PEM; throws with the reason when unusable. */
export function ctLogKey(pem: string): CTLogKey {
  let k = logKeys.get(pem);
  if (!k) {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (e) {
      throw new Error(`invalid ctlog.pubkey: ${(e as Error).message}`);
    }
    k = { key, logID: createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest() };
    if (logKeys.size > 100) logKeys.clear();
    logKeys.set(pem, k);
  }
  return k;
}

/**
 * undefined when `leaf` embeds at least one SCT and every embedded SCT is a
 * valid signature by `log`; else the reason. `issuer` is the certificate that
 * signed `leaf` (its key hash is part of the signed data).
 */
export function verifyEmbeddedScts(leaf: X509Certificate, issuer: X509Certificate, log: CTLogKey): string | undefined {
  let clone: SigstoreCertificate;
  try {
    clone = SigstoreCertificate.parse(leaf.raw);
  } catch (e) {
    return `cannot parse certificate for SCT verification: ${(e as Error).message}`;
  }
  let ext: X509SCTExtension | undefined;
  const extensions = clone.extensions;
  for (let i = 0; i < extensions.length; i++) {
    if (extensions[i].subs[0]?.toOID() === EXTENSION_OID_SCT) {
      ext = new X509SCTExtension(extensions[i]);
      // The precertificate TBS is the certificate's TBS without this extension.
      extensions.splice(i, 1);
      break;
    }
  }
  if (!ext) return 'no embedded SCT in the certificate (set ctlog.ignoreSCT to skip certificate transparency checks)';
  let scts;
  try {
    scts = ext.signedCertificateTimestamps;
  } catch (e) {
    return `malformed embedded SCT: ${(e as Error).message}`;
  }
  if (scts.length === 0) return 'no embedded SCT in the certificate (set ctlog.ignoreSCT to skip certificate transparency checks)';
  const preCert = new ByteStream();
  preCert.appendView(createHash('sha256').update(issuer.publicKey.export({ type: 'spki', format: 'der' })).digest());
  const tbs = clone.tbsCertificate.toDER();
  preCert.appendUint24(tbs.length);
  preCert.appendView(tbs);
  for (const sct of scts) {
    if (!sct.logID.equals(log.logID)) return 'embedded SCT was not issued by the configured CT log (ctlog.pubkey)';
    let ok = false;
    try {
      ok = sct.verify(preCert.buffer, log.key);
    } catch {
      ok = false;
    }
    if (!ok) return 'embedded SCT verification failed: invalid signature';
  }
  return undefined;
}
