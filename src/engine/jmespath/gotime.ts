/**
 * Go time values for Kyverno's time_* functions: parsing with Go reference
 * layouts ("2006-01-02T15:04:05Z07:00"), RFC 3339 output that keeps the
 * parsed UTC offset, nanosecond arithmetic, and Truncate relative to Go's
 * zero time. A time is an instant (unix seconds + nanoseconds) plus the
 * offset it is displayed in.
 */

export interface GoTime {
  /** Unix seconds. */
  sec: bigint;
  /** 0..999_999_999 */
  nsec: number;
  /** Display offset east of UTC, in seconds. */
  offset: number;
}

export class GoTimeError extends Error {}

const NS = 1_000_000_000n;
const longMonths = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const shortMonths = longMonths.map((m) => m.slice(0, 3));
const longDays = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const shortDays = longDays.map((d) => d.slice(0, 3));

export const RFC3339 = '2006-01-02T15:04:05Z07:00';

// Layout elements, longest first where prefixes overlap (Go's nextStdChunk order).
const stdChunks = [
  'January', 'Jan', 'Monday', 'Mon', 'MST',
  '2006', '002', '01', '02', '03', '04', '05', '06', '__2', '_2', '15', '1', '2', '3', '4', '5',
  'Z07:00:00', 'Z070000', 'Z07:00', 'Z0700', 'Z07',
  '-07:00:00', '-070000', '-07:00', '-0700', '-07',
  'PM', 'pm',
];

type Chunk = { lit: string } | { std: string };

function splitLayout(layout: string): Chunk[] {
  const out: Chunk[] = [];
  let lit = '';
  let i = 0;
  outer: while (i < layout.length) {
    // fractional seconds: .000 / .999 / ,000 after a seconds field
    if ((layout[i] === '.' || layout[i] === ',') && (layout[i + 1] === '0' || layout[i + 1] === '9')) {
      const digit = layout[i + 1]!;
      let j = i + 1;
      while (layout[j] === digit) j++;
      if (!/[0-9]/.test(layout[j] ?? '')) {
        if (lit) { out.push({ lit }); lit = ''; }
        out.push({ std: layout.slice(i, j) });
        i = j;
        continue;
      }
    }
    for (const c of stdChunks) {
      if (layout.startsWith(c, i)) {
        // "Jan"/"Mon" followed by a lowercase letter is literal text (e.g. "Month")
        if ((c === 'Jan' || c === 'Mon') && /[a-z]/.test(layout[i + c.length] ?? '')) break;
        if (lit) { out.push({ lit }); lit = ''; }
        out.push({ std: c });
        i += c.length;
        continue outer;
      }
    }
    lit += layout[i];
    i++;
  }
  if (lit) out.push({ lit });
  return out;
}

const layoutCache = new Map<string, Chunk[]>();
function chunksOf(layout: string): Chunk[] {
  let c = layoutCache.get(layout);
  if (!c) {
    c = splitLayout(layout);
    if (layoutCache.size < 500) layoutCache.set(layout, c);
  }
  return c;
}

function parseError(value: string, layout: string): GoTimeError {
  return new GoTimeError(`parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse ${JSON.stringify(value)} as ${JSON.stringify(layout)}`);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromUnix(sec: bigint): { year: number; month: number; day: number; hour: number; min: number; sec: number; wday: number; yday: number } {
  const days = Number(sec >= 0n ? sec / 86_400n : -((-sec + 86_399n) / 86_400n));
  const rem = Number(sec - BigInt(days) * 86_400n);
  const d = new Date(days * 86_400_000);
  const year = d.getUTCFullYear();
  return {
    year, month: d.getUTCMonth() + 1, day: d.getUTCDate(),
    hour: Math.floor(rem / 3600), min: Math.floor((rem % 3600) / 60), sec: rem % 60,
    wday: d.getUTCDay(), yday: days - daysFromCivil(year, 1, 1) + 1,
  };
}

/** time.Parse(layout, value). */
export function parseGoTime(layout: string, value: string): GoTime {
  let year = 1, month = 1, day = 1, hour = 0, min = 0, sec = 0, nsec = 0, yday = -1;
  let pm: boolean | undefined;
  let offset: number | undefined;
  let s = value;
  const fail = () => parseError(value, layout);
  const num = (min: number, max: number, fixed: boolean): number => {
    const m = (fixed ? new RegExp(`^[0-9]{${max}}`) : new RegExp(`^[0-9]{${min},${max}}`)).exec(s);
    if (!m) throw fail();
    s = s.slice(m[0].length);
    return Number(m[0]);
  };
  const chunks = chunksOf(layout);
  for (let ci = 0; ci < chunks.length; ci++) {
    const ch = chunks[ci]!;
    if ('lit' in ch) {
      if (!s.startsWith(ch.lit)) throw fail();
      s = s.slice(ch.lit.length);
      continue;
    }
    const std = ch.std;
    switch (std) {
      case '2006': year = num(4, 4, true); break;
      case '06': { const y = num(2, 2, true); year = y >= 69 ? 1900 + y : 2000 + y; break; }
      case '01': month = num(2, 2, true); break;
      case '1': month = num(1, 2, false); break;
      case 'January': case 'Jan': {
        const names = std === 'January' ? longMonths : shortMonths;
        const idx = names.findIndex((n) => s.toLowerCase().startsWith(n.toLowerCase()));
        if (idx < 0) throw fail();
        month = idx + 1;
        s = s.slice(names[idx]!.length);
        break;
      }
      case 'Monday': case 'Mon': {
        const names = std === 'Monday' ? longDays : shortDays;
        const idx = names.findIndex((n) => s.toLowerCase().startsWith(n.toLowerCase()));
        if (idx < 0) throw fail();
        s = s.slice(names[idx]!.length);
        break;
      }
      case '02': day = num(2, 2, true); break;
      case '_2': if (s[0] === ' ') s = s.slice(1); day = num(1, 2, false); break;
      case '2': day = num(1, 2, false); break;
      case '002': yday = num(3, 3, true); break;
      case '__2': s = s.replace(/^ {1,2}/, ''); yday = num(1, 3, false); break;
      case '15': hour = num(1, 2, false); break;
      case '03': hour = num(2, 2, true); break;
      case '3': hour = num(1, 2, false); break;
      case '04': min = num(2, 2, true); break;
      case '4': min = num(1, 2, false); break;
      case '05': case '5': {
        sec = std === '05' ? num(2, 2, true) : num(1, 2, false);
        // a fractional second may follow even when the layout has none
        const next = chunks[ci + 1];
        const nextIsFrac = next && 'std' in next && /^[.,]/.test(next.std);
        if (!nextIsFrac) {
          const m = /^[.,]([0-9]+)/.exec(s);
          if (m) { nsec = Number((m[1]! + '000000000').slice(0, 9)); s = s.slice(m[0].length); }
        }
        break;
      }
      case 'PM': case 'pm': {
        const m = /^(AM|PM|am|pm)/.exec(s);
        if (!m) throw fail();
        pm = m[0].toUpperCase() === 'PM';
        s = s.slice(2);
        break;
      }
      case 'MST': {
        const m = /^([A-Z]{3,5}|[+-][0-9]{2,4})/.exec(s);
        if (!m) throw fail();
        s = s.slice(m[0].length);
        if (m[0] === 'UTC' || m[0] === 'GMT') offset = offset ?? 0;
        break;
      }
      default: {
        if (std.startsWith('Z') || std.startsWith('-')) {
          if (std.startsWith('Z') && s[0] === 'Z') { s = s.slice(1); offset = 0; break; }
          const colon = std.includes(':');
          const withSec = std.length === 9 || std === 'Z070000' || std === '-070000';
          const hoursOnly = std === 'Z07' || std === '-07';
          const re = hoursOnly ? /^([+-])([0-9]{2})/ : colon
            ? (withSec ? /^([+-])([0-9]{2}):([0-9]{2}):([0-9]{2})/ : /^([+-])([0-9]{2}):([0-9]{2})/)
            : (withSec ? /^([+-])([0-9]{2})([0-9]{2})([0-9]{2})/ : /^([+-])([0-9]{2})([0-9]{2})/);
          const m = re.exec(s);
          if (!m) throw fail();
          s = s.slice(m[0].length);
          const off = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
          offset = m[1] === '-' ? -off : off;
          break;
        }
        if (/^[.,]/.test(std)) {
          const optional = std[1] === '9';
          const m = /^[.,]([0-9]+)/.exec(s);
          if (!m) { if (optional) break; throw fail(); }
          if (!optional && m[1]!.length !== std.length - 1) throw fail();
          nsec = Number((m[1]! + '000000000').slice(0, 9));
          s = s.slice(m[0].length);
          break;
        }
        throw fail();
      }
    }
  }
  if (s.length > 0) throw new GoTimeError(`parsing time ${JSON.stringify(value)}: extra text: ${JSON.stringify(s)}`);
  if (pm !== undefined) {
    if (hour > 12) throw fail();
    if (pm && hour < 12) hour += 12;
    if (!pm && hour === 12) hour = 0;
  }
  if (yday >= 0) {
    const d = new Date(daysFromCivil(year, 1, 1) * 86_400_000 + (yday - 1) * 86_400_000);
    month = d.getUTCMonth() + 1;
    day = d.getUTCDate();
  }
  if (month < 1 || month > 12 || hour > 23 || min > 59 || sec > 59) throw new GoTimeError(`parsing time ${JSON.stringify(value)}: month, hour, minute or second out of range`);
  const dim = new Date(Date.UTC(2000, month, 0)).getUTCDate();
  const leapOk = month !== 2 || day <= 28 || (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0));
  if (day < 1 || day > dim || !leapOk) throw new GoTimeError(`parsing time ${JSON.stringify(value)}: day out of range`);
  const off = offset ?? 0;
  const local = BigInt(daysFromCivil(year, month, day)) * 86_400n + BigInt(hour * 3600 + min * 60 + sec);
  return { sec: local - BigInt(off), nsec, offset: off };
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** t.Format(time.RFC3339) */
export function formatRFC3339(t: GoTime): string {
  const c = civilFromUnix(t.sec + BigInt(t.offset));
  const date = `${pad(c.year, 4)}-${pad(c.month, 2)}-${pad(c.day, 2)}T${pad(c.hour, 2)}:${pad(c.min, 2)}:${pad(c.sec, 2)}`;
  if (t.offset === 0) return date + 'Z';
  const abs = Math.abs(t.offset);
  return `${date}${t.offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 3600), 2)}:${pad(Math.floor((abs % 3600) / 60), 2)}`;
}

export function civil(t: GoTime) {
  return civilFromUnix(t.sec + BigInt(t.offset));
}

export function toNanos(t: GoTime): bigint {
  return t.sec * NS + BigInt(t.nsec);
}

export function fromNanos(ns: bigint, offset: number): GoTime {
  let sec = ns / NS;
  let nsec = ns % NS;
  if (nsec < 0n) { nsec += NS; sec -= 1n; }
  return { sec, nsec: Number(nsec), offset };
}

export function nowGoTime(): GoTime {
  const ms = Date.now();
  return { sec: BigInt(Math.floor(ms / 1000)), nsec: (ms % 1000) * 1_000_000, offset: -new Date(ms).getTimezoneOffset() * 60 };
}

// Seconds from Go's zero time (0001-01-01 UTC) to the Unix epoch.
const ZERO_TO_UNIX = 62_135_596_800n;

/** t.Truncate(d): rounds down to a multiple of d since the zero time. */
export function truncateGoTime(t: GoTime, d: bigint): GoTime {
  if (d <= 0n) return t;
  const abs = (t.sec + ZERO_TO_UNIX) * NS + BigInt(t.nsec);
  const rounded = abs - (((abs % d) + d) % d);
  return fromNanos(rounded - ZERO_TO_UNIX * NS, t.offset);
}
