/**
 * JMESPath built-ins where the community library and Kyverno's go-jmespath
 * disagree; Kyverno's behaviour wins:
 * - `to_string`: non-strings through Go's json.Marshal (sorted keys, `<>&` escaped);
 * - `to_number`: strings parsed like Go's strconv.ParseFloat (no blanks, no `0x10`), else null;
 * - `sort`: numbers numerically (the library's default sort compares them as text);
 * - `max` / `min` on strings: byte order (the library uses localeCompare);
 * - `max_by` / `min_by`: string keys too (the library's only work for numbers),
 *   the first best element winning, with go-jmespath's type errors.
 */
import { TYPE_ANY, TYPE_ARRAY, TYPE_ARRAY_NUMBER, TYPE_ARRAY_STRING, TYPE_EXPREF } from '@jmespath-community/jmespath';
import type { JsonValue } from '../types.ts';
import { goJsonMarshal } from './gofmt.ts';
import { functionError } from './errors.ts';

/** Evaluates an expression reference (`&expr`) against one element. */
export type Visit = (expref: unknown, value: JsonValue) => JsonValue;

export interface BuiltinOverride {
  name: string;
  args: number[][];
  handler: (args: unknown[], visit: Visit) => JsonValue;
}

/** Go compares strings byte-wise (UTF-8), which is code point order; JS `<` compares UTF-16 units. */
export function goStringLess(a: string, b: string): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Only surrogates (code points above U+FFFF) order differently from code units.
    if ((x >= 0xd800 && x <= 0xdfff) || (y >= 0xd800 && y <= 0xdfff)) return (a.codePointAt(i) ?? x) < (b.codePointAt(i) ?? y);
    return x < y;
  }
  return a.length < b.length;
}

// strconv.ParseFloat's syntax: decimal, hexadecimal with a binary exponent, or inf/infinity/nan.
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const HEX_FLOAT = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)$/;
const SPECIAL = /^([+-]?)(?:inf|infinity|nan)$/i;

/** strconv.ParseFloat(s, 64), or undefined where Go returns an error (out-of-range values are ±Inf there too). */
export function goParseFloat(s: string): number | undefined {
  if (DECIMAL.test(s)) return Number(s);
  const hex = HEX_FLOAT.exec(s);
  if (hex) {
    const [, sign, whole = '', frac = '', exp] = hex;
    if (whole === '' && frac === '') return undefined;
    const mantissa = parseInt(whole + frac || '0', 16) / 16 ** frac.length;
    const v = mantissa * 2 ** Number(exp);
    return sign === '-' ? -v : v;
  }
  const special = SPECIAL.exec(s);
  if (special) return /nan/i.test(s) ? Number.NaN : special[1] === '-' ? -Infinity : Infinity;
  return undefined;
}

function extremeBy(name: string, args: unknown[], visit: Visit, better: (a: number | string, b: number | string) => boolean): JsonValue {
  const list = args[0] as JsonValue[];
  if (list.length === 0) return null;
  if (list.length === 1) return list[0]!;
  const first = visit(args[1], list[0]!);
  if (typeof first !== 'number' && typeof first !== 'string') throw functionError(name, 'invalid type, must be number of string');
  let best = first;
  let bestItem = list[0]!;
  for (let i = 1; i < list.length; i++) {
    const key = visit(args[1], list[i]!);
    if (typeof key !== typeof first) throw functionError(name, `invalid type, must be ${typeof first === 'number' ? 'number' : 'string'}`);
    if (better(key as number | string, best)) {
      best = key as number | string;
      bestItem = list[i]!;
    }
  }
  return bestItem;
}

const greater = (a: number | string, b: number | string) => (typeof a === 'string' ? goStringLess(b as string, a) : a > (b as number));
const less = (a: number | string, b: number | string) => (typeof a === 'string' ? goStringLess(a, b as string) : a < (b as number));

function extreme(list: JsonValue[], better: (a: number | string, b: number | string) => boolean): JsonValue {
  if (list.length === 0) return null;
  let best = list[0] as number | string;
  for (let i = 1; i < list.length; i++) if (better(list[i] as number | string, best)) best = list[i] as number | string;
  return best;
}

const NUMBERS_OR_STRINGS = [TYPE_ARRAY_NUMBER, TYPE_ARRAY_STRING];

export const builtinOverrides: BuiltinOverride[] = [
  { name: 'to_string', args: [[TYPE_ANY]], handler: ([v]) => (typeof v === 'string' ? v : goJsonMarshal(v as JsonValue)) },
  {
    name: 'to_number', args: [[TYPE_ANY]], handler: ([v]) => {
      if (typeof v === 'number') return v;
      if (typeof v !== 'string') return null;
      const n = goParseFloat(v);
      // JSON has no NaN or infinities: such a result reads as null.
      return n === undefined || !Number.isFinite(n) ? null : n;
    },
  },
  {
    name: 'sort', args: [NUMBERS_OR_STRINGS], handler: ([v]) => {
      const list = [...(v as JsonValue[])];
      if (list.length > 0 && typeof list[0] === 'number') return (list as number[]).sort((a, b) => a - b);
      return (list as string[]).sort((a, b) => (goStringLess(a, b) ? -1 : goStringLess(b, a) ? 1 : 0));
    },
  },
  { name: 'max', args: [NUMBERS_OR_STRINGS], handler: ([v]) => extreme(v as JsonValue[], greater) },
  { name: 'min', args: [NUMBERS_OR_STRINGS], handler: ([v]) => extreme(v as JsonValue[], less) },
  { name: 'max_by', args: [[TYPE_ARRAY], [TYPE_EXPREF]], handler: (args, visit) => extremeBy('max_by', args, visit, greater) },
  { name: 'min_by', args: [[TYPE_ARRAY], [TYPE_EXPREF]], handler: (args, visit) => extremeBy('min_by', args, visit, less) },
];
