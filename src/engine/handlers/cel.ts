/**
 * validate.cel handler: the rule's CEL program (compiled once at policy load by
 * src/cel) evaluated with Kyverno's variables — object, oldObject, request,
 * namespaceObject — and the CEL lookups (resource.*, image.*) the caller provides.
 */
import type { JsonObject, JsonValue } from '../types.ts';
import type { RuleHandler } from './types.ts';
import { compileCelValidation } from '../../cel/index.ts';
import { celContextFor, namespaceObjectOf } from '../cel-context.ts';

export function compileCelHandler(ruleName: string, validate: JsonObject, celPreconditions: JsonValue | undefined): RuleHandler {
  const run = compileCelValidation(validate.cel as JsonObject, ruleName, {
    ...(typeof validate.message === 'string' && validate.message ? { message: validate.message } : {}),
    ...(celPreconditions !== undefined ? { celPreconditions } : {}),
  });
  return (env) => {
    const r = run({
      object: (env.input.operation === 'DELETE' ? null : env.resource) as JsonValue,
      oldObject: (env.input.oldObject ?? null) as JsonValue,
      request: (env.data.request ?? null) as JsonValue,
      namespaceObject: namespaceObjectOf(env.input),
    }, celContextFor(env.resolver));
    return { status: r.status, message: r.message };
  };
}
