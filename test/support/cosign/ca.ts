/**
 * A throw-away Fulcio-like CA made with openssl: root → intermediate → leaf
 * code-signing certificates carrying Fulcio's identity extensions (OIDC issuer
 * v1/v2, GitHub workflow repository), to sign with real cosign
 * (`--certificate`/`--certificate-chain`) and verify as keyless with custom roots.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cosign } from './tools.ts';

const execFileP = promisify(execFile);
const openssl = (args: string[], cwd: string) => execFileP('openssl', args, { cwd });
const hex = (s: string) => Buffer.from(s).toString('hex').toUpperCase();

export interface TestCA {
  dir: string;
  rootPem: string;
  intermediatePem: string;
  issueLeaf(options: LeafOptions): Promise<Leaf>;
  /** Re-issue an existing leaf's key and extensions with other validity dates (e.g. expired); returns the PEM. */
  reissue(name: string, startDate: string, endDate: string): Promise<string>;
  cleanup(): Promise<void>;
}

export interface LeafOptions {
  name: string;
  /** SAN, e.g. `URI:https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main` or `email:dev@example.com`. */
  san: string;
  issuer: string;
  repository?: string;
  /** openssl ca dates (YYYYMMDDHHMMSSZ), for expired certificates. */
  startDate?: string;
  endDate?: string;
}

export interface Leaf {
  certPem: string;
  certFile: string;
  chainFile: string;
  /** cosign-format private key (import-key-pair). */
  cosignKey: string;
}

const CA_CONF = `
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = .
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = optional
[ req ]
distinguished_name = dn
[ dn ]
[ v3_root ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_intermediate ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

export async function createTestCA(): Promise<TestCA> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-ca-'));
  await writeFile(join(dir, 'ca.cnf'), CA_CONF);
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  await execFileP('mkdir', ['-p', join(dir, 'newcerts')]);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', 'root.key', '-out', 'root.pem', '-days', '30', '-subj', '/CN=portcullis-test-root',
    '-config', 'ca.cnf', '-extensions', 'v3_root'], dir);
  await openssl(['req', '-new', ...ec, '-keyout', 'inter.key', '-out', 'inter.csr', '-subj', '/CN=portcullis-test-intermediate', '-config', 'ca.cnf'], dir);
  await openssl(['ca', '-batch', '-config', 'ca.cnf', '-cert', 'root.pem', '-keyfile', 'root.key', '-in', 'inter.csr', '-out', 'inter.pem',
    '-days', '30', '-extensions', 'v3_intermediate', '-notext'], dir);
  const rootPem = await readFile(join(dir, 'root.pem'), 'utf8');
  const intermediatePem = await readFile(join(dir, 'inter.pem'), 'utf8');

  async function issueLeaf(o: LeafOptions): Promise<Leaf> {
    const ext = [
      `[ ${o.name}_ext ]`,
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = codeSigning',
      `subjectAltName = ${o.san}`,
      `1.3.6.1.4.1.57264.1.1 = DER:${hex(o.issuer)}`,
      `1.3.6.1.4.1.57264.1.8 = ASN1:UTF8String:${o.issuer}`,
      ...(o.repository ? [`1.3.6.1.4.1.57264.1.5 = DER:${hex(o.repository)}`] : []),
    ].join('\n');
    await writeFile(join(dir, `${o.name}.cnf`), `${CA_CONF}\n${ext}\n`);
    await openssl(['req', '-new', ...ec, '-keyout', `${o.name}.key`, '-out', `${o.name}.csr`, '-subj', '/O=sigstore.dev', '-config', `${o.name}.cnf`], dir);
    const dates = o.startDate ? ['-startdate', o.startDate, '-enddate', o.endDate!] : ['-days', '1'];
    await openssl(['ca', '-batch', '-config', `${o.name}.cnf`, '-cert', 'inter.pem', '-keyfile', 'inter.key', '-in', `${o.name}.csr`,
      '-out', `${o.name}.pem`, ...dates, '-extensions', `${o.name}_ext`, '-notext'], dir);
    await writeFile(join(dir, `${o.name}-chain.pem`), intermediatePem + rootPem);
    await cosign(['import-key-pair', '--key', `${o.name}.key`, '--output-key-prefix', `${o.name}-cosign`], { cwd: dir });
    return {
      certPem: await readFile(join(dir, `${o.name}.pem`), 'utf8'),
      certFile: join(dir, `${o.name}.pem`),
      chainFile: join(dir, `${o.name}-chain.pem`),
      cosignKey: join(dir, `${o.name}-cosign.key`),
    };
  }

  async function reissue(name: string, startDate: string, endDate: string): Promise<string> {
    const out = `${name}-${startDate}.pem`;
    await openssl(['ca', '-batch', '-config', `${name}.cnf`, '-cert', 'inter.pem', '-keyfile', 'inter.key', '-in', `${name}.csr`,
      '-out', out, '-startdate', startDate, '-enddate', endDate, '-extensions', `${name}_ext`, '-notext'], dir);
    return readFile(join(dir, out), 'utf8');
  }

  return { dir, rootPem, intermediatePem, issueLeaf, reissue, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** `cosign sign` with a CA-issued certificate attached (no Rekor, no Fulcio). */
export async function signWithCertificate(imageRef: string, leaf: Leaf): Promise<void> {
  await cosign(['sign', '--key', leaf.cosignKey, '--certificate', leaf.certFile, '--certificate-chain', leaf.chainFile,
    '--tlog-upload=false', '-y', imageRef]);
}

/** `cosign attest` with a CA-issued certificate attached (no Rekor, no Fulcio); `predicate` is written next to the leaf. */
export async function attestWithCertificate(imageRef: string, leaf: Leaf, predicate: object, type: string,
  options: { bundle?: boolean } = {}): Promise<void> {
  const file = `${leaf.certFile}.predicate-${process.hrtime.bigint()}.json`;
  await writeFile(file, JSON.stringify(predicate));
  const bundle = options.bundle ? ['--new-bundle-format=true', '--use-signing-config=false'] : [];
  await cosign(['attest', '--key', leaf.cosignKey, '--certificate', leaf.certFile, '--certificate-chain', leaf.chainFile,
    '--tlog-upload=false', '-y', ...bundle, '--type', type, '--predicate', file, imageRef]);
}
