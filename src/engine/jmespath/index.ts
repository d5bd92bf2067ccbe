/**
 * Kyverno's JMESPath: the community JMESPath interpreter with Kyverno's
 * custom functions, expressions parsed once (bounded LRU cache), and
 * Kyverno's missing-key rule — a field lookup on an object without that key
 * fails with `Unknown key "k" in path` when the failure reaches the top of
 * the expression (it does through `.`, `[n]` and the right side of `&&`;
 * functions, projections, filters, pipes, `||` and comparisons swallow it).
 */
import { TreeInterpreter, compile, type JSONValue } from '@jmespath-community/jmespath';
import { LRUCache } from 'lru-cache';
import type { JsonValue } from '../types.ts';
import { kyvernoFunctions } from './functions.ts';
import { builtinOverrides, type Visit } from './builtins.ts';
import { JMESPathSyntaxError, NotFoundError } from './errors.ts';

export { NotFoundError, JMESPathSyntaxError, JMESPathFunctionError } from './errors.ts';
export { setImageNormalizer } from './functions.ts';
export { goJsonMarshal, goSprint, goSprintNumber } from './gofmt.ts';

type Node = ReturnType<typeof compile>;
interface Interpreter {
  search(node: Node, value: JSONValue): JSONValue;
  visit(node: Node, value: JSONValue): JSONValue;
  runtime: {
    register(name: string, fn: (args: unknown[]) => JSONValue, signature: { types: number[] }[], options: { override: boolean }): { success: boolean; message?: string };
  };
}

// A private interpreter so Kyverno's overrides of built-ins stay local to it.
const interpreter = new (TreeInterpreter.constructor as new () => Interpreter)();
for (const f of kyvernoFunctions) {
  const result = interpreter.runtime.register(
    f.name,
    (args) => f.handler(args as JsonValue[]) as JSONValue,
    f.args.map((types) => ({ types: types as number[] })),
    { override: true },
  );
  if (!result.success) throw new Error(`cannot register JMESPath function ${f.name}: ${result.message}`);
}
// go-jmespath's versions of built-ins the community library implements differently.
const visit: Visit = (expref, value) => interpreter.visit(expref as Node, value as JSONValue) as JsonValue;
for (const f of builtinOverrides) {
  const result = interpreter.runtime.register(f.name, (args) => f.handler(args, visit) as JSONValue, f.args.map((types) => ({ types })), { override: true });
  if (!result.success) throw new Error(`cannot register JMESPath function ${f.name}: ${result.message}`);
}

export interface CompiledQuery {
  readonly expression: string;
  /** Throws NotFoundError, function errors, or errors of the interpreter. */
  search(data: JsonValue): JsonValue;
}

const MAX_EXPRESSION_LENGTH = 64 * 1024;
const cache = new LRUCache<string, CompiledQuery | JMESPathSyntaxError>({ max: 10_000 });

/** Parse once (cached). Throws JMESPathSyntaxError. */
export function compileQuery(expression: string): CompiledQuery {
  const hit = cache.get(expression);
  if (hit instanceof JMESPathSyntaxError) throw hit;
  if (hit) return hit;
  let ast: Node;
  try {
    if (expression.length > MAX_EXPRESSION_LENGTH) throw new Error('expression too long');
    ast = compile(expression, { enable_legacy_literals: true });
  } catch (e) {
    const err = new JMESPathSyntaxError((e as Error).message);
    cache.set(expression, err);
    throw err;
  }
  const fast = compileFast(ast);
  const query: CompiledQuery = {
    expression,
    search(data: JsonValue): JsonValue {
      const result = (fast ? fast(data as JSONValue) : interpreter.search(ast, data as JSONValue)) as JsonValue;
      if (result === null) {
        const missing = missingKey(ast, data as JSONValue);
        if (missing !== undefined) throw new NotFoundError(missing);
      }
      return result;
    },
  };
  cache.set(expression, query);
  return query;
}

/**
 * The common, simple expressions (`request.object.metadata.name`, `element.x || \`false\``,
 * `a[0].b | c`) as closures: the same results as the interpreter's visit (each case
 * mirrors it), without its per-node dispatch. Anything else — functions,
 * projections, filters, comparisons, `$`, variables — is left to the interpreter.
 */
type Fast = (value: JSONValue) => JSONValue;
interface AstNode { type: string; name?: string; value?: unknown; left?: AstNode; right?: AstNode; child?: AstNode }

function compileFast(root: Node): Fast | undefined {
  const n = root as unknown as AstNode;
  switch (n.type) {
    case 'Field': {
      const name = n.name!;
      return (v) => (v === null || typeof v !== 'object' || Array.isArray(v) ? null : (v as Record<string, JSONValue>)[name] ?? null);
    }
    case 'Subexpression': {
      const l = compileFast(n.left as unknown as Node), r = compileFast(n.right as unknown as Node);
      if (!l || !r) return undefined;
      return (v) => {
        const x = l(v);
        return x != null ? r(x) ?? null : null;
      };
    }
    case 'IndexExpression':
    case 'Pipe': {
      const l = compileFast(n.left as unknown as Node), r = compileFast(n.right as unknown as Node);
      if (!l || !r) return undefined;
      return (v) => r(l(v));
    }
    case 'Index': {
      const i = n.value as number;
      return (v) => {
        if (!Array.isArray(v)) return null;
        return v[i < 0 ? v.length + i : i] ?? null;
      };
    }
    case 'Current':
    case 'Identity':
      return (v) => v;
    case 'Literal': {
      const literal = n.value as JSONValue;
      return () => literal;
    }
    case 'OrExpression': {
      const l = compileFast(n.left as unknown as Node), r = compileFast(n.right as unknown as Node);
      if (!l || !r) return undefined;
      return (v) => {
        const x = l(v);
        return isFalsy(x) ? r(v) : x;
      };
    }
    case 'AndExpression': {
      const l = compileFast(n.left as unknown as Node), r = compileFast(n.right as unknown as Node);
      if (!l || !r) return undefined;
      return (v) => {
        const x = l(v);
        return isFalsy(x) ? x : r(v);
      };
    }
    case 'NotExpression': {
      const c = compileFast(n.child as unknown as Node);
      if (!c) return undefined;
      return (v) => isFalsy(c(v));
    }
    default:
      return undefined;
  }
}

/** Evaluate an expression (compiled once and cached) against data. */
export function searchJMESPath(expression: string, data: JsonValue): JsonValue {
  return compileQuery(expression).search(data);
}

const isPlainObject = (v: JSONValue): v is Record<string, JSONValue> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The key whose absence Kyverno would report for a null result, if any. */
function missingKey(node: Node, value: JSONValue): string | undefined {
  switch (node.type) {
    case 'Field':
      // an own property holding undefined (e.g. a lazy getter with nothing to give) is absent too
      return isPlainObject(value) && (!Object.hasOwn(value, node.name) || value[node.name] === undefined) ? node.name : undefined;
    case 'Subexpression':
    case 'IndexExpression': {
      const { left, right } = node as { left: Node; right: Node };
      const m = missingKey(left, value);
      if (m !== undefined) return m;
      const l = interpreter.visit(left, value);
      return l === null ? undefined : missingKey(right, l);
    }
    case 'AndExpression': {
      const { left, right } = node as { left: Node; right: Node };
      const l = interpreter.visit(left, value);
      return isFalsy(l) ? undefined : missingKey(right, value);
    }
    default:
      return undefined;
  }
}

/** JMESPath falsiness, as the interpreter's isFalse: null, false, '', [], {} (and undefined). */
function isFalsy(v: JSONValue | undefined): boolean {
  if (v === null || v === undefined || v === false || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}
