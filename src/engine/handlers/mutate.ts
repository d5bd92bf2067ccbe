/**
 * mutate handler: patchStrategicMerge (with anchors), patchesJson6902 and
 * foreach, compiled once per rule; the engine's variables, conditions,
 * patterns and context loader are injected.
 */
import type { JsonObject, JsonValue } from '../types.ts';
import type { HandlerResult, RuleHandler } from './types.ts';
import { compileMutation, type MutateDeps, type MutateSpec, type MutationResult } from '../mutate/index.ts';
import { compileTemplate, substituteVariables, evaluateJMESPath, type ContextData } from '../variables.ts';
import { compileConditions, type CompiledConditions } from '../conditions.ts';
import { compilePatternTest } from '../pattern/index.ts';
import { loadContextEntries } from '../context.ts';
import { applyForeachValues, type ForeachValues } from '../foreach-values.ts';

const elementValuesOf = (values: ForeachValues) => (data: ContextData, block: number, index: number) => applyForeachValues(data, values, block, index);

// Blocks and patterns handed back by the mutate engine are the same objects on
// every call when they hold no variables, so identity caches compile them once.
type PatternTest = (resource: unknown) => boolean;
const conditionCache = new WeakMap<object, CompiledConditions>();
const patternCache = new WeakMap<object, PatternTest>();

function preconditions(block: JsonValue, data: Record<string, JsonValue>): boolean {
  if (block === null || typeof block !== 'object') return compileConditions(block)(data).passed;
  let c = conditionCache.get(block);
  if (!c) conditionCache.set(block, (c = compileConditions(block)));
  return c(data).passed;
}

// Condition patterns with variables are new values on every call (e.g. a
// foreach's `(name): "{{element.name}}"`): bounded caches keyed by their text
// compile each distinct one once. Strings (the usual condition values) key their
// own map, so no key string is built per lookup.
const patternTextCacheMax = 2048;
const stringPatterns = new Map<string, PatternTest>();
const jsonPatterns = new Map<string, PatternTest>();

function cachedTest(cache: Map<string, PatternTest>, key: string, pattern: JsonValue): PatternTest {
  let c = cache.get(key);
  if (!c) {
    if (cache.size >= patternTextCacheMax) cache.delete(cache.keys().next().value!);
    cache.set(key, (c = compilePatternTest(pattern)));
  }
  return c;
}

function matchPattern(resource: JsonValue, pattern: JsonValue): boolean {
  if (typeof pattern === 'string') return cachedTest(stringPatterns, pattern, pattern)(resource);
  if (pattern === null || typeof pattern !== 'object') return cachedTest(jsonPatterns, JSON.stringify(pattern), pattern)(resource);
  let c = patternCache.get(pattern);
  if (!c) patternCache.set(pattern, (c = cachedTest(jsonPatterns, JSON.stringify(pattern), pattern)));
  return c(resource);
}

const toHandlerResult = (r: MutationResult): HandlerResult => ({ status: r.status, message: r.message, patchedResource: r.resource });

export function compileMutateHandler(ruleName: string, mutate: JsonObject): RuleHandler {
  void ruleName;
  const run = compileMutation(mutate as unknown as MutateSpec, { compileTemplate: (v: JsonValue, basePath: string) => compileTemplate(v, { fresh: true, basePath }) });
  // Synchronous unless the mutation is (foreach may load context entries): the
  // engine then creates no promise for the rule.
  return (env) => {
    const deps: MutateDeps = {
      substitute: substituteVariables,
      evaluate: evaluateJMESPath,
      preconditions,
      matchPattern,
      loadContext: (entries, data) => loadContextEntries(entries as JsonObject[], data, env.resolver, env.pinned),
      // Always present (one object shape on the hot path), undefined unless the CLI gives values.
      elementValues: env.foreachValues ? elementValuesOf(env.foreachValues) : undefined,
    };
    const r = run(env.resource, env.data, deps);
    return r instanceof Promise ? r.then(toHandlerResult) : toHandlerResult(r);
  };
}
