/**
 * Fetch cosign signatures stored with the tag scheme: the manifest tagged
 * `<alg>-<hex>.sig` in the image's repository (or the rule's `repository`
 * override) whose layers are simple-signing payloads, each carrying its
 * signature (and optionally certificate, chain and Rekor bundle) in annotations.
 */
import { RegistryError } from '../registry/errors.ts';
import { MEDIA, type ImageManifest } from '../registry/media.ts';
import type { RegistryClient, Repo, CallOptions } from '../registry/client.ts';

export const ANNOTATION = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  rfc3161: 'dev.sigstore.cosign/rfc3161timestamp',
} as const;

export interface CosignSignature {
  /** `simple-signing`: the `.sig` tag scheme; `bundle`: a sigstore bundle attached as an OCI 1.1 referrer. */
  format: 'simple-signing' | 'bundle';
  /** The document the signature is about: simple-signing JSON, or the bundle's in-toto statement. */
  payload: Buffer;
  /** The bytes the signature covers (the payload itself, or the DSSE pre-authentication encoding). */
  signedBytes: Buffer;
  /** Transparency-log entries recorded in a bundle. */
  tlogEntries?: number;
  /** Raw signature bytes (base64-decoded annotation). */
  signature: Buffer;
  /** PEM certificate for certificate / keyless signatures. */
  certificate?: string;
  /** PEM chain (intermediates then root). */
  chain?: string;
  /** Rekor bundle JSON (SignedEntryTimestamp + payload) when uploaded to a transparency log. */
  bundle?: string;
  /** Layer digest, for messages. */
  layerDigest: string;
}

/** `sha256:abc…` → `sha256-abc….sig` */
export function signatureTag(digest: string, suffix = 'sig'): string {
  return `${digest.replace(':', '-')}.${suffix}`;
}

/**
 * All signatures attached to `digest`. Returns [] when the signature tag does
 * not exist (unsigned image). Layers without a signature annotation are skipped.
 */
export async function fetchSignatures(client: RegistryClient, repo: Repo, digest: string, call: CallOptions = {}): Promise<CosignSignature[]> {
  let manifest: ImageManifest;
  try {
    const m = await client.getManifest(repo, signatureTag(digest), call);
    manifest = m.json as ImageManifest;
  } catch (e) {
    if (e instanceof RegistryError && e.kind === 'not-found') return [];
    throw e;
  }
  const layers = Array.isArray(manifest.layers) ? manifest.layers : [];
  const out: CosignSignature[] = [];
  // Signature payloads are tiny; fetch them concurrently.
  await Promise.all(layers.map(async (layer, i) => {
    const sig = layer.annotations?.[ANNOTATION.signature];
    if (typeof sig !== 'string' || layer.mediaType !== MEDIA.simpleSigning) return;
    const payload = await client.getBlob(repo, layer.digest, { ...call, maxBytes: 1024 * 1024 });
    out[i] = {
      format: 'simple-signing',
      payload,
      signedBytes: payload,
      signature: Buffer.from(sig, 'base64'),
      certificate: layer.annotations?.[ANNOTATION.certificate] || undefined,
      chain: layer.annotations?.[ANNOTATION.chain] || undefined,
      bundle: layer.annotations?.[ANNOTATION.bundle] || undefined,
      layerDigest: layer.digest,
    };
  }));
  return out.filter(Boolean);
}

/**
 * Signatures stored as sigstore bundles (cosign `--new-bundle-format`) in OCI 1.1
 * referrers of `digest`: the referrers API, or the `<alg>-<hex>` tag index that
 * registries without the API get instead.
 */
export async function fetchBundleSignatures(client: RegistryClient, repo: Repo, digest: string, call: CallOptions = {}): Promise<CosignSignature[]> {
  let refs = await client.getReferrers(repo, digest, MEDIA.sigstoreBundle, call);
  if (refs.length === 0) {
    try {
      const idx = await client.getManifest(repo, digest.replace(':', '-'), call);
      refs = ('manifests' in idx.json && Array.isArray(idx.json.manifests)) ? idx.json.manifests : [];
    } catch (e) {
      if (e instanceof RegistryError && e.kind === 'not-found') return [];
      throw e;
    }
  }
  const out: CosignSignature[] = [];
  for (const ref of refs.slice(0, 32)) {
    const m = (await client.getManifest(repo, ref.digest, call)).json as ImageManifest;
    if (m.artifactType !== MEDIA.sigstoreBundle && m.config?.artifactType !== MEDIA.sigstoreBundle) continue;
    if (m.subject && m.subject.digest !== digest) continue;
    for (const layer of m.layers ?? []) {
      if (layer.mediaType !== MEDIA.sigstoreBundle) continue;
      const blob = await client.getBlob(repo, layer.digest, { ...call, maxBytes: 1024 * 1024 });
      const sig = parseBundle(blob, layer.digest);
      if (sig) out.push(sig);
    }
  }
  return out;
}

interface SigstoreBundle {
  mediaType?: string;
  verificationMaterial?: {
    certificate?: { rawBytes?: string };
    x509CertificateChain?: { certificates?: Array<{ rawBytes?: string }> };
    tlogEntries?: unknown[];
  };
  dsseEnvelope?: { payload?: string; payloadType?: string; signatures?: Array<{ sig?: string }> };
}

const derToPem = (b64: string) => `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)?.join('\n')}\n-----END CERTIFICATE-----\n`;

/** A DSSE-carrying sigstore bundle as a CosignSignature; undefined when the bundle has another shape. */
export function parseBundle(blob: Buffer, layerDigest: string): CosignSignature | undefined {
  let b: SigstoreBundle;
  try {
    b = JSON.parse(blob.toString('utf8'));
  } catch {
    return undefined;
  }
  const env = b.dsseEnvelope;
  const sig = env?.signatures?.[0]?.sig;
  if (!env || typeof env.payload !== 'string' || typeof sig !== 'string') return undefined;
  const payload = Buffer.from(env.payload, 'base64');
  const vm = b.verificationMaterial ?? {};
  const certs = vm.certificate?.rawBytes ? [vm.certificate.rawBytes] : (vm.x509CertificateChain?.certificates ?? []).map((c) => c.rawBytes ?? '');
  return {
    format: 'bundle',
    payload,
    signedBytes: dssePae(env.payloadType ?? '', payload),
    signature: Buffer.from(sig, 'base64'),
    certificate: certs[0] ? derToPem(certs[0]) : undefined,
    chain: certs.length > 1 ? certs.slice(1).map(derToPem).join('') : undefined,
    tlogEntries: Array.isArray(vm.tlogEntries) ? vm.tlogEntries.length : 0,
    layerDigest,
  };
}

/** DSSE v1 pre-authentication encoding. */
export function dssePae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType);
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

export interface SimpleSigningPayload {
  critical: {
    identity: { 'docker-reference': string };
    image: { 'docker-manifest-digest': string };
    type: string;
  };
  optional?: Record<string, unknown> | null;
}

/** Parse a simple-signing payload; throws with a reason when it is malformed. */
export function parseSimpleSigning(payload: Buffer): SimpleSigningPayload {
  let doc: SimpleSigningPayload;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new Error('signature payload is not valid JSON');
  }
  if (!doc || typeof doc !== 'object' || !doc.critical || typeof doc.critical !== 'object'
    || typeof doc.critical.image?.['docker-manifest-digest'] !== 'string') {
    throw new Error('signature payload is not a simple-signing document');
  }
  return doc;
}
