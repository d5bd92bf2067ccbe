/**
 * Scalar pattern values (Kyverno pkg/engine/pattern), compiled once into a
 * predicate over one resource value. String patterns are split on `|` (any)
 * and `&` (all); each operand carries its operator (`>=`, `<=`, `>`, `<`,
 * `!`, ranges `a-b` / `a!-b`) and pre-parsed duration, quantity and wildcard
 * forms, so evaluation only converts the resource side.
 */
import { compileWildcard, type StringMatcher } from '../wildcard.ts';
import { goFloatE, goFloatF, goParseFloat } from './goformat.ts';
import { approxQuantity, compareQuantityText, parseDuration, parseQuantity, type Quantity } from './units.ts';

export type ValueMatcher = (value: unknown) => boolean;

type Op = '' | '>=' | '<=' | '>' | '<' | '!';

const inRangeRe = /^([-|+]?\d+(?:\.\d+)?[A-Za-z]*)-([-|+]?\d+(?:\.\d+)?[A-Za-z]*)$/;
const notInRangeRe = /^([-|+]?\d+(?:\.\d+)?[A-Za-z]*)!-([-|+]?\d+(?:\.\d+)?[A-Za-z]*)$/;

/** Go strings.Trim(s, " "): spaces only, not other whitespace. */
function trimSpaces(s: string): string {
  let a = 0, b = s.length;
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  return s.slice(a, b);
}

/** Go strings.TrimSpace (ASCII whitespace is all that occurs in practice). */
function trimSpace(s: string): string {
  return s.replace(/^[\s\u0085\u00a0]+|[\s\u0085\u00a0]+$/g, '');
}

function operatorOf(p: string): Op | 'range' | 'notRange' {
  if (p.length < 2) return '';
  if (p.startsWith('>=')) return '>=';
  if (p.startsWith('<=')) return '<=';
  if (p[0] === '>') return '>';
  if (p[0] === '<') return '<';
  if (p[0] === '!') return '!';
  if (notInRangeRe.test(p)) return 'notRange';
  if (inRangeRe.test(p)) return 'range';
  return '';
}

function holds(op: Op, cmp: number): boolean {
  switch (op) {
    case '': return cmp === 0;
    case '!': return cmp !== 0;
    case '>': return cmp > 0;
    case '<': return cmp < 0;
    case '>=': return cmp >= 0;
    case '<=': return cmp <= 0;
  }
}

/** Kyverno convertNumberToString: what durations and quantities are parsed from. */
function numberText(value: unknown): string | undefined {
  if (value === undefined || value === null) return '0';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : goFloatF(value);
  return undefined;
}

/** Kyverno compareString's rendering of the resource value. */
function stringText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string': return value;
    case 'boolean': return value ? 'true' : 'false';
    case 'number': return Number.isInteger(value) ? String(value) : goFloatE(value);
  }
  return undefined;
}

function compileOperand(op: Op, operand: string): ValueMatcher {
  const dur = parseDuration(operand);
  const qty: Quantity | undefined = parseQuantity(operand);
  const equality = op === '' || op === '!';
  const wild: StringMatcher | undefined = equality ? compileWildcard(operand) : undefined;
  return (value) => {
    if (dur !== undefined) {
      const t = numberText(value);
      const d = t === undefined ? undefined : parseDuration(t);
      if (d !== undefined) return holds(op, d < dur ? -1 : d > dur ? 1 : 0);
    }
    if (qty !== undefined) {
      const t = numberText(value);
      const a = t === undefined ? undefined : approxQuantity(t);
      if (a !== undefined) return holds(op, compareQuantityText(t!, a, qty));
    }
    if (!wild) return false;
    const s = stringText(value);
    if (s === undefined) return false;
    return op === '!' ? !wild(s) : wild(s);
  };
}

function compileCondition(cond: string): ValueMatcher {
  const op = operatorOf(cond);
  if (op === 'range' || op === 'notRange') {
    const m = (op === 'range' ? inRangeRe : notInRangeRe).exec(cond)!;
    if (op === 'range') {
      const lo = compileCondition(`>= ${m[1]}`), hi = compileCondition(`<= ${m[2]}`);
      return (v) => lo(v) && hi(v);
    }
    const lo = compileCondition(`< ${m[1]}`), hi = compileCondition(`> ${m[2]}`);
    return (v) => lo(v) || hi(v);
  }
  return compileOperand(op, trimSpace(cond.slice(op.length)));
}

function allOf(ms: ValueMatcher[]): ValueMatcher {
  if (ms.length === 1) return ms[0]!;
  return (v) => { for (const m of ms) if (!m(v)) return false; return true; };
}

function compileStringPattern(pattern: string): ValueMatcher {
  const alternatives = pattern.split('|').map((alt) =>
    allOf(trimSpaces(alt).split('&').map((c) => compileCondition(trimSpaces(c)))));
  return (value) => {
    if (value === pattern) return true;
    for (const alt of alternatives) if (alt(value)) return true;
    return false;
  };
}

/** Kyverno pattern.Validate for one scalar pattern value. */
export function compileLeaf(pattern: unknown): ValueMatcher {
  switch (typeof pattern) {
    case 'string': return compileStringPattern(pattern);
    case 'boolean': return (v) => v === pattern;
    case 'number':
      // Pattern numbers are float64: equal ints/floats, or a string parsing to it.
      return (v) => {
        if (typeof v === 'number') return v === pattern;
        if (typeof v === 'string') return goParseFloat(v) === pattern;
        return false;
      };
  }
  if (pattern === null || pattern === undefined) {
    return (v) => {
      if (v === null || v === undefined) return true;
      switch (typeof v) {
        case 'number': return v === 0;
        case 'string': return v === '';
        case 'boolean': return !v;
      }
      return false;
    };
  }
  if (Array.isArray(pattern)) return () => false;
  // A map used as a scalar only asserts that the value is a map.
  return (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
}
