/**
 * compilePattern: a validate.pattern turned into a function of the resource,
 * with Kyverno's MatchPattern outcome rules on top of the walk.
 */
import type { JsonValue } from '../types.ts';
import { substituteReferences } from './references.ts';
import { NEGATION, WalkState, compileNode, isSkip, type Walk, type WalkError } from './walker.ts';

export type PatternOutcome =
  | { ok: true }
  | {
    ok: false;
    /** Kyverno's failure path ("/spec/containers/0/image/"); "" when it reports none. */
    path: string;
    /** Kyverno's error text for this pattern (what follows "execution error:" / "skipped:"). */
    message: string;
    /** A conditional or global anchor did not match: the rule is skipped. */
    skip?: boolean;
    /** Failed without a path: Kyverno reports the rule as an error, not a fail. */
    error?: boolean;
  };

/** A compiled pattern: call it with the resource (JSON as decoded from the request). */
export type CompiledPattern = (resource: unknown) => PatternOutcome;

const PASS: PatternOutcome = Object.freeze({ ok: true });

// States are reused across calls; a stack keeps re-entrant use (a walk never
// calls back into user code, but callers may nest evaluations) safe.
const pool: WalkState[] = [];

/** One walk; the anchor-key tracking is only switched on when asked for. */
function walkWith<T>(walk: Walk, resource: unknown, track: boolean, done: (err: WalkError | null, st: WalkState) => T, quiet = false): T {
  const st = pool.pop() ?? new WalkState();
  st.n = 0;
  st.anchorsSeen = track ? new Map() : null;
  st.quiet = quiet;
  try {
    return done(walk(resource, st), st);
  } finally {
    st.anchorsSeen = null;
    st.quiet = false;
    pool.push(st);
  }
}

const errorOf = (err: WalkError | null): WalkError | null => err;

/** Kyverno's AnchorMap.KeysAreMissing after a tracking walk. */
const keysMissing = (_err: WalkError | null, st: WalkState): boolean => {
  for (const seen of st.anchorsSeen!.values()) if (!seen) return true;
  return false;
};

/** Turns a walk into Kyverno's MatchPattern result. */
function evaluate(walk: Walk, resource: unknown): PatternOutcome {
  const err = walkWith(walk, resource, false, errorOf);
  if (!err) return PASS;
  if (isSkip(err)) return { ok: false, path: '', message: err.message, skip: true };
  if (err.kind === NEGATION) return failure(err.path, err.message);
  // An anchor key of the pattern absent from the resource turns the failure
  // into a path-less error. Tracking costs a map, so it is redone only here.
  const missing = walkWith(walk, resource, true, keysMissing);
  return failure(missing ? '' : err.path, err.message);
}

function failure(path: string, message: string): PatternOutcome {
  return path === '' ? { ok: false, path, message, error: true } : { ok: false, path, message };
}

/**
 * Compiles a validate.pattern whose `{{ }}` variables are already substituted.
 * `$(…)` references are resolved here; throws PatternReferenceError (with
 * Kyverno's message) when one cannot be.
 */
export function compilePattern(pattern: JsonValue): CompiledPattern {
  const walk = compileNode(substituteReferences(pattern));
  return (resource) => evaluate(walk, resource ?? null);
}

/**
 * The same pattern as a plain predicate: true exactly when compilePattern's
 * outcome is `ok`. One walk and no outcome object: mutate condition anchors
 * only need the verdict, and most of them fail.
 */
export function compilePatternTest(pattern: JsonValue): (resource: unknown) => boolean {
  const walk = compileNode(substituteReferences(pattern));
  return (resource) => walkWith(walk, resource ?? null, false, errorOf, true) === null;
}

/**
 * Compiles every entry of a validate.anyPattern list. References resolve
 * against the whole list, as Kyverno substitutes the anyPattern document.
 */
export function compileAnyPattern(anyPattern: JsonValue[]): CompiledPattern[] {
  const doc = substituteReferences(anyPattern) as JsonValue[];
  return doc.map((p) => {
    const walk = compileNode(p);
    return (resource: unknown) => evaluate(walk, resource ?? null);
  });
}
