import t from 'tap';
import { cachedRe2 } from '../../src/cel/lib/re2-cache.ts';
import { compileExpression, CelEvalError } from '../../src/cel/env.ts';

t.test('a pattern is compiled once and reused', async (t) => {
  const a = cachedRe2.compile('^ghcr\\.io/.+$');
  t.equal(cachedRe2.compile('^ghcr\\.io/.+$'), a);
  t.not(cachedRe2.compile('^docker\\.io/.+$'), a);
  t.equal(a.test('ghcr.io/kyverno/x'), true);
  t.equal(a.test('docker.io/x'), false);
});

t.test('CEL matches keeps RE2 semantics through the cache', async (t) => {
  const e = compileExpression("object.name.matches(object.pattern)");
  const run = (name: string, pattern: string) => e.evaluate({ object: { name, pattern } });
  t.equal(run('abc-123', '^[a-z]+-[0-9]+$'), true);
  t.equal(run('abc-123', '^[a-z]+-[0-9]+$'), true, 'second call served from the cache');
  t.equal(run('ABC', '^[a-z]+$'), false);
  t.equal(run('xaby', 'ab'), true, 'unanchored: a substring match');
  // Invalid patterns still fail, and each time (errors are not cached).
  t.throws(() => run('a', '(unclosed'), CelEvalError);
  t.throws(() => run('a', '(unclosed'), CelEvalError);
  // RE2 has no backreferences.
  t.throws(() => run('aa', '(a)\\1'), CelEvalError);
});
