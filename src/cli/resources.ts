/**
 * Resource files for the CLI (`test`, `apply`): multi-document YAML/JSON in,
 * Kubernetes objects out, normalised the way the Kyverno CLI does it (a missing
 * metadata.namespace becomes `default`; duplicates by group/kind/namespace/name
 * keep the first). Also the semantic comparison used for expected patched and
 * generated resources (labels fixed up as Kyverno's CLI does).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { JsonValue, KubeObject } from '../engine/types.ts';

export interface ResourceLoadError {
  file: string;
  reason: string;
}

export interface ResourceLoadResult {
  resources: KubeObject[];
  errors: ResourceLoadError[];
}

const RESOURCE_EXTENSIONS = ['.yaml', '.yml', '.json'];

function isObject(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse every document of a YAML/JSON text. Empty documents are ignored; a
 * document that is not a mapping, or a YAML syntax error, is an error (the
 * Kyverno CLI refuses such files too).
 */
export function parseResourceText(text: string, file: string): ResourceLoadResult {
  const resources: KubeObject[] = [];
  const errors: ResourceLoadError[] = [];
  let docs;
  try {
    // `merge: true` so `<<:` keys behave like Go's YAML decoder.
    docs = parseAllDocuments(text, { merge: true, uniqueKeys: false });
  } catch (e) {
    return { resources, errors: [{ file, reason: (e as Error).message }] };
  }
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    if (doc.errors.length > 0) {
      errors.push({ file, reason: doc.errors[0]!.message });
      continue;
    }
    const value = doc.toJS({ maxAliasCount: 1000 }) as unknown;
    if (value === null || value === undefined) continue;
    if (!isObject(value)) {
      errors.push({ file, reason: 'document is not an object' });
      continue;
    }
    resources.push(normaliseResource(value as KubeObject));
  }
  return { resources, errors };
}

/** Kyverno CLI: a resource read from a file without a namespace lives in `default`. */
export function normaliseResource(obj: KubeObject): KubeObject {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  if (typeof meta.namespace !== 'string' || meta.namespace === '') {
    return { ...obj, metadata: { ...meta, namespace: 'default' } };
  }
  return obj;
}

async function listFiles(path: string): Promise<string[]> {
  const st = await stat(path);
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(path, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (RESOURCE_EXTENSIONS.some((x) => e.name.endsWith(x))) out.push(p);
  }
  return out;
}

/** Load resources from files and directories (recursively, sorted). */
export async function loadResourceFiles(paths: readonly string[]): Promise<ResourceLoadResult> {
  const resources: KubeObject[] = [];
  const errors: ResourceLoadError[] = [];
  for (const path of paths) {
    let files: string[];
    try {
      files = await listFiles(path);
    } catch (e) {
      errors.push({ file: path, reason: (e as Error).message });
      continue;
    }
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        errors.push({ file, reason: (e as Error).message });
        continue;
      }
      const r = parseResourceText(text, file);
      resources.push(...r.resources);
      errors.push(...r.errors);
    }
  }
  return { resources, errors };
}

export interface ResourceIdentity {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

export function identityOf(obj: KubeObject): ResourceIdentity {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  return {
    apiVersion: typeof obj.apiVersion === 'string' ? obj.apiVersion : '',
    kind: typeof obj.kind === 'string' ? obj.kind : '',
    namespace: typeof meta.namespace === 'string' ? meta.namespace : '',
    name: typeof meta.name === 'string' ? meta.name : '',
  };
}

/** `group/version` → group ('' for the core group). */
export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

export function versionOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? apiVersion : apiVersion.slice(i + 1);
}

/** Duplicate key: group + kind + namespace + name (the version does not matter). */
export function duplicateKey(obj: KubeObject): string {
  const id = identityOf(obj);
  return `${groupOf(id.apiVersion)}|${id.kind}|${id.namespace}|${id.name}`;
}

/** Keep the first of each group/kind/namespace/name; report the others. */
export function removeDuplicates(resources: readonly KubeObject[]): { uniques: KubeObject[]; duplicates: KubeObject[] } {
  const seen = new Set<string>();
  const uniques: KubeObject[] = [];
  const duplicates: KubeObject[] = [];
  for (const r of resources) {
    const k = duplicateKey(r);
    if (seen.has(k)) duplicates.push(r);
    else {
      seen.add(k);
      uniques.push(r);
    }
  }
  return { uniques, duplicates };
}

/** Human form used in tables and messages: `Kind/namespace/name` (namespace omitted when empty). */
export function describeResource(obj: KubeObject): string {
  const id = identityOf(obj);
  return [id.kind, id.namespace, id.name].filter((s) => s !== '').join('/');
}

/**
 * Drop nulls, empty maps and empty lists, recursively (what the Kyverno CLI
 * does before comparing resources, so `labels: {}` equals no labels).
 */
export function tidy(value: JsonValue | undefined): JsonValue | undefined {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    const out: JsonValue[] = [];
    for (const v of value) {
      const t = tidy(v);
      if (t !== undefined) out.push(t);
    }
    return out.length === 0 ? undefined : out;
  }
  if (typeof value === 'object') {
    const out: { [k: string]: JsonValue } = {};
    let n = 0;
    for (const [k, v] of Object.entries(value)) {
      const t = tidy(v);
      if (t !== undefined) {
        out[k] = t;
        n++;
      }
    }
    return n === 0 ? undefined : out;
  }
  return value;
}

function deepEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (typeof a === 'object') {
    if (typeof b !== 'object' || Array.isArray(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    for (const k of ka) {
      if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
      if (!deepEqual(a[k], b[k])) return false;
    }
    return true;
  }
  return false;
}

/**
 * Kyverno CLI's FixupGenerateLabels, applied to both sides before comparing an
 * expected patched or generated resource: `generate.kyverno.io/*` labels are
 * dropped and `app.kubernetes.io/managed-by` defaults to `kyverno`, so the
 * labels Kyverno puts on what it generates never make a difference.
 */
export function withoutGenerateLabels(obj: KubeObject): KubeObject {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const labels: Record<string, JsonValue> = { 'app.kubernetes.io/managed-by': 'kyverno' };
  if (isObject(meta.labels)) {
    for (const [k, v] of Object.entries(meta.labels)) if (!k.startsWith('generate.kyverno.io/')) labels[k] = v;
  }
  return { ...obj, metadata: { ...meta, labels: labels as Record<string, string> } };
}

/** Semantic equality of two resources after tidying (key order and empty fields do not matter). */
export function resourcesEqual(actual: KubeObject, expected: KubeObject): boolean {
  return deepEqual(tidy(actual as JsonValue), tidy(expected as JsonValue));
}

/** Paths (JSON-pointer-like) where two tidied resources differ; for diff messages. Capped. */
export function resourceDiff(actual: KubeObject, expected: KubeObject, limit = 10): string[] {
  const out: string[] = [];
  const walk = (a: JsonValue | undefined, e: JsonValue | undefined, path: string): void => {
    if (out.length >= limit || deepEqual(a, e)) return;
    const bothObjects = a && e && typeof a === 'object' && typeof e === 'object' && !Array.isArray(a) && !Array.isArray(e);
    if (bothObjects) {
      const keys = new Set([...Object.keys(a as object), ...Object.keys(e as object)]);
      for (const k of [...keys].sort()) walk((a as Record<string, JsonValue>)[k], (e as Record<string, JsonValue>)[k], `${path}/${k}`);
      return;
    }
    if (Array.isArray(a) && Array.isArray(e) && a.length === e.length) {
      for (let i = 0; i < a.length; i++) walk(a[i], e[i], `${path}/${i}`);
      return;
    }
    if (e === undefined) out.push(`${path || '/'}: only in actual: ${JSON.stringify(a)}`);
    else if (a === undefined) out.push(`${path || '/'}: only in expected: ${JSON.stringify(e)}`);
    else out.push(`${path || '/'}: expected ${JSON.stringify(e)}, got ${JSON.stringify(a)}`);
  };
  walk(tidy(actual as JsonValue), tidy(expected as JsonValue), '');
  return out;
}

/** Parse one expected-resource file; any bad document is an error (Kyverno: "failed to load resource"). */
export async function loadResourceFile(file: string): Promise<KubeObject[]> {
  const parsed = parseResourceText(await readFile(file, 'utf8'), file);
  if (parsed.errors.length > 0) throw new Error(`failed to load resource (${parsed.errors[0]!.reason})`);
  return parsed.resources;
}

/**
 * The resource with the given identity among a file's documents; undefined
 * when absent (the Kyverno CLI then ignores the expectation for that resource:
 * "not found in manifest").
 */
export function pickResource(resources: readonly KubeObject[], id: ResourceIdentity): KubeObject | undefined {
  // A lone document with the right kind and name is accepted even when its namespace or
  // apiVersion was written differently (expected files are often written loosely).
  if (resources.length === 1) {
    const only = identityOf(resources[0]!);
    if (only.kind === id.kind && only.name === id.name) return resources[0];
  }
  return resources.find((r) => {
    const x = identityOf(r);
    return x.apiVersion === id.apiVersion && x.kind === id.kind && x.name === id.name && x.namespace === id.namespace;
  });
}
