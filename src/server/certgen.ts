/**
 * A private CA and a serving certificate for the webhook Service, made with
 * @peculiar/x509 over Node's WebCrypto (ECDSA P-256, SHA-256).
 */
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
// @peculiar/x509 (through tsyringe) needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export interface GeneratedCerts {
  caCert: string;
  cert: string;
  key: string;
  /** base64 of the CA certificate PEM: the webhook configuration's caBundle. */
  caBundle: string;
}

export interface CertOptions {
  /** DNS names (and IP addresses) for the serving certificate's SANs; the first is its CN. */
  names: readonly string[];
  /** Validity in days (default 365). */
  days?: number;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
const crypto = webcrypto;
const x509Crypto = webcrypto as unknown as X509Crypto;

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0]! &= 0x7f; // positive INTEGER
  return Buffer.from(bytes).toString('hex');
}

export async function generateCerts(options: CertOptions): Promise<GeneratedCerts> {
  if (options.names.length === 0) throw new Error('at least one DNS name is required');
  const notBefore = new Date(Date.now() - 5 * 60_000); // tolerate small clock skew
  const notAfter = new Date(notBefore.getTime() + (options.days ?? 365) * 86_400_000);

  const caKeys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=portcullis-webhook-ca',
    notBefore,
    notAfter,
    keys: caKeys as never,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey as never, false, x509Crypto),
    ],
  }, x509Crypto);

  const keys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const sans = options.names.map((n) => ({ type: isIP(n) ? 'ip' as const : 'dns' as const, value: n }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${options.names[0]!.replace(/[,+="<>#;\\]/g, '')}`,
    issuer: caCert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey as never,
    signingKey: caKeys.privateKey as never,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(sans, false),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false, x509Crypto),
    ],
  }, x509Crypto);

  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  const caPem = caCert.toString('pem') + '\n';
  return {
    caCert: caPem,
    cert: cert.toString('pem') + '\n',
    key: toPem(pkcs8, 'PRIVATE KEY'),
    caBundle: Buffer.from(caPem).toString('base64'),
  };
}
