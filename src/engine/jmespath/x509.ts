/**
 * x509_decode(pem): a certificate or certificate request as the JSON Go's
 * encoding/json gives for crypto/x509 structs (field names as in Go, times in
 * RFC 3339, RSA public key as {N: decimal string, E}). Kyverno accepts RSA
 * keys only. Covers the fields policies read (Subject, Issuer, validity,
 * serial, SANs, CA flags); raw DER blobs other than Raw are omitted.
 */
import { createPublicKey } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as X509 from '@peculiar/x509';
import type { JsonObject, JsonValue } from '../types.ts';

// Loaded on first use: the library needs a Reflect metadata polyfill and is
// heavy, and most policies never decode certificates.
let lib: typeof X509 | undefined;
export function x509(): typeof X509 {
  if (!lib) {
    const require = createRequire(import.meta.url);
    require('reflect-metadata');
    lib = require('@peculiar/x509') as typeof X509;
  }
  return lib;
}

const nameFields: [string, string][] = [
  ['Country', 'C'], ['Organization', 'O'], ['OrganizationalUnit', 'OU'], ['Locality', 'L'],
  ['Province', 'ST'], ['StreetAddress', 'STREET'], ['PostalCode', 'postalCode'],
];

const oidOfShort: Record<string, number[]> = {
  CN: [2, 5, 4, 3], C: [2, 5, 4, 6], O: [2, 5, 4, 10], OU: [2, 5, 4, 11], L: [2, 5, 4, 7],
  ST: [2, 5, 4, 8], STREET: [2, 5, 4, 9], postalCode: [2, 5, 4, 17], serialNumber: [2, 5, 4, 5],
};

function pkixName(name: X509.Name): JsonObject {
  const field = (id: string): string[] => {
    try { return name.getField(id); } catch { return []; }
  };
  const out: JsonObject = {};
  for (const [goName, id] of nameFields) {
    const v = field(id);
    out[goName] = v.length ? v : null;
  }
  out.SerialNumber = field('serialNumber')[0] ?? '';
  out.CommonName = field('CN')[0] ?? '';
  const names: JsonValue[] = [];
  for (const rdn of name.toJSON()) {
    for (const [type, values] of Object.entries(rdn)) {
      const oid = oidOfShort[type] ?? (/^[0-9.]+$/.test(type) ? type.split('.').map(Number) : undefined);
      if (!oid) continue;
      for (const v of values) names.push({ Type: oid, Value: v });
    }
  }
  out.Names = names;
  out.ExtraNames = null;
  return out;
}

function rsaPublicKey(spki: ArrayBuffer): JsonObject {
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'rsa') throw new Error('certificate should use rsa algorithm');
  const jwk = key.export({ format: 'jwk' });
  const toBig = (b64: string) => BigInt('0x' + (Buffer.from(b64, 'base64url').toString('hex') || '0'));
  return { N: toBig(jwk.n!).toString(), E: Number(toBig(jwk.e!)) };
}

const goTime = (d: Date): string => d.toISOString().replace(/\.000Z$/, 'Z');

export function x509Decode(args: JsonValue[]): JsonValue {
  const pem = args[0] as string;
  const block = /-----BEGIN ([A-Z ]+)-----/.exec(pem);
  if (!block) throw new Error('failed to decode PEM block');
  if (block[1] === 'CERTIFICATE') {
    const cert = new (x509().X509Certificate)(pem);
    const out: JsonObject = {
      Raw: Buffer.from(cert.rawData).toString('base64'),
      Signature: Buffer.from(cert.signature).toString('base64'),
      PublicKeyAlgorithm: 1,
      PublicKey: rsaPublicKey(cert.publicKey.rawData),
      Version: 3,
      SerialNumber: Number(BigInt('0x' + cert.serialNumber)),
      Issuer: pkixName(cert.issuerName),
      Subject: pkixName(cert.subjectName),
      NotBefore: goTime(cert.notBefore),
      NotAfter: goTime(cert.notAfter),
      BasicConstraintsValid: false,
      IsCA: false,
      MaxPathLen: 0,
      MaxPathLenZero: false,
      DNSNames: null, EmailAddresses: null, IPAddresses: null, URIs: null,
    };
    const bc = cert.getExtension(x509().BasicConstraintsExtension);
    if (bc) {
      out.BasicConstraintsValid = true;
      out.IsCA = bc.ca;
      out.MaxPathLen = bc.pathLength ?? -1;
      out.MaxPathLenZero = bc.pathLength === 0;
    }
    Object.assign(out, subjectAltNames(cert.getExtension(x509().SubjectAlternativeNameExtension)));
    return out;
  }
  if (block[1] === 'CERTIFICATE REQUEST') {
    const csr = new (x509().Pkcs10CertificateRequest)(pem);
    const out: JsonObject = {
      Raw: Buffer.from(csr.rawData).toString('base64'),
      Signature: Buffer.from(csr.signature).toString('base64'),
      PublicKeyAlgorithm: 1,
      PublicKey: rsaPublicKey(csr.publicKey.rawData),
      Version: 0,
      Subject: pkixName(csr.subjectName),
      DNSNames: null, EmailAddresses: null, IPAddresses: null, URIs: null,
    };
    const ext = csr.getExtension('2.5.29.17');
    if (ext) Object.assign(out, subjectAltNames(new (x509().SubjectAlternativeNameExtension)(ext.rawData)));
    return out;
  }
  throw new Error('PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST');
}

function subjectAltNames(san: X509.SubjectAlternativeNameExtension | null): JsonObject {
  if (!san) return {};
  const pick = (type: string): JsonValue => {
    const v = san.names.items.filter((n) => n.type === type).map((n) => n.value);
    return v.length ? v : null;
  };
  return { DNSNames: pick('dns'), EmailAddresses: pick('email'), IPAddresses: pick('ip'), URIs: pick('url') };
}
