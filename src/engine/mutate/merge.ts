/**
 * Strategic merge with kustomize's (kyaml merge2) rules, which is what Kyverno
 * runs after anchor pre-processing:
 *  - maps merge key by key; a `null` patch value deletes the key;
 *  - `$patch: delete` removes a map (or list element), `$patch: replace` makes the
 *    patch map replace the resource map; `$patch: merge` is the default;
 *  - lists whose schema says `merge` are associative: elements pair by the merge
 *    key and merge recursively; patch elements come first, then resource-only
 *    elements (kustomize merges with "prepend" list direction); a merging list of
 *    scalars becomes the union;
 *  - every other list (and every list of an unknown kind) is replaced;
 *  - a type change (map ↔ list ↔ scalar) is an error, as in kyaml.
 * Neither input is modified: the result shares every resource subtree the patch
 * leaves unchanged (and is the resource itself when nothing changes); whatever is
 * taken from the patch is copied, so a compiled patch can be reused.
 */
import type { JsonObject, JsonValue } from '../types.ts';
import { clone, isMap } from './json.ts';
import { schemaForResource, type SchemaNode } from './schema.ts';

export class MergeError extends Error {}

const DELETE = Symbol('delete');
type Merged = JsonValue | typeof DELETE | undefined;

/** Merge `patch` into `resource` (kustomize semantics); `resource` is not modified. */
export function strategicMerge(resource: JsonObject, patch: JsonObject): JsonObject {
  const schema = schemaForResource(resource.apiVersion, resource.kind) ?? schemaForResource(patch.apiVersion, patch.kind);
  const out = mergeValue(resource, patch, schema);
  if (!isMap(out)) throw new MergeError('strategic merge patch removed the whole resource');
  return out;
}

function nodeKind(v: JsonValue): string {
  return Array.isArray(v) ? 'SequenceNode' : isMap(v) ? 'MappingNode' : 'ScalarNode';
}

const DIRECTIVE = '$patch';

/** The `$patch` directive of a patch map (the key itself is never merged). */
function directive(p: JsonObject): 'merge' | 'delete' | 'replace' {
  if (!Object.hasOwn(p, DIRECTIVE)) return 'merge';
  const v = p[DIRECTIVE];
  if (v === 'merge' || v === 'delete' || v === 'replace') return v;
  throw new MergeError(`unknown patch strategy '${String(v)}'`);
}

function mergeValue(d: JsonValue | undefined, p: JsonValue | undefined, schema: SchemaNode | undefined): Merged {
  if (p === undefined) return d;
  const dMissing = d === undefined || d === null;
  if (p === null) return DELETE;
  if (!dMissing && nodeKind(d) !== nodeKind(p)) {
    throw new MergeError(`wrong node kind: expected ${nodeKind(d)} but got ${nodeKind(p)}`);
  }
  if (isMap(p)) {
    if (dMissing) return normalize(p, schema);
    const dir = directive(p);
    if (dir === 'delete') return DELETE;
    if (dir === 'replace') return normalize(p, schema);
    return mergeMap(d as JsonObject, p, schema);
  }
  if (Array.isArray(p)) {
    if (!schema?.merge) return clone(p);
    if (dMissing) return normalize(p, schema);
    return mergeList(d as JsonValue[], p, schema);
  }
  return p;
}

/**
 * Copy-on-write: resource subtrees the patch does not change are shared with the
 * input, which is never modified, and a map the patch leaves as it is comes back
 * as the same object — so "nothing changed" is an identity check for callers.
 */
function mergeMap(d: JsonObject, p: JsonObject, schema: SchemaNode | undefined): JsonObject {
  let out: JsonObject | undefined;
  // Resource-only fields stay as they are (and where they are); patch keys are
  // visited in sorted order, so added fields land in a deterministic order.
  const keys = Object.keys(p);
  if (keys.length > 1) keys.sort();
  for (const k of keys) {
    if (k === DIRECTIVE) continue;
    const has = Object.hasOwn(d, k);
    const before = has ? d[k] : undefined;
    const r = mergeValue(before, p[k], schema?.fields?.[k]);
    if (r === DELETE || r === undefined) {
      if (!has) continue;
      out ??= { ...d };
      delete out[k];
    } else if (r !== before || !has) {
      out ??= { ...d };
      out[k] = r;
    }
  }
  return out ?? d;
}

/** A patch value added where the resource has nothing: directives and nulls are resolved inside it. */
function normalize(p: JsonValue, schema: SchemaNode | undefined): Merged {
  if (isMap(p)) {
    if (directive(p) === 'delete') return DELETE;
    const out: JsonObject = {};
    for (const k of Object.keys(p)) {
      if (k === DIRECTIVE) continue;
      const r = normalize(p[k], schema?.fields?.[k]);
      if (r !== DELETE && r !== null && r !== undefined) out[k] = r;
    }
    return out;
  }
  if (Array.isArray(p)) {
    if (!schema?.merge) return clone(p);
    const out = mergeList([], p, schema);
    // With no resource list, kustomize keeps the patch list itself, so elements lacking the key stay.
    const key = schema.key;
    if (key !== undefined) for (const e of p) if (e !== null && keyOf(e, key) === undefined) out.push(clone(e));
    return out;
  }
  return p;
}

function keyOf(e: JsonValue, key: string): string | undefined {
  if (!isMap(e) || !Object.hasOwn(e, key)) return undefined;
  const v = e[key];
  return v === null || typeof v === 'object' ? undefined : String(v);
}

function isEmptyMap(v: Merged): boolean {
  return isMap(v) && Object.keys(v).length === 0;
}

function mergeList(d: JsonValue[], p: JsonValue[], schema: SchemaNode): JsonValue[] {
  const key = schema.key;
  if (key === undefined) return mergeScalarList(d, p);
  const values: string[] = [];
  const seen = new Set<string>();
  for (const e of [...p, ...d]) {
    const k = keyOf(e, key);
    if (k !== undefined && !seen.has(k)) { seen.add(k); values.push(k); }
  }
  const consumed = new Set<JsonValue>();
  const deleted = new Set<string>();
  const items: JsonValue[] = [];
  for (const v of values) {
    const de = d.find((e) => keyOf(e, key) === v);
    const pe = p.find((e) => keyOf(e, key) === v);
    if (de !== undefined) consumed.add(de);
    const r = mergeValue(de, pe, schema.items);
    if (r === DELETE || r === null || r === undefined || isEmptyMap(r)) { deleted.add(v); continue; }
    if (isMap(r) && !Object.hasOwn(r, key)) r[key] = v;
    items.push(r);
  }
  // Resource elements not paired above (no merge key, duplicates) stay, after the merged ones.
  for (const e of d) {
    if (consumed.has(e)) continue;
    const k = keyOf(e, key);
    if (k !== undefined && deleted.has(k)) continue;
    items.push(e);
  }
  return sameElements(d, items) ? d : items;
}

function sameElements(a: JsonValue[], b: JsonValue[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function mergeScalarList(d: JsonValue[], p: JsonValue[]): JsonValue[] {
  const out: JsonValue[] = [];
  const seen = new Set<string>();
  for (const e of [...p, ...d]) {
    const k = typeof e === 'object' && e !== null ? JSON.stringify(e) : String(e);
    if (!seen.has(k)) { seen.add(k); out.push(clone(e)); }
  }
  return out;
}
