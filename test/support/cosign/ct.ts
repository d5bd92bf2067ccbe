/**
 * A throw-away certificate-transparency log for tests: an ECDSA P-256 key that
 * issues RFC 6962 precertificate SCTs, and a helper that embeds such an SCT in
 * a test-CA leaf and re-signs it with the CA's intermediate key, as Fulcio does
 * (the SCT signs the issuer key hash and the TBS without the SCT extension).
 */
import { createHash, createPrivateKey, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestCA } from './ca.ts';

export interface TestCTLog {
  pubkeyPem: string;
  privateKey: KeyObject;
  logID: Buffer;
}

export function createTestCTLog(): TestCTLog {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return { pubkeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey, logID: createHash('sha256').update(spki).digest() };
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff])
    : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

interface Node { tag: number; start: number; header: number; end: number }
function read(b: Buffer, off: number): Node {
  const tag = b[off];
  let len = b[off + 1];
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[off + 2 + i];
    header += n;
  }
  return { tag, start: off, header, end: off + header + len };
}
function kids(b: Buffer, parent: Node): Node[] {
  const out: Node[] = [];
  for (let off = parent.start + parent.header; off < parent.end;) {
    const n = read(b, off);
    out.push(n);
    off = n.end;
  }
  return out;
}
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u24 = (n: number) => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);

export interface EmbedOptions {
  /** Sign the SCT over other data (a forged / mismatching SCT). */
  tamper?: boolean;
}

/**
 * `leafPem` (issued by `ca`'s intermediate, without SCT) re-issued with an
 * embedded SCT from `log`; same key, subject, serial and extensions otherwise.
 */
export async function embedSct(ca: TestCA, leafPem: string, log: TestCTLog, options: EmbedOptions = {}): Promise<string> {
  const der = new X509Certificate(leafPem).raw;
  const [tbsNode, sigAlgNode] = kids(der, read(der, 0));
  const tbs = der.subarray(tbsNode.start, tbsNode.end);
  const issuerSpki = new X509Certificate(ca.intermediatePem).publicKey.export({ type: 'spki', format: 'der' });
  const timestamp = Buffer.alloc(8);
  timestamp.writeBigUInt64BE(BigInt(Date.now()));
  const signed = Buffer.concat([
    Buffer.from([0, 0]), timestamp, u16(1),
    createHash('sha256').update(issuerSpki).digest(), u24(tbs.length), options.tamper ? Buffer.concat([tbs, Buffer.from([0])]) : tbs, u16(0),
  ]);
  const sig = sign('sha256', signed, log.privateKey);
  const sct = Buffer.concat([Buffer.from([0]), log.logID, timestamp, u16(0), Buffer.from([4, 3]), u16(sig.length), sig]);
  const list = Buffer.concat([u16(sct.length + 2), u16(sct.length), sct]);
  const sctOid = Buffer.from('060a2b06010401d679020402', 'hex'); // 1.3.6.1.4.1.11129.2.4.2
  const extension = tlv(0x30, Buffer.concat([sctOid, tlv(0x04, tlv(0x04, list))]));

  // Append the extension to TBSCertificate.extensions ([3] EXPLICIT SEQUENCE).
  const tbsKids = kids(der, tbsNode);
  const extsWrapper = tbsKids.find((k) => k.tag === 0xa3);
  if (!extsWrapper) throw new Error('leaf has no extensions');
  const extsSeq = kids(der, extsWrapper)[0];
  const exts = Buffer.concat([der.subarray(extsSeq.start + extsSeq.header, extsSeq.end), extension]);
  const newTbsContent = Buffer.concat(tbsKids.map((k) => (k === extsWrapper ? tlv(0xa3, tlv(0x30, exts)) : der.subarray(k.start, k.end))));
  const newTbs = tlv(0x30, newTbsContent);
  const caKey = createPrivateKey(await readFile(join(ca.dir, 'inter.key')));
  const caSig = sign('sha256', newTbs, caKey);
  const cert = tlv(0x30, Buffer.concat([newTbs, der.subarray(sigAlgNode.start, sigAlgNode.end), tlv(0x03, Buffer.concat([Buffer.from([0]), caSig]))]));
  return new X509Certificate(cert).toString();
}
