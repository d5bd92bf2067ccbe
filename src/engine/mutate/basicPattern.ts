/**
 * A compact stand-in for Kyverno's validate pattern matcher, used to decide
 * mutate condition anchors when the engine does not inject the full one
 * (MutateDeps.matchPattern). Covers: wildcards, `|` alternatives, `!` negation,
 * numeric `>`/`>=`/`<`/`<=`, nested maps and lists, and the anchors `(k)`,
 * `<(k)`, `=(k)`, `X(k)`, `^(k)`, `+(k)` inside condition values.
 */
import type { JsonValue } from '../types.ts';
import { matchWildcard } from '../wildcard.ts';
import { parseAnchor } from './anchors.ts';
import { isMap } from './json.ts';

export function basicMatchPattern(resource: JsonValue | undefined, pattern: JsonValue): boolean {
  if (isMap(pattern)) return isMap(resource) && matchMap(resource, pattern);
  if (Array.isArray(pattern)) return Array.isArray(resource) && matchList(resource, pattern);
  if (pattern === null) return resource === null || resource === undefined;
  if (resource === undefined || resource === null) return pattern === '*' ? false : String(pattern) === 'null';
  if (pattern === '*') return true;
  if (typeof pattern === 'string') return matchString(resource, pattern);
  if (typeof resource === 'object') return false;
  return String(resource) === String(pattern);
}

function matchMap(resource: Record<string, JsonValue>, pattern: Record<string, JsonValue>): boolean {
  for (const [k, pv] of Object.entries(pattern)) {
    const a = parseAnchor(k);
    const key = a ? a.key : k;
    const present = Object.hasOwn(resource, key);
    const rv = present ? resource[key] : undefined;
    switch (a?.type) {
      case 'X': if (present) return false; break;
      case '+': break;
      case '=': case '': case '<':
        if (present && !basicMatchPattern(rv, pv)) return false;
        break;
      case '^':
        if (present) {
          if (!Array.isArray(rv) || !Array.isArray(pv)) return false;
          if (!pv.every((p) => rv.some((r) => basicMatchPattern(r, p)))) return false;
        }
        break;
      default:
        if (!present || !basicMatchPattern(rv, pv)) return false;
    }
  }
  return true;
}

function matchList(resource: JsonValue[], pattern: JsonValue[]): boolean {
  if (pattern.length === 0) return true;
  if (isMap(pattern[0])) return resource.every((r) => basicMatchPattern(r, pattern[0]));
  if (resource.length < pattern.length) return false;
  return pattern.every((p, i) => basicMatchPattern(resource[i], p));
}

function matchString(resource: JsonValue, pattern: string): boolean {
  if (typeof resource === 'object' && resource !== null) return false;
  const value = String(resource);
  return pattern.split('|').some((alt) => matchOne(value, alt.trim()));
}

function matchOne(value: string, p: string): boolean {
  for (const op of ['>=', '<=', '>', '<'] as const) {
    if (p.startsWith(op)) {
      const want = Number(p.slice(op.length).trim());
      const got = Number(value);
      if (Number.isNaN(want) || Number.isNaN(got) || value.trim() === '') return false;
      return op === '>=' ? got >= want : op === '<=' ? got <= want : op === '>' ? got > want : got < want;
    }
  }
  if (p.startsWith('!')) return !matchWildcard(p.slice(1), value);
  return matchWildcard(p, value);
}
