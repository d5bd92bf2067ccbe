/**
 * Go's fmt/strconv renderings that leak into Kyverno messages: `%v` of decoded
 * JSON (resource integers are int64, pattern numbers are float64), `%T`,
 * `%f` and strconv's 'E' format.
 */

function isIntegral(n: number): boolean {
  return Number.isInteger(n);
}

function intString(n: number): string {
  return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
}

/** Shortest decimal digits and decimal-point position of a finite non-zero float. */
function shortestDigits(v: number): { digits: string; dp: number } {
  const [mant, exp] = Math.abs(v).toExponential().split('e') as [string, string];
  const digits = mant.replace('.', '');
  return { digits, dp: Number(exp) + 1 };
}

function expSuffix(exp: number, letter: string): string {
  const sign = exp < 0 ? '-' : '+';
  const a = Math.abs(exp);
  return letter + sign + (a < 10 ? '0' + a : String(a));
}

/** strconv.FormatFloat(v, 'g', -1, 64), i.e. fmt's `%v` for float64. */
export function goFloatG(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const neg = v < 0 ? '-' : '';
  const { digits, dp } = shortestDigits(v);
  const exp = dp - 1;
  // Shortest %g switches to exponent form outside [1e-4, 1e6).
  if (exp < -4 || exp >= 6) {
    const m = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
    return neg + m + expSuffix(exp, 'e');
  }
  if (dp <= 0) return neg + '0.' + '0'.repeat(-dp) + digits;
  if (dp >= digits.length) return neg + digits + '0'.repeat(dp - digits.length);
  return neg + digits.slice(0, dp) + '.' + digits.slice(dp);
}

/** strconv.FormatFloat(v, 'E', -1, 64). */
export function goFloatE(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  if (v === 0) return (Object.is(v, -0) ? '-' : '') + '0E+00';
  const neg = v < 0 ? '-' : '';
  const { digits, dp } = shortestDigits(v);
  const m = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
  return neg + m + expSuffix(dp - 1, 'E');
}

/** fmt `%f` (six decimals). */
export function goFloatF(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  if (Math.abs(v) < 1e21) return v.toFixed(6);
  return BigInt(Math.trunc(v)).toString() + '.000000';
}

/** `%v` of a resource value (integral numbers decode as int64). */
export function goValue(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  switch (typeof v) {
    case 'string': return v;
    case 'boolean': return v ? 'true' : 'false';
    case 'number': return isIntegral(v) ? intString(v) : goFloatG(v);
  }
  if (Array.isArray(v)) return '[' + v.map(goValue).join(' ') + ']';
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return 'map[' + Object.keys(o).sort().map((k) => k + ':' + goValue(o[k])).join(' ') + ']';
  }
  return String(v);
}

/** `%v` of a pattern value (pattern numbers decode as float64). */
export function goPatternValue(v: unknown): string {
  if (typeof v === 'number') return goFloatG(v);
  if (Array.isArray(v)) return '[' + v.map(goPatternValue).join(' ') + ']';
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return 'map[' + Object.keys(o).sort().map((k) => k + ':' + goPatternValue(o[k])).join(' ') + ']';
  }
  return goValue(v);
}

/** `%T` of a decoded JSON value; `asPattern` treats numbers as float64. */
export function goType(v: unknown, asPattern = false): string {
  if (v === undefined || v === null) return '<nil>';
  if (Array.isArray(v)) return '[]interface {}';
  switch (typeof v) {
    case 'string': return 'string';
    case 'boolean': return 'bool';
    case 'number': return asPattern || !isIntegral(v) ? 'float64' : 'int64';
    case 'object': return 'map[string]interface {}';
  }
  return typeof v;
}

/** strconv.ParseFloat for decimal text (plus Inf/NaN); undefined on syntax error. */
export function goParseFloat(s: string): number | undefined {
  if (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(s)) return Number(s);
  const l = s.toLowerCase();
  if (/^[+-]?(?:inf|infinity)$/.test(l)) return l[0] === '-' ? -Infinity : Infinity;
  if (/^[+-]?nan$/.test(l)) return NaN;
  return undefined;
}
