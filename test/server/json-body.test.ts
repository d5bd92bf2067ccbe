import t from 'tap';
import { BodyError, jsonDepthExceeds, parseJsonBody } from '../../src/server/json-body.ts';

/** Nesting depth of a parsed value, by definition. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + children.reduce<number>((max, c) => Math.max(max, depthOf(c)), 0);
}

// Strings full of what the scan must not count: brackets, quotes, runs of backslashes.
const tricky = ['', '{', ']', '"', '\\', '\\\\', '\\"', '\\\\"[', 'a"b{c', '}}}', '[[[', 'ünïcode {', '\u2028'];

/** A deterministic pseudo-random JSON value of bounded depth. */
function generate(seed: number, maxDepth: number): unknown {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const value = (depth: number): unknown => {
    const r = next();
    if (depth >= maxDepth || r < 0.3) return r < 0.15 ? tricky[Math.floor(next() * tricky.length)] : Math.floor(next() * 100);
    const n = Math.floor(next() * 4);
    if (r < 0.65) return Array.from({ length: n }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: n }, (_, i) => [`${tricky[Math.floor(next() * tricky.length)]}${i}`, value(depth + 1)]));
  };
  return value(0);
}

t.test('the depth scan agrees with the parsed depth, whatever the strings hold', async (t) => {
  let checked = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const value = generate(seed, 1 + (seed % 9));
    const text = JSON.stringify(value, null, seed % 2 === 0 ? 2 : undefined);
    const depth = depthOf(value);
    for (const limit of [depth - 1, depth, depth + 1]) {
      if (limit < 0) continue;
      if (jsonDepthExceeds(text, limit) !== depth > limit) {
        t.fail(`seed ${seed}: depth ${depth}, limit ${limit}: ${text}`);
        return;
      }
      checked++;
    }
  }
  t.ok(checked > 1000, `${checked} cases checked`);
});

t.test('escaped quotes and backslash runs end strings where JSON says', async (t) => {
  t.equal(jsonDepthExceeds('{"a":"\\\\"}', 1), false, 'an escaped backslash before the closing quote');
  t.equal(jsonDepthExceeds('{"a":"\\"[[[[["}', 1), false, 'an escaped quote keeps the string open');
  t.equal(jsonDepthExceeds('{"a":"\\\\",[[["x"]]]}', 3), true, 'after an escaped backslash the string is closed');
  t.equal(jsonDepthExceeds('{"a":"unterminated [[[[', 1), false, 'left for JSON.parse to reject');
  const wide = JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ [`k${i}`]: [i] })));
  t.equal(jsonDepthExceeds(wide, 3), false, 'many brackets, shallow: the exact scan answers');
  t.equal(jsonDepthExceeds(wide, 2), true);
  t.equal(jsonDepthExceeds('{"s":"' + '['.repeat(500) + '"}', 128), false, 'brackets inside a string do not nest');
});

t.test('parseJsonBody: 400 for deep or malformed bodies, never echoing the body', async (t) => {
  t.same(parseJsonBody('{"a":[1,{"b":2}]}', 3), { a: [1, { b: 2 }] });
  const deep = '['.repeat(200) + ']'.repeat(200);
  t.throws(() => parseJsonBody(deep, 128), { name: 'BodyError', statusCode: 400, code: 'PORTCULLIS_BODY_TOO_DEEP', message: /deeper than 128/ });
  const caught = (() => { try { parseJsonBody('{"password":"hunter2"', 128); } catch (err) { return err; } })();
  t.ok(caught instanceof BodyError, 'a BodyError');
  t.match(caught, { statusCode: 400, code: 'PORTCULLIS_BODY_NOT_JSON' });
  t.notMatch((caught as Error).message, /hunter2/, 'the body is not echoed');
});
