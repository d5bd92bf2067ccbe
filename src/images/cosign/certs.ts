/**
 * Certificate checks for `certificates` and `keyless` attestors: PEM parsing,
 * chain building to configured roots (validity now, CA flags, code-signing
 * EKU on the leaf), and Fulcio identity: subject alternative names, the OIDC
 * issuer (OID 1.3.6.1.4.1.57264.1.8, or the legacy raw 1.3.6.1.4.1.57264.1.1)
 * and the GitHub workflow extensions.
 */
import { X509Certificate } from 'node:crypto';
import { compileGoRegex, goRegexTest } from '../../engine/jmespath/goregex.ts';

const CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const MAX_CHAIN = 10;

export const FULCIO_OID = {
  issuerV1: '1.3.6.1.4.1.57264.1.1',
  githubWorkflowTrigger: '1.3.6.1.4.1.57264.1.2',
  githubWorkflowSha: '1.3.6.1.4.1.57264.1.3',
  githubWorkflowName: '1.3.6.1.4.1.57264.1.4',
  githubWorkflowRepository: '1.3.6.1.4.1.57264.1.5',
  githubWorkflowRef: '1.3.6.1.4.1.57264.1.6',
  issuerV2: '1.3.6.1.4.1.57264.1.8',
  sct: '1.3.6.1.4.1.11129.2.4.2',
} as const;

/** Split a PEM bundle into certificates; throws on malformed PEM. */
export function parseCertificates(pem: string | undefined): X509Certificate[] {
  if (!pem) return [];
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new Error(`invalid certificate: ${(e as Error).message}`);
    }
  });
}

/**
 * Verify that `leaf` chains through `intermediates` to one of `roots`.
 * Returns undefined when valid, else an x509-style reason.
 */
export function verifyChain(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[], now = new Date()): string | undefined {
  if (roots.length === 0) return 'no root certificates configured';
  const expired = (c: X509Certificate) => now < c.validFromDate || now > c.validToDate;
  if (expired(leaf)) {
    return `x509: certificate has expired or is not yet valid: current time ${now.toISOString()} is outside ${leaf.validFromDate.toISOString()} - ${leaf.validToDate.toISOString()}`;
  }
  if (!(leaf.keyUsage ?? []).includes(CODE_SIGNING)) return 'x509: certificate specifies an incompatible key usage (code signing required)';
  const rootFps = new Set(roots.map((r) => r.fingerprint256));
  // Self-signed certificates only count when they are configured roots.
  const candidates = [...roots, ...intermediates.filter((c) => !(c.checkIssued(c) && c.verify(c.publicKey)))];
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    if (rootFps.has(current.fingerprint256) && depth > 0) return undefined;
    const issuer = candidates.find((c) => c !== current && c.ca && current.checkIssued(c) && current.verify(c.publicKey));
    if (!issuer) return 'x509: certificate signed by unknown authority';
    if (expired(issuer)) return `x509: certificate has expired or is not yet valid: issuer ${issuer.subject.replace(/\n/g, ', ')}`;
    if (rootFps.has(issuer.fingerprint256)) return undefined;
    current = issuer;
  }
  return 'x509: certificate chain too long';
}

/** Email and URI subject alternative names (Fulcio identities). */
export function certificateSubjects(cert: X509Certificate): string[] {
  const san = cert.subjectAltName ?? '';
  const out: string[] = [];
  // Node renders SANs as `email:a@b, URI:https://…`; values with commas are JSON-quoted.
  for (const m of san.matchAll(/(email|URI):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = m[2].trim();
    out.push(raw.startsWith('"') ? JSON.parse(raw) : raw);
  }
  return out;
}

interface Tlv { tag: number; start: number; end: number }

/** One DER TLV at `off` (contents span start..end). */
function readTlv(b: Buffer, off: number): Tlv {
  if (off + 2 > b.length) throw new Error('truncated DER');
  const tag = b[off];
  let len = b[off + 1];
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i];
    start += n;
  }
  if (start + len > b.length) throw new Error('truncated DER');
  return { tag, start, end: start + len };
}

function children(b: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let off = parent.start; off < parent.end;) {
    const t = readTlv(b, off);
    out.push(t);
    off = t.end;
  }
  return out;
}

/** DER encoding of an OID's dotted form, for comparison with extension OIDs. */
function oidBytes(oid: string): Buffer {
  const parts = oid.split('.').map(Number);
  const out = [40 * parts[0] + parts[1]];
  for (const p of parts.slice(2)) {
    const stack = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) stack.unshift((v & 0x7f) | 0x80);
    out.push(...stack);
  }
  return Buffer.from(out);
}

const extensionCache = new WeakMap<X509Certificate, Map<string, Buffer>>();

/** Extensions of a certificate, keyed by DER OID bytes (hex) → extnValue contents. */
function extensions(cert: X509Certificate): Map<string, Buffer> {
  let m = extensionCache.get(cert);
  if (m) return m;
  m = new Map();
  const der = cert.raw;
  const certSeq = readTlv(der, 0);
  const tbs = children(der, certSeq)[0];
  for (const field of children(der, tbs)) {
    if (field.tag !== 0xa3) continue; // [3] EXPLICIT Extensions
    const seq = children(der, field)[0];
    for (const ext of children(der, seq)) {
      const parts = children(der, ext);
      const oid = parts[0];
      const value = parts[parts.length - 1];
      if (oid?.tag === 0x06 && value?.tag === 0x04) m.set(der.subarray(oid.start, oid.end).toString('hex'), der.subarray(value.start, value.end));
    }
  }
  extensionCache.set(cert, m);
  return m;
}

function extensionValue(cert: X509Certificate, oid: string): Buffer | undefined {
  return extensions(cert).get(oidBytes(oid).toString('hex'));
}

/** Decode a DER UTF8String/IA5String/PrintableString (v2 Fulcio extensions). */
function derString(b: Buffer): string | undefined {
  if (b.length < 2 || ![0x0c, 0x16, 0x13].includes(b[0])) return undefined;
  let len = b[1];
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || b.length < 2 + n) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[2 + i];
    off = 2 + n;
  }
  if (off + len > b.length) return undefined;
  return b.subarray(off, off + len).toString('utf8');
}

/** The OIDC issuer recorded by Fulcio ('' when absent). */
export function certificateIssuer(cert: X509Certificate): string {
  const v2 = extensionValue(cert, FULCIO_OID.issuerV2);
  if (v2) return derString(v2) ?? '';
  const v1 = extensionValue(cert, FULCIO_OID.issuerV1);
  return v1 ? v1.toString('utf8') : '';
}

/** Value of a GitHub workflow extension by Kyverno's key name (raw string encoding as Fulcio writes it). */
export function certificateExtension(cert: X509Certificate, name: string): string | undefined {
  const oid = (FULCIO_OID as Record<string, string>)[name];
  if (!oid) return undefined;
  const v = extensionValue(cert, oid);
  if (!v) return undefined;
  return derString(v) ?? v.toString('utf8');
}

export function hasEmbeddedSct(cert: X509Certificate): boolean {
  return extensionValue(cert, FULCIO_OID.sct) !== undefined;
}

const REGEXP_MAX = 1024;
const SUBJECT_MAX = 4096;

/**
 * A policy-supplied regular expression (subjectRegExp, issuerRegExp) with Go's
 * RE2 semantics, compiled once, length-capped and run by a linear-time engine,
 * since it is matched against certificate fields an attacker controls.
 */
export function policyRegExp(pattern: string): { test(s: string): boolean } {
  if (pattern.length > REGEXP_MAX) throw new Error(`regular expression longer than ${REGEXP_MAX} characters`);
  compileGoRegex(pattern); // report a bad pattern now
  return { test: (s: string) => goRegexTest(pattern, s) };
}

export interface IdentityPolicy {
  subject?: string;
  subjectRegExp?: string;
  issuer?: string;
  issuerRegExp?: string;
  additionalExtensions?: Record<string, string>;
}

/** undefined when the certificate carries the wanted identity, else cosign's style of reason. */
export function checkIdentity(cert: X509Certificate, policy: IdentityPolicy): string | undefined {
  const subjects = certificateSubjects(cert).filter((s) => s.length <= SUBJECT_MAX);
  const issuer = certificateIssuer(cert);
  const subjectOk = (!policy.subject || subjects.includes(policy.subject))
    && (!policy.subjectRegExp || subjects.some((s) => policyRegExp(policy.subjectRegExp!).test(s)));
  const issuerOk = (!policy.issuer || issuer === policy.issuer)
    && (!policy.issuerRegExp || (issuer.length <= SUBJECT_MAX && policyRegExp(policy.issuerRegExp).test(issuer)));
  if (!subjectOk || !issuerOk) {
    return `none of the expected identities matched what was in the certificate, got subjects [${subjects.join(', ')}] with issuer ${issuer}`;
  }
  for (const [name, want] of Object.entries(policy.additionalExtensions ?? {})) {
    const got = certificateExtension(cert, name);
    if (got !== want) return `expected extension ${name} to be ${want}, got ${got ?? 'nothing'}`;
  }
  return undefined;
}
