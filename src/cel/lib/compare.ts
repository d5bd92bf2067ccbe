/** Equality and ordering of CEL values for library functions (lists, sets, min/max). */
import { isCelList, isCelMap, isCelUint, type CelValue } from '@bufbuild/cel';
import { toJson } from '../values.ts';

function num(v: CelValue): number | bigint | undefined {
  if (typeof v === 'bigint' || typeof v === 'number') return v;
  if (isCelUint(v)) return v.value;
  return undefined;
}

export function celEquals(a: CelValue, b: CelValue): boolean {
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) return x == y; // numeric equality across int/uint/double
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a === b;
  if (isCelList(a) !== isCelList(b) || isCelMap(a) !== isCelMap(b)) return false;
  return JSON.stringify(toJson(a)) === JSON.stringify(toJson(b));
}

export function celCompare(a: CelValue, b: CelValue): number {
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  throw new Error('no such overload: values are not comparable');
}
