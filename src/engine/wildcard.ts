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
  else m = (s) => wildcardMatch(pattern, s);
  if (cache.size < 10_000) cache.set(pattern, m);
  return m;
}

export function matchWildcard(pattern: string, s: string): boolean {
  return compileWildcard(pattern)(s);
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
