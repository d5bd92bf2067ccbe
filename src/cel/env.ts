/**
 * The CEL environment Kyverno policies run in: @bufbuild/cel plus the
 * Kubernetes libraries (strings ext, lists, sets, regex, quantity, url,
 * ip/cidr, semver), optional types, Kyverno's functions, http.*, x509.decode
 * and generator.Apply. An expression is parsed, checked for unknown
 * functions/variables and planned once (`compileExpression`); the plan is then
 * evaluated many times.
 */
import { celEnv, isCelError, parse, plan, type CelEnv, type CelFunc, type CelInput, type CelValue } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { withContext, type CelContextProvider } from './context.ts';
import { extFuncs } from './lib/ext.ts';
import { generatorFuncs } from './lib/generator.ts';
import { httpFuncs } from './lib/http.ts';
import { imageVerifyFuncs } from './lib/image-verify.ts';
import { ipFuncs } from './lib/ip.ts';
import { formatFuncs } from './lib/format.ts';
import { randomFuncs } from './lib/random.ts';
import { kyvernoFuncs } from './lib/kyverno.ts';
import { listFuncs } from './lib/lists.ts';
import { quantityFuncs } from './lib/quantity.ts';
import { regexFuncs } from './lib/regex.ts';
import { cachedRe2 } from './lib/re2-cache.ts';
import { semverFuncs } from './lib/semver.ts';
import { urlFuncs } from './lib/url.ts';
import { x509Funcs } from './lib/x509.ts';
import { opaqueRegistry } from './opaque.ts';
import { optionalFuncs, rewriteOptionalSyntax } from './optional.ts';

export const ALL_FUNCS: CelFunc[] = [
  ...strings, ...optionalFuncs, ...listFuncs, ...regexFuncs, ...quantityFuncs, ...urlFuncs, ...ipFuncs, ...formatFuncs, ...semverFuncs, ...kyvernoFuncs,
  ...httpFuncs, ...x509Funcs, ...randomFuncs, ...imageVerifyFuncs, ...generatorFuncs, ...extFuncs,
];

const env: CelEnv = celEnv({ registry: opaqueRegistry, funcs: ALL_FUNCS, re2: cachedRe2 });

/** Variables every Kyverno CEL expression may reference. */
export const KYVERNO_VARIABLES = ['object', 'oldObject', 'request', 'params', 'namespaceObject', 'variables', 'authorizer'] as const;

export class CelCompileError extends Error {
  readonly expression: string;
  /** 1-based line/column in the user's expression, when known. */
  readonly line?: number;
  readonly column?: number;
  constructor(expression: string, message: string, line?: number, column?: number) {
    super(line !== undefined ? `ERROR: <input>:${line}:${column}: ${message}` : `ERROR: <input>: ${message}`);
    this.name = 'CelCompileError';
    this.expression = expression;
    if (line !== undefined) {
      this.line = line;
      this.column = column;
    }
  }
}

export class CelEvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CelEvalError';
  }
}

export interface CompiledExpression {
  readonly source: string;
  /** Evaluate; throws CelEvalError on a CEL runtime error. */
  evaluate(bindings: Record<string, CelInput>, context?: CelContextProvider): CelValue;
}

function lineCol(text: string, offset: number): [number, number] {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      start = i + 1;
    }
  }
  return [line, offset - start + 1];
}
function offsetOf(text: string, line: number, col: number): number {
  let off = 0;
  for (let l = 1; l < line; l++) off = text.indexOf('\n', off) + 1;
  return off + col - 1;
}

/** Name of a call's qualified form: `sets.contains`, `resource.Get` (target is an identifier chain). */
function qualifier(e: Expr | undefined): string | undefined {
  if (!e) return undefined;
  if (e.exprKind.case === 'identExpr') return e.exprKind.value.name;
  if (e.exprKind.case === 'selectExpr' && !e.exprKind.value.testOnly) {
    const q = qualifier(e.exprKind.value.operand);
    return q === undefined ? undefined : `${q}.${e.exprKind.value.field}`;
  }
  return undefined;
}

/** Static checks cel-go's checker would catch: unknown functions and undeclared identifiers. */
function checkExpr(e: Expr, scope: ReadonlySet<string>, declared: ReadonlySet<string>, positions: Record<string, number>, fail: (msg: string, offset: number | undefined) => never): void {
  const at = () => positions[String(e.id)];
  switch (e.exprKind.case) {
    case 'identExpr': {
      const n = e.exprKind.value.name;
      if (!scope.has(n) && !declared.has(n)) fail(`undeclared reference to '${n}' (in container '')`, at());
      return;
    }
    case 'selectExpr':
      checkExpr(e.exprKind.value.operand!, scope, declared, positions, fail);
      return;
    case 'callExpr': {
      const c = e.exprKind.value;
      const q = qualifier(c.target);
      if (q !== undefined && !scope.has(q.split('.')[0]!) && !declared.has(q.split('.')[0]!) && env.funcs.find(`${q}.${c.function}`)) {
        for (const a of c.args) checkExpr(a, scope, declared, positions, fail);
        return;
      }
      const isOperator = /^[_!@-]/.test(c.function) && !c.function.startsWith('_pc');
      if (!isOperator && !env.funcs.find(c.function)) fail(`undeclared reference to '${c.function}' (in container '')`, at());
      if (c.target) checkExpr(c.target, scope, declared, positions, fail);
      for (const a of c.args) checkExpr(a, scope, declared, positions, fail);
      return;
    }
    case 'listExpr':
      for (const x of e.exprKind.value.elements) checkExpr(x, scope, declared, positions, fail);
      return;
    case 'structExpr':
      for (const x of e.exprKind.value.entries) {
        if (x.keyKind.case === 'mapKey') checkExpr(x.keyKind.value, scope, declared, positions, fail);
        if (x.value) checkExpr(x.value, scope, declared, positions, fail);
      }
      return;
    case 'comprehensionExpr': {
      const c = e.exprKind.value;
      checkExpr(c.iterRange!, scope, declared, positions, fail);
      checkExpr(c.accuInit!, scope, declared, positions, fail);
      const inner = new Set(scope);
      inner.add(c.iterVar);
      if (c.iterVar2) inner.add(c.iterVar2);
      inner.add(c.accuVar);
      checkExpr(c.loopCondition!, inner, declared, positions, fail);
      checkExpr(c.loopStep!, inner, declared, positions, fail);
      const result = new Set(scope);
      result.add(c.accuVar);
      checkExpr(c.result!, result, declared, positions, fail);
      return;
    }
    default:
      return;
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** The direct sub-expressions of `e`, for the rewrites below (checkExpr keeps its own walk: it tracks scopes). */
function subExpressions(e: Expr): (Expr | undefined)[] {
  const k = e.exprKind;
  switch (k.case) {
    case 'selectExpr':
      return [k.value.operand];
    case 'callExpr':
      return [k.value.target, ...k.value.args];
    case 'listExpr':
      return k.value.elements;
    case 'structExpr':
      return k.value.entries.flatMap((entry) => [entry.keyKind.case === 'mapKey' ? entry.keyKind.value : undefined, entry.value]);
    case 'comprehensionExpr':
      return [k.value.iterRange, k.value.accuInit, k.value.loopCondition, k.value.loopStep, k.value.result];
    default:
      return [];
  }
}

const node = (exprKind: unknown): Expr => ({ $typeName: 'cel.expr.Expr', id: 0n, exprKind }) as unknown as Expr;
const call = (fn: string, args: Expr[]): Expr => node({ case: 'callExpr', value: { $typeName: 'cel.expr.Expr.Call', function: fn, args } });
const ident = (name: string): Expr => node({ case: 'identExpr', value: { $typeName: 'cel.expr.Expr.Ident', name } });
const constant = (kind: unknown): Expr => node({ case: 'constExpr', value: { $typeName: 'cel.expr.Constant', constantKind: kind } });
const list = (elements: Expr[]): Expr => node({ case: 'listExpr', value: { $typeName: 'cel.expr.Expr.CreateList', elements, optionalIndices: [] } });
const comprehension = (c: { iterVar: string; iterRange: Expr; accuVar: string; accuInit: Expr; loopCondition: Expr; loopStep: Expr; result: Expr }): Expr['exprKind'] =>
  ({ case: 'comprehensionExpr', value: { $typeName: 'cel.expr.Expr.Comprehension', iterVar2: '', ...c } }) as unknown as Expr['exprKind'];

/**
 * cel-go's lists extension: `l.sortBy(e, key)` is a macro for
 * `@sortByAssociatedKeys(l, l.map(e, key))`.
 */
function sortByCall(target: Expr, variable: Expr, key: Expr, fail: (msg: string, offset: number | undefined) => never, offset: number | undefined): Expr['exprKind'] {
  if (variable.exprKind.case !== 'identExpr') fail('sortBy(var, ...) variable name must be a simple identifier', offset);
  const keys = node(comprehension({
    iterVar: (variable.exprKind.value as { name: string }).name,
    iterRange: target,
    accuVar: '@result',
    accuInit: list([]),
    loopCondition: constant({ case: 'boolValue', value: true }),
    loopStep: call('_+_', [ident('@result'), list([key])]),
    result: ident('@result'),
  }));
  return call('@sortByAssociatedKeys', [target, keys]).exprKind;
}

/**
 * The extension macros the parser here lacks, rewritten in place: cel-go's
 * bindings extension `cel.bind(name, init, body)` is a comprehension over an
 * empty list whose accumulator is `name` (initialised to `init`, so evaluated
 * once) and whose result is `body`; and the lists extension's `sortBy`.
 */
function expandMacros(e: Expr | undefined, fail: (msg: string, offset: number | undefined) => never, positions: Record<string, number>): void {
  if (!e) return;
  for (const sub of subExpressions(e)) expandMacros(sub, fail, positions);
  if (e.exprKind.case !== 'callExpr') return;
  const c = e.exprKind.value;
  if (c.function === 'sortBy' && c.target && c.args.length === 2) {
    e.exprKind = sortByCall(c.target, c.args[0]!, c.args[1]!, fail, positions[String(e.id)]);
    return;
  }
  if (c.function !== 'bind' || c.target?.exprKind.case !== 'identExpr' || c.target.exprKind.value.name !== 'cel') return;
  const [name, init, body] = c.args;
  if (c.args.length !== 3 || name?.exprKind.case !== 'identExpr') {
    fail('cel.bind() variable name must be a simple identifier', positions[String(e.id)]);
  }
  e.exprKind = comprehension({
    iterVar: '#unused',
    iterRange: list([]),
    accuVar: (name!.exprKind.value as { name: string }).name,
    accuInit: init!,
    loopCondition: constant({ case: 'boolValue', value: false }),
    loopStep: name!,
    result: body!,
  });
}

/**
 * Kubernetes mutation expressions build objects with typed struct syntax
 * (`Object.spec{containers: …}`, `JSONPatch{op: …}`) whose types only exist
 * in the apiserver's schema. Here they are plain maps: rewrite each typed
 * struct literal into a map literal with string keys.
 */
function structsToMaps(e: Expr | undefined): void {
  if (!e) return;
  const k = e.exprKind;
  if (k.case === 'structExpr' && k.value.messageName !== '' && !env.registry.getMessage(k.value.messageName)) {
    k.value.messageName = '';
    for (const entry of k.value.entries) {
      if (entry.keyKind.case === 'fieldKey') {
        const key = parse(JSON.stringify(entry.keyKind.value)).expr;
        key.id = entry.id;
        entry.keyKind = { case: 'mapKey', value: key };
      }
    }
  }
  for (const sub of subExpressions(e)) structsToMaps(sub);
}

/**
 * Parse, check and plan an expression once. `declared` lists the variables it
 * may reference (Kyverno's set by default). Throws CelCompileError.
 */
export function compileExpression(source: string, declared: readonly string[] = KYVERNO_VARIABLES): CompiledExpression {
  const rewritten = rewriteOptionalSyntax(source);
  const fail = (msg: string, offset: number | undefined): never => {
    if (offset === undefined) throw new CelCompileError(source, msg);
    const [l, c] = lineCol(source, rewritten.toSource(offset));
    throw new CelCompileError(source, msg, l, c);
  };
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(rewritten.text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /^<input>:(\d+):(\d+): (.*)$/s.exec(msg);
    if (m) fail(m[3]!, offsetOf(rewritten.text, Number(m[1]), Number(m[2])));
    fail(msg, undefined);
    throw e; // unreachable
  }
  structsToMaps(parsed.expr);
  expandMacros(parsed.expr, fail, (parsed.sourceInfo?.positions ?? {}) as Record<string, number>);
  checkExpr(parsed.expr, EMPTY, new Set(declared), (parsed.sourceInfo?.positions ?? {}) as Record<string, number>, fail);
  const run = plan(env, parsed);
  return {
    source,
    evaluate(bindings, context) {
      const out = context ? withContext(context, () => run(bindings)) : run(bindings);
      if (isCelError(out)) throw new CelEvalError(out.message);
      return out;
    },
  };
}
