/**
 * verifyImages handler (Kyverno ImageVerification, type Cosign): for every
 * image of the resource selected by imageReferences / skipImageReferences,
 * verify cosign signatures (attestors) and attestations (with conditions over
 * the in-toto predicate), then
 *  - in the mutate phase, pin verified tags to their digest (mutateDigest) and
 *    return the patched resource;
 *  - in either phase, require a digest (verifyDigest) when asked.
 * Verification goes through src/images with its bounded, single-flight cache,
 * so the validate phase re-checking what the mutate phase verified costs µs.
 * Registry trouble is an `error` (the policy's failurePolicy decides), a bad or
 * missing signature a `fail` naming the image and the reason.
 */
import type { JsonObject, JsonValue, KubeObject } from '../types.ts';
import type { HandlerResult, RuleEnv, RuleHandler } from './types.ts';
import {
  RegistryClient, compileImageExtractors, compileImageScope, decideImage, digestPatch, extractImagesInfo, listImages, predicateContext,
  verifyImageAttestations, verifyImageSignatures, type AttestationSpec, type AttestorSet, type ExtractedImage,
  type ImageExtractorConfigs, type ImageScope, type VerifyOptions,
} from '../../images/index.ts';
import { compileConditions } from '../conditions.ts';
import { substituteVariables } from '../variables.ts';
import fjp from 'fast-json-patch';

/** How the engine reaches registries; the server and CLI may supply their own client. */
export interface ImageVerificationConfig {
  client?: RegistryClient;
  /** The client for one admitted resource (e.g. with the Pod's imagePullSecrets); default `client`. */
  clientFor?: (resource: KubeObject, namespace: string) => Promise<RegistryClient> | RegistryClient;
  /** Resolve `keys.secret` references to PEM. */
  secretKey?: VerifyOptions['secretKey'];
  timeoutMs?: number;
}

let defaultClient: RegistryClient | undefined;
const clientFor = (cfg: ImageVerificationConfig | undefined) => cfg?.client ?? (defaultClient ??= new RegistryClient());

interface CompiledVerification {
  scope: ImageScope;
  attestors: AttestorSet[];
  attestations: AttestationSpec[];
  repository?: string;
  annotations?: Record<string, string>;
  cosignOCI11: boolean;
  mutateDigest: boolean;
  verifyDigest: boolean;
  /** Kyverno `required` (default true): the validate phase insists the image verifies. */
  required: boolean;
  useCache: boolean;
  hasVariables: boolean;
  raw: JsonObject;
}

/** Kyverno's deprecated top-level `key` / `subject` / `issuer` / `roots` become one attestor set. */
function attestorsOf(v: JsonObject): AttestorSet[] {
  if (Array.isArray(v.attestors) && v.attestors.length > 0) return v.attestors as unknown as AttestorSet[];
  if (typeof v.key === 'string') return [{ entries: [{ keys: { publicKeys: v.key } }] }];
  if (typeof v.subject === 'string' || typeof v.issuer === 'string' || typeof v.roots === 'string') {
    return [{ entries: [{ keyless: { subject: v.subject as string, issuer: v.issuer as string, roots: v.roots as string } }] }];
  }
  return [];
}

function compileVerification(v: JsonObject): CompiledVerification {
  const refs = (v.imageReferences as string[] | undefined) ?? (typeof v.image === 'string' ? [v.image] : undefined);
  return {
    scope: compileImageScope(refs, v.skipImageReferences as string[] | undefined),
    attestors: attestorsOf(v),
    attestations: (v.attestations as unknown as AttestationSpec[] | undefined) ?? [],
    repository: typeof v.repository === 'string' && v.repository ? v.repository : undefined,
    annotations: v.annotations as Record<string, string> | undefined,
    cosignOCI11: v.cosignOCI11 === true,
    mutateDigest: v.mutateDigest !== false,
    verifyDigest: v.verifyDigest !== false,
    required: v.required !== false,
    useCache: v.useCache !== false,
    hasVariables: JSON.stringify(v).includes('{{'),
    raw: v,
  };
}

// Attestation conditions are compiled once per conditions block.
const conditionCache = new WeakMap<object, ReturnType<typeof compileConditions>>();

async function verifyOne(cv: CompiledVerification, image: ExtractedImage, env: RuleEnv, cfg: ImageVerificationConfig | undefined,
  verifyOpts: VerifyOptions): Promise<{ status: 'pass' | 'fail' | 'error'; message: string; digest: string }> {
  let digest = image.digest;
  const messages: string[] = [];
  if (cv.attestors.length > 0) {
    const r = await verifyImageSignatures(image, cv.attestors, verifyOpts);
    if (r.status !== 'pass') return { status: r.status, message: r.message, digest: r.digest };
    digest = r.digest || digest;
    messages.push(r.message);
  }
  if (cv.attestations.length > 0) {
    const r = await verifyImageAttestations(image, cv.attestations, {
      ...verifyOpts,
      evaluate: (conditions, statement) => {
        if (conditions === null || conditions === undefined) return { pass: true };
        const key = conditions as object;
        let c = conditionCache.get(key);
        if (!c) conditionCache.set(key, (c = compileConditions(conditions as never)));
        const r = c({ ...env.data, ...predicateContext(statement) });
        return { pass: r.passed, message: r.message };
      },
    });
    if (r.status !== 'pass') return { status: r.status, message: r.message, digest: r.digest };
    digest = r.digest || digest;
    messages.push(r.message);
  }
  void cfg;
  return { status: 'pass', message: messages.join('; ') || `image ${image.reference} verified`, digest };
}

export function compileVerifyImagesHandler(ruleName: string, verifyImages: JsonObject[], extractors?: ImageExtractorConfigs): RuleHandler {
  void ruleName;
  const compiled = verifyImages.map(compileVerification);
  const compiledExtractors = extractors ? compileImageExtractors(extractors) : undefined;
  return async (env): Promise<HandlerResult> => {
    const cfg = env.images;
    let images: ExtractedImage[];
    try {
      images = listImages(extractImagesInfo(env.resource, { extractors: compiledExtractors }));
    } catch (err) {
      return { status: 'error', message: `failed to extract images: ${(err as Error).message}` };
    }
    // The registry client (with the Pod's pull secrets) is built only when a signature is checked.
    let client: RegistryClient | undefined;
    const getClient = async () => (client ??= cfg?.clientFor
      ? await cfg.clientFor(env.resource, env.resource.metadata?.namespace ?? env.input.namespace ?? '')
      : clientFor(cfg));
    const patches: { op: 'replace'; path: string; value: JsonValue }[] = [];
    const passed: string[] = [];
    let considered = 0;
    for (const base of compiled) {
      const cv = base.hasVariables ? compileVerification(substituteVariables(base.raw, env.data) as JsonObject) : base;
      const verifyOpts = (c: RegistryClient): VerifyOptions => ({
        client: c, repository: cv.repository, annotations: cv.annotations, cosignOCI11: cv.cosignOCI11,
        useCache: cv.useCache, secretKey: cfg?.secretKey, timeoutMs: cfg?.timeoutMs,
      });
      for (const image of images) {
        if (decideImage(cv.scope, image) !== 'verify') continue;
        considered++;
        // On /validate, `required: false` leaves signatures to the mutate phase: only the digest is checked.
        const verifies = (cv.attestors.length > 0 || cv.attestations.length > 0) && (env.phase === 'mutate' || cv.required);
        if (verifies) {
          let c: RegistryClient;
          try {
            c = await getClient();
          } catch (err) {
            return { status: 'error', message: `failed to read image pull secrets: ${(err as Error).message}` };
          }
          const r = await verifyOne(cv, image, env, cfg, verifyOpts(c));
          if (r.status !== 'pass') return { status: r.status, message: r.message };
          passed.push(r.message);
          if (!image.digest && r.digest && cv.mutateDigest && env.phase === 'mutate') {
            patches.push(digestPatch(image, r.digest) as { op: 'replace'; path: string; value: JsonValue });
            continue;
          }
        }
        if (cv.verifyDigest && !image.digest && !(cv.mutateDigest && verifies && env.phase === 'mutate')) {
          return { status: 'fail', message: `missing digest for ${image.reference}` };
        }
      }
    }
    if (considered === 0) return { status: 'skip', message: 'no images matched imageReferences' };
    const message = passed.length > 0 ? passed.join('; ') : 'image digests verified';
    if (patches.length === 0) return { status: 'pass', message };
    const patched = fjp.applyPatch(structuredClone(env.resource), patches as fjp.Operation[], false, false).newDocument as KubeObject;
    return { status: 'pass', message, patchedResource: patched };
  };
}
