/**
 * Kyverno's `images` context variable: every container image of a Pod (or of a
 * pod controller's template) parsed into ImageInfo, grouped by container kind
 * and keyed by container name:
 *
 *   images.containers.<name>          { registry, path, name, tag, digest, reference, referenceWithTag, jsonPointer }
 *   images.initContainers.<name>
 *   images.ephemeralContainers.<name>
 *
 * Fields with an empty value are absent (Kyverno serialises with omitempty;
 * `name` and `path` are always present). Groups without images are absent, and
 * a resource without any image yields `{}` — Kyverno then does not define
 * `images` at all.
 *
 * Custom extractors (the rule's `imageExtractors`) follow Kyverno's
 * `path`/`value`/`key`/`name`/`jmesPath` semantics.
 */
import type { JsonObject, JsonValue, KubeObject } from '../engine/types.ts';
import { evaluateJMESPath } from '../engine/variables.ts';
import { parseImageReference, ImageReferenceError, type ImageInfo, type ParseOptions } from './reference.ts';

/** One extracted image: Kyverno's ImageInfo plus the JSON pointer of the image string in the resource. */
export interface ExtractedImage extends ImageInfo {
  jsonPointer: string;
}

/** group (`containers`, …, or a custom extractor name) → key (container name or pointer) → image. */
export type ImagesByGroup = Record<string, Record<string, ExtractedImage>>;

/** A `imageExtractors.<Kind>[]` entry of a Kyverno rule. */
export interface ImageExtractorConfig {
  path: string;
  value?: string;
  name?: string;
  key?: string;
  jmesPath?: string;
}
export type ImageExtractorConfigs = Record<string, ImageExtractorConfig[]>;

export class ImageExtractionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageExtractionError';
  }
}

interface Extractor {
  /** Field names to walk; `*` iterates an array (or object values). */
  fields: string[];
  /** Field holding the key (e.g. `name`); '' keys by JSON pointer. */
  key: string;
  /** Field holding the image string. */
  value: string;
  /** Group name under `images`. */
  name: string;
  jmesPath: string;
}

const GROUPS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

function standardExtractors(...prefix: string[]): Extractor[] {
  return GROUPS.map((group) => ({ fields: [...prefix, group, '*'], key: 'name', value: 'image', name: group, jmesPath: '' }));
}

const POD = standardExtractors('spec');
const POD_CONTROLLER = standardExtractors('spec', 'template', 'spec');
const CRONJOB = standardExtractors('spec', 'jobTemplate', 'spec', 'template', 'spec');

const REGISTERED: Record<string, Extractor[]> = {
  Pod: POD,
  DaemonSet: POD_CONTROLLER,
  Deployment: POD_CONTROLLER,
  ReplicaSet: POD_CONTROLLER,
  ReplicationController: POD_CONTROLLER,
  StatefulSet: POD_CONTROLLER,
  Job: POD_CONTROLLER,
  CronJob: CRONJOB,
};

/** Kinds whose images Kyverno extracts without custom extractors. */
export const KINDS_WITH_IMAGES: readonly string[] = Object.keys(REGISTERED);

/** Pre-process a rule's `imageExtractors` once (policy compile time). */
export function compileImageExtractors(configs: ImageExtractorConfigs | undefined): Map<string, Extractor[]> {
  const out = new Map<string, Extractor[]>();
  if (!configs) return out;
  for (const [kind, list] of Object.entries(configs)) {
    out.set(kind, (list ?? []).map((c) => {
      const fields = c.path.split('/').map((f) => f.trim()).filter((f) => f !== '');
      let value = c.value ?? '';
      if (value === '') value = fields.pop() ?? '';
      return { fields, key: c.key ?? '', value, name: c.name || 'custom', jmesPath: c.jmesPath ?? '' };
    }));
  }
  return out;
}

export interface ExtractOptions extends ParseOptions {
  /** Result of compileImageExtractors for the rule, when it declares `imageExtractors`. */
  extractors?: Map<string, Extractor[]>;
}

/**
 * Extract and parse every image of `resource`. Throws ImageExtractionError with
 * Kyverno's wording on an invalid image (`invalid image '<img>' (bad image: …)`)
 * or malformed container list.
 */
export function extractImagesInfo(resource: KubeObject | null | undefined, options: ExtractOptions = {}): ImagesByGroup {
  const result: ImagesByGroup = {};
  if (!resource || typeof resource !== 'object') return result;
  const kind = typeof resource.kind === 'string' ? resource.kind : '';
  const custom = options.extractors?.get(kind);
  if (custom !== undefined && custom.length === 0) throw new ImageExtractionError(`no extractors found for ${kind}`);
  const extractors = custom ?? REGISTERED[kind];
  if (!extractors) return result;
  for (const ex of extractors) {
    const found: Record<string, ExtractedImage> = {};
    walk(resource as JsonValue, [], ex, 0, found, options);
    if (Object.keys(found).length > 0) result[ex.name] = found;
  }
  return result;
}

function walk(obj: JsonValue | undefined, path: string[], ex: Extractor, depth: number,
  out: Record<string, ExtractedImage>, options: ParseOptions): void {
  if (obj === null || obj === undefined) return;
  if (depth < ex.fields.length && ex.fields[depth] === '*') {
    if (Array.isArray(obj)) {
      obj.forEach((v, i) => walk(v, [...path, String(i)], ex, depth + 1, out, options));
    } else if (typeof obj === 'object') {
      for (const [k, v] of Object.entries(obj)) walk(v, [...path, k], ex, depth + 1, out, options);
    } else {
      throw new ImageExtractionError('invalid type');
    }
    return;
  }
  if (typeof obj !== 'object' || Array.isArray(obj)) throw new ImageExtractionError('invalid image config');
  if (depth < ex.fields.length) {
    const field = ex.fields[depth];
    walk(obj[field], [...path, field], ex, depth + 1, out, options);
    return;
  }
  const pointer = `/${path.join('/')}/${ex.value}`;
  let key = pointer;
  if (ex.key !== '') {
    const k = obj[ex.key];
    if (typeof k !== 'string') throw new ImageExtractionError('invalid key');
    key = k;
  }
  let value = obj[ex.value];
  if (typeof value !== 'string' || value.trim() === '') return; // no image here
  if (ex.jmesPath !== '') {
    const v = evaluateJMESPath(ex.jmesPath, value);
    if (typeof v !== 'string') throw new ImageExtractionError(`jmespath ${ex.jmesPath} must produce a string, but produced ${JSON.stringify(v)}`);
    value = v;
  }
  try {
    out[key] = { ...parseImageReference(value, options), jsonPointer: pointer };
  } catch (e) {
    if (e instanceof ImageReferenceError) throw new ImageExtractionError(`invalid image '${value}' (${e.message})`);
    throw e;
  }
}

/** Kyverno's JSON shape of one image (omitempty on registry/tag/digest/reference/referenceWithTag). */
export function imageInfoToJson(info: ImageInfo & { jsonPointer?: string }): JsonObject {
  const o: JsonObject = {};
  if (info.registry) o.registry = info.registry;
  o.name = info.name;
  o.path = info.path;
  if (info.tag) o.tag = info.tag;
  if (info.digest) o.digest = info.digest;
  if (info.reference) o.reference = info.reference;
  if (info.referenceWithTag) o.referenceWithTag = info.referenceWithTag;
  if (info.jsonPointer !== undefined) o.jsonPointer = info.jsonPointer;
  return o;
}

/** The value to bind to `images` in the evaluation context; undefined when the resource has no image. */
export function imagesContextValue(images: ImagesByGroup): JsonObject | undefined {
  const groups = Object.keys(images);
  if (groups.length === 0) return undefined;
  const out: JsonObject = {};
  for (const g of groups) {
    const m: JsonObject = {};
    for (const [k, info] of Object.entries(images[g])) m[k] = imageInfoToJson(info);
    out[g] = m;
  }
  return out;
}

/** Kyverno's `image` context entry set while verifying one image (no jsonPointer, all keys present). */
export function imageContextValue(info: ImageInfo): JsonObject {
  return {
    reference: info.reference,
    referenceWithTag: info.referenceWithTag,
    registry: info.registry,
    path: info.path,
    name: info.name,
    tag: info.tag,
    digest: info.digest,
  };
}

/** Flatten groups into a list (stable order: initContainers, containers, ephemeralContainers, custom). */
export function listImages(images: ImagesByGroup): ExtractedImage[] {
  const out: ExtractedImage[] = [];
  for (const g of Object.keys(images)) for (const info of Object.values(images[g])) out.push(info);
  return out;
}
