/**
 * CEL `matches` engine: the same RE2 implementation @bufbuild/cel uses, with
 * compiled patterns kept in a bounded LRU — a policy's regex is usually a
 * literal, so compiling it once per evaluation was the dominant cost. RE2
 * matches in linear time, so user patterns need no ReDoS guard. Compile
 * errors are not cached: they throw as before.
 */
import { RE2JS } from '@bufbuild/re2';
import { LRUCache } from 'lru-cache';

const compiled = new LRUCache<string, RE2JS>({ max: 1000 });

/** The shape of celEnv's `re2` option. */
export interface Re2Engine {
  compile(pattern: string): { test(text: string): boolean };
}

export const cachedRe2: Re2Engine = {
  compile(pattern: string) {
    let re = compiled.get(pattern);
    if (re === undefined) {
      re = RE2JS.compile(pattern);
      compiled.set(pattern, re);
    }
    return re;
  },
};
