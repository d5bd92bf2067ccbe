/**
 * Cosign signature verification of one image against Kyverno attestor sets.
 *
 * Kyverno semantics:
 * - every attestor set must pass (AND); within a set, `count` entries must
 *   verify (absent/0 = all entries); an entry whose `publicKeys` holds several
 *   PEM keys is expanded into one entry per key before counting;
 * - an entry passes when one of the image's signatures verifies with it, its
 *   payload's `docker-manifest-digest` equals the image digest, the rule's
 *   `annotations` are present in the payload, and (unless `rekor.ignoreTlog`)
 *   the signature carries a transparency-log bundle;
 * - messages: `verified image signatures for <image>` on success, else
 *   `failed to verify image <image>: .attestors[i].entries[j].keys: <reason>`
 *   (several failing entries joined with `; `); an unreachable registry gives
 *   status `error` instead of `fail`.
 *
 * Attestor kinds: `keys` (PEM or Secret; ECDSA P-256/384/521, RSA PKCS#1 v1.5,
 * Ed25519), `certificates` (given signing certificate and/or chain) and
 * `keyless` (certificate on the signature chained to the configured `roots`,
 * subject/issuer exact or RegExp, Fulcio extensions). Offline limits: Rekor
 * bundles are checked only against a configured `rekor.pubkey`, embedded SCTs
 * only against a configured `ctlog.pubkey` (else `ctlog.ignoreSCT` is needed),
 * there are no public Sigstore roots, KMS keys are unsupported.
 *
 * Storage: `.sig` tags by default; sigstore bundles attached as OCI 1.1
 * referrers with `cosignOCI11`.
 *
 * Results are cached per image + attestor configuration (cache.ts), with
 * single-flight; `useCache: false` bypasses the cache.
 */
import { RegistryError } from '../registry/errors.ts';
import type { RegistryClient, Repo } from '../registry/client.ts';
import { parseImageReference, formatImageInfo, type ImageInfo, type ParseOptions } from '../reference.ts';
import { fetchSignatures, fetchBundleSignatures, parseSimpleSigning, type CosignSignature } from './signatures.ts';
import { splitPublicKeys, parsePublicKey, verifyWithKey, isHashAlgorithm, type PublicKey, type HashAlgorithm } from './keys.ts';
import { verifyRekorBundle } from './rekor.ts';
import { VerificationCache, configKey } from './cache.ts';
import { parseCertificates, verifyChain, checkIdentity, hasEmbeddedSct } from './certs.ts';
import { ctLogKey, verifyEmbeddedScts, type CTLogKey } from './sct.ts';
import type { Attestor, AttestorSet, KeysAttestor, CertificateAttestor, KeylessAttestor, CTLogConfig, RekorConfig, SecretReference } from './types.ts';
import type { X509Certificate } from 'node:crypto';

export interface VerificationResult {
  verified: boolean;
  status: 'pass' | 'fail' | 'error';
  /** Kyverno string form of the image as admitted (`registry/path:tag` or `…@digest`). */
  image: string;
  /** Digest the signatures were checked against ('' when it could not be resolved). */
  digest: string;
  message: string;
}

export interface VerifyOptions {
  client: RegistryClient;
  /** Rule-level `repository`: where signatures are stored instead of the image repository. */
  repository?: string;
  /** Kyverno `cosignOCI11`: signatures are sigstore bundles attached as OCI 1.1 referrers, not `.sig` tags. */
  cosignOCI11?: boolean;
  /** Rule-level `annotations` that must appear in the signature payload's `optional` section. */
  annotations?: Record<string, string>;
  /** Overall deadline in ms for one verification (default 10 000, Kyverno's webhook timeout). */
  timeoutMs?: number;
  signal?: AbortSignal;
  cache?: VerificationCache<VerificationResult>;
  /** Kyverno `useCache`; default true. */
  useCache?: boolean;
  /** Resolve `keys.secret` to PEM (the Secret's `cosign.pub`); required for secret-based keys. */
  secretKey?: (ref: SecretReference) => Promise<string> | string;
  parse?: ParseOptions;
}

/** Shared default cache for callers that do not bring their own. */
export const defaultVerificationCache = new VerificationCache<VerificationResult>();

/**
 * Verify `image` against `attestors`. Never throws for verification outcomes;
 * invalid configuration and unreachable registries are reported in the result.
 */
export function verifyImageSignatures(image: string | ImageInfo, attestors: AttestorSet[], options: VerifyOptions):
  Promise<VerificationResult> | VerificationResult {
  let info: ImageInfo;
  try {
    info = typeof image === 'string' ? parseImageReference(image, options.parse) : image;
  } catch (e) {
    const s = typeof image === 'string' ? image : formatImageInfo(image);
    return { verified: false, status: 'fail', image: s, digest: '', message: `failed to verify image ${s}: ${(e as Error).message}` };
  }
  const imageStr = formatImageInfo(info);
  const run = () => runVerification(info, imageStr, attestors, options);
  if (options.useCache === false) return run();
  const cache = options.cache ?? defaultVerificationCache;
  return cache.get(cacheKey(imageStr, attestors, options), run);
}

export function cacheKey(imageStr: string, attestors: AttestorSet[], options: Pick<VerifyOptions, 'repository' | 'annotations' | 'cosignOCI11'>): string {
  return `${imageStr}|${configKey(attestors)}|${options.repository ?? ''}|${options.annotations ? configKey(options.annotations) : ''}|${options.cosignOCI11 ? 'oci11' : ''}`;
}

class EntryError extends Error {
  readonly transient: boolean;
  constructor(message: string, transient = false) {
    super(message);
    this.transient = transient;
  }
}

interface RunState {
  info: ImageInfo;
  digest: string;
  options: VerifyOptions;
  signal: AbortSignal;
  /** Signatures per signature repository, fetched once per verification. */
  signatures: Map<string, Promise<CosignSignature[]>>;
}

async function runVerification(info: ImageInfo, imageStr: string, attestors: AttestorSet[], options: VerifyOptions): Promise<VerificationResult> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const parsed = parseImageReference(imageStr, options.parse);
  const fail = (message: string, transient: boolean, digest = ''): VerificationResult => ({
    verified: false, status: transient ? 'error' : 'fail', image: imageStr, digest,
    message: `failed to verify image ${imageStr}: ${message}`,
  });
  let digest = info.digest;
  if (!digest) {
    try {
      digest = await options.client.resolveDigest(parsed, { signal });
    } catch (e) {
      const err = asEntryError(e);
      return fail(err.message, err.transient);
    }
  }
  const state: RunState = { info, digest, options, signal, signatures: new Map() };
  if (attestors.length === 0) return fail('no attestors configured', false, digest);
  for (let i = 0; i < attestors.length; i++) {
    const err = await verifyAttestorSet(state, attestors[i], `.attestors[${i}]`);
    if (err) return fail(err.message, err.transient, digest);
  }
  return { verified: true, status: 'pass', image: imageStr, digest, message: `verified image signatures for ${imageStr}` };
}

/** Kyverno's ExpandStaticKeys: one entry per PEM key. */
function expandStaticKeys(set: AttestorSet): Attestor[] {
  const out: Attestor[] = [];
  for (const e of set.entries ?? []) {
    const keys = e.keys?.publicKeys ? splitPublicKeys(e.keys.publicKeys) : [];
    if (keys.length > 1) {
      for (const k of keys) out.push({ keys: { ...e.keys, publicKeys: k } });
      continue;
    }
    out.push(e);
  }
  return out;
}

async function verifyAttestorSet(state: RunState, set: AttestorSet, path: string): Promise<EntryError | undefined> {
  const entries = expandStaticKeys(set);
  const required = set.count && set.count > 0 ? set.count : entries.length;
  const errors: EntryError[] = [];
  let verified = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    let entryPath = `${path}.entries[${i}]`;
    let err: EntryError | undefined;
    if (entry.attestor) {
      entryPath += '.attestor';
      err = await verifyAttestorSet(state, entry.attestor, entryPath);
    } else {
      const [sub, e] = await verifyEntry(state, entry);
      if (e) err = new EntryError(`${entryPath}${sub}: ${e.message}`, e.transient);
    }
    if (!err) {
      if (++verified >= required) return undefined;
    } else {
      errors.push(err);
    }
  }
  if (errors.length === 0) {
    return new EntryError(`${path}: ${verified} of ${required} required attestors verified`);
  }
  return new EntryError(errors.map((e) => e.message).join('; '), errors.some((e) => e.transient));
}

async function verifyEntry(state: RunState, entry: Attestor): Promise<[string, EntryError | undefined]> {
  if (entry.keys) return ['.keys', await verifyKeysEntry(state, entry.keys, entry.repository)];
  if (entry.certificates) return ['.certificates', await verifyCertificateEntry(state, entry.certificates, entry.repository)];
  if (entry.keyless) return ['.keyless', await verifyKeylessEntry(state, entry.keyless, entry.repository)];
  return ['', new EntryError('attestor has no keys, certificates, keyless or attestor entry')];
}

const keyCache = new Map<string, PublicKey>();
function loadKey(pem: string): PublicKey {
  let k = keyCache.get(pem);
  if (!k) {
    k = parsePublicKey(pem);
    if (keyCache.size > 1000) keyCache.clear();
    keyCache.set(pem, k);
  }
  return k;
}

/** The public key an entry names (inline PEM or Secret); throws with the reason when unusable. */
export async function resolvePublicKey(keys: KeysAttestor, options: Pick<VerifyOptions, 'secretKey'>): Promise<PublicKey> {
  let pem = keys.publicKeys ?? '';
  if (!pem && keys.secret) {
    const where = `${keys.secret.namespace}/${keys.secret.name}`;
    if (!options.secretKey) throw new Error(`cannot read key from secret ${where}: no secret reader configured`);
    try {
      pem = await options.secretKey(keys.secret);
    } catch (e) {
      throw new Error(`cannot read key from secret ${where}: ${(e as Error).message}`);
    }
  }
  if (!pem && keys.kms) throw new Error(`KMS keys are not supported (${keys.kms})`);
  if (!pem) throw new Error('no public key configured');
  return loadKey(pem);
}

/** The entry's hash algorithm (Kyverno `signatureAlgorithm`, default sha256); throws when unsupported. */
export function entryHash(keys: KeysAttestor): HashAlgorithm {
  const alg = keys.signatureAlgorithm || 'sha256';
  if (!isHashAlgorithm(alg)) throw new Error(`unsupported signature algorithm ${alg}`);
  return alg;
}

async function verifyKeysEntry(state: RunState, keys: KeysAttestor, repository?: string): Promise<EntryError | undefined> {
  let key: PublicKey;
  let alg: HashAlgorithm;
  try {
    key = await resolvePublicKey(keys, state.options);
    alg = entryHash(keys);
  } catch (e) {
    return new EntryError((e as Error).message);
  }
  const ignoreTlog = keys.rekor?.ignoreTlog === true;
  return firstMatching(state, repository, (sig) => checkSignature(state, sig, key, alg, ignoreTlog, keys.rekor?.pubkey));
}

/** Shared loop: fetch signatures, return undefined when one passes `check`, else the joined reasons. */
async function firstMatching(state: RunState, repository: string | undefined,
  check: (sig: CosignSignature) => string | undefined): Promise<EntryError | undefined> {
  let sigs: CosignSignature[];
  try {
    sigs = await signaturesFor(state, repository ?? state.options.repository);
  } catch (e) {
    return asEntryError(e);
  }
  if (sigs.length === 0) return new EntryError('no signatures found');
  const reasons: string[] = [];
  for (const sig of sigs) {
    let reason: string | undefined;
    try {
      reason = check(sig);
    } catch (e) {
      reason = (e as Error).message;
    }
    if (reason === undefined) return undefined;
    if (!reasons.includes(reason)) reasons.push(reason);
  }
  return new EntryError(`no matching signatures: ${reasons.join('; ')}`);
}

function certKey(cert: X509Certificate): PublicKey {
  return { key: cert.publicKey, description: 'certificate' };
}

/**
 * SCT policy: without `ctlog.ignoreSCT` an embedded SCT is required; it is
 * verified offline against `ctlog.pubkey` (parsed once per entry, `log`).
 */
function sctProblem(cert: X509Certificate, candidates: X509Certificate[], ctlog: CTLogConfig | undefined, log: CTLogKey | undefined): string | undefined {
  if (ctlog?.ignoreSCT === true) return undefined;
  if (!hasEmbeddedSct(cert)) return 'no embedded SCT in the certificate (set ctlog.ignoreSCT to skip certificate transparency checks)';
  if (!log) return 'embedded SCT cannot be verified offline: ctlog.pubkey is not configured (or set ctlog.ignoreSCT to skip certificate transparency checks)';
  const issuer = candidates.find((c) => c.ca && cert.checkIssued(c) && cert.verify(c.publicKey));
  if (!issuer) return 'cannot verify the embedded SCT: the issuing certificate is not in the chain';
  return verifyEmbeddedScts(cert, issuer, log);
}

function entryLogKey(ctlog: CTLogConfig | undefined): CTLogKey | undefined {
  return ctlog?.pubkey && ctlog.ignoreSCT !== true ? ctLogKey(ctlog.pubkey) : undefined;
}

/** Certificate material carried by one signature or attestation (PEM). */
export interface SignatureCertificates {
  certificate?: string;
  chain?: string;
}

/**
 * The key that must have made a signature carrying `material`, or the reason
 * the material does not satisfy the attestor. Built once per entry; shared by
 * signature and attestation verification.
 */
export type CertificateSigner = (material: SignatureCertificates) => PublicKey | string;

/** `certificates` attestor: the given signing certificate (or the signature's), checked against `certChain`. */
export function certificateSigner(cfg: CertificateAttestor): CertificateSigner {
  const given = parseCertificates(cfg.cert)[0];
  const chain = parseCertificates(cfg.certChain);
  const roots = chain.filter((c) => c.checkIssued(c));
  const intermediates = chain.filter((c) => !c.checkIssued(c));
  const log = entryLogKey(cfg.ctlog);
  return (material) => {
    const cert = given ?? parseCertificates(material.certificate)[0];
    if (!cert) return 'no certificate found on signature';
    const carried = parseCertificates(material.chain);
    if (chain.length > 0) {
      const problem = verifyChain(cert, [...intermediates, ...carried], roots);
      if (problem) return problem;
    }
    return sctProblem(cert, [...chain, ...carried], cfg.ctlog, log) ?? certKey(cert);
  };
}

/** `keyless` attestor: the signature's certificate chained to `roots`, with the wanted identity. */
export function keylessSigner(cfg: KeylessAttestor): CertificateSigner {
  const roots = parseCertificates(cfg.roots);
  if (roots.length === 0) throw new Error('keyless verification needs `roots`: the public Sigstore roots are not available offline');
  const log = entryLogKey(cfg.ctlog);
  return (material) => {
    const cert = parseCertificates(material.certificate)[0];
    if (!cert) return 'no certificate found on signature';
    const chain = parseCertificates(material.chain).filter((c) => !roots.some((r) => r.fingerprint256 === c.fingerprint256));
    const problem = verifyChain(cert, chain, roots);
    if (problem) return problem;
    return checkIdentity(cert, cfg) ?? sctProblem(cert, [...chain, ...roots], cfg.ctlog, log) ?? certKey(cert);
  };
}

async function verifyCertificateEntry(state: RunState, cfg: CertificateAttestor, repository?: string): Promise<EntryError | undefined> {
  return verifySignerEntry(state, () => certificateSigner(cfg), cfg.rekor, repository);
}

async function verifyKeylessEntry(state: RunState, cfg: KeylessAttestor, repository?: string): Promise<EntryError | undefined> {
  return verifySignerEntry(state, () => keylessSigner(cfg), cfg.rekor, repository);
}

async function verifySignerEntry(state: RunState, build: () => CertificateSigner, rekor: RekorConfig | undefined,
  repository?: string): Promise<EntryError | undefined> {
  let signer: CertificateSigner;
  try {
    signer = build();
  } catch (e) {
    return new EntryError((e as Error).message);
  }
  const ignoreTlog = rekor?.ignoreTlog === true;
  return firstMatching(state, repository, (sig) => {
    const key = signer(sig);
    if (typeof key === 'string') return key;
    return checkSignature(state, sig, key, 'sha256', ignoreTlog, rekor?.pubkey);
  });
}

/** undefined when `sig` satisfies the entry, else the reason it does not. */
function checkSignature(state: RunState, sig: CosignSignature, key: PublicKey, alg: HashAlgorithm,
  ignoreTlog: boolean, rekorPubkey: string | undefined): string | undefined {
  if (!verifyWithKey(key, sig.signedBytes, sig.signature, alg)) {
    return key.key.asymmetricKeyType === 'ec' ? 'invalid signature when validating ASN.1 encoded signature'
      : key.key.asymmetricKeyType === 'rsa' ? 'crypto/rsa: verification error' : 'failed to verify signature';
  }
  if (sig.format === 'bundle') return checkBundleClaims(state, sig, ignoreTlog);
  let payload;
  try {
    payload = parseSimpleSigning(sig.payload);
  } catch (e) {
    return (e as Error).message;
  }
  const claimed = payload.critical.image['docker-manifest-digest'];
  if (claimed !== state.digest) return `invalid or missing digest in claim: ${claimed}`;
  const wanted = state.options.annotations;
  if (wanted) {
    const optional = payload.optional ?? {};
    for (const [k, v] of Object.entries(wanted)) {
      if (optional[k] !== v) return `missing or incorrect annotation ${k}`;
    }
  }
  if (!ignoreTlog) {
    if (!sig.bundle) return 'signature not found in transparency log (no Rekor bundle; set rekor.ignoreTlog to verify without a transparency log)';
    if (!rekorPubkey) return 'cannot verify the Rekor bundle offline: rekor.pubkey is not configured';
    const problem = verifyRekorBundle(sig.bundle, rekorPubkey, sig);
    if (problem) return problem;
  }
  return undefined;
}

/** Claims of a sigstore-bundle signature: an in-toto statement whose subject is the image digest. */
function checkBundleClaims(state: RunState, sig: CosignSignature, ignoreTlog: boolean): string | undefined {
  let statement: { subject?: Array<{ digest?: Record<string, string> }> };
  try {
    statement = JSON.parse(sig.payload.toString('utf8'));
  } catch {
    return 'bundle payload is not an in-toto statement';
  }
  const colon = state.digest.indexOf(':');
  const alg = state.digest.slice(0, colon);
  const hex = state.digest.slice(colon + 1);
  if (!statement.subject?.some((s) => s.digest?.[alg] === hex)) return 'no matching subject digest found';
  if (!ignoreTlog) {
    if (!sig.tlogEntries) return 'signature not found in transparency log (the bundle has no tlog entries; set rekor.ignoreTlog to verify without a transparency log)';
    return 'transparency log entries of sigstore bundles cannot be verified offline (set rekor.ignoreTlog)';
  }
  return undefined;
}

function signaturesFor(state: RunState, repository: string | undefined): Promise<CosignSignature[]> {
  let repo: Repo;
  if (repository) {
    const r = parseImageReference(repository, state.options.parse);
    repo = { host: r.host, repository: r.repository };
  } else {
    const r = parseImageReference(formatImageInfo(state.info), state.options.parse);
    repo = { host: r.host, repository: r.repository };
  }
  const key = `${repo.host}/${repo.repository}`;
  let p = state.signatures.get(key);
  if (!p) {
    p = state.options.cosignOCI11
      ? fetchBundleSignatures(state.options.client, repo, state.digest, { signal: state.signal })
      : fetchSignatures(state.options.client, repo, state.digest, { signal: state.signal });
    state.signatures.set(key, p);
  }
  return p;
}

function asEntryError(e: unknown): EntryError {
  if (e instanceof RegistryError) return new EntryError(e.message, e.transient);
  if (e instanceof EntryError) return e;
  return new EntryError((e as Error)?.message ?? String(e));
}
