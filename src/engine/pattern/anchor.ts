/**
 * Kyverno anchors on pattern keys: `(k)` condition, `<(k)` global, `X(k)`
 * negation, `+(k)` add-if-absent, `=(k)` equality, `^(k)` existence.
 */

export type AnchorModifier = '' | '<' | 'X' | '+' | '=' | '^';

export interface Anchor {
  modifier: AnchorModifier;
  key: string;
}

/** Parses an anchored key; undefined when the key is a plain key. */
export function parseAnchor(raw: string): Anchor | undefined {
  const n = raw.length;
  if (n < 3 || raw.charCodeAt(n - 1) !== 41 /* ) */) return undefined;
  const c = raw[0];
  if (c === '(') return { modifier: '', key: raw.slice(1, n - 1) };
  if ((c === '<' || c === 'X' || c === '+' || c === '=' || c === '^') && raw[1] === '(' && n > 3) {
    return { modifier: c, key: raw.slice(2, n - 1) };
  }
  return undefined;
}

export function anchorString(a: Anchor): string {
  return `${a.modifier}(${a.key})`;
}

/** Key with its anchor removed (plain keys unchanged). */
export function stripAnchor(raw: string): string {
  return parseAnchor(raw)?.key ?? raw;
}

/** Anchors that the walker evaluates before plain keys (globals are not among them). */
export function isPhaseOneAnchor(a: Anchor | undefined): boolean {
  return !!a && (a.modifier === '' || a.modifier === '^' || a.modifier === '=' || a.modifier === 'X');
}

/** Anchors Kyverno tracks to tell "anchor key missing in resource" errors from failures. */
export function isTrackedAnchor(a: Anchor | undefined): boolean {
  return !!a && (a.modifier === '' || a.modifier === '^' || a.modifier === 'X');
}
