/**
 * cosign attestations: DSSE envelopes (in-toto statements) stored in the
 * `<alg>-<hex>.att` manifest next to the image. Each envelope's signature is
 * checked over the DSSE pre-authentication encoding with the entry's key (or
 * the certificate a `certificates`/`keyless` entry accepts, checked exactly as
 * for signatures: chain, identity, SCT policy), the
 * statement's subject must name the image digest, and statements are grouped by
 * `predicateType`.
 *
 * verifyImageAttestations follows Kyverno's loop over `attestations[]`: for
 * each attestor set, entries are tried until `count` of them pass; for every
 * statement of the wanted predicate type the rule's `conditions` are evaluated
 * by the caller's evaluator (JMESPath/variables live in the engine).
 */
import { RegistryError } from '../registry/errors.ts';
import { MEDIA, type ImageManifest } from '../registry/media.ts';
import type { Repo } from '../registry/client.ts';
import { parseImageReference, formatImageInfo, type ImageInfo } from '../reference.ts';
import { signatureTag, ANNOTATION, dssePae, fetchBundleSignatures } from './signatures.ts';
import { verifyWithKey, type PublicKey } from './keys.ts';
import { verifyRekorBundle } from './rekor.ts';
import { resolvePublicKey, entryHash, certificateSigner, keylessSigner, type SignatureCertificates, type VerifyOptions } from './verify.ts';
import { VerificationCache, configKey } from './cache.ts';
import type { Attestor, AttestorSet } from './types.ts';
import type { JsonObject, JsonValue } from '../../engine/types.ts';

export interface InTotoStatement {
  _type?: string;
  predicateType: string;
  subject?: Array<{ name?: string; digest?: Record<string, string> }>;
  predicate?: JsonValue;
  [k: string]: JsonValue | undefined;
}

interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: Array<{ keyid?: string; sig: string }>;
}

export { dssePae };

/** How one attestor entry checks a signature; built once per entry. */
interface EntryVerifier {
  /** undefined when `signature` over `signed` was made by the entry's signer, else the reason. */
  check(signed: Buffer, signature: Buffer, material: SignatureCertificates): string | undefined;
  ignoreTlog: boolean;
  rekorPubkey?: string;
}

function badSignature(key: PublicKey): string {
  return key.key.asymmetricKeyType === 'ec' ? 'invalid signature when validating ASN.1 encoded signature' : 'failed to verify signature';
}

/** The entry's signer: a public key, or a certificate (given or carried by the attestation) checked like signatures are. */
async function entryVerifier(entry: Attestor, options: VerifyOptions): Promise<EntryVerifier> {
  if (entry.keys) {
    const key = await resolvePublicKey(entry.keys, options);
    const hash = entryHash(entry.keys);
    return {
      check: (signed, signature) => (verifyWithKey(key, signed, signature, hash) ? undefined : badSignature(key)),
      ignoreTlog: entry.keys.rekor?.ignoreTlog === true,
      rekorPubkey: entry.keys.rekor?.pubkey,
    };
  }
  const cfg = entry.certificates ?? entry.keyless;
  if (!cfg) throw new Error('attestor entry has no keys, certificates or keyless configuration');
  const signer = entry.certificates ? certificateSigner(entry.certificates) : keylessSigner(entry.keyless!);
  return {
    check: (signed, signature, material) => {
      const key = signer(material);
      if (typeof key === 'string') return key;
      return verifyWithKey(key, signed, signature, 'sha256') ? undefined : badSignature(key);
    },
    ignoreTlog: cfg.rekor?.ignoreTlog === true,
    rekorPubkey: cfg.rekor?.pubkey,
  };
}

/**
 * Verified in-toto statements attached to `digest`, checked with one attestor
 * entry (`keys`, `certificates` or `keyless`). Throws Error (RegistryError for
 * registry trouble) with cosign-like reasons.
 */
export async function fetchVerifiedStatements(digest: string, repo: Repo, entry: Attestor, options: VerifyOptions & { signal?: AbortSignal }):
  Promise<InTotoStatement[]> {
  const verifier = await entryVerifier(entry, options);
  if (options.cosignOCI11) return bundleStatements(digest, repo, verifier, options);
  let manifest: ImageManifest;
  try {
    manifest = (await options.client.getManifest(repo, signatureTag(digest, 'att'), { signal: options.signal })).json as ImageManifest;
  } catch (e) {
    if (e instanceof RegistryError && e.kind === 'not-found') throw new Error('no matching attestations: no attestations found');
    throw e;
  }
  const layers = (manifest.layers ?? []).filter((l) => l.mediaType === MEDIA.dsse);
  if (layers.length === 0) throw new Error('no matching attestations: no attestations found');
  const statements: InTotoStatement[] = [];
  const reasons: string[] = [];
  const [alg, hex] = splitDigest(digest);
  for (const layer of layers) {
    const blob = await options.client.getBlob(repo, layer.digest, { signal: options.signal, maxBytes: 8 * 1024 * 1024 });
    let env: DsseEnvelope;
    try {
      env = JSON.parse(blob.toString('utf8'));
    } catch {
      reasons.push('attestation is not a DSSE envelope');
      continue;
    }
    const payload = Buffer.from(env.payload ?? '', 'base64');
    const pae = dssePae(env.payloadType ?? '', payload);
    const material = {
      certificate: layer.annotations?.[ANNOTATION.certificate] || undefined,
      chain: layer.annotations?.[ANNOTATION.chain] || undefined,
    };
    let firstProblem: string | undefined;
    const good = (env.signatures ?? []).find((s) => {
      let problem: string | undefined;
      try {
        problem = verifier.check(pae, Buffer.from(s.sig ?? '', 'base64'), material);
      } catch (e) {
        problem = (e as Error).message;
      }
      firstProblem ??= problem;
      return problem === undefined;
    });
    if (!good) {
      reasons.push(firstProblem ?? 'attestation has no signatures');
      continue;
    }
    if (!verifier.ignoreTlog) {
      const bundle = layer.annotations?.[ANNOTATION.bundle];
      if (!bundle) { reasons.push('attestation not found in transparency log (no Rekor bundle; set rekor.ignoreTlog to verify without a transparency log)'); continue; }
      if (!verifier.rekorPubkey) { reasons.push('cannot verify the Rekor bundle offline: rekor.pubkey is not configured'); continue; }
      const problem = verifyRekorBundle(bundle, verifier.rekorPubkey, { payload: blob, signature: Buffer.from(good.sig, 'base64') });
      if (problem) { reasons.push(problem); continue; }
    }
    const statement = statementFor(payload, alg, hex, reasons);
    if (statement) statements.push(statement);
  }
  if (statements.length === 0) throw new Error(`no matching attestations: ${[...new Set(reasons)].join('; ')}`);
  return statements;
}

function splitDigest(digest: string): [string, string] {
  const colon = digest.indexOf(':');
  return [digest.slice(0, colon), digest.slice(colon + 1)];
}

/** The in-toto statement of a verified payload when its subject is the image, else undefined with the reason noted. */
function statementFor(payload: Buffer, alg: string, hex: string, reasons: string[]): InTotoStatement | undefined {
  let statement: InTotoStatement;
  try {
    statement = JSON.parse(payload.toString('utf8'));
  } catch {
    reasons.push('attestation payload is not JSON');
    return undefined;
  }
  if (!statement.subject?.some((s) => s.digest?.[alg] === hex)) {
    reasons.push('no matching subject digest found');
    return undefined;
  }
  return statement;
}

/** Attestations stored as sigstore bundles (OCI 1.1 referrers). */
async function bundleStatements(digest: string, repo: Repo, verifier: EntryVerifier,
  options: VerifyOptions & { signal?: AbortSignal }): Promise<InTotoStatement[]> {
  const bundles = await fetchBundleSignatures(options.client, repo, digest, { signal: options.signal });
  if (bundles.length === 0) throw new Error('no matching attestations: no attestations found');
  const [alg, hex] = splitDigest(digest);
  const reasons: string[] = [];
  const statements: InTotoStatement[] = [];
  for (const b of bundles) {
    let problem: string | undefined;
    try {
      problem = verifier.check(b.signedBytes, b.signature, b);
    } catch (e) {
      problem = (e as Error).message;
    }
    if (problem) {
      reasons.push(problem);
      continue;
    }
    if (!verifier.ignoreTlog) {
      reasons.push(b.tlogEntries ? 'transparency log entries of sigstore bundles cannot be verified offline (set rekor.ignoreTlog)'
        : 'attestation not found in transparency log (the bundle has no tlog entries; set rekor.ignoreTlog to verify without a transparency log)');
      continue;
    }
    const statement = statementFor(b.payload, alg, hex, reasons);
    if (statement) statements.push(statement);
  }
  if (statements.length === 0) throw new Error(`no matching attestations: ${[...new Set(reasons)].join('; ')}`);
  return statements;
}

export interface StatementsEntry {
  status: 'pass' | 'fail' | 'error';
  statements?: InTotoStatement[];
  error?: Error;
}

/**
 * Verified statements per (repository, digest, attestor entry): shared by
 * concurrent admissions (single flight) and reused until the TTL expires.
 * Conditions are evaluated per admission on top of the cached statements.
 */
export const defaultStatementCache = new VerificationCache<StatementsEntry>();

async function cachedStatements(digest: string, repo: Repo, entry: Attestor,
  options: VerifyOptions & { signal?: AbortSignal; statementCache?: VerificationCache<StatementsEntry> }): Promise<InTotoStatement[]> {
  const load = async (): Promise<StatementsEntry> => {
    try {
      return { status: 'pass', statements: await fetchVerifiedStatements(digest, repo, entry, options) };
    } catch (e) {
      const transient = e instanceof RegistryError && e.transient;
      return { status: transient ? 'error' : 'fail', error: e as Error };
    }
  };
  const key = `${repo.host}/${repo.repository}@${digest}|${configKey(entry)}|${options.cosignOCI11 ? 'oci11' : ''}`;
  const r = options.useCache === false ? await load() : await (options.statementCache ?? defaultStatementCache).get(key, load);
  if (r.error) throw r.error;
  return r.statements ?? [];
}

export interface AttestationSpec {
  predicateType?: string;
  /** Legacy name of predicateType. */
  type?: string;
  attestors?: AttestorSet[];
  /** Kyverno AnyAllConditions[]; opaque here, handed to the evaluator. */
  conditions?: JsonValue;
}

/** Evaluate the rule's conditions with `predicate` fields added to the context; message explains a failure. */
export type ConditionEvaluator = (conditions: JsonValue, statement: InTotoStatement) =>
  Promise<{ pass: boolean; message?: string }> | { pass: boolean; message?: string };

export interface AttestationResult {
  verified: boolean;
  status: 'pass' | 'fail' | 'error';
  image: string;
  digest: string;
  message: string;
}

export async function verifyImageAttestations(image: string | ImageInfo, attestations: AttestationSpec[],
  options: VerifyOptions & { evaluate: ConditionEvaluator; statementCache?: VerificationCache<StatementsEntry> }): Promise<AttestationResult> {
  const info: ImageInfo = typeof image === 'string' ? { ...parseImageReference(image, options.parse) } : { ...image };
  let imageStr = formatImageInfo(info);
  const parsed = parseImageReference(imageStr, options.parse);
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const result = (status: AttestationResult['status'], message: string): AttestationResult =>
    ({ verified: status === 'pass', status, image: imageStr, digest: info.digest, message });
  const registryFailure = (e: unknown) => {
    const transient = e instanceof RegistryError && e.transient;
    return result(transient ? 'error' : 'fail', `failed to verify image ${imageStr}: ${(e as Error).message}`);
  };
  let digest = info.digest;
  if (!digest) {
    try {
      digest = await options.client.resolveDigest(parsed, { signal });
    } catch (e) {
      return registryFailure(e);
    }
  }
  let repo: Repo = { host: parsed.host, repository: parsed.repository };
  if (options.repository) {
    const r = parseImageReference(options.repository, options.parse);
    repo = { host: r.host, repository: r.repository };
  }
  for (let i = 0; i < attestations.length; i++) {
    const attestation = attestations[i];
    const path = `.attestations[${i}]`;
    const predicateType = attestation.predicateType || attestation.type || '';
    if (!predicateType) return result('fail', `${path}: missing predicateType`);
    const sets = attestation.attestors && attestation.attestors.length > 0 ? attestation.attestors : [{ entries: [{}] }];
    for (let j = 0; j < sets.length; j++) {
      const set = sets[j];
      const entries = set.entries ?? [];
      const required = set.count && set.count > 0 ? set.count : entries.length;
      let verified = 0;
      for (const entry of entries) {
        // Kyverno labels entries with the attestation index here; kept for identical messages.
        const entryPath = `${path}.attestors[${j}].entries[${i}]`;
        const subPath = entry.keys ? '.keys' : entry.certificates ? '.certificates' : entry.keyless ? '.keyless' : '';
        let statements: InTotoStatement[];
        try {
          statements = await cachedStatements(digest, entry.repository ? repoOf(entry.repository, options) : repo, entry, { ...options, signal });
        } catch (e) {
          return registryFailure(e);
        }
        if (!info.digest) {
          info.digest = digest;
          imageStr = formatImageInfo(info);
        }
        const matching = statements.filter((s) => s.predicateType === predicateType);
        if (matching.length === 0) {
          return result('fail', `${entryPath}${subPath}: attestions not found for predicate type ${predicateType}`);
        }
        for (const s of matching) {
          if (attestation.conditions === undefined || attestation.conditions === null) continue;
          let outcome: { pass: boolean; message?: string };
          try {
            outcome = await options.evaluate(attestation.conditions, s);
          } catch (e) {
            return result('fail', `${entryPath}${subPath}: failed to check attestations: ${(e as Error).message}`);
          }
          if (!outcome.pass) {
            return result('fail', `${entryPath}${subPath}: attestation checks failed for ${imageStr} and predicate ${predicateType}: ${outcome.message ?? ''}`);
          }
        }
        if (++verified >= required) break;
      }
      if (verified < required) {
        return result('fail', `image attestations verification failed, verifiedCount: ${verified}, requiredCount: ${required}`);
      }
    }
  }
  info.digest = digest;
  return result('pass', `verified image attestations for ${imageStr}`);
}

function repoOf(reference: string, options: Pick<VerifyOptions, 'parse'>): Repo {
  const r = parseImageReference(reference, options.parse);
  return { host: r.host, repository: r.repository };
}

/** The predicate as a context object (Kyverno adds the predicate's fields at the top level for conditions). */
export function predicateContext(statement: InTotoStatement): JsonObject {
  const p = statement.predicate;
  return p && typeof p === 'object' && !Array.isArray(p) ? p : {};
}
