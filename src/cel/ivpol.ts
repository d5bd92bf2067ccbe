/**
 * policies.kyverno.io ImageValidatingPolicy / NamespacedImageValidatingPolicy.
 *
 * Kyverno semantics (pkg/image/verification/evaluator, pkg/cel/policies/ivpol):
 * matchConstraints select the request (no result otherwise); matchConditions
 * false → no result, a matchCondition error → `evaluation` error unless
 * failurePolicy is Ignore; CEL PolicyExceptions → `exception` result. Images
 * come from `spec.images` extractors plus the Pod defaults (containers,
 * initContainers, ephemeralContainers), filtered by matchImageReferences (glob
 * or CEL over `ref`; none = all images). Validations run in order with
 * `images`, `attestors`, `attestations`, `variables` and the verification
 * functions (lib/image-verify.ts); the first false one fails the policy with
 * its message, an evaluation error is `failed to evaluate policy: …`. When all
 * pass and `validationConfigurations.required` (default true) holds, every
 * matched image must have been verified by a signature or attestation call.
 * Results carry the policy name as rule name, like Kyverno's.
 *
 * Verification is asynchronous and CEL is not: an evaluation round records the
 * outcomes it needs, they are verified through src/images (with its caches),
 * and the round runs again; the last round, with every outcome known, decides.
 *
 * mutateDigest: `mutateDigest()` returns Kyverno's digest-pinning patches for
 * the mutating webhook, but the engine does not call it yet, so evaluation is
 * validate-only: a tag is verified through the digest it resolves to, and
 * `verifyDigest` is enforced only with `mutateDigest: false` (with
 * mutateDigest, Kyverno's mutating webhook pins digests before validation).
 * `required` looks at this policy's own verifications; Kyverno shares them
 * across all ImageValidatingPolicies of the request.
 */
import type { CelInput } from '@bufbuild/cel';
import { RE2JS } from '@bufbuild/re2';
import type { AdmissionInput, JsonObject, JsonValue, PatchOperation } from '../engine/types.ts';
import type { CelContextProvider } from './context.ts';
import { CelCompileError, KYVERNO_VARIABLES, compileExpression, type CompiledExpression } from './env.ts';
import { compileMatchConstraints, type ConstraintMatcher } from './match-constraints.ts';
import { CelPolicyCompileError, LazyVariables, celErrorText, kyvernoMessage } from './program.ts';
import { compileExceptionsFor, exceptionResult, type CompiledException } from './exceptions.ts';
import {
  autogenSpecs, namespaceInScope, policyDocument, namespaceObjectFor, policyIdentity, requestOf, validationActionsOf,
  type ValidationAction, type VpolEvalOptions, type VpolResult,
} from './vpol.ts';
import { toCelInput, toJson } from './values.ts';
import { withImageVerify, runtimeFor, VerificationState, type Attestation } from './lib/image-verify.ts';
import { compileWildcard } from '../engine/wildcard.ts';
import { digestPatch, extractImagesInfo, formatImageInfo, listImages, parseImageReference } from '../images/index.ts';
import { obj, str } from './json-shapes.ts';

export interface CompiledImageValidatingPolicy {
  name: string;
  namespace?: string;
  kind: string;
  validationActions: ValidationAction[];
  variants: string[];
  /** Verifies what the validations ask for, then decides; never rejects. */
  evaluate(input: AdmissionInput, opts?: VpolEvalOptions): Promise<VpolResult[]>;
  /**
   * Kyverno's mutating half (validationConfigurations.mutateDigest, default
   * true): JSON patches pinning the tags of matched container images to their
   * digests, and a `mutateDigest` error result for images whose digest could
   * not be resolved. Not called by the engine yet (see the module comment).
   */
  mutateDigest(input: AdmissionInput, opts?: VpolEvalOptions): Promise<{ patches: PatchOperation[]; results: VpolResult[] }>;
}

const list = (v: JsonValue | undefined): JsonValue[] => (Array.isArray(v) ? v : []);

/** Evaluation rounds before giving up on outcomes that keep being asked for. */
const MAX_ROUNDS = 6;
const GLOB_LENGTH_MAX = 1024;

// ---------------------------------------------------------------- compile helpers

/** Variables of ImageValidatingPolicy expressions (`ref` only in matchImageReferences expressions). */
const IV_VARIABLES = [...KYVERNO_VARIABLES, 'images', 'attestors', 'attestations'];

function compileAt(field: string, index: number, source: JsonValue | undefined, property = 'expression', declared: readonly string[] = IV_VARIABLES): CompiledExpression {
  try {
    return compileExpression(typeof source === 'string' ? source : '', declared);
  } catch (e) {
    if (e instanceof CelCompileError) throw new CelPolicyCompileError(field, index, e, property);
    throw e;
  }
}

/** gobwas/glob without separators (Kyverno's matchImageReferences glob): `*`, `?`, `[…]`, `[!…]`, `{a,b}`, `\` escapes. */
export function compileGlob(pattern: string): (s: string) => boolean {
  if (pattern.length > GLOB_LENGTH_MAX) throw new Error(`glob longer than ${GLOB_LENGTH_MAX} characters`);
  if (!/[[{\\]/.test(pattern)) return compileWildcard(pattern);
  let re = '';
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new Error(`unexpected end of input in glob ${JSON.stringify(pattern)}`);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\]\\^]/g, '\\$&')}]`;
      i = end;
    } else if (c === '{') {
      depth++;
      re += '(?:';
    } else if (c === '}' && depth > 0) {
      depth--;
      re += ')';
    } else if (c === ',' && depth > 0) re += '|';
    else re += escapeRe(c);
  }
  if (depth > 0) throw new Error(`unclosed alternatives in glob ${JSON.stringify(pattern)}`);
  // RE2 (linear time): a policy's glob is user input and alternatives could backtrack badly.
  const rx = RE2JS.compile(`^${re}$`, RE2JS.DOTALL);
  return (s) => rx.test(s);
}
const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

function compileImageMatchers(refs: JsonValue | undefined): ((image: string) => boolean)[] {
  return list(refs).map((r, i) => {
    const o = obj(r) ?? {};
    if (str(o.glob) !== '') {
      try {
        return compileGlob(str(o.glob));
      } catch (e) {
        throw new Error(`spec.matchImageReferences[${i}].glob: Invalid value: ${JSON.stringify(o.glob)}: ${(e as Error).message}`);
      }
    }
    if (str(o.expression) !== '') {
      const expr = compileAt('spec.matchImageReferences', i, o.expression, 'expression', ['ref']);
      return (image: string) => expr.evaluate({ ref: image }) === true;
    }
    throw new Error(`spec.matchImageReferences[${i}]: Invalid value: either glob or expression is required`);
  });
}

interface CompiledAttestor {
  name: string;
  raw: JsonObject;
  /** [JSON path to set, expression] for `…expression` fields evaluated per request. */
  exprs: { path: string[]; expr: CompiledExpression }[];
  /** The CEL value, built once when no field needs evaluating. */
  value?: CelInput;
}

function compileAttestors(attestors: JsonValue | undefined): CompiledAttestor[] {
  return list(attestors).map((a, i) => {
    const raw = obj(a) ?? {};
    const exprs: CompiledAttestor['exprs'] = [];
    const add = (holder: JsonObject | undefined, path: string[], valueKey: string) => {
      if (holder && str(holder.expression) !== '') exprs.push({ path: [...path, valueKey], expr: compileAt('spec.attestors', i, holder.expression) });
    };
    const cosign = obj(raw.cosign);
    add(obj(cosign?.key), ['cosign', 'key'], 'data');
    add(obj(obj(cosign?.certificate)?.cert), ['cosign', 'certificate', 'cert'], 'value');
    add(obj(obj(cosign?.certificate)?.certChain), ['cosign', 'certificate', 'certChain'], 'value');
    add(obj(obj(raw.notary)?.certs), ['notary', 'certs'], 'value');
    add(obj(obj(raw.notary)?.tsaCerts), ['notary', 'tsaCerts'], 'value');
    return { name: str(raw.name), raw, exprs };
  });
}

/** Kyverno's Pod image extractors; rewritten with the spec by autogen, empty for objects without them. */
const POD_EXTRACTORS: JsonValue[] = ['containers', 'initContainers', 'ephemeralContainers'].map((f) => ({
  name: f,
  expression: `object != null && has(object.spec) && has(object.spec.${f}) ? object.spec.${f}.map(e, e.image) : []`,
}));

// ---------------------------------------------------------------- variants

interface Variant {
  name: string | undefined;
  matches: ConstraintMatcher;
  matchConditions: { name: string; expr: CompiledExpression }[];
  variables: Map<string, CompiledExpression>;
  extractors: { name: string; expr: CompiledExpression }[];
  validations: { expr: CompiledExpression; message: string; messageExpr?: CompiledExpression }[];
  auditAnnotations: { key: string; expr: CompiledExpression }[];
  attestors: CompiledAttestor[];
  imageMatchers: ((image: string) => boolean)[];
}

function buildVariant(s: JsonObject, variant: string | undefined): Variant {
  const entries = (v: JsonValue | undefined) => list(v).map((x) => obj(x) ?? {});
  const variables = new Map<string, CompiledExpression>();
  entries(s.variables).forEach((v, i) => variables.set(str(v.name), compileAt('spec.variables', i, v.expression)));
  return {
    name: variant,
    matches: compileMatchConstraints(obj(s.matchConstraints)),
    matchConditions: entries(s.matchConditions).map((m, i) => ({ name: str(m.name), expr: compileAt('spec.matchConditions', i, m.expression) })),
    variables,
    extractors: entries(s.images).map((m, i) => ({ name: str(m.name), expr: compileAt('spec.images', i, m.expression) })),
    validations: entries(s.validations).map((v, i) => ({
      expr: compileAt('spec.validations', i, v.expression),
      message: str(v.message),
      ...(str(v.messageExpression).trim() !== '' ? { messageExpr: compileAt('spec.validations', i, v.messageExpression, 'messageExpression') } : {}),
    })),
    auditAnnotations: entries(s.auditAnnotations).map((a, i) => ({ key: str(a.key), expr: compileAt('spec.auditAnnotations', i, a.valueExpression, 'valueExpression') })),
    attestors: compileAttestors(s.attestors),
    imageMatchers: compileImageMatchers(s.matchImageReferences),
  };
}

// ---------------------------------------------------------------- compile

/**
 * Compile an ImageValidatingPolicy / NamespacedImageValidatingPolicy document
 * (with the CEL PolicyExceptions naming it); throws CelPolicyCompileError on a
 * bad expression, Error on a bad matchImageReferences entry.
 */
export function compileImageValidatingPolicy(doc: JsonObject, exceptions: readonly JsonObject[] = []): CompiledImageValidatingPolicy {
  const { kind, name, namespace, spec } = policyDocument(doc, 'ImageValidatingPolicy');
  const polex: CompiledException[] = compileExceptionsFor(name, kind, exceptions);
  const actions = validationActionsOf(spec);
  const ignoreFailures = spec.failurePolicy === 'Ignore';
  const vc = obj(spec.validationConfigurations) ?? {};
  const required = vc.required !== false;
  const mutateDigest = vc.mutateDigest !== false;
  const verifyDigest = vc.verifyDigest !== false && !mutateDigest;
  const attestations = new Map<string, Attestation>();
  for (const a of list(spec.attestations).map((x) => obj(x) ?? {})) {
    const referrer = obj(a.referrer);
    attestations.set(str(a.name), { name: str(a.name), predicateType: str(obj(a.intoto)?.type) || str(referrer?.type), referrer: referrer !== undefined });
  }
  const attestationNames = new Map([...attestations.keys()].map((k) => [k, k]));
  // User extractors come after the defaults so one named `containers` replaces the default.
  const withDefaults: JsonObject = { ...spec, images: [...POD_EXTRACTORS, ...list(spec.images)] };
  const variants: Variant[] = [buildVariant(withDefaults, undefined), ...autogenSpecs(withDefaults).map((a) => buildVariant(a.spec, a.variant))];

  /** Base bindings and the matchConditions / exceptions verdict: undefined to go on, else the result (null: no result). */
  function scope(v: Variant, input: AdmissionInput, opts: VpolEvalOptions, request: JsonObject, ns: string):
    { base: Record<string, CelInput>; stop?: VpolResult | null } {
    const tag = v.name !== undefined ? { variant: v.name } : {};
    const errorResult = (message: string): VpolResult => ({ rule: 'evaluation', status: 'error', message: `failed to evaluate policy: ${message}`, ...tag });
    const nsObj = namespaceObjectFor(input, ns, opts);
    const ctx: CelContextProvider | undefined = opts.context;
    const base: Record<string, CelInput> = {
      object: toCelInput(input.object as JsonValue), oldObject: toCelInput(input.oldObject as JsonValue), request: toCelInput(request),
      namespaceObject: toCelInput(nsObj), params: null, authorizer: null,
    };
    for (const m of v.matchConditions) {
      let r;
      try {
        r = m.expr.evaluate(base, ctx);
        if (r !== true && r !== false) throw new Error(`matchCondition '${m.name}' must return bool`);
      } catch (e) {
        return { base, stop: ignoreFailures ? null : errorResult(celErrorText((e as Error).message)) };
      }
      if (r === false) return { base, stop: null };
    }
    if (polex.length > 0) {
      try {
        const ex = exceptionResult(polex, base, ctx);
        if (ex) return { base, stop: { rule: 'exception', status: ex.status, message: ex.message, ...tag } };
      } catch (e) {
        return { base, stop: errorResult(celErrorText((e as Error).message)) };
      }
    }
    return { base };
  }

  async function evaluateVariant(v: Variant, input: AdmissionInput, opts: VpolEvalOptions, request: JsonObject, ns: string): Promise<VpolResult | undefined> {
    const tag = v.name !== undefined ? { variant: v.name } : {};
    const errorResult = (message: string): VpolResult => ({ rule: 'evaluation', status: 'error', message: `failed to evaluate policy: ${message}`, ...tag });
    const ctx: CelContextProvider | undefined = opts.context;
    const { base, stop } = scope(v, input, opts, request, ns);
    if (stop !== undefined) return stop ?? undefined;
    let bindings: Record<string, CelInput> = base;
    const vars = new LazyVariables(v.variables, () => bindings, ctx);
    bindings = { ...base, variables: vars };
    // Images per extractor, filtered by matchImageReferences.
    const matchesImage = (image: string) => v.imageMatchers.length === 0 || v.imageMatchers.some((m) => m(image));
    const images = new Map<string, CelInput>();
    const matched: string[] = [];
    try {
      for (const x of v.extractors) {
        const out = toJson(x.expr.evaluate(bindings, ctx));
        if (!Array.isArray(out)) throw new Error(`image extractor ${x.name} must return a list of strings`);
        const kept = out.map(String).filter(matchesImage);
        images.set(x.name, kept);
        for (const i of kept) if (!matched.includes(i)) matched.push(i);
      }
    } catch (e) {
      return errorResult(celErrorText((e as Error).message));
    }
    if (verifyDigest) {
      for (const image of matched) {
        let digest = '';
        try {
          digest = parseImageReference(image).digest;
        } catch (e) {
          return errorResult(`failed to parse image reference ${image}: ${(e as Error).message}`);
        }
        if (!digest) return { rule: name, status: 'fail', message: `image ${image} does not have a digest`, ...tag };
      }
    }
    // Attestors with `…expression` fields resolved for this request.
    const attestors = new Map<string, CelInput>();
    for (const a of v.attestors) {
      let raw: JsonObject = a.raw;
      if (a.exprs.length > 0) {
        raw = structuredClone(a.raw);
        for (const { path, expr } of a.exprs) {
          let value: JsonValue;
          try {
            value = toJson(expr.evaluate(bindings, ctx));
          } catch (e) {
            return errorResult(`failed to evaluate compiled attestor: ${a.name}, error: ${celErrorText((e as Error).message)}`);
          }
          let holder = raw;
          for (const p of path.slice(0, -1)) holder = (holder[p] ??= {}) as JsonObject;
          holder[path[path.length - 1]!] = value;
        }
      }
      attestors.set(a.name, a.exprs.length > 0 ? toCelInput(raw) : (a.value ??= toCelInput(raw)));
    }
    bindings.images = images;
    bindings.attestors = attestors;
    bindings.attestations = attestationNames;

    const state = new VerificationState(opts.images, input.object ?? input.oldObject, ns);
    const rt = runtimeFor(state, attestations, matchesImage);
    for (let round = 1; ; round++) {
      state.newRound();
      // Each round starts from fresh variables: memoised errors may stem from outcomes unknown last round.
      let roundBindings: Record<string, CelInput> = bindings;
      const roundVars = new LazyVariables(v.variables, () => roundBindings, ctx);
      roundBindings = { ...bindings, variables: roundVars };
      const verdict = withImageVerify(rt, () => decide(v, roundBindings, ctx, state));
      if (state.pending.size === 0) {
        if (verdict.kind === 'error') return errorResult(verdict.message);
        const audit = auditAnnotations(v, roundBindings, ctx);
        if (verdict.kind === 'fail') return { rule: name, status: 'fail', message: verdict.message, validationIndex: verdict.index, ...tag, ...audit };
        if (required) {
          for (const image of matched) {
            if (state.verified.has(image)) continue;
            const message = state.attempted.has(image) ? `image ${image} failed signature or attestation verification`
              : `image ${image} is not verified: no policy performed a signature or attestation check on it`;
            return { rule: name, status: 'fail', message, ...tag, ...audit };
          }
        }
        return { rule: name, status: 'pass', message: 'success', ...tag, ...audit };
      }
      if (round >= MAX_ROUNDS) return errorResult('image verification did not settle: verification functions kept asking for new outcomes');
      await state.resolve();
    }
  }

  return {
    ...policyIdentity(name, namespace, kind, actions, variants),
    async evaluate(input, opts = {}) {
      const ns = namespaceInScope(input, namespace);
      if (ns === null) return [];
      const request = requestOf(input, opts.request);
      const results: VpolResult[] = [];
      for (const v of variants) {
        if (!v.matches(input)) continue;
        const r = await evaluateVariant(v, input, opts, request, ns);
        if (r) results.push(r);
      }
      return results;
    },
    async mutateDigest(input, opts = {}) {
      const none = { patches: [], results: [] };
      const resource = input.object;
      if (!mutateDigest || !resource) return none;
      const ns = namespaceInScope(input, namespace);
      if (ns === null) return none;
      const request = requestOf(input, opts.request);
      const v = variants.find((x) => x.matches(input));
      if (!v) return none;
      const { stop } = scope(v, input, opts, request, ns);
      if (stop === null || stop?.rule === 'exception') return none;
      if (stop) return { patches: [], results: [stop] };
      const matchesImage = (image: string) => v.imageMatchers.length === 0 || v.imageMatchers.some((m) => m(image));
      const state = new VerificationState(opts.images, resource, ns);
      const patches: PatchOperation[] = [];
      const errors: string[] = [];
      // The well-known container fields of Pods and pod controllers, as Kyverno pins them.
      for (const info of listImages(extractImagesInfo(resource))) {
        const image = formatImageInfo(info);
        if (info.digest || !matchesImage(image)) continue;
        try {
          const client = await state.getClient();
          patches.push(digestPatch(info, await client.resolveDigest(parseImageReference(image))));
        } catch (e) {
          errors.push(`failed to resolve digest for image ${image}: ${(e as Error).message}`);
        }
      }
      const tag = v.name !== undefined ? { variant: v.name } : {};
      const results: VpolResult[] = errors.length > 0 ? [{ rule: 'mutateDigest', status: 'error', message: `failed to update digest: ${errors.join('; ')}`, ...tag }] : [];
      return { patches, results };
    },
  };
}

type Verdict = { kind: 'pass' } | { kind: 'fail'; message: string; index: number } | { kind: 'error'; message: string };

/**
 * One round over the validations, stopping at the first that does not pass
 * (Kyverno). A validation that could not finish because outcomes are pending
 * does not stop the round: later ones are tried so their lookups are queued too.
 */
function decide(v: Variant, bindings: Record<string, CelInput>, ctx: CelContextProvider | undefined, state: VerificationState): Verdict {
  let verdict: Verdict | undefined;
  for (let index = 0; index < v.validations.length; index++) {
    const val = v.validations[index]!;
    const before = state.misses;
    let out;
    try {
      out = val.expr.evaluate(bindings, ctx);
    } catch (e) {
      if (state.misses > before) continue;
      verdict ??= { kind: 'error', message: celErrorText((e as Error).message) };
      break;
    }
    if (out === true) continue;
    if (out !== false) {
      verdict ??= { kind: 'error', message: `expression '${val.expr.source.trim()}' must return a boolean` };
      break;
    }
    const message = kyvernoMessage(val.message, val.messageExpr, bindings, ctx);
    verdict ??= { kind: 'fail', message: message || `CEL expression validation failed at index ${index}`, index };
    break;
  }
  return verdict ?? { kind: 'pass' };
}

function auditAnnotations(v: Variant, bindings: Record<string, CelInput>, ctx: CelContextProvider | undefined): { auditAnnotations?: Record<string, string> } {
  const out: Record<string, string> = {};
  for (const a of v.auditAnnotations) {
    try {
      const value = toJson(a.expr.evaluate(bindings, ctx));
      if (typeof value === 'string' && value !== '') out[a.key] = value;
    } catch {
      // an audit annotation that fails to evaluate is dropped
    }
  }
  return Object.keys(out).length > 0 ? { auditAnnotations: out } : {};
}
