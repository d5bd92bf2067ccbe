/**
 * Kubernetes CEL list and sets libraries (k8s.io/apiserver/pkg/cel/library
 * lists.go, sets.go) and cel-go's lists extension (ext.Lists, version 3:
 * distinct, flatten, range, reverse, slice, sort, sortBy, first, last).
 */
import { CelScalar, celFunc, celMethod, isCelList, isCelUint, listType, type CelFunc, type CelList, type CelValue } from '@bufbuild/cel';
import { NONE, some } from '../optional.ts';
import { opaqueType } from '../opaque.ts';
import { celCompare, celEquals } from './compare.ts';

const LIST = listType(CelScalar.DYN);
const OPTIONAL = opaqueType('Optional');

const items = (l: CelList): CelValue[] => [...l];

function extreme(l: CelList, sign: 1 | -1, name: string): CelValue {
  const xs = items(l);
  if (xs.length === 0) throw new Error(`${name}: list must not be empty`);
  let best = xs[0] as CelValue;
  for (const x of xs.slice(1)) if (celCompare(x, best) * sign > 0) best = x;
  return best;
}

function sum(l: CelList): CelValue {
  const xs = items(l);
  if (xs.length === 0) return 0n;
  let acc: CelValue = xs[0]!;
  for (const x of xs.slice(1)) {
    if (typeof acc === 'bigint' && typeof x === 'bigint') acc = acc + x;
    else if (typeof acc === 'number' && typeof x === 'number') acc = acc + x;
    else throw new Error('sum: list elements must be all int or all double');
  }
  return acc;
}

function indexOf(l: CelList, v: CelValue, last: boolean): bigint {
  const xs = items(l);
  if (last) {
    for (let i = xs.length - 1; i >= 0; i--) if (celEquals(xs[i]!, v)) return BigInt(i);
  } else {
    for (let i = 0; i < xs.length; i++) if (celEquals(xs[i]!, v)) return BigInt(i);
  }
  return -1n;
}

function flatten(l: CelList, depth: number): CelValue[] {
  const out: CelValue[] = [];
  for (const x of l) {
    if (isCelList(x) && depth > 0) out.push(...flatten(x, depth - 1));
    else out.push(x);
  }
  return out;
}

function slice(l: CelList, start: bigint, end: bigint): CelValue[] {
  if (start < 0n || end < 0n) throw new Error(`cannot slice(${start}, ${end}), negative indexes not supported`);
  if (start > end) throw new Error(`cannot slice(${start}, ${end}), start index must be less than or equal to end index`);
  if (end > BigInt(l.size)) throw new Error(`cannot slice(${start}, ${end}), list is length ${l.size}`);
  return items(l).slice(Number(start), Number(end));
}

/** Kind of a sortable element: cel-go sorts only lists whose elements share one comparable type. */
function kindOf(v: CelValue): string {
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'double';
  if (typeof v === 'string' || typeof v === 'boolean') return typeof v;
  if (v instanceof Uint8Array) return 'bytes';
  if (isCelUint(v)) return 'uint';
  return (v as unknown as { desc?: { typeName?: string } } | null)?.desc?.typeName ?? 'other';
}

/** Stable sort of `values` by `keys` (same length): cel-go's sort and sortBy. */
function sortByKeys(values: CelValue[], keys: CelValue[]): CelValue[] {
  if (keys.length === 0) return [];
  const kind = kindOf(keys[0]!);
  for (const k of keys) {
    if (kindOf(k) !== kind) throw new Error('list elements must have the same type');
  }
  const order = keys.map((_, i) => i);
  order.sort((a, b) => celCompare(keys[a]!, keys[b]!) || a - b);
  return order.map((i) => values[i]!);
}

const containsAll = (a: CelList, b: CelList) => items(b).every((x) => items(a).some((y) => celEquals(x, y)));

export const listFuncs: CelFunc[] = [
  celMethod('isSorted', LIST, [], CelScalar.BOOL, function () {
    const xs = items(this);
    for (let i = 1; i < xs.length; i++) if (celCompare(xs[i - 1]!, xs[i]!) > 0) return false;
    return true;
  }),
  celMethod('sum', LIST, [], CelScalar.DYN, function () {
    return sum(this);
  }),
  celMethod('min', LIST, [], CelScalar.DYN, function () {
    return extreme(this, -1, 'min');
  }),
  celMethod('max', LIST, [], CelScalar.DYN, function () {
    return extreme(this, 1, 'max');
  }),
  celMethod('indexOf', LIST, [CelScalar.DYN], CelScalar.INT, function (v) {
    return indexOf(this, v, false);
  }),
  celMethod('lastIndexOf', LIST, [CelScalar.DYN], CelScalar.INT, function (v) {
    return indexOf(this, v, true);
  }),
  celMethod('reverse', LIST, [], LIST, function () {
    return items(this).reverse();
  }),
  celMethod('distinct', LIST, [], LIST, function () {
    const out: CelValue[] = [];
    for (const x of this) if (!out.some((y) => celEquals(x, y))) out.push(x);
    return out;
  }),
  celMethod('flatten', LIST, [], LIST, function () {
    return flatten(this, 1);
  }),
  celMethod('flatten', LIST, [CelScalar.INT], LIST, function (depth) {
    if (depth < 0n) throw new Error('level must be non-negative');
    return flatten(this, Number(depth));
  }),
  celMethod('slice', LIST, [CelScalar.INT, CelScalar.INT], LIST, function (start, end) {
    return slice(this, start, end);
  }),
  celMethod('sort', LIST, [], LIST, function () {
    const xs = items(this);
    return sortByKeys(xs, xs);
  }),
  // `l.sortBy(e, key)` is a macro: env.ts rewrites it to this call with the mapped keys.
  celFunc('@sortByAssociatedKeys', [LIST, LIST], LIST, (l, keys) => {
    if (keys.size !== l.size) throw new Error('@sortByAssociatedKeys: key list does not match the list');
    return sortByKeys(items(l), items(keys));
  }),
  celMethod('first', LIST, [], OPTIONAL, function () {
    return this.size === 0 ? NONE : some(this.get(0)!);
  }),
  celMethod('last', LIST, [], OPTIONAL, function () {
    return this.size === 0 ? NONE : some(this.get(this.size - 1)!);
  }),
  celFunc('lists.range', [CelScalar.INT], LIST, (n) => {
    const out: bigint[] = [];
    for (let i = 0n; i < n; i++) out.push(i);
    return out;
  }),
  celFunc('sets.contains', [LIST, LIST], CelScalar.BOOL, (a, b) => containsAll(a, b)),
  celFunc('sets.equivalent', [LIST, LIST], CelScalar.BOOL, (a, b) => containsAll(a, b) && containsAll(b, a)),
  celFunc('sets.intersects', [LIST, LIST], CelScalar.BOOL, (a, b) => items(a).some((x) => items(b).some((y) => celEquals(x, y)))),
];
