/**
 * Kyverno wildcards: `*` matches any run of characters (also none), `?` matches
 * exactly one. Compiled once into a linear-time matcher (no RegExp built from
 * user input, so no catastrophic backtracking).
 */
export type StringMatcher = (s: string) => boolean;

const cache = new Map<string, StringMatcher>();

export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

export function compileWildcard(pattern: string): StringMatcher {
  const hit = cache.get(pattern);
  if (hit) return hit;
  let m: StringMatcher;
  if (!hasWildcard(pattern)) m = (s) => s === pattern;
  else if (pattern === '*') m = () => true;
  else if (!pattern.includes('?')) m = starMatcher(pattern);
  else m = (s) => wildcardMatch(pattern, s);
  if (cache.size < 10_000) cache.set(pattern, m);
  return m;
}

export function matchWildcard(pattern: string, s: string): boolean {
  return compileWildcard(pattern)(s);
}

/**
 * A pattern with `*` only (the usual `registry.io/*`, `*@sha256:*`): its literal
 * segments are found with native string search, leftmost first — for `*`-only
 * globs the leftmost placement of each middle segment is always a valid choice.
 */
function starMatcher(pattern: string): StringMatcher {
  const parts = pattern.split('*');
  const head = parts[0]!;
  const tail = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).filter((x) => x !== '');
  if (middle.length === 0) {
    const min = head.length + tail.length;
    return (s) => s.length >= min && s.startsWith(head) && s.endsWith(tail);
  }
  return (s) => {
    if (!s.startsWith(head)) return false;
    const end = s.length - tail.length;
    if (end < head.length || !s.endsWith(tail)) return false;
    let at = head.length;
    for (const seg of middle) {
      const i = s.indexOf(seg, at);
      if (i < 0 || i + seg.length > end) return false;
      at = i + seg.length;
    }
    return true;
  };
}

/** Greedy two-pointer glob match with single backtrack point: O(n·m) worst case, no recursion. */
function wildcardMatch(p: string, s: string): boolean {
  let pi = 0, si = 0, star = -1, mark = 0;
  while (si < s.length) {
    const pc = p.charCodeAt(pi);
    if (pi < p.length && (pc === 63 /* ? */ || pc === s.charCodeAt(si))) { pi++; si++; }
    else if (pi < p.length && pc === 42 /* * */) { star = pi++; mark = si; }
    else if (star !== -1) { pi = star + 1; si = ++mark; }
    else return false;
  }
  while (pi < p.length && p.charCodeAt(pi) === 42) pi++;
  return pi === p.length;
}
