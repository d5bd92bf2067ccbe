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
import { clone, isMap, renameKey } from './json.ts';

/** Decides a condition anchor: does `resource` satisfy `pattern` (Kyverno validate semantics)? */
export type PatternMatcher = (resource: JsonValue, pattern: JsonValue) => boolean;

// Control-flow signals, thrown on every non-matching element: plain classes, not
// Errors, so no stack trace is captured on the hot path.
export class ConditionError {
  readonly message: string;
  constructor(reason: string) { this.message = `condition failed: ${reason}`; }
}
export class GlobalConditionError {
  readonly message: string;
  constructor(reason: string) { this.message = `global condition failed: ${reason}`; }
}

type KeyTest = (key: string) => boolean;

const isAnyAnchor: KeyTest = (k) => {
  const a = parseAnchor(k);
  return a !== null && (a.type === '' || a.type === '<' || a.type === '+');
};
const isGlobal: KeyTest = (k) => parseAnchor(k)?.type === '<';
const isCondition: KeyTest = (k) => parseAnchor(k)?.type === '';
const isAddIfNotPresent: KeyTest = (k) => parseAnchor(k)?.type === '+';

/**
 * True when pre-processing cannot depend on the resource (no condition, global or
 * add-if-not-present anchor anywhere): the pattern can be pre-processed once.
 */
export function isStaticPattern(pattern: JsonValue): boolean {
  return !hasAnchors(pattern, isAnyAnchor);
}

/** Mutates `pattern`; throws ConditionError/GlobalConditionError when the rule must not apply. */
export function preprocessPattern(pattern: JsonObject, resource: JsonValue, match: PatternMatcher): void {
  preprocess(pattern, resource, match);
  for (const field of Object.keys(pattern)) {
    if (deleteAnchors(pattern[field], isConditionLike(field), false)) delete pattern[field];
  }
}

function preprocess(pattern: JsonValue, resource: JsonValue | undefined, match: PatternMatcher): void {
  if (isMap(pattern)) walkMap(pattern, resource, match);
  else if (Array.isArray(pattern) && pattern.length > 0 && isMap(pattern[0])) processListOfMaps(pattern, resource, match);
}

function walkMap(pattern: JsonObject, resource: JsonValue | undefined, match: PatternMatcher): void {
  handleAddIfNotPresent(pattern, resource);
  validateConditions(pattern, resource, match);
  for (const key of Object.keys(pattern)) {
    if (isAnyAnchor(key)) continue;
    const rv = isMap(resource) && Object.hasOwn(resource, key) ? resource[key] : undefined;
    preprocess(pattern[key], rv, match);
  }
}

function handleAddIfNotPresent(pattern: JsonValue, resource: JsonValue | undefined): number {
  if (!isMap(pattern)) return 0;
  let count = 0;
  for (const k of Object.keys(pattern)) {
    if (!isAddIfNotPresent(k)) continue;
    count++;
    const key = parseAnchor(k)!.key;
    if (isMap(resource) && Object.hasOwn(resource, key)) delete pattern[k];
    else renameKey(pattern, k, key);
  }
  return count;
}

function validateConditions(pattern: JsonObject, resource: JsonValue | undefined, match: PatternMatcher): void {
  const g = checkConditions(pattern, resource, isGlobal, match);
  if (g) throw new GlobalConditionError(g);
  const c = checkConditions(pattern, resource, isCondition, match);
  if (c) throw new ConditionError(c);
}

/** Returns the first failure reason, or '' when every selected condition holds. */
function checkConditions(pattern: JsonObject, resource: JsonValue | undefined, which: KeyTest, match: PatternMatcher): string {
  for (const k of Object.keys(pattern)) {
    if (!which(k)) continue;
    const key = parseAnchor(k)!.key;
    if (!isMap(resource) || !Object.hasOwn(resource, key)) return `could not found "${key}" key in the resource`;
    const pv = pattern[k];
    const rv = resource[key];
    // Kyverno: a condition whose value holds add-if-not-present anchors is not checked.
    if (handleAddIfNotPresent(pv, rv) > 0) continue;
    if (!match(scalarAsString(rv), scalarAsString(pv))) return `${key} did not match`;
  }
  return '';
}

/** Kyverno hands YAML scalars to the matcher as their string form. */
function scalarAsString(v: JsonValue): JsonValue {
  if (v === null) return 'null';
  return typeof v === 'object' ? v : String(v);
}

function processListOfMaps(pattern: JsonValue[], resource: JsonValue | undefined, match: PatternMatcher): void {
  let resourceElements: JsonValue[] = [];
  if (Array.isArray(resource)) resourceElements = resource;
  else if (isMap(resource)) throw new Error('wrong node kind: expected SequenceNode but got MappingNode');
  else if (resource !== undefined && resource !== null) throw new Error('wrong node kind: expected SequenceNode but got ScalarNode');

  for (const element of pattern.slice()) {
    if (!hasAnchors(element, isAnyAnchor)) continue;
    const hasGlobal = hasAnchors(element, isGlobal);
    let anyGlobalPassed = false;
    let lastGlobalError: GlobalConditionError | undefined;
    // One working copy per pattern element, shared by all resource elements (as in Kyverno).
    const copy = clone(element);
    for (const re of resourceElements) {
      try {
        preprocess(copy, re, match);
      } catch (e) {
        if (e instanceof ConditionError) continue;
        if (e instanceof GlobalConditionError) { lastGlobalError = e; continue; }
        throw e;
      }
      if (hasGlobal) anyGlobalPassed = true;
      else addNamedCopy(pattern, copy, re);
    }
    if (resource === undefined) {
      try {
        preprocess(copy, undefined, match);
      } catch (e) {
        if (e instanceof ConditionError) continue;
        throw e;
      }
      if (hasGlobal) anyGlobalPassed = true;
    }
    if (!anyGlobalPassed && lastGlobalError) throw lastGlobalError;
  }
}

/** Appends a copy of the (condition-stripped) element bound to the resource element's name. */
function addNamedCopy(pattern: JsonValue[], element: JsonValue, resourceElement: JsonValue): void {
  if (!isMap(resourceElement)) return;
  const name = resourceElement.name;
  if (name === undefined || name === null || isEmptyCollection(name)) return;
  const node = clone(element);
  if (deleteAnchors(node, true, false)) return;
  if (isMap(node)) node.name = name;
  pattern.push(node);
}

function isEmptyCollection(v: JsonValue): boolean {
  return Array.isArray(v) ? v.length === 0 : isMap(v) && Object.keys(v).length === 0;
}

/** Does the node carry a key accepted by `test` anywhere (scalars: condition-looking strings)? */
function hasAnchors(node: JsonValue, test: KeyTest): boolean {
  if (Array.isArray(node)) return node.some((e) => hasAnchors(e, test));
  if (isMap(node)) {
    for (const [k, v] of Object.entries(node)) {
      if (test(k)) return true;
      if (v !== null && !isEmptyCollection(v) && hasAnchors(v, test)) return true;
    }
    return false;
  }
  return typeof node === 'string' && isConditionLike(node);
}

/**
 * Removes condition anchors; returns true when the node itself must go (only
 * conditions, or nothing, were left in it).
 */
function deleteAnchors(node: JsonValue, deleteScalar: boolean, traverseMaps: boolean): boolean {
  if (Array.isArray(node)) return deleteAnchorsInList(node, traverseMaps);
  if (isMap(node)) return deleteAnchorsInMap(node, traverseMaps);
  return deleteScalar;
}

function deleteAnchorsInMap(node: JsonObject, traverseMaps: boolean): boolean {
  let anchorsLeft = false;
  for (const k of Object.keys(node)) {
    if (!isConditionLike(k)) continue;
    if (deleteAnchors(node[k], true, traverseMaps)) delete node[k];
    else anchorsLeft = true;
  }
  if (anchorsLeft) {
    for (const k of Object.keys(node)) if (isConditionLike(k)) renameKey(node, k, parseAnchor(k)!.key);
  }
  let needToDelete = true;
  for (const k of Object.keys(node)) {
    if (deleteAnchors(node[k], false, traverseMaps)) delete node[k];
    else needToDelete = false;
  }
  return needToDelete;
}

function deleteAnchorsInList(node: JsonValue[], traverseMaps: boolean): boolean {
  const wasEmpty = node.length === 0;
  const kept = node.filter((el) => {
    if (hasAnchors(el, isAnyAnchor)) {
      return traverseMaps && isMap(el) ? !deleteAnchors(el, true, traverseMaps) : false;
    }
    return !deleteAnchors(el, false, traverseMaps);
  });
  node.length = 0;
  node.push(...kept);
  return node.length === 0 && !wasEmpty;
}
