/**
 * Kyverno's CEL `x509.decode(pem)`: a certificate as the JSON of Kyverno's
 * CertificateOutput (Go field names, []byte as base64, times in RFC 3339, the
 * RSA key as {N: decimal string, E}; Kyverno accepts RSA keys only), or a
 * certificate request as Go encodes x509.CertificateRequest. Builds on the
 * JMESPath x509_decode (src/engine/jmespath/x509.ts) and adds what the CEL
 * output has beyond it: the raw DER parts, KeyUsage, Extensions,
 * ExtKeyUsage, AuthorityKeyId, AIA and CRL URLs, policy identifiers.
 * Name constraints are reported empty (null).
 */
import { CelScalar, celFunc, type CelFunc } from '@bufbuild/cel';
import type { JsonObject, JsonValue } from '../../engine/types.ts';
import type * as X509 from '@peculiar/x509';
import { x509, x509Decode } from '../../engine/jmespath/x509.ts';
import { toCelInput } from '../values.ts';

const b64 = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('base64');
const oidParts = (oid: string): JsonValue => oid.split('.').map(Number);

/** The DER elements (tag + length + content) inside a SEQUENCE, in order. */
function derChildren(der: Uint8Array): Uint8Array[] {
  const element = (buf: Uint8Array, at: number): { start: number; end: number; content: number } => {
    let i = at + 1;
    let len = buf[i++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + buf[i++]!;
    }
    return { start: at, content: i, end: i + len };
  };
  const outer = element(der, 0);
  const out: Uint8Array[] = [];
  for (let at = outer.content; at < outer.end;) {
    const e = element(der, at);
    out.push(der.subarray(e.start, e.end));
    at = e.end;
  }
  return out;
}

// Go's x509.ExtKeyUsage values, by OID.
const EXT_KEY_USAGE: Record<string, number> = {
  '2.5.29.37.0': 0, '1.3.6.1.5.5.7.3.1': 1, '1.3.6.1.5.5.7.3.2': 2, '1.3.6.1.5.5.7.3.3': 3, '1.3.6.1.5.5.7.3.4': 4,
  '1.3.6.1.5.5.7.3.5': 5, '1.3.6.1.5.5.7.3.6': 6, '1.3.6.1.5.5.7.3.7': 7, '1.3.6.1.5.5.7.3.8': 8, '1.3.6.1.5.5.7.3.9': 9,
  '1.3.6.1.4.1.311.10.3.3': 10, '2.16.840.1.113730.4.1': 11, '1.3.6.1.4.1.311.2.1.22': 12, '1.3.6.1.4.1.311.61.1.1': 13,
};

const extensionsJson = (exts: readonly X509.Extension[]): JsonValue =>
  exts.length ? exts.map((e) => ({ Id: oidParts(e.type), Critical: e.critical, Value: b64(e.value) })) : null;

function decodeCertificate(pem: string, base: JsonObject): JsonObject {
  const L = x509();
  const cert = new L.X509Certificate(pem);
  const raw = new Uint8Array(cert.rawData);
  const [tbs] = derChildren(raw);
  // TBSCertificate: [0] version?, serial, signature alg, issuer, validity, subject, spki, …
  const fields = derChildren(tbs!);
  const f = fields[0]![0] === 0xa0 ? fields.slice(1) : fields;
  const ku = cert.getExtension(L.KeyUsagesExtension);
  const eku = cert.getExtension(L.ExtendedKeyUsageExtension);
  const aki = cert.getExtension(L.AuthorityKeyIdentifierExtension);
  const aia = cert.getExtension(L.AuthorityInfoAccessExtension);
  const crl = cert.getExtension(L.CRLDistributionPointsExtension);
  const policies = cert.getExtension(L.CertificatePolicyExtension);
  const urls = (names: readonly X509.GeneralName[] | undefined): JsonValue => {
    const v = (names ?? []).filter((n) => n.type === 'url').map((n) => n.value);
    return v.length ? v : null;
  };
  const crlUrls = (crl?.distributionPoints ?? []).flatMap((d) => (d.distributionPoint?.fullName ?? []).map((n) => n.uniformResourceIdentifier).filter((u): u is string => !!u));
  const ekus = eku ? eku.usages.map(String).filter((o) => o in EXT_KEY_USAGE).map((o) => EXT_KEY_USAGE[o]!) : [];
  return {
    Raw: base.Raw!,
    RawTBSCertificate: b64(tbs!),
    RawSubjectPublicKeyInfo: b64(f[5]!),
    RawSubject: b64(f[4]!),
    RawIssuer: b64(f[2]!),
    Signature: base.Signature!,
    PublicKeyAlgorithm: 1,
    PublicKey: base.PublicKey!,
    // Go's big.Int.Int64: the low 64 bits, signed.
    SerialNumber: Number(BigInt.asIntN(64, BigInt(`0x${cert.serialNumber || '0'}`))),
    Issuer: base.Issuer!,
    NotBefore: base.NotBefore!,
    NotAfter: base.NotAfter!,
    KeyUsage: ku ? ku.usages : 0,
    Extensions: extensionsJson(cert.extensions),
    ExtraExtensions: null,
    ExtKeyUsage: ekus.length ? ekus : null,
    BasicConstraintsValid: base.BasicConstraintsValid!,
    IsCA: base.IsCA!,
    MaxPathLen: base.MaxPathLen!,
    MaxPathLenZero: base.MaxPathLenZero!,
    AuthorityKeyId: aki?.keyId ? Buffer.from(aki.keyId, 'hex').toString('base64') : null,
    OCSPServer: urls(aia?.ocsp),
    IssuingCertificateURL: urls(aia?.caIssuers),
    DNSNames: base.DNSNames ?? null,
    EmailAddresses: base.EmailAddresses ?? null,
    IPAddresses: base.IPAddresses ?? null,
    PermittedDNSDomainsCritical: false,
    PermittedDNSDomains: null,
    ExcludedDNSDomains: null,
    PermittedIPRanges: null,
    ExcludedIPRanges: null,
    PermittedEmailAddresses: null,
    ExcludedEmailAddresses: null,
    PermittedURIDomains: null,
    ExcludedURIDomains: null,
    CRLDistributionPoints: crlUrls.length ? crlUrls : null,
    PolicyIdentifiers: policies?.policies.length ? policies.policies.map(oidParts) : null,
  };
}

function decodeRequest(pem: string, base: JsonObject): JsonObject {
  const csr = new (x509().Pkcs10CertificateRequest)(pem);
  const raw = new Uint8Array(csr.rawData);
  const [info] = derChildren(raw);
  // CertificationRequestInfo: version, subject, spki, [0] attributes
  const f = derChildren(info!);
  return {
    Raw: base.Raw!,
    RawTBSCertificateRequest: b64(info!),
    RawSubjectPublicKeyInfo: b64(f[2]!),
    RawSubject: b64(f[1]!),
    Version: 0,
    Signature: base.Signature!,
    SignatureAlgorithm: 0,
    PublicKeyAlgorithm: 1,
    PublicKey: base.PublicKey!,
    Subject: base.Subject!,
    Extensions: extensionsJson(csr.extensions),
    ExtraExtensions: null,
    DNSNames: base.DNSNames ?? null,
    EmailAddresses: base.EmailAddresses ?? null,
    IPAddresses: base.IPAddresses ?? null,
    URIs: base.URIs ?? null,
  };
}

export function x509DecodeCel(pem: string): JsonObject {
  const block = /-----BEGIN ([A-Z ]+)-----/.exec(pem);
  if (!block) throw new Error('failed to decode PEM block');
  const base = x509Decode([pem]) as JsonObject;
  return block[1] === 'CERTIFICATE' ? decodeCertificate(pem, base) : decodeRequest(pem, base);
}

export const x509Funcs: CelFunc[] = [
  celFunc('x509.decode', [CelScalar.STRING], CelScalar.DYN, (pem) => toCelInput(x509DecodeCel(pem))),
];
