/**
 * Go time.Duration at nanosecond precision (bigint): ParseDuration and
 * Duration.String(), whose exact text ("1h0m0s", "1.5s", "500ms") shows up in
 * Kyverno's arithmetic and time function results.
 */

const unitNs: Record<string, bigint> = {
  ns: 1n, us: 1_000n, 'µs': 1_000n, 'μs': 1_000n, ms: 1_000_000n,
  s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n,
};
const MAX = (1n << 63n) - 1n;
const MIN = -(1n << 63n);
const partRe = /([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)/y;

/** time.ParseDuration; returns undefined where Go returns an error. */
export function parseGoDuration(text: string): bigint | undefined {
  let s = text;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') { neg = s[0] === '-'; s = s.slice(1); }
  if (s === '0') return 0n;
  if (s === '') return undefined;
  let total = 0n;
  let pos = 0;
  while (pos < s.length) {
    partRe.lastIndex = pos;
    const m = partRe.exec(s);
    if (!m) return undefined;
    const [, intPart = '', frac, unit] = m;
    if (intPart === '' && (frac === undefined || frac === '')) return undefined;
    const u = unitNs[unit!]!;
    let v = BigInt(intPart || '0') * u;
    if (frac) v += (BigInt(frac) * u) / 10n ** BigInt(frac.length);
    total += v;
    if (total > MAX + (neg ? 1n : 0n)) return undefined;
    pos = partRe.lastIndex;
  }
  return neg ? -total : total;
}

/** Duration.String(): "72h3m0.5s", "1.5µs", "0s". */
export function formatGoDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  if (ns === MIN) u = 1n << 63n;
  let out: string;
  if (u < 1_000_000_000n) {
    // sub-second: ns, µs or ms with a fraction
    let unit: string;
    let scale: bigint;
    if (u < 1_000n) { unit = 'ns'; scale = 1n; }
    else if (u < 1_000_000n) { unit = 'µs'; scale = 1_000n; }
    else { unit = 'ms'; scale = 1_000_000n; }
    out = fraction(u, scale) + unit;
  } else {
    const h = u / 3_600_000_000_000n;
    u -= h * 3_600_000_000_000n;
    const m = u / 60_000_000_000n;
    u -= m * 60_000_000_000n;
    out = fraction(u, 1_000_000_000n) + 's';
    if (h > 0n || m > 0n) out = `${m}m` + out;
    if (h > 0n) out = `${h}h` + out;
  }
  return neg ? '-' + out : out;
}

function fraction(v: bigint, scale: bigint): string {
  const whole = v / scale;
  const rest = v % scale;
  if (rest === 0n) return String(whole);
  const width = String(scale).length - 1;
  const frac = String(rest).padStart(width, '0').replace(/0+$/, '');
  return `${whole}.${frac}`;
}

export function durationFromSeconds(seconds: number): bigint | undefined {
  const ns = seconds * 1e9;
  if (!Number.isFinite(ns)) return undefined;
  // Go converts float64 → int64 by truncation
  return BigInt(Math.trunc(ns));
}

export function durationSeconds(ns: bigint): number {
  const sec = ns / 1_000_000_000n;
  const nsec = ns % 1_000_000_000n;
  return Number(sec) + Number(nsec) / 1e9;
}
