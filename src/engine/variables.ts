/**
 * Kyverno variables: `{{ jmespath }}` substitution over the evaluation context.
 * STUB — owned by the variables/JMESPath work; the signatures are the contract.
 */
import type { JsonValue } from './types.ts';

/** The JSON document JMESPath queries run against: request, images, element, context entries… */
export type ContextData = Record<string, JsonValue>;

export class VariableError extends Error {}

/**
 * Replace every `{{ … }}` in strings found anywhere in `value` (deeply).
 * A string that is exactly one `{{ … }}` takes the expression's JSON type.
 * Throws VariableError when a variable cannot be resolved (no default).
 */
export function substituteVariables(value: JsonValue, data: ContextData): JsonValue {
  void data;
  return value;
}

/** Evaluate one JMESPath expression (parsed once and cached) against data. */
export function evaluateJMESPath(expression: string, data: JsonValue): JsonValue {
  void expression; void data;
  throw new VariableError('not implemented');
}
