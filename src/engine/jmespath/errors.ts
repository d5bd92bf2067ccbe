/** Errors raised while evaluating Kyverno JMESPath, with Kyverno's wording. */

/** A custom function rejected its input: "JMESPath function 'f': …". */
export class JMESPathFunctionError extends Error {
  override name = 'JMESPathFunctionError';
}

export function functionError(fn: string, detail: string): JMESPathFunctionError {
  return new JMESPathFunctionError(`JMESPath function '${fn}': ${detail}`);
}

export function argumentTypeError(fn: string, position: number, type: string): JMESPathFunctionError {
  return functionError(fn, `${position} argument is expected of ${type} type`);
}

/**
 * Kyverno's interpreter fails a field lookup on an object that lacks the key
 * (plain JMESPath yields null); this is the error reaching the top level.
 */
export class NotFoundError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`Unknown key "${key}" in path`);
    this.name = 'NotFoundError';
    this.key = key;
  }
}

/** The expression does not parse. */
export class JMESPathSyntaxError extends Error {
  override name = 'JMESPathSyntaxError';
}
