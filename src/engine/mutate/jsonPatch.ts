/**
 * `patchesJson6902`: a YAML (or JSON) list of RFC 6902 operations, applied the way
 * Kyverno applies them (evanphx/json-patch v5 with SupportNegativeIndices,
 * AllowMissingPathOnRemove and EnsurePathExistsOnAdd):
 *  - `remove` of a path that does not exist is a no-op, not an error;
 *  - `add` creates missing parents: an array when the next token is an index or
 *    `-`, else an object (new arrays are padded with nulls up to the index);
 *  - negative array indices count from the end (`-1` on add appends).
 * fast-json-patch cannot be told to behave like this, hence this small applier.
 */
import { parse as parseYaml } from 'yaml';
import type { JsonObject, JsonValue } from '../types.ts';
import { clone, deepEqual, isMap } from './json.ts';

export interface JsonPatchOp {
  op: string;
  path: string;
  from?: string;
  value?: JsonValue;
  /** `value` key present (a null value is still a value). */
  hasValue: boolean;
}

export class JsonPatchError extends Error {}

/** Parses and validates a patchesJson6902 document; throws JsonPatchError with Kyverno-like messages. */
export function parseJson6902(text: string): JsonPatchOp[] {
  let doc: unknown;
  try {
    // Kyverno converts with sigs.k8s.io/yaml (go-yaml v2): YAML 1.1 scalars (`yes`/`on` are booleans).
    doc = parseYaml(text, { version: '1.1' });
  } catch (e) {
    throw new JsonPatchError(`failed to convert patchesJSON6902 to JSON: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new JsonPatchError('failed to decode patches: json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  return doc.map((raw) => {
    if (!isMap(raw)) throw new JsonPatchError('failed to decode patches: json: cannot unmarshal into Go value of type jsonpatch.Operation');
    const op = typeof raw.op === 'string' ? raw.op : 'unknown';
    const hasValue = Object.hasOwn(raw, 'value');
    const invalid = (why: string) => new JsonPatchError(`failed to decode patches: invalid operation ${JSON.stringify(sortKeys(raw))}: ${why}`);
    if ((op === 'add' || op === 'replace') && !hasValue) throw invalid('failed to decode \'value\': operation, missing value field: missing value');
    if ((op === 'move' || op === 'copy') && typeof raw.from !== 'string') throw invalid('failed to decode \'from\': operation, missing from field: missing value');
    if (!['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(op)) throw invalid('unsupported operation');
    if (typeof raw.path !== 'string') throw invalid('failed to decode \'path\': operation missing path field: missing value');
    const out: JsonPatchOp = { op, path: raw.path, hasValue };
    if (hasValue) out.value = raw.value as JsonValue;
    if (typeof raw.from === 'string') out.from = raw.from;
    return out;
  });
}

function sortKeys(o: JsonObject): JsonObject {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

type Container = JsonObject | JsonValue[];

const INDEX = /^[+-]?\d+$/;

function decode(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

function split(path: string): string[] {
  return path.split('/').slice(1).map(decode);
}

function toIndex(key: string): number | undefined {
  return INDEX.test(key) ? Number(key) : undefined;
}

function getChild(c: Container, key: string): JsonValue | undefined {
  if (Array.isArray(c)) {
    let i = toIndex(key);
    if (i === undefined) return undefined;
    if (i < 0) { if (i < -c.length) return undefined; i += c.length; }
    return i < c.length ? c[i] : undefined;
  }
  return Object.hasOwn(c, key) ? c[key] : undefined;
}

/** Parent container of the last token, or undefined when the path does not reach one. */
function findParent(doc: JsonValue, tokens: string[]): Container | undefined {
  let cur: JsonValue | undefined = doc;
  for (const t of tokens.slice(0, -1)) {
    if (!isContainer(cur)) return undefined;
    cur = getChild(cur, t);
  }
  return isContainer(cur) ? cur : undefined;
}

function isContainer(v: JsonValue | undefined): v is Container {
  return typeof v === 'object' && v !== null;
}

function addTo(c: Container, key: string, value: JsonValue, path: string): void {
  if (!Array.isArray(c)) { c[key] = value; return; }
  if (key === '-') { c.push(value); return; }
  let i = toIndex(key);
  if (i === undefined) throw new JsonPatchError(`error in add for path: '${path}': value was not a proper array index: '${key}'`);
  const size = c.length + 1;
  if (i >= size || i < -size) throw new JsonPatchError(`error in add for path: '${path}': Unable to access invalid index: ${i}: invalid index referenced`);
  if (i < 0) i += size;
  c.splice(i, 0, value);
}

function ensurePath(doc: JsonValue, tokens: string[]): void {
  let cur: JsonValue = doc;
  for (let i = 0; i < tokens.length - 1; i++) {
    if (!isContainer(cur)) throw new JsonPatchError('invalid state detected');
    const part = tokens[i];
    const existing = getChild(cur, part);
    // A JSON null counts as missing (evanphx decodes it to a nil node) and is replaced.
    if (existing !== undefined && existing !== null) { cur = existing; continue; }
    const idx = toIndex(part);
    if (Array.isArray(cur) && idx !== undefined && idx >= cur.length + 1) {
      while (cur.length < idx) cur.push(null);
    }
    const next = tokens[i + 1];
    let created: Container;
    const nextIdx = toIndex(next);
    if (nextIdx !== undefined || next === '-') {
      let pad = nextIdx ?? 0;
      if (pad < 0) {
        if (pad < -1) throw new JsonPatchError(`Unable to ensure path for negative index other than -1: ${pad}: invalid index referenced`);
        pad = 0;
      }
      created = new Array<JsonValue>(pad).fill(null);
    } else created = {};
    if (Array.isArray(cur)) {
      if (idx === undefined) return; // cannot create a keyed child in an array: the add below reports it
      cur.splice(idx < 0 ? Math.max(0, idx + cur.length + 1) : idx, 0, created);
    } else cur[part] = created;
    cur = created;
  }
}

/** Applies the operations to a copy of `doc`; throws JsonPatchError on the first failing op. */
export function applyJson6902(doc: JsonValue, ops: JsonPatchOp[]): JsonValue {
  let root = clone(doc);
  for (const op of ops) root = applyOne(root, op);
  return root;
}

function applyOne(root: JsonValue, op: JsonPatchOp): JsonValue {
  const { path } = op;
  const tokens = split(path);
  switch (op.op) {
    case 'add': {
      const value = clone(op.value ?? null);
      if (path === '') return value;
      ensurePath(root, tokens);
      const c = findParent(root, tokens);
      if (!c) throw new JsonPatchError(`add operation does not apply: doc is missing path: "${path}": missing value`);
      addTo(c, tokens[tokens.length - 1], value, path);
      return root;
    }
    case 'remove': {
      const c = findParent(root, tokens);
      if (!c) return root;
      const key = tokens[tokens.length - 1];
      if (!Array.isArray(c)) { delete c[key]; return root; }
      let i = toIndex(key);
      if (i === undefined) throw new JsonPatchError(`error in remove for path: '${path}': strconv.Atoi: parsing "${key}": invalid syntax`);
      if (i >= c.length || i < -c.length) return root;
      if (i < 0) i += c.length;
      c.splice(i, 1);
      return root;
    }
    case 'replace': {
      const value = clone(op.value ?? null);
      if (path === '') {
        if (!isContainer(value)) throw new JsonPatchError('replace operation value must be object or array');
        return value;
      }
      const c = findParent(root, tokens);
      if (!c) throw new JsonPatchError(`replace operation does not apply: doc is missing path: ${path}: missing value`);
      const key = tokens[tokens.length - 1];
      if (getChild(c, key) === undefined) throw new JsonPatchError(`replace operation does not apply: doc is missing key: ${path}: missing value`);
      if (Array.isArray(c)) { let i = toIndex(key)!; if (i < 0) i += c.length; c[i] = value; }
      else c[key] = value;
      return root;
    }
    case 'move':
    case 'copy': {
      const from = op.from ?? '';
      if (op.op === 'move' && from === '') throw new JsonPatchError('unable to move entire document to another path: invalid state detected');
      const ftokens = split(from);
      const fc = findParent(root, ftokens);
      if (!fc) throw new JsonPatchError(`${op.op} operation does not apply: doc is missing from path: ${from}: missing value`);
      const fkey = ftokens[ftokens.length - 1];
      const val = getChild(fc, fkey);
      if (val === undefined) throw new JsonPatchError(`error in ${op.op} for path: '${fkey}': unable to get nonexistent key: ${fkey}: missing value`);
      if (op.op === 'move') {
        if (Array.isArray(fc)) { let i = toIndex(fkey)!; if (i < 0) i += fc.length; fc.splice(i, 1); }
        else delete fc[fkey];
      }
      const c = findParent(root, tokens);
      if (!c) throw new JsonPatchError(`${op.op} operation does not apply: doc is missing destination path: ${path}: missing value`);
      addTo(c, tokens[tokens.length - 1], op.op === 'copy' ? clone(val) : val, path);
      return root;
    }
    case 'test': {
      const expected = op.value ?? null;
      if (path === '') {
        if (deepEqual(root, expected)) return root;
        throw new JsonPatchError(`testing value ${path} failed: test failed`);
      }
      const c = findParent(root, tokens);
      if (!c) throw new JsonPatchError(`test operation does not apply: is missing path: ${path}: missing value`);
      const actual = getChild(c, tokens[tokens.length - 1]);
      if ((actual === undefined || actual === null) ? expected === null : deepEqual(actual, expected)) return root;
      throw new JsonPatchError(`testing value ${path} failed: test failed`);
    }
    default:
      throw new JsonPatchError(`Unexpected kind: ${op.op}`);
  }
}
