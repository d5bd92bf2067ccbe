/**
 * Exact Kubernetes resource.Quantity arithmetic and canonical formatting, as
 * Kyverno's add/subtract/multiply/divide/modulo return quantity strings
 * ("200Mi", "1500m"). Values are decimals `unscaled × 10^-scale` on bigint.
 */

export type QuantityFormat = 'BinarySI' | 'DecimalSI' | 'DecimalExponent';

export interface GoQuantity {
  unscaled: bigint;
  scale: number;
  format: QuantityFormat;
}

const binaryExp: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const decimalExp: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const decimalSuffixByExp = new Map(Object.entries(decimalExp).map(([k, v]) => [v, k]));
const binarySuffixByExp = new Map(Object.entries(binaryExp).map(([k, v]) => [v, k]));

const quantityRe = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** resource.ParseQuantity; undefined where Kubernetes rejects the text. */
export function parseGoQuantity(text: string): GoQuantity | undefined {
  const m = quantityRe.exec(text);
  if (!m) return undefined;
  const [, sign, num, suffix = ''] = m;
  const [intPart = '', fracPart = ''] = num!.split('.');
  let unscaled = BigInt((intPart || '0') + fracPart);
  let scale = fracPart.length;
  let format: QuantityFormat = 'DecimalSI';
  if (suffix in binaryExp) {
    unscaled *= 1024n ** BigInt(binaryExp[suffix]!);
    format = 'BinarySI';
  } else if (suffix[0] === 'e' || suffix[0] === 'E') {
    scale -= Number(suffix.slice(1));
    format = 'DecimalExponent';
  } else {
    scale -= decimalExp[suffix]!;
  }
  if (sign === '-') unscaled = -unscaled;
  // Kubernetes keeps at most nano precision, rounding away from zero.
  if (scale > 9) {
    const d = pow10(scale - 9);
    const q = unscaled / d;
    unscaled = unscaled % d === 0n ? q : q + (unscaled < 0n ? -1n : 1n);
    scale = 9;
  }
  return { unscaled, scale, format };
}

function align(a: GoQuantity, b: GoQuantity): [bigint, bigint, number] {
  const s = Math.max(a.scale, b.scale);
  return [a.unscaled * pow10(s - a.scale), b.unscaled * pow10(s - b.scale), s];
}

export function addQuantities(a: GoQuantity, b: GoQuantity, negateB = false): GoQuantity {
  const [x, y, s] = align(a, b);
  return { unscaled: negateB ? x - y : x + y, scale: s, format: a.format };
}

export function multiplyQuantity(a: GoQuantity, b: GoQuantity): GoQuantity {
  return { unscaled: a.unscaled * b.unscaled, scale: a.scale + b.scale, format: a.format };
}

/** inf.Dec QuoRound(a, b, max(scale), RoundDown): truncates toward zero. */
export function divideQuantity(a: GoQuantity, b: GoQuantity): GoQuantity {
  const s = Math.max(a.scale, b.scale);
  const shift = s + b.scale - a.scale;
  let num = a.unscaled;
  let den = b.unscaled;
  if (shift >= 0) num *= pow10(shift); else den *= pow10(-shift);
  return { unscaled: num / den, scale: s, format: a.format };
}

export function quantityToNumber(q: GoQuantity): number {
  return Number(q.unscaled) / 10 ** q.scale;
}

export function quantityFromInteger(n: bigint, format: QuantityFormat): GoQuantity {
  return { unscaled: n, scale: 0, format };
}

export function isZeroQuantity(q: GoQuantity): boolean {
  return q.unscaled === 0n;
}

/** Quantity.String(): canonical form in the quantity's own format. */
export function formatGoQuantity(q: GoQuantity): string {
  if (q.unscaled === 0n) return '0';
  let format = q.format;
  if (format === 'BinarySI') {
    const int = integerValue(q);
    if (int === undefined || (int > -1024n && int < 1024n)) format = 'DecimalSI';
    else return binaryCanonical(int);
  }
  // mantissa with all factors of ten moved into the exponent, exponent a multiple of 3
  let amount = q.unscaled;
  let exp = -q.scale;
  while (amount % 10n === 0n) { amount /= 10n; exp++; }
  while (exp % 3 !== 0) { amount *= 10n; exp--; }
  let suffix: string;
  if (format === 'DecimalSI' && decimalSuffixByExp.has(exp)) suffix = decimalSuffixByExp.get(exp)!;
  else suffix = exp === 0 ? '' : `e${exp}`;
  return `${amount}${suffix}`;
}

function integerValue(q: GoQuantity): bigint | undefined {
  if (q.scale <= 0) return q.unscaled * pow10(-q.scale);
  const d = pow10(q.scale);
  return q.unscaled % d === 0n ? q.unscaled / d : undefined;
}

function binaryCanonical(value: bigint): string {
  let amount = value;
  let exp = 0;
  while (exp < 6 && amount % 1024n === 0n) { amount /= 1024n; exp++; }
  return `${amount}${binarySuffixByExp.get(exp) ?? ''}`;
}

/** Quantity.Cmp: -1, 0 or 1. */
export function compareQuantities(a: GoQuantity, b: GoQuantity): number {
  const [x, y] = align(a, b);
  return x === y ? 0 : x < y ? -1 : 1;
}
