/**
 * validate.cel handler: the rule's CEL program (compiled once at policy load by
 * src/cel) evaluated with Kyverno's variables — object, oldObject, request,
 * namespaceObject — and the CEL lookups (resource.*, image.*, globalContext.*,
 * http.*) the resolver answers, in rounds as for CEL policies.
 */
import type { JsonObject, JsonValue } from '../types.ts';
import type { HandlerResult, RuleHandler } from './types.ts';
import { compileCelValidation, type CelRuleResult } from '../../cel/index.ts';
import { celContextFor, namespaceObjectOf, withLookupRounds } from '../cel-context.ts';

export function compileCelHandler(ruleName: string, validate: JsonObject, celPreconditions: JsonValue | undefined): RuleHandler {
  const run = compileCelValidation(validate.cel as JsonObject, ruleName, {
    ...(typeof validate.message === 'string' && validate.message ? { message: validate.message } : {}),
    ...(celPreconditions !== undefined ? { celPreconditions } : {}),
  });
  return (env) => {
    const vars = {
      object: (env.input.operation === 'DELETE' ? null : env.resource) as JsonValue,
      oldObject: (env.input.oldObject ?? null) as JsonValue,
      request: (env.data.request ?? null) as JsonValue,
      namespaceObject: namespaceObjectOf(env.input),
    };
    const ctx = celContextFor(env.resolver);
    // Lookups (resource.Get, http.Get, …) not answered yet are resolved, then the rule runs again.
    const r = withLookupRounds(ctx, () => run(vars, ctx));
    return r instanceof Promise ? r.then(toResult) : toResult(r);
  };
}

const toResult = (r: CelRuleResult): HandlerResult => ({ status: r.status, message: r.message });
