/**
 * Exact Kubernetes quantity comparison (apimachinery resource.ParseQuantity +
 * Cmp) and Go time.ParseDuration, as Kyverno's pattern operators use them.
 * Quantities keep their decimal digits so "0.1" and "100m" compare equal.
 */

/** value = (neg ? -1 : 1) * mant * 10^exp10 * 2^exp2 */
export interface Quantity {
  neg: boolean;
  mant: bigint;
  exp10: number;
  exp2: number;
  /** Float approximation, used to decide clear-cut comparisons cheaply. */
  approx: number;
}

/** Lookup tables without a prototype, so text like "constructor" is no unit. */
function table(o: Record<string, number>): Record<string, number> {
  return Object.assign(Object.create(null) as Record<string, number>, o);
}

const binary = table({ Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 });
const decimal = table({ n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 });
const quantityRe = /^([+-]?)(\d*)(?:\.(\d*))?(.*)$/;
const exponentRe = /^[eE]([+-]?\d+)$/;
// Quantities are capped at the largest int64 (apimachinery's maxAllowed).
const maxMant = (1n << 63n) - 1n;

/** resource.ParseQuantity; undefined when the text is not a quantity. */
export function parseQuantity(text: string): Quantity | undefined {
  if (text.length === 0 || text.length > 256) return undefined;
  const m = quantityRe.exec(text);
  if (!m) return undefined;
  const int = m[2]!;
  const frac = m[3] ?? '';
  if (int.length === 0 && frac.length === 0) return undefined;
  const suffix = m[4]!;
  let exp10 = 0;
  let exp2 = 0;
  if (suffix in binary) exp2 = binary[suffix]!;
  else if (suffix in decimal) exp10 = decimal[suffix]!;
  else {
    const e = exponentRe.exec(suffix);
    if (!e) return undefined;
    exp10 = Number(e[1]);
    if (!Number.isSafeInteger(exp10) || Math.abs(exp10) > 1000) return undefined;
  }
  let digits = (int + frac).replace(/^0+/, '');
  exp10 -= frac.length;
  if (digits === '') return { neg: false, mant: 0n, exp10: 0, exp2: 0, approx: 0 };
  let mant = BigInt(digits);
  // Non-zero amounts are rounded up (away from zero) to a whole nano.
  if (exp2 === 0 && exp10 < -9) {
    const p = 10n ** BigInt(-9 - exp10);
    mant = (mant + p - 1n) / p;
    exp10 = -9;
  }
  const neg = m[1] === '-';
  let q: Quantity = { neg, mant, exp10, exp2, approx: 0 };
  if (cmpAbs(q, { neg: false, mant: maxMant, exp10: 0, exp2: 0, approx: 0 }) > 0) {
    q = { neg, mant: maxMant, exp10: 0, exp2: 0, approx: 0 };
  }
  digits = q.mant.toString();
  q.approx = (neg ? -1 : 1) * Number(digits) * 10 ** q.exp10 * 2 ** q.exp2;
  return q;
}

function cmpAbs(a: Quantity, b: Quantity): number {
  const e10 = Math.min(a.exp10, b.exp10);
  const e2 = Math.min(a.exp2, b.exp2);
  const x = a.mant * 10n ** BigInt(a.exp10 - e10) * 2n ** BigInt(a.exp2 - e2);
  const y = b.mant * 10n ** BigInt(b.exp10 - e10) * 2n ** BigInt(b.exp2 - e2);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** -1, 0 or 1, exactly as Quantity.Cmp. */
export function compareQuantity(a: Quantity, b: Quantity): number {
  const fa = a.approx, fb = b.approx;
  // Clearly apart in floating point: no need for the exact path.
  if (Math.abs(fa - fb) > 1e-9 * Math.max(Math.abs(fa), Math.abs(fb))) return fa < fb ? -1 : 1;
  const za = a.mant === 0n, zb = b.mant === 0n;
  const sa = za ? 0 : a.neg ? -1 : 1;
  const sb = zb ? 0 : b.neg ? -1 : 1;
  if (sa !== sb) return sa < sb ? -1 : 1;
  if (sa === 0) return 0;
  const c = cmpAbs(a, b);
  return sa < 0 ? -c : c;
}

const durationUnits = table({
  ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9,
});

/** time.ParseDuration, in nanoseconds; undefined on syntax error. */
export function parseDuration(text: string): number | undefined {
  let s = text;
  let neg = false;
  if (s.length > 0 && (s[0] === '-' || s[0] === '+')) { neg = s[0] === '-'; s = s.slice(1); }
  if (s === '0') return 0;
  if (s === '' || s.length > 256) return undefined;
  let total = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (!(c === 46 || (c >= 48 && c <= 57))) return undefined;
    let j = i;
    while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
    const intPart = s.slice(i, j);
    let fracPart = '';
    if (j < s.length && s[j] === '.') {
      let k = j + 1;
      while (k < s.length && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) k++;
      fracPart = s.slice(j + 1, k);
      j = k;
    }
    if (intPart === '' && fracPart === '') return undefined;
    let u = j;
    while (u < s.length && s[u] !== '.' && !(s.charCodeAt(u) >= 48 && s.charCodeAt(u) <= 57)) u++;
    const unit = s.slice(j, u);
    if (unit === '') return undefined;
    const scale = durationUnits[unit];
    if (scale === undefined) return undefined;
    total += Number(intPart || '0') * scale;
    if (fracPart) total += Math.floor(Number('0.' + fracPart) * scale);
    i = u;
  }
  return neg ? -total : total;
}

const suffixScale = table({
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
});

/**
 * Float value of a quantity without building the exact form (no BigInt, no
 * regex match arrays): undefined when `text` is not a quantity. Same grammar
 * as parseQuantity, so the two agree on what is a quantity.
 */
export function approxQuantity(text: string): number | undefined {
  const n = text.length;
  if (n === 0 || n > 256) return undefined;
  let i = 0;
  let sign = 1;
  const c0 = text.charCodeAt(0);
  if (c0 === 43 || c0 === 45) { if (c0 === 45) sign = -1; i = 1; }
  const start = i;
  let digits = 0;
  while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) { i++; digits++; }
  if (i < n && text.charCodeAt(i) === 46) {
    i++;
    while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) { i++; digits++; }
  }
  if (digits === 0) return undefined;
  const num = Number(text.slice(start, i));
  if (i === n) return sign * num;
  const scale = suffixScale[text.slice(i)];
  if (scale !== undefined) return sign * num * scale;
  // Otherwise only a decimal exponent remains: e/E and an integer.
  const c = text.charCodeAt(i);
  if (c !== 101 && c !== 69) return undefined;
  let j = i + 1;
  const sc = text.charCodeAt(j);
  if (sc === 43 || sc === 45) j++;
  if (j >= n) return undefined;
  for (let k = j; k < n; k++) { const d = text.charCodeAt(k); if (d < 48 || d > 57) return undefined; }
  const exp = Number(text.slice(i + 1));
  if (Math.abs(exp) > 1000) return undefined;
  return sign * num * 10 ** exp;
}

/** Compare a quantity's text against a parsed quantity: fast float path, exact when close. */
export function compareQuantityText(text: string, approx: number, pattern: Quantity): number {
  const p = pattern.approx;
  const a = Math.abs(approx);
  if (approx === 0 && !/[1-9]/.test(text)) {
    // A literal zero: only the pattern's sign matters.
    return pattern.mant === 0n ? 0 : pattern.neg ? 1 : -1;
  }
  // Far apart, and clear of nano rounding and the int64 cap: floats decide.
  if (a >= 1e-9 && a < 9e18 && Math.abs(approx - p) > 1e-9 * Math.max(a, Math.abs(p))) return approx < p ? -1 : 1;
  return compareQuantity(parseQuantity(text)!, pattern);
}
