/**
 * Kubernetes resource quantities ("500m", "1Gi", "2e3") and Go durations
 * ("1h30m", "300ms"), parsed to plain numbers so patterns and conditions can
 * compare them. Returns undefined when the text is not of that form.
 */

const binarySuffix: Record<string, number> = {
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
const decimalSuffix: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
};

const quantityRe = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

export function parseQuantity(text: string): number | undefined {
  const m = quantityRe.exec(text);
  if (!m) return undefined;
  const base = Number(m[1]);
  const suffix = m[2] ?? '';
  if (suffix in binarySuffix) return base * binarySuffix[suffix]!;
  if (suffix in decimalSuffix) return base * decimalSuffix[suffix]!;
  if (suffix[0] === 'e' || suffix[0] === 'E') return base * 10 ** Number(suffix.slice(1));
  return undefined;
}

/** True when the text carries a quantity unit (so is not merely a number). */
export function isQuantityWithUnit(text: string): boolean {
  const m = quantityRe.exec(text);
  return !!m && !!m[2];
}

const durationUnit: Record<string, number> = {
  ns: 1e-9, us: 1e-6, 'µs': 1e-6, 'μs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600,
};
const durationPartRe = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Go time.ParseDuration, in seconds. "0" is a valid duration. */
export function parseDuration(text: string): number | undefined {
  if (text === '0' || text === '+0' || text === '-0') return 0;
  let s = text, sign = 1;
  if (s[0] === '-' || s[0] === '+') { if (s[0] === '-') sign = -1; s = s.slice(1); }
  if (!s) return undefined;
  let total = 0, pos = 0;
  durationPartRe.lastIndex = 0;
  while (pos < s.length) {
    durationPartRe.lastIndex = pos;
    const m = durationPartRe.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * durationUnit[m[2]!]!;
    pos = durationPartRe.lastIndex;
  }
  return sign * total;
}
