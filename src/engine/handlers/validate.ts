/**
 * The validate handler: pattern, anyPattern, deny and foreach, with Kyverno's
 * result statuses and message shapes (`validation error: <message>. rule <name>
 * failed at path <path>`). Patterns without variables are compiled once; those
 * with `{{ }}` are substituted per request and then compiled.
 */
import { applyForeachValues } from '../foreach-values.ts';
import type { JsonObject, JsonValue, KubeObject } from '../types.ts';
import type { HandlerResult, RuleEnv, RuleHandler } from './types.ts';
import { substituteVariables, evaluateJMESPath, extendContext, type ContextData } from '../variables.ts';
import { compilePattern, patternRuleResult, anyPatternRuleResult, type CompiledPattern } from '../pattern/index.ts';
import { compileConditionBlock, loadContextAndCheck, type CompiledConditionBlock } from './preconditions.ts';

const hasVariables = (v: JsonValue | undefined): boolean => v !== undefined && JSON.stringify(v).includes('{{');

type PatternSource = (data: ContextData) => CompiledPattern;

function patternSource(pattern: JsonValue): PatternSource {
  if (!hasVariables(pattern)) {
    const compiled = compilePattern(pattern);
    return () => compiled;
  }
  return (data) => compilePattern(substituteVariables(pattern, data));
}

interface ValidatorSpec {
  ruleName: string;
  /** The rule-level validate.message (used for every nested failure, like Kyverno). */
  message: string | undefined;
  pattern?: PatternSource;
  anyPattern?: PatternSource[];
  deny?: CompiledConditionBlock;
  foreach?: ForeachSpec[];
  context: JsonObject[];
  preconditions?: CompiledConditionBlock;
}

interface ForeachSpec {
  list: string;
  elementScope: boolean;
  validator: ValidatorSpec;
}

function substituteMessage(message: string | undefined, data: ContextData): string | undefined {
  if (!message || !message.includes('{{')) return message;
  try {
    const v = substituteVariables(message, data);
    return typeof v === 'string' ? v : JSON.stringify(v);
  } catch {
    return message;
  }
}

function denyMessage(spec: ValidatorSpec, data: ContextData): string {
  if (!spec.message) return `validation error: rule ${spec.ruleName} failed`;
  return substituteMessage(spec.message, data) ?? spec.message;
}

function validatePatterns(spec: ValidatorSpec, resource: JsonValue, data: ContextData): HandlerResult {
  try {
    if (spec.pattern) {
      const outcome = spec.pattern(data)(resource);
      if (outcome.ok) return { status: 'pass', message: `validation rule '${spec.ruleName}' passed.` };
      return patternRuleResult(spec.ruleName, substituteMessage(spec.message, data), outcome);
    }
    const compiled = (spec.anyPattern ?? []).map((p) => p(data));
    return anyPatternRuleResult(spec.ruleName, substituteMessage(spec.message, data), compiled, resource);
  } catch (err) {
    return { status: 'error', message: `variable substitution failed: ${(err as Error).message}` };
  }
}

async function runValidator(spec: ValidatorSpec, env: RuleEnv, element: JsonValue | undefined): Promise<HandlerResult | undefined> {
  // Kyverno reports a foreach element's failed preconditions without their reason.
  const skipped = await loadContextAndCheck(spec.context, spec.preconditions, env.data, env.resolver, env.pinned, false);
  if (skipped) return skipped;
  if (spec.foreach && !spec.deny && !spec.pattern && !spec.anyPattern) return validateForeach(spec, env);
  return checkNow(spec, env, element);
}

/** deny / pattern / anyPattern: synchronous, so plain rules never allocate a promise. */
function checkNow(spec: ValidatorSpec, env: RuleEnv, element: JsonValue | undefined): HandlerResult | undefined {
  const { data } = env;
  if (spec.deny) {
    let r: { passed: boolean };
    try {
      r = spec.deny(data);
    } catch (err) {
      return { status: 'error', message: `failed to check deny conditions: ${(err as Error).message}` };
    }
    return r.passed
      ? { status: 'fail', message: denyMessage(spec, data) }
      : { status: 'pass', message: `validation rule '${spec.ruleName}' passed.` };
  }
  if (spec.pattern || spec.anyPattern) {
    const target = element !== undefined && element !== null && typeof element === 'object' && !Array.isArray(element)
      ? element : env.input.operation === 'DELETE' && element === undefined ? undefined : env.resource;
    if (target === undefined) return undefined;
    return validatePatterns(spec, target as JsonValue, data);
  }
  return undefined;
}

async function validateForeach(spec: ValidatorSpec, env: RuleEnv): Promise<HandlerResult> {
  let applied = 0;
  const blocks = spec.foreach ?? [];
  for (let block = 0; block < blocks.length; block++) {
    const fe = blocks[block]!;
    let elements: JsonValue;
    try {
      elements = evaluateJMESPath(String(substituteVariables(fe.list, env.data)), env.data as JsonValue);
    } catch {
      continue; // Kyverno logs and moves on when a list cannot be evaluated
    }
    if (!Array.isArray(elements)) continue;
    const r = await validateElements(fe, elements, env, block);
    if (r.result.status !== 'pass') return r.result;
    applied += r.applied;
  }
  if (applied === 0) return { status: 'skip', message: 'rule skipped' };
  return { status: 'pass', message: 'rule passed' };
}

export function elementVariables(data: ContextData, element: JsonValue, index: number, nesting: number): ContextData {
  return extendContext(data, { element, elementIndex: index, [`element${nesting}`]: element, [`elementIndex${nesting}`]: index });
}

async function validateElements(fe: ForeachSpec, elements: JsonValue[], env: RuleEnv, block: number): Promise<{ result: HandlerResult; applied: number }> {
  let applied = 0;
  for (let index = 0; index < elements.length; index++) {
    const element = elements[index]!;
    if (element === null) continue;
    const childEnv: RuleEnv = { ...env, data: elementVariables(env.data, element, index, env.nesting), nesting: env.nesting + 1 };
    if (env.foreachValues) applyForeachValues(childEnv.data, env.foreachValues, block, index);
    const r = await runValidator(fe.validator, childEnv, fe.elementScope ? element : undefined);
    if (!r || r.status === 'skip') continue;
    if (r.status !== 'pass') {
      if (r.status === 'error' && index < elements.length - 1) continue;
      return { result: { status: r.status, message: `validation failure: ${r.message}`, path: r.path }, applied };
    }
    applied++;
  }
  return { result: { status: 'pass', message: '' }, applied };
}

function compileValidator(v: JsonObject, ruleName: string, message: string | undefined, nested: boolean): ValidatorSpec {
  const spec: ValidatorSpec = {
    ruleName,
    message,
    context: nested && Array.isArray(v.context) ? (v.context as JsonObject[]) : [],
    preconditions: nested && v.preconditions ? compileConditionBlock(v.preconditions) : undefined,
  };
  if (v.deny !== undefined && v.deny !== null) {
    const deny = v.deny as JsonObject;
    spec.deny = compileConditionBlock(deny.conditions ?? {});
  } else if (v.pattern !== undefined) {
    spec.pattern = patternSource(v.pattern);
  } else if (Array.isArray(v.anyPattern)) {
    spec.anyPattern = (v.anyPattern as JsonValue[]).map(patternSource);
  } else if (Array.isArray(v.foreach)) {
    spec.foreach = (v.foreach as JsonObject[]).map((fe) => ({
      list: String(fe.list ?? ''),
      elementScope: fe.elementScope !== false,
      validator: compileValidator(fe, ruleName, message, true),
    }));
  }
  return spec;
}

export function compileValidateHandler(ruleName: string, validate: JsonObject): RuleHandler {
  const message = typeof validate.message === 'string' && validate.message !== '' ? validate.message : undefined;
  const spec = compileValidator(validate, ruleName, message, false);
  const skipped: HandlerResult = { status: 'skip', message: 'rule skipped' };
  if (!spec.foreach) return (env) => checkNow(spec, env, undefined) ?? skipped;
  return async (env) => (await runValidator(spec, env, undefined)) ?? skipped;
}

export type { KubeObject };
