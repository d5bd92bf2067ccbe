/**
 * The JSON context a rule's variables are evaluated against, per admission
 * input: `request.*` and the service account (variables.ts buildContextData),
 * plus `images`, computed only when a rule first reads it.
 */
import type { AdmissionInput, JsonValue, KubeObject } from './types.ts';
import { buildContextData, setVariable, type ContextData } from './variables.ts';
import { extractImagesInfo, imagesContextValue } from '../images/extract.ts';
import { parseImageReference } from '../images/reference.ts';
import { setImageNormalizer } from './jmespath/index.ts';

// JMESPath image_normalize() answers with the same reference parser as `images`.
setImageNormalizer((image) => parseImageReference(image).reference);

/** Define `images` lazily: most rules never read it, and extraction parses every image reference. */
function defineImages(data: ContextData, resource: KubeObject | null): void {
  let cached: JsonValue | undefined;
  let done = false;
  Object.defineProperty(data, 'images', {
    enumerable: true,
    configurable: true,
    get() {
      if (!done) {
        done = true;
        try {
          cached = imagesContextValue(extractImagesInfo(resource)) ?? undefined;
        } catch {
          cached = undefined;
        }
      }
      return cached;
    },
    set(v: JsonValue) {
      done = true;
      cached = v;
    },
  });
}

/** Context for `input` with `object` as request.object (the mutated object, once mutate rules ran). */
export function contextFor(input: AdmissionInput, object: KubeObject | null, variables?: Record<string, JsonValue>): ContextData {
  const data = buildContextData(object === input.object ? input : { ...input, object });
  defineImages(data, object ?? input.oldObject);
  if (variables) for (const [k, v] of Object.entries(variables)) setVariable(data, k, v);
  return data;
}
