/**
 * cel-go extensions Kyverno's CEL environment enables, the parts that are plain
 * functions: Encoders (`base64.encode`, `base64.decode`) and Math (`math.ceil`,
 * `floor`, `round`, `trunc`, `abs`, `sign`, `sqrt`, `isInf`, `isNaN`,
 * `isFinite`, `math.greatest` / `math.least` of numbers or a list of them, and
 * the `math.bit*` operations on int and uint). The macros (`cel.bind`,
 * `sortBy`) are rewritten in env.ts; the lists functions live in lists.ts.
 */
import { CelScalar, celFunc, celUint, isCelUint, listType, type CelFunc, type CelValue } from '@bufbuild/cel';

const D = CelScalar.DOUBLE;
const I = CelScalar.INT;
const DYN = CelScalar.DYN;

const double = (name: string, fn: (x: number) => number): CelFunc => celFunc(name, [D], D, fn);

/** Go's math.Round: halves away from zero (JS Math.round takes -2.5 to -2). */
export const goRound = (x: number) => (x < 0 ? -Math.round(-x) : Math.round(x));

function numeric(v: CelValue): number | bigint {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  if (isCelUint(v)) return v.value;
  throw new Error('no such overload: math.greatest/least take numbers');
}

/** The greatest or least of numbers of any numeric type, returned as given (cel-go compares across types). */
function extreme(values: readonly CelValue[], greater: boolean): CelValue {
  if (values.length === 0) throw new Error(`math.${greater ? 'greatest' : 'least'}() requires at least one argument`);
  let best: CelValue = values[0]!;
  for (const v of values.slice(1)) {
    const a = numeric(v), b = numeric(best);
    if (greater ? a > b : a < b) best = v;
  }
  return best;
}

const U = CelScalar.UINT;
const int64 = (x: bigint) => BigInt.asIntN(64, x);
const uint64 = (x: bigint) => BigInt.asUintN(64, x);

/** cel-go's shifts: a negative offset is an error, 64 or more gives 0, and an int shifts right logically. */
function shift(name: string, v: bigint, by: bigint, left: boolean, signed: boolean): bigint {
  if (by < 0n) throw new Error(`math.${name}() negative offset: ${by}`);
  if (by >= 64n) return 0n;
  const bits = uint64(v);
  const out = left ? uint64(bits << by) : bits >> by;
  return signed ? int64(out) : out;
}

const bitFuncs: CelFunc[] = [
  ...(['bitAnd', 'bitOr', 'bitXor'] as const).flatMap((name) => {
    const op = name === 'bitAnd' ? (a: bigint, b: bigint) => a & b : name === 'bitOr' ? (a: bigint, b: bigint) => a | b : (a: bigint, b: bigint) => a ^ b;
    return [
      celFunc(`math.${name}`, [I, I], I, (a, b) => int64(op(a, b))),
      celFunc(`math.${name}`, [U, U], U, (a, b) => celUint(uint64(op(a.value, b.value)))),
    ];
  }),
  celFunc('math.bitNot', [I], I, (a) => int64(~a)),
  celFunc('math.bitNot', [U], U, (a) => celUint(uint64(~a.value))),
  celFunc('math.bitShiftLeft', [I, I], I, (a, by) => shift('bitShiftLeft', a, by, true, true)),
  celFunc('math.bitShiftLeft', [U, I], U, (a, by) => celUint(shift('bitShiftLeft', a.value, by, true, false))),
  celFunc('math.bitShiftRight', [I, I], I, (a, by) => shift('bitShiftRight', a, by, false, true)),
  celFunc('math.bitShiftRight', [U, I], U, (a, by) => celUint(shift('bitShiftRight', a.value, by, false, false))),
];

function base64Decode(s: string): Uint8Array {
  // cel-go accepts standard encoding with or without padding; anything else is an error.
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Error('illegal base64 data');
  return new Uint8Array(Buffer.from(s, 'base64'));
}

export const extFuncs: CelFunc[] = [
  celFunc('base64.encode', [CelScalar.BYTES], CelScalar.STRING, (b) => Buffer.from(b).toString('base64')),
  celFunc('base64.decode', [CelScalar.STRING], CelScalar.BYTES, base64Decode),
  double('math.ceil', Math.ceil),
  double('math.floor', Math.floor),
  double('math.trunc', Math.trunc),
  double('math.sqrt', Math.sqrt),
  celFunc('math.round', [D], D, goRound),
  celFunc('math.abs', [I], I, (x) => (x < 0n ? -x : x)),
  celFunc('math.abs', [D], D, Math.abs),
  celFunc('math.sign', [I], I, (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n)),
  celFunc('math.sign', [D], D, (x) => Math.sign(x)),
  celFunc('math.isInf', [D], CelScalar.BOOL, (x) => x === Infinity || x === -Infinity),
  celFunc('math.isNaN', [D], CelScalar.BOOL, (x) => Number.isNaN(x)),
  celFunc('math.isFinite', [D], CelScalar.BOOL, (x) => Number.isFinite(x)),
  ...bitFuncs,
  celFunc('math.greatest', [listType(DYN)], DYN, (l) => extreme([...l], true)),
  celFunc('math.least', [listType(DYN)], DYN, (l) => extreme([...l], false)),
  ...[1, 2, 3, 4, 5, 6].flatMap((n) => [
    celFunc('math.greatest', Array(n).fill(DYN), DYN, (...xs: CelValue[]) => extreme(xs, true)),
    celFunc('math.least', Array(n).fill(DYN), DYN, (...xs: CelValue[]) => extreme(xs, false)),
  ]),
];
