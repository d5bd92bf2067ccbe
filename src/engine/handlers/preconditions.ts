/**
 * Preconditions / deny conditions as the engine uses them: compiled once,
 * evaluated against the JSON context. Errors (variables that cannot resolve)
 * surface as exceptions for the caller to turn into an `error` result.
 */
import type { ContextResolver, JsonObject, JsonValue } from '../types.ts';
import type { ContextData } from '../variables.ts';
import type { HandlerResult } from './types.ts';
import { compileConditions } from '../conditions.ts';
import { loadContextEntries } from '../context.ts';

export type CompiledConditionBlock = (data: ContextData) => { passed: boolean; message?: string };

export function compileConditionBlock(block: JsonValue): CompiledConditionBlock {
  return compileConditions(block as never) as CompiledConditionBlock;
}

/**
 * What runs before a handler, at rule level and per foreach element alike:
 * load the context entries, then check the preconditions. Returns the result to
 * report instead of running the handler (error / skip), or undefined to go on.
 */
export async function loadContextAndCheck(
  context: readonly JsonObject[], preconditions: CompiledConditionBlock | undefined, data: ContextData,
  resolver: ContextResolver | undefined, pinned: ReadonlySet<string> | undefined, withReason: boolean,
): Promise<HandlerResult | undefined> {
  if (context.length > 0) {
    try {
      await loadContextEntries(context, data, resolver, pinned);
    } catch (err) {
      return { status: 'error', message: `failed to load context: ${(err as Error).message}` };
    }
  }
  if (!preconditions) return undefined;
  let r: { passed: boolean; message?: string };
  try {
    r = preconditions(data);
  } catch (err) {
    return { status: 'error', message: `failed to evaluate preconditions: ${(err as Error).message}` };
  }
  if (r.passed) return undefined;
  return { status: 'skip', message: withReason && r.message ? `preconditions not met; ${r.message}` : 'preconditions not met' };
}
