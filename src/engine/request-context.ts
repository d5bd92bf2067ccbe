/**
 * The JSON context a rule's variables are evaluated against. Built once per
 * admission input and object version (a "seed"); each rule then gets a cheap
 * shallow copy, so context entries one rule loads never leak into another.
 * `images` is computed only when a rule first reads it, once per seed.
 */
import type { AdmissionInput, JsonValue, KubeObject } from './types.ts';
import { buildContextData, setVariable, type ContextData } from './variables.ts';
import { extractImagesInfo, imagesContextValue } from '../images/extract.ts';
import { parseImageReference } from '../images/reference.ts';
import { setImageNormalizer } from './jmespath/index.ts';

// JMESPath image_normalize() answers with the same reference parser as `images`.
setImageNormalizer((image) => parseImageReference(image).reference);

export interface ContextSeed {
  fields: ContextData;
  /** The context shared by rules that load no context entries (they never write to it). */
  shared?: ContextData;
  /** Null when no rule can read `images`: the context then has no such entry at all. */
  images: (() => JsonValue | undefined) | null;
  variables?: Record<string, JsonValue>;
}

/** Seed for `input` with `object` as request.object (the mutated object, once mutate rules ran). */
export function contextSeed(input: AdmissionInput, object: KubeObject | null, variables?: Record<string, JsonValue>,
  withImages = true): ContextSeed {
  const fields = buildContextData(object === input.object ? input : { ...input, object });
  if (!withImages) return { fields, images: null, variables };
  const resource = object ?? input.oldObject;
  let cached: JsonValue | undefined;
  let done = false;
  const images = () => {
    if (!done) {
      done = true;
      try {
        cached = imagesContextValue(extractImagesInfo(resource)) ?? undefined;
      } catch {
        cached = undefined;
      }
    }
    return cached;
  };
  return { fields, images, variables };
}

/** The context for a rule: its own copy when it loads context entries, else the seed's shared one. */
export function contextForRule(seed: ContextSeed, ownsContext: boolean): ContextData {
  if (ownsContext) return contextFrom(seed);
  return (seed.shared ??= contextFrom(seed));
}

/** A fresh per-rule context from a seed. */
export function contextFrom(seed: ContextSeed): ContextData {
  const data: ContextData = { ...seed.fields };
  const images = seed.images;
  if (images === null) {
    if (seed.variables) for (const [k, v] of Object.entries(seed.variables)) setVariable(data, k, v);
    return data;
  }
  let override: { v: JsonValue } | undefined;
  Object.defineProperty(data, 'images', {
    enumerable: true,
    configurable: true,
    get: () => (override ? override.v : images()),
    set: (v: JsonValue) => { override = { v }; },
  });
  if (seed.variables) for (const [k, v] of Object.entries(seed.variables)) setVariable(data, k, v);
  return data;
}
