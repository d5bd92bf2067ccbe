/** Kyverno's time_* functions: RFC 3339 in and out, Go durations, Go layouts. */
import type { JsonValue } from '../types.ts';
import { formatGoDuration, parseGoDuration } from './goduration.ts';
import {
  RFC3339, civil, formatRFC3339, fromNanos, nowGoTime, parseGoTime, toNanos, truncateGoTime, type GoTime,
} from './gotime.ts';

const rfc = (v: JsonValue | undefined): GoTime => parseGoTime(RFC3339, v as string);

function duration(v: JsonValue | undefined): bigint {
  const d = parseGoDuration(v as string);
  if (d === undefined) throw new Error(`time: invalid duration ${JSON.stringify(v)}`);
  return d;
}

/** time_since(layout, start, end): end − start; an empty end means now, an empty layout RFC 3339. */
export function timeSince(args: JsonValue[]): JsonValue {
  const layout = (args[0] as string) || RFC3339;
  const t1 = parseGoTime(layout, args[1] as string);
  const t2 = (args[2] as string) !== '' ? parseGoTime(layout, args[2] as string) : nowGoTime();
  return formatGoDuration(toNanos(t2) - toNanos(t1));
}

export function timeNow(): JsonValue {
  return formatRFC3339(nowGoTime());
}

export function timeNowUtc(): JsonValue {
  return formatRFC3339({ ...nowGoTime(), offset: 0 });
}

/** time_to_cron(t): "minute hour day month weekday" of t in its own offset. */
export function timeToCron(args: JsonValue[]): JsonValue {
  const c = civil(rfc(args[0]));
  return `${c.min} ${c.hour} ${c.day} ${c.month} ${c.wday}`;
}

export function timeAdd(args: JsonValue[]): JsonValue {
  const t = rfc(args[0]);
  return formatRFC3339(fromNanos(toNanos(t) + duration(args[1]), t.offset));
}

/** time_parse(layout, value): a numeric layout means value is Unix seconds. */
export function timeParse(args: JsonValue[]): JsonValue {
  const layout = args[0] as string, value = args[1] as string;
  if (/^[+-]?[0-9]+$/.test(layout)) {
    if (!/^[+-]?[0-9]+$/.test(value)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`);
    return formatRFC3339({ sec: BigInt(value), nsec: 0, offset: 0 });
  }
  return formatRFC3339(parseGoTime(layout, value));
}

export function timeUtc(args: JsonValue[]): JsonValue {
  return formatRFC3339({ ...rfc(args[0]), offset: 0 });
}

export function timeDiff(args: JsonValue[]): JsonValue {
  return formatGoDuration(toNanos(rfc(args[1])) - toNanos(rfc(args[0])));
}

export function timeBefore(args: JsonValue[]): JsonValue {
  return toNanos(rfc(args[0])) < toNanos(rfc(args[1]));
}

export function timeAfter(args: JsonValue[]): JsonValue {
  return toNanos(rfc(args[0])) > toNanos(rfc(args[1]));
}

/** time_between(t, start, end): strictly after start and strictly before end. */
export function timeBetween(args: JsonValue[]): JsonValue {
  const t = toNanos(rfc(args[0]));
  return t > toNanos(rfc(args[1])) && t < toNanos(rfc(args[2]));
}

export function timeTruncate(args: JsonValue[]): JsonValue {
  return formatRFC3339(truncateGoTime(rfc(args[0]), duration(args[1])));
}
