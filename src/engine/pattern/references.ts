/**
 * `$(path)` references in validate patterns (Kyverno substituteReferences).
 * They point into the pattern document itself: relative paths are joined to
 * the referencing leaf's own path, anchors are ignored when matching, an
 * optional operator prefix (`$(>=./../x)`) is kept, and `\$(` escapes one.
 * Resolved once at compile time, since the pattern is static by then.
 */
import { posix } from 'node:path';
import type { JsonValue } from '../types.ts';
import { goFloatF } from './goformat.ts';
import { stripAnchor } from './anchor.ts';

export class PatternReferenceError extends Error {}

// `$(…)` at the start, or after any character but a backslash (Kyverno RegexReferences).
const referenceRe = /^\$\(.[^ ]*\)|[^\\]\$\(.[^ ]*\)/g;
const escapedReferenceRe = /\\\$\(.[^ ]*\)/g;
const operators = ['>=', '<=', '>', '<', '!'];

function isMap(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function hasReferences(doc: JsonValue): boolean {
  if (typeof doc === 'string') return doc.includes('$(');
  if (Array.isArray(doc)) return doc.some(hasReferences);
  if (isMap(doc)) return Object.values(doc).some(hasReferences);
  return false;
}

/** Leaf values by anchor-free path ("/a/b/0/c"); the last one wins, as in Kyverno. */
function indexLeaves(doc: JsonValue, path: string, out: Map<string, JsonValue>): void {
  if (Array.isArray(doc)) doc.forEach((v, i) => indexLeaves(v, `${path}/${i}`, out));
  else if (isMap(doc)) for (const k of Object.keys(doc)) indexLeaves(doc[k]!, `${path}/${stripAnchor(k)}`, out);
  else out.set(posix.normalize(path || '/'), doc);
}

function operatorPrefix(p: string): string {
  if (p.length < 2) return '';
  for (const op of operators) if (p.startsWith(op)) return op;
  return '';
}

/** Go strings.Trim(s, "$()"). */
function trimRefChars(s: string): string {
  return s.replace(/^[$()]+|[$()]+$/g, '');
}

function resolveOne(ref: string, leafPath: string, leaves: Map<string, JsonValue>): string {
  let path = trimRefChars(ref);
  const op = operatorPrefix(path);
  path = path.slice(op.length);
  if (path.length === 0) {
    throw new PatternReferenceError(`failed to resolve ${ref} at path ${leafPath}: expected path, found empty reference`);
  }
  const abs = path.startsWith('/') ? path : posix.join(leafPath, path);
  const value = leaves.get(abs);
  if (op === '') {
    if (value === undefined || value === null) {
      throw new PatternReferenceError(`got nil resolved variable ${ref} at path ${leafPath}: <nil>`);
    }
    if (typeof value !== 'string') {
      throw new PatternReferenceError(`NotResolvedReferenceErr,reference ${ref} not resolved at path ${leafPath}`);
    }
    return value;
  }
  if (typeof value === 'string') return op + value;
  if (typeof value === 'number') return op + goFloatF(value);
  throw new PatternReferenceError(
    `failed to resolve ${ref} at path ${leafPath}: incorrect expression: operator ${op} does not match with value ${value === undefined || value === null ? '<nil>' : String(value)}`);
}

function substituteString(s: string, leafPath: string, leaves: Map<string, JsonValue>): string {
  let out = s;
  const matches = s.match(referenceRe) ?? [];
  for (const old of matches) {
    const initial = old.startsWith('$(');
    const ref = initial ? old : old.slice(1);
    const resolved = resolveOne(ref, leafPath, leaves);
    out = out.replace(old, (initial ? '' : old[0]) + resolved);
  }
  return out.replace(escapedReferenceRe, (m) => m.slice(1));
}

/**
 * Returns the document with every `$(…)` in string leaves resolved. `doc` is
 * the whole document paths are relative to (the pattern, or the anyPattern list).
 * Throws PatternReferenceError with Kyverno's message when one cannot be resolved.
 */
export function substituteReferences(doc: JsonValue): JsonValue {
  if (!hasReferences(doc)) return doc;
  const leaves = new Map<string, JsonValue>();
  indexLeaves(doc, '', leaves);
  const walk = (v: JsonValue, path: string): JsonValue => {
    if (typeof v === 'string') return v.includes('$(') ? substituteString(v, path || '/', leaves) : v;
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}/${i}`));
    if (isMap(v)) {
      const o: Record<string, JsonValue> = {};
      for (const k of Object.keys(v)) o[k] = walk(v[k]!, `${path}/${k}`);
      return o;
    }
    return v;
  };
  return walk(doc, '');
}
