/**
 * Picks the handler for a rule, as Kyverno's engine does: validate (pattern,
 * anyPattern, deny, foreach, podSecurity), mutate, verifyImages. Kinds not
 * supported yet compile to a handler that reports a clear `error` result.
 */
import type { JsonObject, JsonValue } from '../types.ts';
import type { RuleHandler } from './types.ts';
import { compileValidateHandler } from './validate.ts';
import { compilePodSecurityHandler } from './podsecurity.ts';
import { compileMutateHandler } from './mutate.ts';
import { compileVerifyImagesHandler } from './verify-images.ts';
import type { ImageExtractorConfigs } from '../../images/index.ts';
import { compileGenerateHandler } from './generate.ts';

export type { RuleHandler, RuleEnv, HandlerResult } from './types.ts';
export type { ImageVerificationConfig } from './verify-images.ts';

const unsupported = (what: string): RuleHandler => () => ({ status: 'error', message: `${what} is not supported by Portcullis yet` });

/** Compiles a validate.cel rule (src/engine/handlers/cel.ts, passed in so the CEL runtime loads only when needed). */
export type CelRuleCompiler = (ruleName: string, validate: JsonObject, celPreconditions: JsonValue | undefined) => RuleHandler;

export function compileRuleHandler(rule: JsonObject, celRule?: CelRuleCompiler): RuleHandler {
  const name = String(rule.name ?? '');
  if (rule.validate) {
    const v = rule.validate as JsonObject;
    if (v.podSecurity) return compilePodSecurityHandler(name, v);
    if (v.cel) {
      if (!celRule) throw new Error('validate.cel needs the CEL compiler (internal: none given)');
      return celRule(name, v, rule.celPreconditions);
    }
    if (v.manifests) return unsupported('validate.manifests');
    if (v.assert) return unsupported('validate.assert');
    return compileValidateHandler(name, v);
  }
  if (rule.mutate) return compileMutateHandler(name, rule.mutate as JsonObject);
  if (rule.verifyImages) {
    return compileVerifyImagesHandler(name, rule.verifyImages as JsonObject[], rule.imageExtractors as unknown as ImageExtractorConfigs | undefined);
  }
  if (rule.generate) return compileGenerateHandler(name, rule.generate as JsonObject);
  return unsupported('this rule type');
}
