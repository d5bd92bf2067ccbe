/**
 * cel-go extensions Kyverno's CEL environment enables, the parts that are plain
 * functions: Encoders (`base64.encode`, `base64.decode`) and Math (`math.ceil`,
 * `floor`, `round`, `trunc`, `abs`, `sign`, `sqrt`, `isInf`, `isNaN`,
 * `isFinite`, `math.greatest` / `math.least` of numbers or a list of them).
 * Macros (`cel.bind`) and the lists v3 functions are not here.
 */
import { CelScalar, celFunc, isCelUint, listType, type CelFunc, type CelValue } from '@bufbuild/cel';

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
  celFunc('math.greatest', [listType(DYN)], DYN, (l) => extreme([...l], true)),
  celFunc('math.least', [listType(DYN)], DYN, (l) => extreme([...l], false)),
  ...[1, 2, 3, 4, 5, 6].flatMap((n) => [
    celFunc('math.greatest', Array(n).fill(DYN), DYN, (...xs: CelValue[]) => extreme(xs, true)),
    celFunc('math.least', Array(n).fill(DYN), DYN, (...xs: CelValue[]) => extreme(xs, false)),
  ]),
];
