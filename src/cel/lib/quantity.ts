/** Kubernetes CEL quantity library (quantity(), isQuantity, compareTo, add, sub, asInteger…). */
import { CelScalar, celFunc, celMethod, type CelFunc } from '@bufbuild/cel';
import {
  addQuantities, compareQuantities, formatGoQuantity, parseGoQuantity, quantityFromInteger, quantityToNumber, type GoQuantity,
} from '../../engine/jmespath/goquantity.ts';
import { opaqueType, self, wrap } from '../opaque.ts';

const Q = opaqueType('Quantity');

function make(q: GoQuantity) {
  return wrap('Quantity', q, formatGoQuantity(q));
}
function parse(s: string): GoQuantity {
  const q = parseGoQuantity(s);
  if (!q) throw new Error(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`);
  return q;
}
const me = (v: unknown) => self<GoQuantity>('Quantity', v);
const fromInt = (n: bigint, like: GoQuantity) => quantityFromInteger(n, like.format);

const INT64_MIN = -(2n ** 63n), INT64_MAX = 2n ** 63n - 1n;

/** The quantity as an int64, as Kubernetes' AsInt64: a fraction or a value outside int64 cannot convert. */
function asInteger(q: GoQuantity): bigint {
  let v: bigint;
  if (q.scale <= 0) v = q.unscaled * 10n ** BigInt(-q.scale);
  else {
    const d = 10n ** BigInt(q.scale);
    if (q.unscaled % d !== 0n) throw new Error('cannot convert value to integer');
    v = q.unscaled / d;
  }
  if (v < INT64_MIN || v > INT64_MAX) throw new Error('cannot convert value to integer');
  return v;
}

export const quantityFuncs: CelFunc[] = [
  celFunc('quantity', [CelScalar.STRING], Q, (s) => make(parse(s))),
  celFunc('isQuantity', [CelScalar.STRING], CelScalar.BOOL, (s) => parseGoQuantity(s) !== undefined),
  celMethod('sign', Q, [], CelScalar.INT, function () {
    const u = me(this).unscaled;
    return u > 0n ? 1n : u < 0n ? -1n : 0n;
  }),
  celMethod('isInteger', Q, [], CelScalar.BOOL, function () {
    try {
      asInteger(me(this));
      return true;
    } catch {
      return false;
    }
  }),
  celMethod('asInteger', Q, [], CelScalar.INT, function () {
    return asInteger(me(this));
  }),
  celMethod('asApproximateFloat', Q, [], CelScalar.DOUBLE, function () {
    return quantityToNumber(me(this));
  }),
  celMethod('add', Q, [Q], Q, function (o) {
    return make(addQuantities(me(this), me(o)));
  }),
  celMethod('add', Q, [CelScalar.INT], Q, function (n) {
    return make(addQuantities(me(this), fromInt(n, me(this))));
  }),
  celMethod('sub', Q, [Q], Q, function (o) {
    return make(addQuantities(me(this), me(o), true));
  }),
  celMethod('sub', Q, [CelScalar.INT], Q, function (n) {
    return make(addQuantities(me(this), fromInt(n, me(this)), true));
  }),
  celMethod('compareTo', Q, [Q], CelScalar.INT, function (o) {
    return BigInt(Math.sign(compareQuantities(me(this), me(o))));
  }),
  celMethod('isLessThan', Q, [Q], CelScalar.BOOL, function (o) {
    return compareQuantities(me(this), me(o)) < 0;
  }),
  celMethod('isGreaterThan', Q, [Q], CelScalar.BOOL, function (o) {
    return compareQuantities(me(this), me(o)) > 0;
  }),
];
