/**
 * Go formatting rules that leak into Kyverno's observable output: fmt.Sprint of
 * numbers (used by the In-family operators), strconv float32 formatting (used
 * by regex functions on numeric arguments) and encoding/json marshalling
 * (used when a non-string value is embedded into a string).
 */
import type { JsonValue } from '../types.ts';

/** Shortest round-trip digits and decimal exponent of a finite non-zero |n|. */
function shortestDigits(n: number): { digits: string; exp: number } {
  const [mant, e] = Math.abs(n).toExponential().split('e') as [string, string];
  return { digits: mant.replace('.', ''), exp: Number(e) };
}

function expSuffix(exp: number): string {
  const sign = exp < 0 ? '-' : '+';
  const abs = Math.abs(exp);
  return `e${sign}${abs < 10 ? '0' : ''}${abs}`;
}

function fixedFromDigits(digits: string, exp: number): string {
  // value = 0.d1d2d3… × 10^(exp+1)
  const point = exp + 1;
  if (point <= 0) return '0.' + '0'.repeat(-point) + digits;
  if (point >= digits.length) return digits + '0'.repeat(point - digits.length);
  return digits.slice(0, point) + '.' + digits.slice(point);
}

/** Go's fmt.Sprint(float64): %g with shortest digits, so 1e6 prints as "1e+06". */
export function goSprintNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const { digits, exp } = shortestDigits(n);
  const sign = n < 0 ? '-' : '';
  // strconv 'g' with shortest precision switches to %e when exp < -4 || exp >= 6.
  if (exp < -4 || exp >= 6) {
    const mant = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
    return sign + mant + expSuffix(exp);
  }
  return sign + fixedFromDigits(digits, exp);
}

/** fmt.Sprint of any decoded-JSON value, as Kyverno's In operators stringify elements. */
export function goSprint(v: JsonValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goSprintNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return '[' + v.map(goSprint).join(' ') + ']';
  const keys = Object.keys(v).sort();
  return 'map[' + keys.map((k) => `${k}:${goSprint(v[k]!)}`).join(' ') + ']';
}

/** strconv.FormatFloat(n, 'f', -1, 32): shortest float32 digits, never exponent form. */
export function goFormatFloat32(n: number): string {
  const f = Math.fround(n);
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : f < 0 ? '-Inf' : 'NaN';
  if (f === 0) return '0';
  let repr = '';
  for (let p = 1; p <= 9; p++) {
    const candidate = f.toPrecision(p);
    if (Math.fround(Number(candidate)) === f) { repr = candidate; break; }
  }
  const { digits, exp } = shortestDigits(Number(repr));
  return (f < 0 ? '-' : '') + fixedFromDigits(digits, exp);
}

const htmlEscapes: Record<string, string> = {
  '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029',
};

function goJsonNumber(n: number): string {
  if (!Number.isFinite(n)) return 'null';
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) {
    // encoding/json: exponent form, with e-07 cleaned to e-7
    const { digits, exp } = shortestDigits(n);
    const mant = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
    return (n < 0 ? '-' : '') + mant + 'e' + (exp < 0 ? '-' : '+') + Math.abs(exp);
  }
  return String(n);
}

/** Go's json.Marshal of decoded JSON: map keys sorted, HTML characters escaped. */
export function goJsonMarshal(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => htmlEscapes[c]!);
  if (typeof v === 'number') return goJsonNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return '[' + v.map(goJsonMarshal).join(',') + ']';
  const keys = Object.keys(v).sort();
  return '{' + keys.map((k) => goJsonMarshal(k) + ':' + goJsonMarshal(v[k]!)).join(',') + '}';
}
