/** Kyverno's string functions, with Go strings-package semantics. */
import type { JsonValue } from '../types.ts';
import { matchWildcard } from '../wildcard.ts';
import { goFormatFloat32 } from './gofmt.ts';
import { goRegexReplaceAll, goRegexTest, GoRegexError } from './goregex.ts';
import { argumentTypeError, functionError } from './errors.ts';

const str = (v: JsonValue | undefined): string => v as string;

/** strings.Compare */
export function compare(args: JsonValue[]): JsonValue {
  const a = str(args[0]), b = str(args[1]);
  return a === b ? 0 : a < b ? -1 : 1;
}

/** strings.EqualFold (Unicode simple folding, approximated by case mapping both ways). */
export function equalFold(args: JsonValue[]): JsonValue {
  const a = str(args[0]), b = str(args[1]);
  return a === b || a.toLowerCase() === b.toLowerCase() || a.toUpperCase() === b.toUpperCase();
}

/** strings.Replace(s, old, new, n); n < 0 replaces all. */
export function goReplace(s: string, old: string, repl: string, n: number): string {
  if (n === 0 || old === repl) return s;
  if (old === '') {
    // Go inserts `repl` before every rune and at the end, up to n times
    const runes = Array.from(s);
    let out = '';
    let count = 0;
    for (let i = 0; i <= runes.length; i++) {
      if (n < 0 || count < n) { out += repl; count++; }
      if (i < runes.length) out += runes[i];
    }
    return out;
  }
  if (n < 0) return s.split(old).join(repl);
  let out = '';
  let rest = s;
  for (let i = 0; i < n; i++) {
    const at = rest.indexOf(old);
    if (at < 0) break;
    out += rest.slice(0, at) + repl;
    rest = rest.slice(at + old.length);
  }
  return out + rest;
}

export function replace(args: JsonValue[]): JsonValue {
  return goReplace(str(args[0]), str(args[1]), str(args[2]), Math.trunc(args[3] as number));
}

export function replaceAll(args: JsonValue[]): JsonValue {
  return goReplace(str(args[0]), str(args[1]), str(args[2]), -1);
}

export function toUpper(args: JsonValue[]): JsonValue {
  return str(args[0]).toUpperCase();
}

export function toLower(args: JsonValue[]): JsonValue {
  return str(args[0]).toLowerCase();
}

/** strings.Trim: strips any of the cutset's characters from both ends. */
export function trim(args: JsonValue[]): JsonValue {
  const runes = Array.from(str(args[0]));
  const cut = new Set(Array.from(str(args[1])));
  let start = 0, end = runes.length;
  while (start < end && cut.has(runes[start]!)) start++;
  while (end > start && cut.has(runes[end - 1]!)) end--;
  return runes.slice(start, end).join('');
}

export function trimPrefix(args: JsonValue[]): JsonValue {
  const s = str(args[0]), prefix = str(args[1]);
  return prefix !== '' && s.startsWith(prefix) ? s.slice(prefix.length) : s;
}

/** strings.Split: an empty separator splits into characters. */
export function split(args: JsonValue[]): JsonValue {
  const s = str(args[0]), sep = str(args[1]);
  return sep === '' ? Array.from(s) : s.split(sep);
}

/** Kyverno turns numeric arguments of regex functions into float32 text. */
function stringOrNumber(fn: string, position: number, v: JsonValue | undefined): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goFormatFloat32(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  throw argumentTypeError(fn, position, 'String or Real');
}

function regexCall<T>(fn: string, run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof GoRegexError) throw functionError(fn, e.message);
    throw e;
  }
}

export function regexReplaceAll(args: JsonValue[]): JsonValue {
  const src = stringOrNumber('regex_replace_all', 2, args[1]);
  const repl = stringOrNumber('regex_replace_all', 3, args[2]);
  return regexCall('regex_replace_all', () => goRegexReplaceAll(str(args[0]), src, repl, false));
}

export function regexReplaceAllLiteral(args: JsonValue[]): JsonValue {
  const src = stringOrNumber('regex_replace_all_literal', 2, args[1]);
  const repl = stringOrNumber('regex_replace_all_literal', 3, args[2]);
  return regexCall('regex_replace_all_literal', () => goRegexReplaceAll(str(args[0]), src, repl, true));
}

export function regexMatch(args: JsonValue[]): JsonValue {
  const src = stringOrNumber('regex_match', 2, args[1]);
  // Kyverno returns regexp.Match's own error text here (no function prefix)
  return goRegexTest(str(args[0]), src);
}

export function patternMatch(args: JsonValue[]): JsonValue {
  const src = stringOrNumber('regex_match', 2, args[1]);
  return matchWildcard(str(args[0]), src);
}

export function toBoolean(args: JsonValue[]): JsonValue {
  const s = str(args[0]);
  switch (s.toLowerCase()) {
    case 'true': return true;
    case 'false': return false;
    default: throw functionError('to_boolean', `lowercase argument must be 'true' or 'false' (provided: '${s}')`);
  }
}

/** truncate(s, n): the first n characters. */
export function truncate(args: JsonValue[]): JsonValue {
  const n = Math.max(0, Math.trunc(args[1] as number));
  const runes = Array.from(str(args[0]));
  return runes.length <= n ? str(args[0]) : runes.slice(0, n).join('');
}

/** filepath.Join(p) on Linux, i.e. path.Clean unless empty. */
export function pathCanonicalize(args: JsonValue[]): JsonValue {
  const p = str(args[0]);
  return p === '' ? '' : goCleanPath(p);
}

export function goCleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}
