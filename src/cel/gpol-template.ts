/**
 * GeneratingPolicy `generate[].template`: a YAML string (one or more documents,
 * each a resource). With `interpolate: cel`, `(( … ))` placeholders in scalar
 * values are CEL expressions, evaluated like the policy's generation
 * expressions (Kyverno's pkg/cel/policies/gpol/template):
 *  - the YAML is parsed first, then each scalar holding placeholders is evaluated;
 *  - a scalar that is exactly one placeholder is replaced by its value, which
 *    may be a map or a list (`labels: (( variables.labels ))`);
 *  - placeholders inside a longer string are interpolated and must be scalars;
 *  - `\((` writes a literal `((`; placeholders in mapping keys are errors;
 *  - the scanner knows nesting and CEL string literals: `(( f(x) ))`, `(( ")" ))`.
 * Subtrees without placeholders are decoded once and copied per render.
 * Everything is compiled with the policy, so authoring errors carry the YAML line.
 */
import type { CelInput, CelValue } from '@bufbuild/cel';
import { isCelList, isCelMap, isCelUint } from '@bufbuild/cel';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import type { JsonObject, JsonValue } from '../engine/types.ts';
import { goSprintNumber } from '../engine/jmespath/gofmt.ts';
import type { CelContextProvider } from './context.ts';
import { CelCompileError, compileExpression, type CompiledExpression } from './env.ts';
import { celErrorText } from './program.ts';
import { toJson } from './values.ts';
import { isObj } from './json-shapes.ts';

export interface CompiledTemplate {
  /** One resource per YAML document; throws with the document, field and placeholder that failed. */
  render(bindings: Record<string, CelInput>, ctx: CelContextProvider | undefined): JsonObject[];
}

type Render = (bindings: Record<string, CelInput>, ctx: CelContextProvider | undefined) => JsonValue;
/** A compiled node; `resource`: it can produce a whole resource (a mapping, or a single placeholder). */
interface Compiled { render: Render; resource: boolean }

interface Segment { literal?: string; expression?: string }


/** A scalar's literal and `(( … ))` segments (`\((` is a literal `((`). */
export function scanPlaceholders(s: string): Segment[] {
  const out: Segment[] = [];
  let literal = '';
  const flush = () => {
    if (literal !== '') out.push({ literal });
    literal = '';
  };
  for (let i = 0; i < s.length;) {
    if (s.startsWith('\\((', i)) {
      literal += '((';
      i += 3;
    } else if (s.startsWith('((', i)) {
      const [expression, next] = scanPlaceholder(s, i);
      flush();
      out.push({ expression });
      i = next;
    } else {
      literal += s[i];
      i++;
    }
  }
  flush();
  return out;
}

/** The trimmed expression of the placeholder opening at `start`, and the index after its `))`. */
function scanPlaceholder(s: string, start: number): [string, number] {
  let depth = 0;
  let quote = '';
  for (let i = start + 2; i < s.length; i++) {
    const c = s[i]!;
    if (quote !== '') {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '(') depth++;
    else if (c === ')') {
      if (depth > 0) depth--;
      else if (s[i + 1] === ')') {
        const expression = s.slice(start + 2, i).trim();
        if (expression === '') throw new Error(`empty placeholder at offset ${start}`);
        return [expression, i + 2];
      } else throw new Error(`unbalanced parenthesis in placeholder starting at offset ${start}`);
    }
  }
  if (quote !== '') throw new Error(`unterminated string literal in placeholder starting at offset ${start}`);
  throw new Error(`unterminated placeholder starting at offset ${start}: missing closing '))'`);
}

/** Has `s` an unescaped `((`? */
function hasPlaceholder(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (s.startsWith('\\((', i)) i += 2;
    else if (s.startsWith('((', i)) return true;
  }
  return false;
}

/** Go's %T, for the messages users see. */
function goType(v: CelValue | JsonValue): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v) || isCelList(v)) return '[]interface {}';
  if (isCelMap(v) || typeof v === 'object') return 'map[string]interface {}';
  return typeof v;
}

/** A placeholder's value inside a string: scalars as Go's %v prints them. */
function interpolated(v: CelValue, expression: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'number') return goSprintNumber(v);
  if (isCelUint(v)) return String(v.value);
  throw new Error(`placeholder "${expression}" embedded in a string must evaluate to a scalar, got ${goType(v)}; use a whole-value placeholder for structured results`);
}

class TemplateCompiler {
  readonly #doc: Document;
  readonly #lines: LineCounter;
  readonly #interpolate: boolean;

  constructor(doc: Document, lines: LineCounter, interpolate: boolean) {
    this.#doc = doc;
    this.#lines = lines;
    this.#interpolate = interpolate;
  }

  #line(n: Node): number {
    return this.#lines.linePos(n.range?.[0] ?? 0).line;
  }

  #resolve(n: Node): Node {
    const seen = new Set<Node>();
    while (isAlias(n) && !seen.has(n)) {
      seen.add(n);
      const target = n.resolve(this.#doc);
      if (!target) throw new Error(`line ${this.#line(n)}: unresolved alias *${n.source}`);
      n = target;
    }
    return n;
  }

  #holdsPlaceholder(n: Node | null, seen = new Set<Node>()): boolean {
    if (!n || seen.has(n)) return false;
    seen.add(n);
    n = this.#resolve(n);
    if (isScalar(n)) return typeof n.value === 'string' && (hasPlaceholder(n.value) || n.value.includes('\\(('));
    if (isMap(n)) return n.items.some((p) => this.#holdsPlaceholder(p.key as Node | null, seen) || this.#holdsPlaceholder(p.value as Node | null, seen));
    if (isSeq(n)) return n.items.some((i) => this.#holdsPlaceholder(i as Node | null, seen));
    return false;
  }

  compile(n: Node | null): Compiled {
    if (n === null) return { render: () => null, resource: false };
    n = this.#resolve(n);
    if (!this.#interpolate || !this.#holdsPlaceholder(n)) {
      const value = n.toJS(this.#doc, { maxAliasCount: 1000 }) as JsonValue;
      // Rendered resources are handed on and edited: each render gets its own copy.
      return { render: () => (value !== null && typeof value === 'object' ? structuredClone(value) : value), resource: isObj(value) };
    }
    if (isMap(n)) return this.#mapping(n.items);
    if (isSeq(n)) {
      const items = n.items.map((i) => this.compile(i as Node | null));
      return {
        render: (b, ctx) => items.map((item, i) => {
          try {
            return item.render(b, ctx);
          } catch (e) {
            throw new Error(`item ${i}: ${(e as Error).message}`);
          }
        }),
        resource: false,
      };
    }
    if (isScalar(n)) return this.#scalar(n.value as string, n);
    throw new Error(`line ${this.#line(n)}: unsupported YAML node kind`);
  }

  #mapping(pairs: readonly { key: unknown; value: unknown }[]): Compiled {
    const entries = pairs.map((p) => {
      const key = p.key as Node | null;
      if (!key || !isScalar(key)) throw new Error(`line ${key ? this.#line(key) : '?'}: only scalar mapping keys are supported`);
      // With merge keys enabled, the parser gives `<<` a symbol value.
      const name = typeof key.value === 'symbol' ? '<<' : String(key.value);
      if (hasPlaceholder(name)) {
        throw new Error(`line ${this.#line(key)}: placeholders are not supported in mapping keys; use a whole-value placeholder on the parent field instead (e.g. \`labels: (( variables.labels ))\`)`);
      }
      if (name === '<<') throw new Error(`line ${this.#line(key)}: YAML merge keys are not supported in subtrees containing placeholders`);
      return { name, value: this.compile(p.value as Node | null) };
    });
    return {
      render: (b, ctx) => {
        const out: JsonObject = {};
        for (const e of entries) {
          try {
            out[e.name] = e.value.render(b, ctx);
          } catch (err) {
            throw new Error(`field "${e.name}": ${(err as Error).message}`);
          }
        }
        return out;
      },
      resource: true,
    };
  }

  #expression(n: Node, expression: string): CompiledExpression {
    try {
      return compileExpression(expression);
    } catch (e) {
      if (e instanceof CelCompileError) throw new Error(`line ${this.#line(n)}: invalid placeholder expression "${expression}": ${e.message}`);
      throw e;
    }
  }

  #scalar(text: string, n: Node): Compiled {
    let segments: Segment[];
    try {
      segments = scanPlaceholders(text);
    } catch (e) {
      throw new Error(`line ${this.#line(n)}: ${(e as Error).message}`);
    }
    const exprs = segments.filter((s) => s.expression !== undefined);
    if (exprs.length === 0) {
      const literal = segments.map((s) => s.literal).join('');
      return { render: () => literal, resource: false };
    }
    const evaluate = (expr: CompiledExpression, b: Record<string, CelInput>, ctx: CelContextProvider | undefined): CelValue => {
      try {
        return expr.evaluate(b, ctx);
      } catch (e) {
        throw new Error(`failed to evaluate placeholder "${expr.source}": ${celErrorText((e as Error).message)}`);
      }
    };
    if (segments.length === 1) {
      const expr = this.#expression(n, exprs[0]!.expression!);
      return { render: (b, ctx) => toJson(evaluate(expr, b, ctx)), resource: true };
    }
    const parts = segments.map((s) => (s.expression !== undefined ? this.#expression(n, s.expression) : s.literal!));
    return {
      render: (b, ctx) => parts.map((p) => (typeof p === 'string' ? p : interpolated(evaluate(p, b, ctx), p.source))).join(''),
      resource: false,
    };
  }
}

/** Compile a template `value`; throws an Error whose message locates the problem (YAML line). */
export function compileTemplate(value: string, interpolate: boolean): CompiledTemplate {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(value, { merge: true, uniqueKeys: false, lineCounter: lines });
  const docs = Array.isArray(parsed) ? parsed : [];
  const compiled: Render[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`failed to parse YAML: ${doc.errors[0]!.message}`);
    const root = doc.contents as Node | null;
    // Empty documents and a bare null are skipped, as Kyverno's decoder does.
    if (root === null || (isScalar(root) && root.value === null)) continue;
    const c = new TemplateCompiler(doc, lines, interpolate).compile(root);
    if (!c.resource) throw new Error(`line ${lines.linePos(root.range?.[0] ?? 0).line}: document must be a mapping describing a resource`);
    compiled.push(c.render);
  }
  if (compiled.length === 0) throw new Error('template must contain at least one YAML document');
  return {
    render(bindings, ctx) {
      return compiled.map((render, i) => {
        let v: JsonValue;
        try {
          v = render(bindings, ctx);
        } catch (e) {
          throw new Error(`document ${i + 1}: ${(e as Error).message}`);
        }
        if (!isObj(v)) throw new Error(`document ${i + 1}: expected a mapping describing a resource, got ${goType(v)}`);
        return v;
      });
    },
  };
}
