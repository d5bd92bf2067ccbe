/**
 * Kyverno wildcards: `*`-only patterns take a native-string-search path, the
 * others the two-pointer matcher. Both are checked exhaustively on short
 * strings against a reference built from the definition (`*` = any run, `?` = one).
 */
import t from 'tap';
import { compileWildcard, matchWildcard } from '../../src/engine/wildcard.ts';

function* strings(max: number, chars: string): Generator<string> {
  yield '';
  if (max === 0) return;
  for (const x of strings(max - 1, chars)) for (const c of chars) if (x.length === max - 1) yield x + c;
}
const upTo = (max: number, chars: string) => [...new Set(strings(max, chars))].concat(
  ...Array.from({ length: max }, (_, n) => [...strings(n, chars)]),
);

/** Reference semantics by recursion over the definition. */
function reference(p: string, s: string): boolean {
  if (p === '') return s === '';
  if (p[0] === '*') return reference(p.slice(1), s) || (s !== '' && reference(p, s.slice(1)));
  if (s === '') return false;
  return (p[0] === '?' || p[0] === s[0]) && reference(p.slice(1), s.slice(1));
}

t.test('every pattern over {a, b, *, ?} up to 5 characters agrees with the definition', async (t) => {
  const subjects = [...new Set(upTo(5, 'ab'))];
  const patterns = [...new Set(upTo(5, 'ab*?'))];
  let mismatches = 0;
  for (const p of patterns) {
    const m = compileWildcard(p);
    for (const s of subjects) if (m(s) !== reference(p, s)) mismatches++;
  }
  t.ok(patterns.length > 1000 && subjects.length > 50, 'the space is not trivial');
  t.equal(mismatches, 0);
});

t.test('the shapes policies use', async (t) => {
  t.ok(matchWildcard('registry.company.com/*', 'registry.company.com/shop/web:1'));
  t.notOk(matchWildcard('registry.company.com/*', 'docker.io/registry.company.com/x'));
  t.ok(matchWildcard('*@sha256:*', 'gcr.io/p/app@sha256:abc'));
  t.notOk(matchWildcard('*@sha256:*', 'gcr.io/p/app:1.0'));
  t.ok(matchWildcard('*:latest', 'nginx:latest'));
  t.notOk(matchWildcard('a*a', 'a'), 'head and tail may not overlap');
  t.ok(matchWildcard('*a*b*a*', 'xxaxbxxa'));
  t.notOk(matchWildcard('*ab*ba*', 'aba'), 'middle segments may not overlap the tail');
});
