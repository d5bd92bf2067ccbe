/**
 * Kyverno's arithmetic functions. Operands are numbers (scalars), resource
 * quantities ("100Mi", "1m", "10") or Go durations ("1h"); a string is read
 * as a quantity first, so "1m" is a milli-quantity, not a minute. The result
 * type follows Kyverno's table, e.g. quantity + quantity → quantity string,
 * quantity / quantity → number, duration * number → duration string.
 */
import type { JsonValue } from '../types.ts';
import { goSprintNumber } from './gofmt.ts';
import { formatGoDuration, parseGoDuration, durationFromSeconds, durationSeconds } from './goduration.ts';
import {
  addQuantities, divideQuantity, formatGoQuantity, multiplyQuantity, parseGoQuantity,
  quantityFromInteger, quantityToNumber, isZeroQuantity, type GoQuantity,
} from './goquantity.ts';
import { functionError } from './errors.ts';

type Operand =
  | { kind: 'scalar'; value: number }
  | { kind: 'quantity'; value: GoQuantity }
  | { kind: 'duration'; value: bigint };

function operand(v: JsonValue): Operand | undefined {
  if (typeof v === 'number') return { kind: 'scalar', value: v };
  if (typeof v === 'string') {
    const q = parseGoQuantity(v);
    if (q) return { kind: 'quantity', value: q };
    const d = parseGoDuration(v);
    if (d !== undefined) return { kind: 'duration', value: d };
  }
  return undefined;
}

function operands(fn: string, args: JsonValue[]): [Operand, Operand] {
  const a = operand(args[0]!);
  const b = operand(args[1]!);
  if (!a || !b) throw functionError(fn, 'invalid operands');
  return [a, b];
}

const mismatch = (fn: string) => functionError(fn, 'types mismatch');
const zeroDivisor = (fn: string) => functionError(fn, 'Zero divisor passed');
const nonIntModulo = (fn: string) => functionError(fn, 'Non-integer argument(s) passed for modulo');

/** A scalar as a quantity, the way Kyverno converts it (via its %v text). */
function scalarQuantity(n: number): GoQuantity {
  const q = parseGoQuantity(goSprintNumber(n));
  if (!q) throw new Error(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`);
  return q;
}

function addOrSubtract(fn: string, args: JsonValue[], negate: boolean): JsonValue {
  const [a, b] = operands(fn, args);
  if (a.kind === 'quantity' && b.kind === 'quantity') return formatGoQuantity(addQuantities(a.value, b.value, negate));
  if (a.kind === 'duration' && b.kind === 'duration') return formatGoDuration(negate ? a.value - b.value : a.value + b.value);
  if (a.kind === 'scalar' && b.kind === 'scalar') return negate ? a.value - b.value : a.value + b.value;
  throw mismatch(fn);
}

export function add(args: JsonValue[]): JsonValue {
  return addOrSubtract('add', args, false);
}

export function subtract(args: JsonValue[]): JsonValue {
  return addOrSubtract('subtract', args, true);
}

export function sum(args: JsonValue[]): JsonValue {
  const items = args[0];
  if (!Array.isArray(items)) throw mismatch('sum');
  if (items.length === 0) throw functionError('sum', 'at least one element in the array is required');
  let result: JsonValue = items[0]!;
  for (const item of items.slice(1)) result = addOrSubtract('sum', [result, item], false);
  return result;
}

export function multiply(args: JsonValue[]): JsonValue {
  const [a, b] = operands('multiply', args);
  const scaleDuration = (d: bigint, s: number): string => {
    const ns = durationFromSeconds(durationSeconds(d) * s);
    if (ns === undefined) throw functionError('multiply', 'invalid operands');
    return formatGoDuration(ns);
  };
  if (a.kind === 'scalar' && b.kind === 'scalar') return a.value * b.value;
  if (a.kind === 'quantity' && b.kind === 'scalar') return formatGoQuantity(multiplyQuantity(a.value, scalarQuantity(b.value)));
  if (a.kind === 'scalar' && b.kind === 'quantity') return formatGoQuantity(multiplyQuantity(b.value, scalarQuantity(a.value)));
  if (a.kind === 'duration' && b.kind === 'scalar') return scaleDuration(a.value, b.value);
  if (a.kind === 'scalar' && b.kind === 'duration') return scaleDuration(b.value, a.value);
  throw mismatch('multiply');
}

export function divide(args: JsonValue[]): JsonValue {
  const [a, b] = operands('divide', args);
  if (a.kind === 'quantity' && b.kind === 'quantity') {
    const divisor = quantityToNumber(b.value);
    if (divisor === 0) throw zeroDivisor('divide');
    return quantityToNumber(a.value) / divisor;
  }
  if (a.kind === 'quantity' && b.kind === 'scalar') {
    if (b.value === 0) throw zeroDivisor('divide');
    return formatGoQuantity(divideQuantity(a.value, scalarQuantity(b.value)));
  }
  if (a.kind === 'duration' && b.kind === 'duration') {
    if (b.value === 0n) throw zeroDivisor('divide');
    return durationSeconds(a.value) / durationSeconds(b.value);
  }
  if (a.kind === 'duration' && b.kind === 'scalar') {
    if (b.value === 0) throw zeroDivisor('divide');
    const ns = durationFromSeconds(durationSeconds(a.value) / b.value);
    if (ns === undefined) throw zeroDivisor('divide');
    return formatGoDuration(ns);
  }
  if (a.kind === 'scalar' && b.kind === 'scalar') {
    if (b.value === 0) throw zeroDivisor('divide');
    return a.value / b.value;
  }
  throw mismatch('divide');
}

export function modulo(args: JsonValue[]): JsonValue {
  const [a, b] = operands('modulo', args);
  if (a.kind === 'quantity' && b.kind === 'quantity') {
    const f1 = quantityToNumber(a.value);
    const f2 = quantityToNumber(b.value);
    if (!Number.isInteger(f1) || !Number.isInteger(f2)) throw nonIntModulo('modulo');
    if (f2 === 0 || isZeroQuantity(b.value)) throw zeroDivisor('modulo');
    return formatGoQuantity(quantityFromInteger(BigInt(f1) % BigInt(f2), a.value.format));
  }
  if (a.kind === 'duration' && b.kind === 'duration') {
    if (b.value === 0n) throw zeroDivisor('modulo');
    return formatGoDuration(a.value % b.value);
  }
  if (a.kind === 'scalar' && b.kind === 'scalar') {
    if (!Number.isInteger(a.value) || !Number.isInteger(b.value)) throw nonIntModulo('modulo');
    if (b.value === 0) throw zeroDivisor('modulo');
    const r = a.value % b.value;
    return r === 0 ? 0 : r;
  }
  throw mismatch('modulo');
}

/** round(value, places): Go's math.Round (half away from zero) at `places` decimals. */
export function round(args: JsonValue[]): JsonValue {
  const value = args[0] as number;
  const places = args[1] as number;
  if (!Number.isInteger(places)) throw functionError('round', 'Non-integer argument(s) passed for round off');
  if (places < 0) throw functionError('round', `2 argument is out of bounds (${places})`);
  const shift = 10 ** places;
  const x = value * shift;
  const rounded = Math.sign(x) * Math.round(Math.abs(x));
  return (rounded === 0 ? 0 : rounded) / shift;
}
