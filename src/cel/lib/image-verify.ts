/**
 * Kyverno's ImageValidatingPolicy CEL functions (kyverno.imageverify):
 *   verifyImageSignatures(image, [attestors…]) → int   attestors that verified the image
 *   verifyAttestationSignatures(image, attestationName, [attestors…]) → int
 *   extractPayload(image, attestationName) → dyn       predicate of the verified in-toto statement
 *   getImageData(image) → dyn                          the image's registry metadata
 *
 * CEL evaluation is synchronous and verification is not: the functions read
 * outcomes from the ImageVerifyRuntime installed for the evaluation
 * (`withImageVerify`). An outcome not known yet is recorded by the runtime
 * and the call fails with PendingVerification; the policy resolves what was
 * recorded asynchronously and evaluates again (src/cel/ivpol.ts).
 *
 * The runtime here (`VerificationState`, `runtimeFor`) answers them from
 * src/images: cosign signatures and attestations with its caches (a signature
 * already verified is answered in the first round, from the cache), image
 * data from the registry. Policy attestors are translated to src/images'
 * attestor sets by `convertAttestor`. Outside an ImageValidatingPolicy
 * evaluation the functions fail with an error saying so. This module does not import env.ts, so env.ts can register
 * `imageVerifyFuncs` in ALL_FUNCS without an import cycle.
 */
import { CelScalar, celFunc, listType, type CelFunc, type CelInput, type CelValue } from '@bufbuild/cel';
import type { JsonObject, JsonValue, KubeObject } from '../../engine/types.ts';
import type { ImageVerificationConfig } from '../../engine/handlers/verify-images.ts';
import { toCelInput, toJson } from '../values.ts';
import {
  RegistryClient, cacheKey, configKey, defaultVerificationCache, fetchImageData, formatImageInfo, parseImageReference,
  verifyImageAttestations, verifyImageSignatures, type Attestor, type AttestorSet,
} from '../../images/index.ts';
import { obj, str } from '../json-shapes.ts';

const list = (v: JsonValue | undefined): JsonValue[] => (Array.isArray(v) ? v : []);

/** Answers the functions from verification outcomes; throws PendingVerification for outcomes still unknown. */
export interface ImageVerifyRuntime {
  signatures(image: string, attestors: JsonValue[]): number;
  attestations(image: string, attestation: string, attestors: JsonValue[]): number;
  payload(image: string, attestation: string): JsonValue;
  imageData(image: string): JsonValue;
}

/** Thrown (and surfaced as a CEL error) when an outcome must be fetched first. */
export class PendingVerification extends Error {
  constructor(what: string) {
    super(`pending image verification: ${what}`);
    this.name = 'PendingVerification';
  }
}

let current: ImageVerifyRuntime | undefined;

export function withImageVerify<T>(runtime: ImageVerifyRuntime | undefined, fn: () => T): T {
  const prev = current;
  current = runtime;
  try {
    return fn();
  } finally {
    current = prev;
  }
}

function runtime(fn: string): ImageVerifyRuntime {
  if (!current) throw new Error(`${fn} is only available in ImageValidatingPolicy expressions`);
  return current;
}

const attestorList = (v: readonly CelValue[] | Iterable<CelValue>): JsonValue[] => [...v].map((x) => toJson(x));
const STR = CelScalar.STRING;
const DYN = CelScalar.DYN;

export const imageVerifyFuncs: CelFunc[] = [
  celFunc('verifyImageSignatures', [STR, listType(DYN)], CelScalar.INT, (image, attestors) =>
    BigInt(runtime('verifyImageSignatures').signatures(image, attestorList(attestors)))),
  celFunc('verifyAttestationSignatures', [STR, STR, listType(DYN)], CelScalar.INT, (image, attestation, attestors) =>
    BigInt(runtime('verifyAttestationSignatures').attestations(image, attestation, attestorList(attestors)))),
  celFunc('extractPayload', [STR, STR], DYN, (image, attestation) => toCelInput(runtime('extractPayload').payload(image, attestation)) as CelInput),
  celFunc('getImageData', [STR], DYN, (image) => toCelInput(runtime('getImageData').imageData(image)) as CelInput),
];

// ---------------------------------------------------------------- attestors

/** An ivpol attestor as src/images verification input: one attestor set plus where signatures live. */
export interface ConvertedAttestor {
  set: AttestorSet;
  repository?: string;
  annotations?: Record<string, string>;
}

/** Translate Kyverno's policies.kyverno.io cosign attestor into src/images' attestor model. */
export function convertAttestor(a: JsonObject): ConvertedAttestor {
  const name = str(a.name);
  if (obj(a.notary)) throw new Error(`attestor ${name}: notary attestors are not supported`);
  const c = obj(a.cosign);
  if (!c) throw new Error(`attestor ${name}: no cosign configuration`);
  const ctlog = obj(c.ctlog) ?? {};
  const rekor = {
    ...(str(ctlog.url) ? { url: str(ctlog.url) } : {}),
    ...(str(ctlog.rekorPubKey) ? { pubkey: str(ctlog.rekorPubKey) } : {}),
    ...(ctlog.insecureIgnoreTlog === true ? { ignoreTlog: true } : {}),
  };
  const ct = {
    ...(str(ctlog.ctLogPubKey) ? { pubkey: str(ctlog.ctLogPubKey) } : {}),
    ...(ctlog.insecureIgnoreSCT === true ? { ignoreSCT: true } : {}),
    ...(str(ctlog.tsaCertChain) ? { tsaCertChain: str(ctlog.tsaCertChain) } : {}),
  };
  let entries: Attestor[];
  let count: number | undefined;
  const key = obj(c.key);
  const cert = obj(c.certificate);
  const keyless = obj(c.keyless);
  if (key) {
    entries = [{ keys: {
      ...(str(key.data) ? { publicKeys: str(key.data) } : {}),
      ...(str(key.kms) ? { kms: str(key.kms) } : {}),
      ...(str(key.hashAlgorithm) ? { signatureAlgorithm: str(key.hashAlgorithm) } : {}),
      rekor, ctlog: ct,
    } }];
  } else if (cert) {
    entries = [{ certificates: {
      ...(str(obj(cert.cert)?.value) ? { cert: str(obj(cert.cert)?.value) } : {}),
      ...(str(obj(cert.certChain)?.value) ? { certChain: str(obj(cert.certChain)?.value) } : {}),
      rekor, ctlog: ct,
    } }];
  } else if (keyless) {
    const roots = str(keyless.roots);
    const ext = obj(keyless.additionalExtensions) as Record<string, string> | undefined;
    const identities = list(keyless.identities).map((x) => obj(x) ?? {});
    // Any one identity is enough (cosign CheckOpts.Identities).
    count = 1;
    entries = (identities.length > 0 ? identities : [{}]).map((id) => ({ keyless: {
      ...(str(id.subject) ? { subject: str(id.subject) } : {}),
      ...(str(id.subjectRegExp) ? { subjectRegExp: str(id.subjectRegExp) } : {}),
      ...(str(id.issuer) ? { issuer: str(id.issuer) } : {}),
      ...(str(id.issuerRegExp) ? { issuerRegExp: str(id.issuerRegExp) } : {}),
      ...(roots ? { roots } : {}),
      ...(ext ? { additionalExtensions: ext } : {}),
      rekor, ctlog: ct,
    } }));
  } else {
    throw new Error(`attestor ${name}: cosign needs key, certificate or keyless`);
  }
  const repository = str(obj(c.source)?.repository);
  const annotations = obj(c.annotations) as Record<string, string> | undefined;
  return {
    set: { ...(count ? { count } : {}), entries },
    ...(repository ? { repository } : {}),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}

// ---------------------------------------------------------------- the runtime: outcomes verified through src/images

export interface Outcome {
  status: 'pass' | 'fail' | 'error';
  message: string;
  /** Attestations: the verified statement's predicate. */
  predicate?: JsonValue;
  data?: JsonValue;
}

/** A policy `attestations[]` entry: in-toto statements of a predicate type (cosign `.att` or, for `referrer`, OCI 1.1 bundles). */
export interface Attestation { name: string; predicateType: string; referrer: boolean }

let sharedClient: RegistryClient | undefined;

/**
 * The outcomes one policy evaluation needs, across its rounds: lookups not yet
 * known are queued, `resolve` verifies them (concurrently, through the
 * src/images caches), and the next round reads them synchronously.
 */
export class VerificationState {
  readonly outcomes = new Map<string, Outcome>();
  readonly pending = new Map<string, () => Promise<Outcome>>();
  /** Lookups that found no outcome yet (a validation that hit one must run again). */
  misses = 0;
  /** Per round: images a verification function was called for, and whether one verified them. */
  attempted = new Set<string>();
  verified = new Set<string>();
  private client: Promise<RegistryClient> | undefined;
  private readonly cfg: ImageVerificationConfig | undefined;
  private readonly resource: KubeObject | null;
  private readonly namespace: string;

  constructor(cfg: ImageVerificationConfig | undefined, resource: KubeObject | null, namespace: string) {
    this.cfg = cfg;
    this.resource = resource;
    this.namespace = namespace;
  }

  getClient(): Promise<RegistryClient> {
    return (this.client ??= (async () => {
      if (this.cfg?.clientFor && this.resource) return this.cfg.clientFor(this.resource, this.namespace);
      return this.cfg?.client ?? (sharedClient ??= new RegistryClient());
    })());
  }

  /** The outcome under `key` (or answered synchronously by `peek`), else undefined after queueing `load`. */
  lookup(key: string, load: () => Promise<Outcome>, peek?: () => Outcome | undefined): Outcome | undefined {
    let o = this.outcomes.get(key);
    if (!o && peek) {
      o = peek();
      if (o) this.outcomes.set(key, o);
    }
    if (!o) {
      this.misses++;
      if (!this.pending.has(key)) this.pending.set(key, load);
    }
    return o;
  }

  async resolve(): Promise<void> {
    const jobs = [...this.pending.entries()];
    this.pending.clear();
    await Promise.all(jobs.map(async ([key, load]) => {
      let o: Outcome;
      try {
        o = await load();
      } catch (e) {
        o = { status: 'error', message: (e as Error).message };
      }
      this.outcomes.set(key, o);
    }));
  }

  newRound(): void {
    this.attempted = new Set();
    this.verified = new Set();
  }

  verifyOptions() {
    return { secretKey: this.cfg?.secretKey, timeoutMs: this.cfg?.timeoutMs };
  }
}

/** Kyverno's imagedataloader ImageData shape (reference fields, tag/digest, manifest, config) from src/images' image data. */
function kyvernoImageData(image: string, d: JsonObject): JsonValue {
  const resolved = str(d.resolvedImage);
  const ref = parseImageReference(image);
  return {
    image, resolvedImage: resolved, registry: d.registry ?? '', repository: d.repository ?? '', identifier: d.identifier ?? '',
    ...(ref.digest ? {} : { tag: ref.tag }),
    digest: resolved.slice(resolved.lastIndexOf('@') + 1),
    manifest: d.manifest ?? null, config: d.configData ?? null,
  };
}

/** Registry trouble is an error of the call (Kyverno: "failed to get imagedata"); a bad signature just does not count. */
function signatureOutcome(r: { status: Outcome['status']; message: string }): Outcome {
  return r.status === 'error' ? { status: 'error', message: `failed to get imagedata: ${r.message}` } : { status: r.status, message: r.message };
}

export function runtimeFor(state: VerificationState, attestations: Map<string, Attestation>, matchesImage: (image: string) => boolean): ImageVerifyRuntime {
  const converted = (a: JsonValue): ConvertedAttestor => convertAttestor(obj(a) ?? {});
  const countVerified = (image: string, attestors: JsonValue[], keyOf: (a: JsonValue) => string, load: (c: ConvertedAttestor) => Promise<Outcome>,
    peek?: (c: ConvertedAttestor) => Outcome | undefined) => {
    if (!matchesImage(image)) return 0;
    let count = 0;
    let missing = false;
    const errors: string[] = [];
    for (const a of attestors) {
      const o = state.lookup(keyOf(a), async () => load(converted(a)), peek && (() => {
        try {
          return peek(converted(a));
        } catch {
          return undefined; // the load reports the problem
        }
      }));
      if (!o) missing = true;
      else if (o.status === 'pass') count++;
      else if (o.status === 'error') errors.push(o.message);
    }
    if (missing) throw new PendingVerification(image);
    if (errors.length > 0) throw new Error(errors.join('; '));
    if (attestors.length > 0) {
      state.attempted.add(image);
      if (count > 0) state.verified.add(image);
    }
    return count;
  };
  const attestationOf = (name: string): Attestation => {
    const a = attestations.get(name);
    if (!a) throw new Error(`attestation not found in policy: ${name}`);
    return a;
  };
  return {
    signatures(image, attestors) {
      return countVerified(image, attestors, (a) => `sig\u0000${image}\u0000${configKey(obj(a) ?? {})}`, async (c) => {
        const client = await state.getClient();
        return signatureOutcome(await verifyImageSignatures(image, [c.set], { client, repository: c.repository, annotations: c.annotations, ...state.verifyOptions() }));
      }, (c) => {
        // Already verified (src/images cache): answer in this round, no registry client needed.
        const hit = defaultVerificationCache.peek(cacheKey(formatImageInfo(parseImageReference(image)), [c.set], { repository: c.repository, annotations: c.annotations }));
        return hit && signatureOutcome(hit);
      });
    },
    attestations(image, name, attestors) {
      if (!matchesImage(image)) return 0;
      const att = attestationOf(name);
      return countVerified(image, attestors, (a) => `att\u0000${image}\u0000${name}\u0000${configKey(obj(a) ?? {})}`, async (c) => {
        const client = await state.getClient();
        let predicate: JsonValue | undefined;
        const r = await verifyImageAttestations(image, [{ predicateType: att.predicateType, attestors: [c.set], conditions: {} }], {
          client, repository: c.repository, annotations: c.annotations, cosignOCI11: att.referrer, ...state.verifyOptions(),
          evaluate: (_conditions, statement) => {
            predicate ??= statement.predicate ?? null;
            return { pass: true };
          },
        });
        if (r.status === 'pass') {
          const payloadKey = `payload\u0000${image}\u0000${name}`;
          if (!state.outcomes.has(payloadKey)) state.outcomes.set(payloadKey, { status: 'pass', message: '', predicate: predicate ?? null });
        }
        return r.status === 'error' ? { status: 'error', message: `failed to get imagedata: ${r.message}` } : { status: r.status, message: r.message };
      });
    },
    payload(image, name) {
      attestationOf(name);
      const o = state.outcomes.get(`payload\u0000${image}\u0000${name}`);
      if (!o) throw new Error('failed to get payload: intoto attestation payload cannot be fetch before verifying intoto attestation');
      return o.predicate ?? null;
    },
    imageData(image) {
      const o = state.lookup(`data\u0000${image}`, async () => {
        try {
          const client = await state.getClient();
          return { status: 'pass', message: '', data: kyvernoImageData(image, await fetchImageData(image, client)) };
        } catch (e) {
          return { status: 'error', message: `failed to get imagedata: ${(e as Error).message}` };
        }
      });
      if (!o) throw new PendingVerification(image);
      if (o.status !== 'pass') throw new Error(o.message);
      return o.data ?? null;
    },
  };
}
