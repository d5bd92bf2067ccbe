/**
 * Preconditions / deny conditions as the engine uses them: compiled once,
 * evaluated against the JSON context. Errors (variables that cannot resolve)
 * surface as exceptions for the caller to turn into an `error` result.
 */
import type { JsonValue } from '../types.ts';
import type { ContextData } from '../variables.ts';
import { compileConditions } from '../conditions.ts';

export type CompiledConditionBlock = (data: ContextData) => { passed: boolean; message?: string };

export function compileConditionBlock(block: JsonValue): CompiledConditionBlock {
  return compileConditions(block as never) as CompiledConditionBlock;
}
