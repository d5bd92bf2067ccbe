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

/** A google.protobuf.Duration or Timestamp value (a reflected message): its type and instant. */
function timeOf(v: CelValue): { type: string; seconds: bigint; nanos: number } | undefined {
  const o = v as unknown as { desc?: { typeName?: string }; message?: { seconds?: bigint; nanos?: number } };
  const type = o?.desc?.typeName;
  if (type !== 'google.protobuf.Duration' && type !== 'google.protobuf.Timestamp') return undefined;
  return { type, seconds: BigInt(o.message?.seconds ?? 0n), nanos: o.message?.nanos ?? 0 };
}

/** Ordering as the Kubernetes lists library has it: numbers, strings, bools, bytes, durations, timestamps. */
export function celCompare(a: CelValue, b: CelValue): number {
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
    return a.length - b.length;
  }
  const s = timeOf(a);
  const u = timeOf(b);
  if (s && u && s.type === u.type) {
    if (s.seconds !== u.seconds) return s.seconds < u.seconds ? -1 : 1;
    return Math.sign(s.nanos - u.nanos);
  }
  throw new Error('no such overload: values are not comparable');
}
