/**
 * Kyverno's anchor pre-processing of a patchStrategicMerge pattern against the
 * resource (pkg/engine/mutate/patch/strategicPreprocessing.go), before the plain
 * strategic merge runs:
 *  - `+(key)`: dropped when the resource already has `key`, else renamed to `key`;
 *  - `(key)` / `<(key)`: checked with the validate pattern matcher; a failure in a
 *    map aborts the whole patch (the rule becomes a no-op), a failure inside a list
 *    element only skips that resource element; a global `<(key)` failing for every
 *    element aborts the whole patch;
 *  - a list element carrying anchors is expanded into one copy per matching
 *    resource element, named after it (that is how `(image): "*:latest"` reaches every
 *    matching container), and the anchored original is dropped;
 *  - finally every condition left is removed; a map or list left holding only
 *    conditions (or nothing: Kyverno also drops `{}` values here) is removed too.
 * Works on a private copy of the pattern, mutated in place.
 */
import type { JsonObject, JsonValue } from '../types.ts';
import { isConditionLike, parseAnchor } from './anchors.ts';
import { clone, isMap } from './json.ts';

/** Decides a condition anchor: does `resource` satisfy `pattern` (Kyverno validate semantics)? */
export type PatternMatcher = (resource: JsonValue, pattern: JsonValue) => boolean;

// Control-flow signals, thrown on every non-matching element: plain classes, not
// Errors, so no stack trace is captured on the hot path.
// The message is built only when read: most failures are just skipped.
export class ConditionError {
  readonly reason: string;
  constructor(reason: string) { this.reason = reason; }
  get message(): string { return `condition failed: ${this.reason}`; }
}
export class GlobalConditionError {
  readonly reason: string;
  constructor(reason: string) { this.reason = reason; }
  get message(): string { return `global condition failed: ${this.reason}`; }
}

// Anchor kind of a pattern key, from its first two characters (parseAnchor's
// fixed shape: a modifier, `(`, a non-empty key, `)`): no lookup on the hot path.
const PLAIN = 0, CONDITION = 1, GLOBAL = 2, ADD = 3, OTHER = 4;

function kindOf(key: string): number {
  const n = key.length;
  if (n < 3 || key.charCodeAt(n - 1) !== 41 /* ) */) return PLAIN;
  const c = key.charCodeAt(0);
  if (c === 40 /* ( */) return CONDITION;
  if (n < 4 || key.charCodeAt(1) !== 40) return PLAIN;
  switch (c) {
    case 60 /* < */: return GLOBAL;
    case 43 /* + */: return ADD;
    case 61 /* = */: case 88 /* X */: case 94 /* ^ */: return OTHER;
    default: return PLAIN;
  }
}

const anchoredKey = (key: string) => parseAnchor(key)!.key;

// What hasAnchors found: any condition / global / add-if-not-present anchor, and globals.
const ANY = 1, HAS_GLOBAL = 2;

/**
 * True when pre-processing cannot depend on the resource (no condition, global or
 * add-if-not-present anchor anywhere): the pattern can be pre-processed once.
 */
export function isStaticPattern(pattern: JsonValue): boolean {
  return (anchorsIn(pattern, ANY) & ANY) === 0;
}

/**
 * Returns the pre-processed pattern (`pattern` is consumed: its nodes may be
 * reused or replaced); throws ConditionError/GlobalConditionError when the rule
 * must not apply.
 */
export function preprocessPattern(pattern: JsonObject, resource: JsonValue, match: PatternMatcher): JsonObject {
  const root: JsonValue[] = [pattern];
  const failed = preprocess(root, 0, resource, match, true);
  if (failed) throw failed;
  const processed = root[0] as JsonObject;
  const out: JsonObject = {};
  for (const field in processed) {
    if (!Object.hasOwn(processed, field)) continue;
    const kind = kindOf(field);
    const kept = withoutConditions(processed[field]!, kind === CONDITION || kind === GLOBAL);
    if (kept !== REMOVE) out[field] = kept;
  }
  return out;
}

// A failed condition is an expected outcome on every non-matching list element,
// so it travels as a return value (no throw/catch per element).
type Failure = ConditionError | GlobalConditionError | undefined;

// Kyverno edits the pattern in place, and a working copy carries those edits from
// one resource element to the next. Here a node is edited through its slot
// (`holder[slot]`): a map whose keys change is rebuilt and put back in the slot,
// since deleting keys would turn V8 objects into slow dictionaries.
type Holder = JsonObject | JsonValue[];

/**
 * `once`: this node is walked only once (not inside a list element's working copy,
 * which is walked again for every resource element), so its list elements may
 * serve as their own working copies.
 */
function preprocess(holder: Holder, slot: string | number, resource: JsonValue | undefined, match: PatternMatcher, once: boolean): Failure {
  const pattern = (holder as Record<string | number, JsonValue>)[slot]!;
  if (isMap(pattern)) return walkMap(holder, slot, pattern, resource, match, once);
  if (Array.isArray(pattern) && pattern.length > 0 && isMap(pattern[0])) return processListOfMaps(pattern, resource, match, once);
  return undefined;
}

// Bit per anchor kind, to summarise a map's keys in one pass.
const bit = (kind: number) => 1 << kind;
const ANCHOR_BITS = bit(CONDITION) | bit(GLOBAL) | bit(ADD);

function walkMap(holder: Holder, slot: string | number, map: JsonObject, resource: JsonValue | undefined, match: PatternMatcher,
  once: boolean): Failure {
  let pattern = map;
  // JSON maps have only own enumerable keys; for-in walks them without allocating.
  let kinds = 0;
  for (const k in pattern) kinds |= bit(kindOf(k));
  if ((kinds & ANCHOR_BITS) !== 0) {
    if ((kinds & bit(ADD)) !== 0) {
      const resolved = resolveAddIfNotPresent(pattern, resource);
      if (resolved) (holder as Record<string | number, JsonValue>)[slot] = pattern = resolved;
    }
    if ((kinds & bit(GLOBAL)) !== 0) {
      const g = checkConditions(pattern, resource, GLOBAL, match);
      if (g) return new GlobalConditionError(g);
    }
    if ((kinds & bit(CONDITION)) !== 0) {
      const c = checkConditions(pattern, resource, CONDITION, match);
      if (c) return new ConditionError(c);
    }
  }
  for (const key in pattern) {
    const kind = kindOf(key);
    if (kind === CONDITION || kind === GLOBAL || kind === ADD) continue;
    const value = pattern[key];
    // Only maps and lists of maps are walked further.
    if (value === null || typeof value !== 'object') continue;
    const rv = isMap(resource) && Object.hasOwn(resource, key) ? resource[key] : undefined;
    const failed = preprocess(pattern, key, rv, match, once);
    if (failed) return failed;
  }
  return undefined;
}

/**
 * `+(key)` anchors of a map: dropped where the resource has `key`, else renamed to
 * `key` (after the other keys, replacing a plain `key`, as a rename does). Returns
 * the rebuilt map, or undefined when the map has none.
 */
function resolveAddIfNotPresent(pattern: JsonObject, resource: JsonValue | undefined): JsonObject | undefined {
  let out: JsonObject | undefined;
  let renamed: [string, JsonValue][] | undefined;
  for (const k in pattern) {
    if (!Object.hasOwn(pattern, k) || kindOf(k) !== ADD) continue;
    if (!out) {
      out = {};
      for (const plain in pattern) if (Object.hasOwn(pattern, plain) && kindOf(plain) !== ADD) out[plain] = pattern[plain]!;
    }
    const key = anchoredKey(k);
    if (!(isMap(resource) && Object.hasOwn(resource, key))) (renamed ??= []).push([key, pattern[k]!]);
  }
  if (out && renamed) for (const [key, value] of renamed) out[key] = value;
  return out;
}

/** Returns the first failure reason, or '' when every selected condition holds. */
function checkConditions(pattern: JsonObject, resource: JsonValue | undefined, which: number, match: PatternMatcher): string {
  for (const k in pattern) {
    if (kindOf(k) !== which) continue;
    const key = anchoredKey(k);
    if (!isMap(resource) || !Object.hasOwn(resource, key)) return `could not found "${key}" key in the resource`;
    const pv = pattern[k]!;
    const rv = resource[key]!;
    // Kyverno: a condition whose value holds add-if-not-present anchors is not checked
    // (those anchors are resolved against the resource value instead).
    if (isMap(pv)) {
      const resolved = resolveAddIfNotPresent(pv, rv);
      if (resolved) { pattern[k] = resolved; continue; }
    }
    if (!match(scalarAsString(rv), scalarAsString(pv))) return `${key} did not match`;
  }
  return '';
}

/** Kyverno hands YAML scalars to the matcher as their string form. */
function scalarAsString(v: JsonValue): JsonValue {
  if (v === null) return 'null';
  return typeof v === 'object' ? v : String(v);
}

function processListOfMaps(pattern: JsonValue[], resource: JsonValue | undefined, match: PatternMatcher, once: boolean): Failure {
  let resourceElements: JsonValue[] = [];
  if (Array.isArray(resource)) resourceElements = resource;
  else if (isMap(resource)) throw new Error('wrong node kind: expected SequenceNode but got MappingNode');
  else if (resource !== undefined && resource !== null) throw new Error('wrong node kind: expected SequenceNode but got ScalarNode');

  const count = pattern.length;
  for (let i = 0; i < count; i++) {
    const element = pattern[i]!;
    const found = anchorsIn(element, ANY | HAS_GLOBAL);
    if ((found & ANY) === 0) continue;
    const hasGlobal = (found & HAS_GLOBAL) !== 0;
    let anyGlobalPassed = false;
    let lastGlobalError: GlobalConditionError | undefined;
    // One working copy per pattern element, shared by all resource elements (as in Kyverno).
    // The anchored original is dropped at the end; walked only once, it can be the copy
    // itself, leaving an empty map in its place (dropped the same way).
    let copy: JsonValue[];
    if (once) {
      copy = [element];
      pattern[i] = {};
    } else {
      copy = [clone(element)];
    }
    for (const re of resourceElements) {
      const failed = preprocess(copy, 0, re, match, false);
      if (failed instanceof ConditionError) continue;
      if (failed) { lastGlobalError = failed; continue; }
      if (hasGlobal) anyGlobalPassed = true;
      else addNamedCopy(pattern, copy[0]!, re);
    }
    if (resource === undefined) {
      const failed = preprocess(copy, 0, undefined, match, false);
      if (failed instanceof ConditionError) continue;
      if (failed) return failed;
      if (hasGlobal) anyGlobalPassed = true;
    }
    if (!anyGlobalPassed && lastGlobalError) return lastGlobalError;
  }
  return undefined;
}

/** Appends a copy of the (condition-stripped) element bound to the resource element's name. */
function addNamedCopy(pattern: JsonValue[], element: JsonValue, resourceElement: JsonValue): void {
  if (!isMap(resourceElement)) return;
  const name = resourceElement.name;
  if (name === undefined || name === null || isEmptyCollection(name)) return;
  const node = withoutConditions(element, true);
  if (node === REMOVE) return;
  if (isMap(node)) node.name = name;
  pattern.push(node);
}

function isEmptyCollection(v: JsonValue): boolean {
  if (Array.isArray(v)) return v.length === 0;
  if (!isMap(v)) return false;
  for (const k in v) if (Object.hasOwn(v, k)) return false;
  return true;
}

/**
 * Which anchors the node carries anywhere (ANY: a condition, global or
 * add-if-not-present key, or a condition-looking scalar string; HAS_GLOBAL: a
 * global key or such a scalar, as Kyverno's check does). Stops once every bit in
 * `wanted` is found.
 */
function anchorsIn(node: JsonValue, wanted: number): number {
  if (Array.isArray(node)) {
    let found = 0;
    for (const e of node) if (((found |= anchorsIn(e, wanted)) & wanted) === wanted) break;
    return found;
  }
  if (isMap(node)) {
    let found = 0;
    for (const k in node) {
      if (!Object.hasOwn(node, k)) continue;
      const kind = kindOf(k);
      if (kind === GLOBAL) found |= ANY | HAS_GLOBAL;
      else if (kind === CONDITION || kind === ADD) found |= ANY;
      if ((found & wanted) === wanted) return found;
      const v = node[k]!;
      if (v !== null && typeof v === 'object' && !isEmptyCollection(v)) found |= anchorsIn(v, wanted);
      else if (typeof v === 'string') found |= scalarAnchors(v);
      if ((found & wanted) === wanted) return found;
    }
    return found;
  }
  return typeof node === 'string' ? scalarAnchors(node) : 0;
}

function scalarAnchors(s: string): number {
  const kind = kindOf(s);
  return kind === CONDITION || kind === GLOBAL ? ANY | HAS_GLOBAL : 0;
}

const REMOVE = Symbol('remove');

/**
 * Kyverno's deleteConditionElements, as a copy: condition anchors removed, kept
 * ones (those whose value survives) renamed to their key; REMOVE when the node
 * itself must go (only conditions, or nothing, were left in it; `deleteScalar`
 * says whether a bare scalar goes). Building fresh objects is much cheaper than
 * deleting keys in place, which turns V8 objects into slow dictionaries.
 */
function withoutConditions(node: JsonValue, deleteScalar: boolean): JsonValue | typeof REMOVE {
  if (Array.isArray(node)) return listWithoutConditions(node);
  if (isMap(node)) return mapWithoutConditions(node);
  return deleteScalar ? REMOVE : node;
}

const isConditionKey = (k: string) => { const kind = kindOf(k); return kind === CONDITION || kind === GLOBAL; };

function mapWithoutConditions(node: JsonObject): JsonObject | typeof REMOVE {
  const out: JsonObject = {};
  let kept = false;
  // Conditions whose value survives take their plain key after the other keys
  // (overwriting a plain key of that name in place), as Kyverno's rename does.
  let renamed: [string, JsonValue][] | undefined;
  for (const k in node) {
    if (!Object.hasOwn(node, k)) continue;
    if (isConditionKey(k)) {
      const v = withoutConditions(node[k]!, true);
      if (v !== REMOVE) (renamed ??= []).push([anchoredKey(k), v]);
      continue;
    }
    const v = withoutConditions(node[k]!, false);
    if (v === REMOVE) continue;
    out[k] = v;
    kept = true;
  }
  if (renamed) {
    for (const [k, value] of renamed) {
      // The renamed value is cleaned again, as the second pass over the map does.
      const v = withoutConditions(value, false);
      if (v === REMOVE) delete out[k];
      else out[k] = v;
    }
    kept = false;
    for (const k in out) if (Object.hasOwn(out, k)) { kept = true; break; }
  }
  return kept ? out : REMOVE;
}

function listWithoutConditions(node: JsonValue[]): JsonValue[] | typeof REMOVE {
  const out: JsonValue[] = [];
  for (const el of node) {
    // Elements carrying anchors are dropped; the others are cleaned.
    if ((anchorsIn(el, ANY) & ANY) !== 0) continue;
    const v = withoutConditions(el, false);
    if (v !== REMOVE) out.push(v);
  }
  return out.length === 0 && node.length > 0 ? REMOVE : out;
}
