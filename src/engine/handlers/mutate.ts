/**
 * mutate handler: patchStrategicMerge (with anchors), patchesJson6902 and
 * foreach, compiled once per rule; the engine's variables, conditions,
 * patterns and context loader are injected.
 */
import type { JsonObject, JsonValue } from '../types.ts';
import type { HandlerResult, RuleHandler } from './types.ts';
import { compileMutation, type MutateDeps, type MutateSpec, type MutationResult } from '../mutate/index.ts';
import { compileTemplate, substituteVariables, evaluateJMESPath } from '../variables.ts';
import { compileConditions, type CompiledConditions } from '../conditions.ts';
import { compilePattern, type CompiledPattern } from '../pattern/index.ts';
import { loadContextEntries } from '../context.ts';

// Blocks and patterns handed back by the mutate engine are the same objects on
// every call when they hold no variables, so identity caches compile them once.
const conditionCache = new WeakMap<object, CompiledConditions>();
const patternCache = new WeakMap<object, CompiledPattern>();

function preconditions(block: JsonValue, data: Record<string, JsonValue>): boolean {
  if (block === null || typeof block !== 'object') return compileConditions(block)(data).passed;
  let c = conditionCache.get(block);
  if (!c) conditionCache.set(block, (c = compileConditions(block)));
  return c(data).passed;
}

// Condition patterns with variables are new objects on every call (e.g. a
// foreach's `(name): "{{element.name}}"`): a bounded cache keyed by their JSON
// text compiles each distinct one once.
const patternTextCache = new Map<string, CompiledPattern>();
const patternTextCacheMax = 2048;

function compiledByText(pattern: JsonValue): CompiledPattern {
  // Scalars (the usual condition values) key the cache by their own text; the
  // type prefix keeps "1" and 1 apart.
  const key = typeof pattern === 'string' ? `s${pattern}` : `j${JSON.stringify(pattern)}`;
  let c = patternTextCache.get(key);
  if (!c) {
    if (patternTextCache.size >= patternTextCacheMax) patternTextCache.delete(patternTextCache.keys().next().value!);
    patternTextCache.set(key, (c = compilePattern(pattern)));
  }
  return c;
}

function matchPattern(resource: JsonValue, pattern: JsonValue): boolean {
  if (pattern === null || typeof pattern !== 'object') return compiledByText(pattern)(resource).ok;
  let c = patternCache.get(pattern);
  if (!c) patternCache.set(pattern, (c = compiledByText(pattern)));
  return c(resource).ok;
}

const toHandlerResult = (r: MutationResult): HandlerResult => ({ status: r.status, message: r.message, patchedResource: r.resource });

export function compileMutateHandler(ruleName: string, mutate: JsonObject): RuleHandler {
  void ruleName;
  const run = compileMutation(mutate as unknown as MutateSpec, { compileTemplate: (v: JsonValue) => compileTemplate(v) });
  // Synchronous unless the mutation is (foreach may load context entries): the
  // engine then creates no promise for the rule.
  return (env) => {
    const deps: MutateDeps = {
      substitute: substituteVariables,
      evaluate: evaluateJMESPath,
      preconditions,
      matchPattern,
      loadContext: (entries, data) => loadContextEntries(entries as JsonObject[], data, env.resolver, env.pinned),
    };
    const r = run(env.resource, env.data, deps);
    return r instanceof Promise ? r.then(toHandlerResult) : toHandlerResult(r);
  };
}
