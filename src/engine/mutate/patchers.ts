/**
 * One patch step of a mutate rule or foreach entry: patchStrategicMerge (wins
 * when both are set, as in Kyverno) or patchesJson6902. Compiled once: a patch
 * without `{{ }}` is never substituted and a JSON 6902 text without variables is
 * parsed once.
 */
import type { JsonObject, JsonValue } from '../types.ts';
import type { ContextData } from '../variables.ts';
import { applyJson6902, parseJson6902, type JsonPatchOp } from './jsonPatch.ts';
import { clone, hasVariables, isMap } from './json.ts';
import { strategicMerge } from './merge.ts';
import { ConditionError, GlobalConditionError, isStaticPattern, preprocessPattern, type PatternMatcher } from './preprocess.ts';

/** Thrown when `{{ }}` substitution fails; the caller reports "variable substitution failed: …". */
export class SubstitutionError extends Error {}

export interface PatchDeps {
  substitute(value: JsonValue, data: ContextData): JsonValue;
  matchPattern: PatternMatcher;
}

/** Returns the patched copy of the resource; throws SubstitutionError or a patch error. */
export type Patcher = (resource: JsonObject, data: ContextData, deps: PatchDeps) => JsonObject;

/**
 * Optional compile-time `{{ }}` templating (e.g. variables.ts compileTemplate with
 * `fresh`); else deps.substitute runs per call. Its results must be private
 * copies: pre-processing edits the substituted patch in place. `basePath` is the
 * value's JSON pointer in the rule (`/mutate/patchStrategicMerge`,
 * `/mutate/foreach/0/patchStrategicMerge`, …): `{{@}}` resolves from it, as in Kyverno.
 */
export type TemplateCompiler = (value: JsonValue, basePath: string) => (data: ContextData) => JsonValue;

type Substituter = (data: ContextData, deps: PatchDeps) => JsonValue;

function substituter(value: JsonValue, compileTemplate: TemplateCompiler | undefined, basePath: string): Substituter {
  let template: ((data: ContextData) => JsonValue) | undefined;
  let compileError: unknown;
  if (compileTemplate) {
    try { template = compileTemplate(value, basePath); } catch (e) { compileError = e; }
  }
  return (data, deps) => {
    try {
      if (compileError !== undefined) throw compileError;
      return template ? template(data) : deps.substitute(value, data);
    } catch (e) {
      throw new SubstitutionError(e instanceof Error ? e.message : String(e));
    }
  };
}

/** `rulePath`: where `spec` sits in the rule (`/mutate`, `/mutate/foreach/0`, …), for `{{@}}`. */
export function compilePatcher(spec: { patchStrategicMerge?: JsonValue; patchesJson6902?: JsonValue },
  compileTemplate?: TemplateCompiler, rulePath = '/mutate'): Patcher | null {
  const smp = spec.patchStrategicMerge;
  if (smp !== undefined && smp !== null) {
    const vars = hasVariables(smp);
    if (!vars && isMap(smp) && isStaticPattern(smp)) {
      // Anchor-free and variable-free: pre-process once; the merge only reads the pattern.
      const pattern = preprocessPattern(clone(smp), {}, () => true);
      return (resource) => strategicMerge(resource, pattern);
    }
    if (!vars) return (resource, _data, deps) => applyStrategicMerge(resource, clone(smp), deps.matchPattern);
    const subst = substituter(smp, compileTemplate, `${rulePath}/patchStrategicMerge`);
    // A compiled template already returns a private copy; deps.substitute shares constant parts.
    const copy = compileTemplate !== undefined;
    return (resource, data, deps) => {
      const patch = subst(data, deps);
      return applyStrategicMerge(resource, copy ? patch : clone(patch), deps.matchPattern);
    };
  }
  const text = spec.patchesJson6902;
  if (typeof text === 'string' && text.length > 0) {
    if (!hasVariables(text)) {
      let ops: JsonPatchOp[] | undefined;
      let parseError: Error | undefined;
      try { ops = parseJson6902(text); } catch (e) { parseError = e as Error; }
      return (resource) => {
        if (parseError) throw parseError;
        return asObject(applyJson6902(resource, ops!));
      };
    }
    const subst = substituter(text, compileTemplate, `${rulePath}/patchesJson6902`);
    return (resource, data, deps) => {
      const s = subst(data, deps);
      if (typeof s !== 'string') throw new SubstitutionError('patchesJson6902 did not substitute to a string');
      return asObject(applyJson6902(resource, parseJson6902(s)));
    };
  }
  return null;
}

function asObject(v: JsonValue): JsonObject {
  if (!isMap(v)) throw new Error('patched resource is not an object');
  return v;
}

/**
 * Kyverno's patchStrategicMerge: anchor pre-processing, then kustomize strategic
 * merge. `patch` is consumed (edited in place): pass a private copy.
 */
export function applyStrategicMerge(resource: JsonObject, patch: JsonValue, match: PatternMatcher): JsonObject {
  if (!isMap(patch)) throw new Error('patchStrategicMerge must be an object');
  let pattern: JsonObject;
  try {
    pattern = preprocessPattern(patch, resource, match);
  } catch (e) {
    // A failed condition turns the patch into `{}`: the resource is left unchanged.
    if (e instanceof ConditionError || e instanceof GlobalConditionError) return resource;
    throw new Error(`failed to preProcess rule: ${(e as Error).message}`);
  }
  return strategicMerge(resource, pattern);
}
