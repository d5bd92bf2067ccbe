/**
 * Kyverno's random library: `random(pattern)` (and `random.random`) gives a
 * string matching the regular expression; `random()` uses `[0-9a-z]{8}`.
 * The pattern is the policy author's, so it is bounded before generating:
 * at most 256 characters, no backreferences (RE2 has none), and at most
 * 4096 characters of output even at every repetition's upper bound.
 */
import { randomInt } from 'node:crypto';
import { CelScalar, celFunc, type CelFunc } from '@bufbuild/cel';
import RandExp from 'randexp';

const DEFAULT_PATTERN = '[0-9a-z]{8}';
const MAX_PATTERN = 256;
const MAX_OUTPUT = 4096;
/** Extra repetitions for `*`, `+` and `{n,}`. */
const UNBOUNDED_EXTRA = 10;

// ret's token types (the tokenizer randexp uses).
const ROOT = 0, GROUP = 1, REPETITION = 5, REFERENCE = 6;
interface Token { type: number; stack?: Token[]; options?: Token[][]; min?: number; max?: number; value?: Token }

function longest(tokens: Token[]): number {
  let n = 0;
  for (const t of tokens) n += longestOf(t);
  return n;
}
function longestOf(t: Token): number {
  switch (t.type) {
    case ROOT:
    case GROUP:
      return t.options ? Math.max(0, ...t.options.map(longest)) : longest(t.stack ?? []);
    case REPETITION:
      return (t.max === Infinity ? t.min! + UNBOUNDED_EXTRA : t.max!) * longestOf(t.value!);
    case REFERENCE:
      throw new Error('random: backreferences are not supported');
    default:
      return 1;
  }
}

const generators = new Map<string, RandExp>();

function generator(pattern: string): RandExp {
  let g = generators.get(pattern);
  if (g) return g;
  if (pattern.length > MAX_PATTERN) throw new Error(`random: pattern longer than ${MAX_PATTERN} characters`);
  try {
    g = new RandExp(pattern);
  } catch (e) {
    throw new Error(`random: invalid pattern: ${(e as Error).message}`);
  }
  if (longestOf((g as unknown as { tokens: Token }).tokens) > MAX_OUTPUT) throw new Error(`random: pattern may generate more than ${MAX_OUTPUT} characters`);
  g.max = UNBOUNDED_EXTRA;
  g.randInt = (from, to) => randomInt(from, to + 1);
  if (generators.size > 256) generators.clear();
  generators.set(pattern, g);
  return g;
}

const random = (pattern: string) => generator(pattern).gen();

export const randomFuncs: CelFunc[] = ['random', 'random.random'].flatMap((name) => [
  celFunc(name, [CelScalar.STRING], CelScalar.STRING, random),
  celFunc(name, [], CelScalar.STRING, () => random(DEFAULT_PATTERN)),
]);
