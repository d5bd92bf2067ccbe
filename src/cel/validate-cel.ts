/**
 * `validate.cel` inside kyverno.io/v1 rules, as Kyverno's validate CEL
 * handler runs it: the rule's CEL preconditions act as matchConditions
 * (unmet → skip "cel preconditions not met"), expressions default their
 * message to the rule's `validate.message`, the first denying expression
 * fails the rule with its message, otherwise
 * "Validation rule '<name>' passed.". With paramKind/paramRef the rule runs
 * once per resolved param.
 */
import type { JsonObject, JsonValue } from '../engine/types.ts';
import type { CelContextProvider } from './context.ts';
import { compileProgram, type Activation } from './program.ts';

export interface CelRuleEnv {
  object: JsonValue | null;
  oldObject: JsonValue | null;
  request: JsonValue | null;
  namespaceObject: JsonValue | null;
  params?: JsonValue | null;
}

export interface CelRuleResult {
  status: 'pass' | 'fail' | 'error' | 'skip';
  message: string;
  auditAnnotations?: Record<string, string>;
}

export interface CelValidationOptions {
  /** The rule's `validate.message`, the default for expressions without one. */
  message?: string;
  /** The rule's `celPreconditions` (matchConditions). */
  celPreconditions?: JsonValue;
  /** Resolve paramKind/paramRef to the params objects (throw on lookup failure). */
  resolveParams?: (paramKind: JsonObject, paramRef: JsonObject | undefined, namespace: string) => JsonValue[];
}

export type CelRuleEvaluator = (env: CelRuleEnv, context?: CelContextProvider) => CelRuleResult;

/** Compile a rule's `validate.cel`; throws CelPolicyCompileError with the failing entry's index. */
export function compileCelValidation(celSpec: JsonObject, ruleName: string, opts: CelValidationOptions = {}): CelRuleEvaluator {
  const spec: Parameters<typeof compileProgram>[0] = {
    matchConditions: opts.celPreconditions,
    variables: celSpec.variables,
    validations: celSpec.expressions,
    auditAnnotations: celSpec.auditAnnotations,
    fieldNames: { matchConditions: 'celPreconditions', variables: 'validate.cel.variables', validations: 'validate.cel.expressions', auditAnnotations: 'validate.cel.auditAnnotations' },
  };
  if (opts.message) spec.defaultMessage = opts.message;
  const program = compileProgram(spec);
  const paramKind = celSpec.paramKind && typeof celSpec.paramKind === 'object' && !Array.isArray(celSpec.paramKind) ? (celSpec.paramKind as JsonObject) : undefined;
  const paramRef = celSpec.paramRef && typeof celSpec.paramRef === 'object' && !Array.isArray(celSpec.paramRef) ? (celSpec.paramRef as JsonObject) : undefined;
  const passed = `Validation rule '${ruleName}' passed.`;

  return (env, context) => {
    let paramsList: (JsonValue | null)[] = [env.params ?? null];
    if (paramKind && env.params === undefined) {
      if (!opts.resolveParams) {
        paramsList = [null];
      } else {
        const obj = (env.object ?? env.oldObject) as JsonObject | null;
        const ns = String(((obj?.metadata as JsonObject | undefined)?.namespace as string | undefined) ?? '');
        try {
          paramsList = opts.resolveParams(paramKind, paramRef, ns);
        } catch (e) {
          return { status: 'error', message: `error in parameterized resource: ${(e as Error).message}` };
        }
      }
    }
    const audit: Record<string, string> = {};
    for (const params of paramsList) {
      const act: Activation = { object: env.object, oldObject: env.oldObject, request: env.request, namespaceObject: env.namespaceObject, params };
      const r = program.evaluate(act, context);
      if (r.matchError) return { status: 'error', message: r.matchError };
      if (!r.matched) return { status: 'skip', message: 'cel preconditions not met' };
      Object.assign(audit, r.auditAnnotations);
      const bad = r.decisions.find((d) => d.outcome !== 'pass');
      if (bad) return { status: 'fail', message: bad.message };
    }
    const out: CelRuleResult = { status: 'pass', message: passed };
    if (Object.keys(audit).length > 0) out.auditAnnotations = audit;
    return out;
  };
}
