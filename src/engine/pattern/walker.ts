/**
 * The compiled pattern tree (Kyverno pkg/engine/validate + anchor handlers).
 * Each pattern node becomes a closure over its pre-parsed children; the walk
 * keeps the current path as a reusable segment stack and only renders path
 * strings and messages when something does not match.
 */
import { compileWildcard, hasWildcard } from '../wildcard.ts';
import { anchorString, isPhaseOneAnchor, isTrackedAnchor, parseAnchor, type Anchor } from './anchor.ts';
import { goPatternValue, goType, goValue } from './goformat.ts';
import { compileLeaf } from './leaf.ts';

/** How an error travels up the walk (Kyverno's error types, by behaviour). */
export const PLAIN = 0;
export const CONDITIONAL = 1;
export const GLOBAL = 2;
export const NEGATION = 3;
/**
 * validate.PatternError{Skip: true} from an array whose elements were all
 * skipped. Kyverno's PatternError unwraps to the anchor errors it aggregates,
 * so ancestors (and the rule) treat it as a skip too.
 */
export const ARRAY_SKIP = 4;

export class WalkError {
  readonly path: string;
  readonly kind: number;
  private text: string | undefined;
  private readonly render: (() => string) | undefined;
  constructor(path: string, kind: number, message: string | (() => string)) {
    this.path = path;
    this.kind = kind;
    if (typeof message === 'string') this.text = message;
    else this.render = message;
  }
  get message(): string {
    if (this.text === undefined) this.text = this.render!();
    return this.text;
  }
}

/**
 * What a verdict-only walk (`WalkState.quiet`) returns instead of rendering a
 * failure: only the kind matters to the walk, and nobody reads path or message.
 */
const QUIET: readonly WalkError[] = [PLAIN, CONDITIONAL, GLOBAL].map((kind) => new WalkError('', kind, ''));

/** Per-evaluation state: the path stack, and (on a re-run) anchor-key tracking. */
export class WalkState {
  segs: (string | number)[] = [];
  n = 0;
  /** Only the verdict is wanted: the usual failures skip building paths and messages. */
  quiet = false;
  /** Kyverno's AnchorMap: raw anchor key -> seen in some resource map. Null unless tracking. */
  anchorsSeen: Map<string, boolean> | null = null;
  push(seg: string | number): void { this.segs[this.n++] = seg; }
  pop(): void { this.n--; }
  /** Current path in Kyverno's form: "/" then each segment followed by "/". */
  path(): string {
    let p = '/';
    for (let i = 0; i < this.n; i++) p += this.segs[i] + '/';
    return p;
  }
}

export type Walk = (value: unknown, st: WalkState) => WalkError | null;

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const hasOwn = Object.prototype.hasOwnProperty;

/** The resource's own value for a key (never an inherited one like "constructor"). */
function own(map: Record<string, unknown>, key: string): unknown {
  return hasOwn.call(map, key) ? map[key] : undefined;
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** Kyverno's skip(): conditional/global anchor errors, also when aggregated by an array. */
export function isSkip(e: WalkError): boolean {
  return e.kind === CONDITIONAL || e.kind === GLOBAL || e.kind === ARRAY_SKIP;
}

/** Go sort.Strings order (byte order; UTF-16 order is equivalent for BMP text). */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function hasNestedAnchors(p: unknown): boolean {
  if (Array.isArray(p)) return p.some(hasNestedAnchors);
  if (!isMap(p)) return false;
  for (const k of Object.keys(p)) {
    const a = parseAnchor(k);
    if (a && a.modifier !== '+') return true;
  }
  return Object.values(p).some(hasNestedAnchors);
}

// ---------------------------------------------------------------- leaves

function compileLeafWalk(pattern: unknown): Walk {
  const match = compileLeaf(pattern);
  const shown = goPatternValue(pattern);
  const fail = (value: unknown, st: WalkState): WalkError => {
    if (st.quiet) return QUIET[PLAIN]!;
    const path = st.path();
    return new WalkError(path, PLAIN, () => `resource value '${goValue(value)}' does not match '${shown}' at path ${path}`);
  };
  return (value, st) => {
    if (Array.isArray(value)) {
      for (const el of value) if (!match(el)) return fail(value, st);
      return null;
    }
    return match(value) ? null : fail(value, st);
  };
}

// ---------------------------------------------------------------- arrays

/** Skip errors of all elements, combined as multierr does. */
function arraySkip(path: string, skips: WalkError[]): WalkError {
  return new WalkError(path, ARRAY_SKIP, () => skips.map((e) => e.message).join('; '));
}

function compileArray(pattern: unknown[], compileNode: (p: unknown) => Walk): Walk {
  const mismatch = (st: WalkState): WalkError => {
    const path = st.path();
    return new WalkError(path, PLAIN, `validation rule failed at path ${path}, resource does not satisfy the expected overlay pattern`);
  };
  if (pattern.length === 0) {
    return (value, st) => Array.isArray(value) ? new WalkError(st.path(), PLAIN, 'pattern Array empty') : mismatch(st);
  }
  const first = pattern[0];
  if (isMap(first)) {
    // Only the first map applies, to every element; elements skipped by a
    // conditional anchor are left out, and all-skipped skips the array.
    const elem = compileNode(first);
    return (value, st) => {
      if (!Array.isArray(value)) return mismatch(st);
      let applied = 0;
      let skips: WalkError[] | null = null;
      for (let i = 0; i < value.length; i++) {
        st.push(i);
        const err = elem(value[i], st);
        st.pop();
        if (err) {
          if (!isSkip(err)) return err;
          (skips ??= []).push(err);
          continue;
        }
        applied++;
      }
      return applied === 0 && skips ? arraySkip(st.path(), skips) : null;
    };
  }
  if (isScalar(first)) {
    // A scalar first element applies to every element of the resource array.
    const leaf = compileLeafWalk(first);
    return (value, st) => Array.isArray(value) ? leaf(value, st) : mismatch(st);
  }
  // Nested arrays: positional, element i against element i.
  const elems = pattern.map(compileNode);
  return (value, st) => {
    if (!Array.isArray(value)) return mismatch(st);
    if (value.length < elems.length) {
      return new WalkError('', PLAIN, `validate Array failed, array length mismatch, resource Array len is ${value.length} and pattern Array len is ${elems.length}`);
    }
    let applied = 0;
    let skips: WalkError[] | null = null;
    for (let i = 0; i < elems.length; i++) {
      st.push(i);
      const err = elems[i]!(value[i], st);
      st.pop();
      if (err) {
        if (!isSkip(err)) return err;
        (skips ??= []).push(err);
        continue;
      }
      applied++;
    }
    return applied === 0 && skips ? arraySkip(st.path(), skips) : null;
  };
}

// ---------------------------------------------------------------- map entries

/** One pattern key: evaluated against the resource map at the current path. */
type EntryRun = (map: Record<string, unknown>, st: WalkState, key: string) => WalkError | null;

interface Entry {
  rawKey: string;
  /** Resource key looked up (anchor removed; plain keys verbatim, `+(k)` included). */
  key: string;
  anchor: Anchor | undefined;
  run: EntryRun;
  /** Wildcard label/annotation key, expanded against the resource map at run time. */
  wildcard?: (k: string) => boolean;
}

function conditionEntry(child: Walk): EntryRun {
  return (map, st, key) => {
    st.push(key);
    if (!hasOwn.call(map, key)) {
      const path = st.path();
      st.pop();
      return new WalkError(path, CONDITIONAL, "conditional anchor mismatch: conditional anchor key doesn't exist in the resource");
    }
    const err = child(map[key], st);
    st.pop();
    if (!err) return null;
    return st.quiet ? QUIET[CONDITIONAL]! : new WalkError(err.path, CONDITIONAL, () => `conditional anchor mismatch: ${err.message}`);
  };
}

/** An entry checked only when the key is present: `=(key)` as is, `<(key)` reported as a global anchor mismatch. */
function ifPresentEntry(child: Walk, global: boolean): EntryRun {
  return (map, st, key) => {
    if (!hasOwn.call(map, key)) return null;
    st.push(key);
    const err = child(map[key], st);
    st.pop();
    if (!err || !global) return err;
    return st.quiet ? QUIET[GLOBAL]! : new WalkError(err.path, GLOBAL, () => `global anchor mismatch: ${err.message}`);
  };
}

const globalEntry = (child: Walk): EntryRun => ifPresentEntry(child, true);
const equalityEntry = (child: Walk): EntryRun => ifPresentEntry(child, false);

function negationEntry(): EntryRun {
  return (map, st, key) => {
    if (!hasOwn.call(map, key)) return null;
    st.push(key);
    const path = st.path();
    st.pop();
    return new WalkError(path, NEGATION, `negation anchor matched in resource: ${path} is not allowed`);
  };
}

function existenceEntry(pattern: unknown, compileNode: (p: unknown) => Walk): EntryRun {
  // Every pattern element must be matched by at least one resource element.
  const elems: (Walk | null)[] | null = Array.isArray(pattern)
    ? pattern.map((p) => (isMap(p) ? compileNode(p) : null))
    : null;
  return (map, st, key) => {
    if (!hasOwn.call(map, key)) return null;
    const value = map[key];
    st.push(key);
    const path = st.path();
    let err: WalkError | null = null;
    if (!Array.isArray(value)) {
      err = new WalkError(path, PLAIN, `invalid resource type ${goType(value)}: Existence ^ () anchor can be used only on list/array type resource`);
    } else if (!elems) {
      err = new WalkError(path, PLAIN, `invalid pattern type ${goType(pattern, true)}: Pattern has to be of list to compare against resource`);
    } else {
      for (const elem of elems) {
        if (!elem) {
          err = new WalkError(path, PLAIN, `invalid pattern type ${goType(pattern, true)}: Pattern has to be of type map to compare against items in resource`);
          break;
        }
        let found = false;
        for (let i = 0; i < value.length && !found; i++) {
          st.push(i);
          found = elem(value[i], st) === null;
          st.pop();
        }
        if (!found) {
          err = new WalkError(path, PLAIN, `existence anchor validation failed at path ${path}`);
          break;
        }
      }
    }
    st.pop();
    return err;
  };
}

function defaultEntry(pattern: unknown, child: Walk): EntryRun {
  if (pattern === '*') {
    // "*" on a plain key only requires a non-null value.
    return (map, st, key) => {
      const v = own(map, key);
      if (v !== undefined && v !== null) return null;
      const path = st.path();
      return new WalkError(path, PLAIN, `${path}/${key} not found`);
    };
  }
  return (map, st, key) => {
    st.push(key);
    const err = child(own(map, key), st);
    st.pop();
    return err;
  };
}

// ---------------------------------------------------------------- maps

/**
 * Where a map sits: under a `metadata` key, or the labels/annotations map
 * of one (Kyverno expands wildcard keys there against the resource's keys).
 */
type MapContext = 'plain' | 'metadata' | 'labels';
type CompileNode = (p: unknown, ctx?: MapContext) => Walk;

function isLabelMap(v: unknown): boolean {
  return isMap(v) && Object.values(v).every((x) => typeof x === 'string');
}

/** Kyverno's evaluation order: anchors sorted; then globals and keys with nested anchors first. */
function orderEntries(entries: Entry[], keyOf: (e: Entry) => string, pattern: Record<string, unknown>): Entry[] {
  const phaseOne = entries.filter((e) => isPhaseOneAnchor(e.anchor)).sort((a, b) => byteOrder(keyOf(a), keyOf(b)));
  const rest = entries.filter((e) => !isPhaseOneAnchor(e.anchor)).sort((a, b) => byteOrder(keyOf(a), keyOf(b)));
  const front: Entry[] = [];
  const back: Entry[] = [];
  for (const e of rest) {
    if (e.anchor?.modifier === '<' || hasNestedAnchors(pattern[e.rawKey])) front.unshift(e);
    else back.push(e);
  }
  return [...phaseOne, ...front, ...back];
}

function childContext(ctx: MapContext, name: string, value: unknown): MapContext {
  if (ctx === 'metadata' && (name === 'labels' || name === 'annotations') && isLabelMap(value)) return 'labels';
  if (name === 'metadata' && isMap(value)) return 'metadata';
  return 'plain';
}

function compileMap(pattern: Record<string, unknown>, compile: CompileNode, ctx: MapContext): Walk {
  const entries: Entry[] = [];
  for (const rawKey of Object.keys(pattern)) {
    const value = pattern[rawKey];
    const anchor = parseAnchor(rawKey);
    const name = anchor?.key ?? rawKey;
    const child = (): Walk => compile(value, childContext(ctx, name, value));
    let run: EntryRun;
    let key = name;
    switch (anchor?.modifier) {
      case '': run = conditionEntry(child()); break;
      case '<': run = globalEntry(child()); break;
      case '=': run = equalityEntry(child()); break;
      case 'X': run = negationEntry(); break;
      case '^': run = existenceEntry(value, (p) => compile(p)); break;
      default: run = defaultEntry(value, child()); key = rawKey; break;
    }
    const entry: Entry = { rawKey, key, anchor, run };
    if (ctx === 'labels' && hasWildcard(name)) entry.wildcard = compileWildcard(name);
    entries.push(entry);
  }
  const ordered = orderEntries(entries, (e) => e.rawKey, pattern);
  const tracked = entries.filter((e) => isTrackedAnchor(e.anchor));
  const dynamic = entries.some((e) => e.wildcard);

  const track = (map: Record<string, unknown>, st: WalkState): void => {
    const seen = st.anchorsSeen!;
    for (const e of tracked) {
      if (seen.get(e.rawKey) === true) continue;
      seen.set(e.rawKey, hasOwn.call(map, e.key));
    }
  };

  const structure = (value: unknown, st: WalkState): WalkError => {
    const path = st.path();
    return new WalkError(path, PLAIN, `pattern and resource have different structures. Path: ${path}. Expected map[string]interface {}, found ${goType(value)}`);
  };

  if (!dynamic) {
    return (value, st) => {
      if (!isMap(value)) return structure(value, st);
      if (st.anchorsSeen) track(value, st);
      for (const e of ordered) {
        const err = e.run(value, st, e.key);
        if (err) return err;
      }
      return null;
    };
  }

  // Wildcard label/annotation keys become the first matching resource key
  // (Kyverno wildcards.ExpandInMetadata); evaluation order follows the new keys.
  return (value, st) => {
    if (!isMap(value)) return structure(value, st);
    if (st.anchorsSeen) track(value, st);
    const resourceKeys = Object.keys(value);
    const raw = new Map<Entry, string>();
    const keys = new Map<Entry, string>();
    for (const e of entries) {
      const hit = e.wildcard ? resourceKeys.find((k) => e.wildcard!(k)) : undefined;
      if (hit === undefined) { raw.set(e, e.rawKey); keys.set(e, e.key); continue; }
      raw.set(e, e.anchor ? anchorString({ modifier: e.anchor.modifier, key: hit }) : hit);
      keys.set(e, hit);
    }
    for (const e of orderEntries(entries, (x) => raw.get(x)!, pattern)) {
      const err = e.run(value, st, keys.get(e)!);
      if (err) return err;
    }
    return null;
  };
}

// ---------------------------------------------------------------- nodes

/** Compiles one pattern node into its walk. */
export function compileNode(pattern: unknown, ctx: MapContext = 'plain'): Walk {
  if (Array.isArray(pattern)) return compileArray(pattern, (p) => compileNode(p));
  if (isMap(pattern)) return compileMap(pattern, compileNode, ctx);
  return compileLeafWalk(pattern);
}
