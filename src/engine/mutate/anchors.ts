/**
 * Kyverno anchor keys as they appear in mutate patterns: `(key)` condition,
 * `<(key)` global condition, `+(key)` add-if-not-present, `=(key)` equality,
 * `X(key)` negation, `^(key)` existence. Parsing is a fixed-shape string check
 * (no RegExp), identical to Kyverno's: a modifier char, `(`, a non-empty key, `)`.
 */
export type AnchorType = '' | '<' | '+' | '=' | 'X' | '^';

export interface Anchor {
  type: AnchorType;
  key: string;
}

// Pattern keys come from policies (a bounded set) and are parsed on every
// request: remember each answer.
const parsed = new Map<string, Anchor | null>();

export function parseAnchor(s: string): Anchor | null {
  const hit = parsed.get(s);
  if (hit !== undefined) return hit;
  const a = parseUncached(s);
  if (parsed.size < 10_000) parsed.set(s, a);
  return a;
}

function parseUncached(s: string): Anchor | null {
  if (s.length < 2 || s.charCodeAt(s.length - 1) !== 41 /* ) */) return null;
  const c = s[0];
  let type: AnchorType;
  let key: string;
  if (c === '(') { type = ''; key = s.slice(1, -1); }
  else if (c === '+' || c === '=' || c === 'X' || c === '^' || c === '<') {
    if (s[1] !== '(') return null;
    type = c; key = s.slice(2, -1);
  } else return null;
  return key === '' ? null : { type, key };
}

/** Condition `(k)` or global `<(k)`: what Kyverno's mutate pre-processing treats as a condition. */
export function isConditionLike(s: string): boolean {
  const a = parseAnchor(s);
  return a !== null && (a.type === '' || a.type === '<');
}

