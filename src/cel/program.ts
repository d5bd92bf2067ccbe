/**
 * The evaluation core shared by validate.cel rules and ValidatingPolicy:
 * matchConditions, lazily evaluated `variables.<name>`, validations with
 * message/messageExpression, and auditAnnotations — all compiled once — with
 * the Kubernetes ValidatingAdmissionPolicy validator's decision rules
 * (a false validation denies; an evaluation error denies with the error as
 * message under failurePolicy Fail; messages fall back to
 * `failed expression: <expr>`).
 */
import type { CelInput, CelValue } from '@bufbuild/cel';
import type { JsonObject, JsonValue } from '../engine/types.ts';
import { isPendingLookup, type CelContextProvider } from './context.ts';
import { CelCompileError, compileExpression, KYVERNO_VARIABLES, type CompiledExpression } from './env.ts';
import { toCelInput, toJson } from './values.ts';
import { exceptionResult, type CompiledException } from './exceptions.ts';

/** A compile error located in the policy: which list, which entry. */
export class CelPolicyCompileError extends Error {
  readonly field: string;
  readonly index: number;
  readonly property: string;
  override readonly cause: CelCompileError;
  constructor(field: string, index: number, cause: CelCompileError, property = 'expression') {
    super(`${field}[${index}].${property}: Invalid value: ${JSON.stringify(cause.expression)}: compilation failed: ${cause.message}`);
    this.name = 'CelPolicyCompileError';
    this.field = field;
    this.index = index;
    this.property = property;
    this.cause = cause;
  }
}

export interface ProgramSpec {
  matchConditions?: JsonValue;
  variables?: JsonValue;
  validations?: JsonValue;
  auditAnnotations?: JsonValue;
  /** Message used when a validation has neither message nor messageExpression. */
  defaultMessage?: string;
  /** Field names for error locations, e.g. `spec.validate.cel.expressions`. */
  fieldNames?: { matchConditions?: string; variables?: string; validations?: string; auditAnnotations?: string };
  /** Extra declared variables (e.g. none in Kubernetes VAP). */
  declared?: readonly string[];
  /**
   * `vap`: Kubernetes validator messages (validate.cel); `kyverno`: the
   * policies.kyverno.io compiler's (default "CEL expression validation failed
   * at index N", message-expression errors reported in the message).
   */
  messageMode?: 'vap' | 'kyverno';
  /** CEL PolicyExceptions referencing the policy, checked before matchConditions. */
  exceptions?: readonly CompiledException[];
}

export interface Activation {
  object: JsonValue | null;
  oldObject: JsonValue | null;
  request: JsonValue | null;
  namespaceObject: JsonValue | null;
  params: JsonValue | null;
}

export type Outcome = 'pass' | 'deny' | 'error';
export interface Decision {
  index: number;
  outcome: Outcome;
  message: string;
  /** For `error` outcomes: the CEL error text alone. */
  error?: string;
  reason?: string;
}
export interface ProgramResult {
  /** false when a matchCondition evaluated to false. */
  matched: boolean;
  /** matchCondition evaluation error (the policy then errors). */
  matchError?: string;
  decisions: Decision[];
  auditAnnotations: Record<string, string>;
  /** Set when a PolicyException exempted the resource. */
  exception?: { status: 'skip' | 'pass'; message: string };
}

interface CompiledValidation {
  expr: CompiledExpression;
  message?: string;
  messageExpr?: CompiledExpression;
  reason?: string;
}

const asList = (v: JsonValue | undefined): JsonObject[] => (Array.isArray(v) ? (v.filter((x) => x && typeof x === 'object' && !Array.isArray(x)) as JsonObject[]) : []);

function compileAt(field: string, index: number, source: unknown, declared: readonly string[], property = 'expression'): CompiledExpression {
  try {
    return compileExpression(typeof source === 'string' ? source : '', declared);
  } catch (e) {
    if (e instanceof CelCompileError) throw new CelPolicyCompileError(field, index, e, property);
    throw e;
  }
}

/** cel-go's wording for the errors users see most. */
/** A failed validation's message as Kyverno's CEL policies build it: messageExpression, else message. */
export function kyvernoMessage(message: string, messageExpr: CompiledExpression | undefined,
  bindings: Record<string, CelInput>, ctx: CelContextProvider | undefined): string {
  if (!messageExpr) return message;
  try {
    const m = toJson(messageExpr.evaluate(bindings, ctx));
    return typeof m === 'string' ? m : `failed to convert message expression to string: ${JSON.stringify(m)}`;
  } catch (e) {
    return `failed to evaluate message expression: ${celErrorText((e as Error).message)}`;
  }
}

export function celErrorText(message: string): string {
  const m = /^field not found: (.*)$/.exec(message);
  if (m) return `no such key: ${m[1]}`;
  return message;
}

/**
 * Kyverno's conditions (matchConditions, DeletingPolicy conditions): a false one wins
 * over errors in the others; otherwise errors fail the evaluation, joined with "; ".
 * `nonBool` words the error of a condition that is not a bool.
 */
export function allConditionsHold<T extends { expr: CompiledExpression }>(conditions: readonly T[], bindings: Record<string, CelInput>,
  ctx: CelContextProvider | undefined, nonBool: (condition: T, value: CelValue) => string): boolean {
  const errors: string[] = [];
  for (const c of conditions) {
    let v: CelValue;
    try {
      v = c.expr.evaluate(bindings, ctx);
    } catch (e) {
      errors.push(celErrorText((e as Error).message));
      continue;
    }
    if (v === false) return false;
    if (v !== true) errors.push(nonBool(c, v));
  }
  if (errors.length > 0) throw new Error(errors.join('; '));
  return true;
}

function trimmed(expr: string): string {
  return expr.trim();
}

/** Lazily evaluated, memoised `variables` map (a variable can use earlier ones). */
export class LazyVariables extends Map<string, CelInput> {
  private readonly exprs: Map<string, CompiledExpression>;
  private readonly done = new Map<string, { v?: CelValue; err?: Error }>();
  private readonly bindings: () => Record<string, CelInput>;
  private readonly ctx: CelContextProvider | undefined;
  constructor(exprs: Map<string, CompiledExpression>, bindings: () => Record<string, CelInput>, ctx: CelContextProvider | undefined) {
    super();
    this.exprs = exprs;
    this.bindings = bindings;
    this.ctx = ctx;
  }
  override get size() {
    return this.exprs.size;
  }
  override has(k: string) {
    return this.exprs.has(k);
  }
  override get(k: string): CelInput | undefined {
    const e = this.exprs.get(k);
    if (!e) return undefined;
    let r = this.done.get(k);
    if (!r) {
      try {
        r = { v: e.evaluate(this.bindings(), this.ctx) };
      } catch (err) {
        r = { err: err as Error };
      }
      this.done.set(k, r);
    }
    if (r.err) throw r.err;
    return r.v as CelInput;
  }
  override keys() {
    return this.exprs.keys();
  }
  override *entries(): MapIterator<[string, CelInput]> {
    for (const k of this.exprs.keys()) yield [k, this.get(k)!];
  }
  override *values(): MapIterator<CelInput> {
    for (const k of this.exprs.keys()) yield this.get(k)!;
  }
  override [Symbol.iterator]() {
    return this.entries();
  }
  override forEach(cb: (v: CelInput, k: string, m: Map<string, CelInput>) => void) {
    for (const [k, v] of this.entries()) cb(v, k, this);
  }
}

/** Compile `variables[]` into the name → expression map LazyVariables evaluates. */
export function compileVariables(list: JsonValue | undefined, field: string, declared: readonly string[] = KYVERNO_VARIABLES): Map<string, CompiledExpression> {
  const out = new Map<string, CompiledExpression>();
  asList(list).forEach((v, i) => out.set(String(v.name ?? ''), compileAt(field, i, v.expression, declared)));
  return out;
}

/** Compile a list of `{expression}` entries (matchConditions, mutations…) at `field`. */
export function compileList(list: JsonValue | undefined, field: string, prop = 'expression', declared: readonly string[] = KYVERNO_VARIABLES): { entry: JsonObject; expr: CompiledExpression }[] {
  return asList(list).map((entry, i) => ({ entry, expr: compileAt(field, i, entry[prop], declared, prop) }));
}

export interface CompiledProgram {
  evaluate(act: Activation, ctx?: CelContextProvider): ProgramResult;
}

export function compileProgram(spec: ProgramSpec): CompiledProgram {
  const declared = spec.declared ?? KYVERNO_VARIABLES;
  const names = { matchConditions: 'matchConditions', variables: 'variables', validations: 'validations', auditAnnotations: 'auditAnnotations', ...spec.fieldNames };
  const matchConditions = asList(spec.matchConditions).map((m, i) => ({ name: String(m.name ?? ''), expr: compileAt(names.matchConditions, i, m.expression, declared) }));
  const variables = new Map<string, CompiledExpression>();
  asList(spec.variables).forEach((v, i) => variables.set(String(v.name ?? ''), compileAt(names.variables, i, v.expression, declared)));
  const validations: CompiledValidation[] = asList(spec.validations).map((v, i) => {
    const c: CompiledValidation = { expr: compileAt(names.validations, i, v.expression, declared) };
    const msg = typeof v.message === 'string' && v.message !== '' ? v.message : spec.defaultMessage;
    if (msg) c.message = msg;
    if (typeof v.messageExpression === 'string' && v.messageExpression.trim() !== '') {
      c.messageExpr = compileAt(names.validations, i, v.messageExpression, declared, 'messageExpression');
    }
    if (typeof v.reason === 'string') c.reason = v.reason;
    return c;
  });
  const audits = asList(spec.auditAnnotations).map((a, i) => ({ key: String(a.key ?? ''), expr: compileAt(names.auditAnnotations, i, a.valueExpression, declared, 'valueExpression') }));

  const kyvernoMode = spec.messageMode === 'kyverno';
  return {
    evaluate(act, ctx) {
      let bindings: Record<string, CelInput>;
      const vars = new LazyVariables(variables, () => bindings, ctx);
      bindings = {
        object: toCelInput(act.object),
        oldObject: toCelInput(act.oldObject),
        request: toCelInput(act.request),
        namespaceObject: toCelInput(act.namespaceObject),
        params: toCelInput(act.params),
        variables: vars,
        authorizer: null,
      };
      const result: ProgramResult = { matched: true, decisions: [], auditAnnotations: {} };
      if (spec.exceptions && spec.exceptions.length > 0) {
        try {
          const ex = exceptionResult(spec.exceptions, bindings, ctx);
          if (ex) {
            result.exception = ex;
            return result;
          }
        } catch (e) {
          result.matchError = `failed to evaluate exception: ${celErrorText((e as Error).message)}`;
          return result;
        }
      }
      for (const m of matchConditions) {
        try {
          const v = m.expr.evaluate(bindings, ctx);
          if (v === false) {
            result.matched = false;
            return result;
          }
          if (v !== true) throw new Error(`matchCondition '${m.name}' must return bool`);
        } catch (e) {
          const text = celErrorText((e as Error).message);
          // A lookup still pending: keep going, so one round collects the other conditions' lookups too.
          if (isPendingLookup(text)) { result.matchError ??= `failed to evaluate matchCondition '${m.name}': ${text}`; continue; }
          result.matchError = `failed to evaluate matchCondition '${m.name}': ${text}`;
          return result;
        }
      }
      if (result.matchError) return result;
      validations.forEach((v, index) => {
        // Kyverno's policy compiler stops at the first validation that does not pass (one
        // that waits for a lookup does not count: the round is evaluated again once resolved).
        const last = result.decisions[result.decisions.length - 1];
        if (kyvernoMode && last && last.outcome !== 'pass' && !(last.outcome === 'error' && isPendingLookup(last.error ?? ''))) return;
        let value: CelValue;
        try {
          value = v.expr.evaluate(bindings, ctx);
        } catch (e) {
          const error = celErrorText((e as Error).message);
          result.decisions.push({ index, outcome: 'error', message: `expression '${trimmed(v.expr.source)}' resulted in error: ${error}`, error });
          return;
        }
        if (value === true) {
          result.decisions.push({ index, outcome: 'pass', message: '' });
          return;
        }
        if (value !== false) {
          const error = `expression '${trimmed(v.expr.source)}' must return a boolean`;
          result.decisions.push({ index, outcome: 'error', message: `validation failed due to an error: ${error}`, error });
          return;
        }
        if (kyvernoMode) {
          const message = kyvernoMessage(v.message ?? '', v.messageExpr, bindings, ctx);
          result.decisions.push({ index, outcome: 'deny', message: message || `CEL expression validation failed at index ${index}` });
          return;
        }
        const fallback = v.message ?? `failed expression: ${trimmed(v.expr.source)}`;
        let message = fallback;
        if (v.messageExpr) {
          try {
            const m = toJson(v.messageExpr.evaluate(bindings, ctx));
            if (typeof m === 'string' && m.trim() !== '' && !m.includes('\n')) message = m.trim();
          } catch {
            message = fallback;
          }
        }
        const d: Decision = { index, outcome: 'deny', message };
        if (v.reason) d.reason = v.reason;
        result.decisions.push(d);
      });
      for (const a of audits) {
        try {
          const v = toJson(a.expr.evaluate(bindings, ctx));
          if (typeof v === 'string') result.auditAnnotations[a.key] = v;
        } catch {
          // Kubernetes drops an audit annotation whose expression fails.
        }
      }
      return result;
    },
  };
}
