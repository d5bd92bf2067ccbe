/** Kubernetes CEL list and sets libraries (k8s.io/apiserver/pkg/cel/library lists.go, sets.go). */
import { CelScalar, celFunc, celMethod, isCelList, listType, type CelFunc, type CelList, type CelValue } from '@bufbuild/cel';
import { celCompare, celEquals } from './compare.ts';

const LIST = listType(CelScalar.DYN);

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
    const out: CelValue[] = [];
    for (const x of this) if (isCelList(x)) out.push(...x); else out.push(x);
    return out;
  }),
  celFunc('sets.contains', [LIST, LIST], CelScalar.BOOL, (a, b) => containsAll(a, b)),
  celFunc('sets.equivalent', [LIST, LIST], CelScalar.BOOL, (a, b) => containsAll(a, b) && containsAll(b, a)),
  celFunc('sets.intersects', [LIST, LIST], CelScalar.BOOL, (a, b) => items(a).some((x) => items(b).some((y) => celEquals(x, y)))),
];
