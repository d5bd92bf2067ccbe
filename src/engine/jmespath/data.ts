/** Kyverno's functions over objects, arrays and encoded data. */
import { createHash, randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import { parseDocument, visit as visitYaml } from 'yaml';
import type { JsonObject, JsonValue } from '../types.ts';
import { argumentTypeError, functionError } from './errors.ts';
import { goSprintNumber } from './gofmt.ts';
import { compareSemver, parseSemver, type SemVer } from '../semver.ts';

const isObject = (v: JsonValue | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function deepEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as JsonValue[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]!));
  }
  const ao = a as JsonObject, bo = b as JsonObject;
  const ak = Object.keys(ao);
  return ak.length === Object.keys(bo).length && ak.every((k) => k in bo && deepEqual(ao[k]!, bo[k]!));
}

/** label_match(selector, labels): every selector entry is present with the same value. */
export function labelMatch(args: JsonValue[]): JsonValue {
  const selector = args[0], labels = args[1];
  if (!isObject(selector)) throw argumentTypeError('label_match', 0, 'Object');
  if (!isObject(labels)) throw argumentTypeError('label_match', 1, 'Object');
  return Object.keys(selector).every((k) => k in labels && deepEqual(labels[k]!, selector[k]!));
}

export function lookup(args: JsonValue[]): JsonValue {
  const input = args[0], key = args[1];
  if (isObject(input)) {
    if (typeof key !== 'string') throw argumentTypeError('lookup', 2, 'String');
    return Object.hasOwn(input, key) ? input[key]! : null;
  }
  if (Array.isArray(input)) {
    if (typeof key !== 'number') throw argumentTypeError('lookup', 2, 'Number');
    if (!Number.isInteger(key)) throw new Error(`JMESPath function 'lookup': argument #2: expected an integer number but got: ${goSprintNumber(key)}`);
    return key < 0 || key >= input.length ? null : input[key]!;
  }
  throw argumentTypeError('lookup', 1, 'Object or Array');
}

/** items(obj|array, keyName, valueName): entries as objects; object keys sorted. */
export function items(args: JsonValue[]): JsonValue {
  const input = args[0], keyName = args[1], valName = args[2];
  if (typeof keyName !== 'string') throw argumentTypeError('items', 2, 'String');
  if (typeof valName !== 'string') throw argumentTypeError('items', 3, 'String');
  if (isObject(input)) {
    return Object.keys(input).sort().map((k) => ({ [keyName]: k, [valName]: input[k]! }));
  }
  if (Array.isArray(input)) return input.map((v, i) => ({ [keyName]: i, [valName]: v }));
  throw argumentTypeError('items', 1, 'Object or Array');
}

export function objectFromLists(args: JsonValue[]): JsonValue {
  const keys = args[0], values = args[1];
  if (!Array.isArray(keys)) throw argumentTypeError('object_from_lists', 1, 'Array');
  if (!Array.isArray(values)) throw argumentTypeError('object_from_lists', 2, 'Array');
  const out: JsonObject = {};
  keys.forEach((k, i) => {
    let key: string;
    if (typeof k === 'string') key = k;
    else if (typeof k === 'number') key = String(Math.fround(k));
    else if (typeof k === 'boolean') key = String(k);
    else throw argumentTypeError('object_from_lists', 1, 'StringArray');
    out[key] = i < values.length ? values[i]! : null;
  });
  return out;
}

export function parseJson(args: JsonValue[]): JsonValue {
  try {
    return JSON.parse(args[0] as string) as JsonValue;
  } catch (e) {
    throw new Error((e as Error).message);
  }
}

/** sigs.k8s.io/yaml reads YAML 1.1 (yes/no/on/off are booleans). */
export function parseYaml(args: JsonValue[]): JsonValue {
  const text = args[0] as string;
  const parsed = parseDocument(text, { version: '1.1', merge: true });
  if (parsed.errors.length > 0) throw parsed.errors[0]!;
  // A block scalar (`|`, `>`) ending the input without a line break has none in Go's
  // yaml either; the yaml package adds one as if the input ended with it.
  if (!/[\r\n]$/.test(text)) {
    visitYaml(parsed, {
      Scalar(_key, node) {
        if ((node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') && node.range?.[1] === text.length
          && typeof node.value === 'string' && node.value.endsWith('\n')) node.value = node.value.slice(0, -1);
      },
    });
  }
  const doc = parsed.toJS({ maxAliasCount: 100 }) as unknown;
  return (doc === undefined ? null : JSON.parse(JSON.stringify(doc))) as JsonValue;
}

const base64Re = /^[A-Za-z0-9+/]*={0,2}$/;

/** base64.StdEncoding.DecodeString: strict padding; CR/LF ignored. */
export function base64Decode(args: JsonValue[]): JsonValue {
  const s = (args[0] as string).replace(/[\r\n]/g, '');
  if (!base64Re.test(s) || s.length % 4 !== 0) {
    let bad = s.search(/[^A-Za-z0-9+/=]/);
    if (bad < 0) bad = s.length - (s.length % 4 || 4);
    throw new Error(`illegal base64 data at input byte ${bad}`);
  }
  return Buffer.from(s, 'base64').toString('utf8');
}

export function base64Encode(args: JsonValue[]): JsonValue {
  return Buffer.from(args[0] as string, 'utf8').toString('base64');
}

/** Hex digest of the string's UTF-8 bytes. */
export function sha256(args: JsonValue[]): JsonValue {
  return createHash('sha256').update(args[0] as string, 'utf8').digest('hex');
}

export function sha1(args: JsonValue[]): JsonValue {
  return createHash('sha1').update(args[0] as string, 'utf8').digest('hex');
}

export function md5(args: JsonValue[]): JsonValue {
  return createHash('md5').update(args[0] as string, 'utf8').digest('hex');
}

/**
 * is_external_url(url): true for an http(s) URL whose host is neither a
 * loopback/private/link-local address nor a cluster-local name.
 */
export function isExternalUrl(args: JsonValue[]): JsonValue {
  let url: URL;
  try {
    url = new URL(args[0] as string);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === '' || host === 'localhost' || host.endsWith('.localhost')) return false;
  if (host.endsWith('.svc') || host.endsWith('.cluster.local') || !host.includes('.') && isIP(host) === 0) return false;
  const v = isIP(host);
  if (v === 4) {
    const [a, b] = host.split('.').map(Number) as [number, number];
    if (a === 10 || a === 127 || a === 0 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return false;
  } else if (v === 6) {
    if (host === '::1' || host === '::' || /^f[cd]/.test(host) || /^fe[89ab]/.test(host)) return false;
  }
  return true;
}

// ---- semver_compare (blang/semver v4 ranges) ----

type Comparator = (v: SemVer) => boolean;

/** One `<op><version>` term; `x` wildcards expand like blang's ParseRange. */
function parseComparator(term: string): Comparator[] {
  const m = /^(>=|<=|!=|==|=|>|<|!)?(.*)$/.exec(term)!;
  const op = m[1] ?? '';
  const raw = m[2]!;
  const parts = raw.split('.');
  const wildAt = parts.findIndex((p) => p === 'x' || p === 'X' || p === '*');
  if (wildAt >= 0) {
    if (wildAt === 0) throw new Error(`Could not get version from string: "${term}"`);
    const nums = parts.slice(0, wildAt).map(Number);
    while (nums.length < 3) nums.push(0);
    const low: SemVer = { major: nums[0]!, minor: nums[1]!, patch: nums[2]!, pre: [] };
    const high: SemVer = wildAt === 1
      ? { major: low.major + 1, minor: 0, patch: 0, pre: [] }
      : { major: low.major, minor: low.minor + 1, patch: 0, pre: [] };
    switch (op) {
      case '': case '=': case '==': return [(v) => compareSemver(v, low) >= 0, (v) => compareSemver(v, high) < 0];
      case '!': case '!=': return [(v) => compareSemver(v, low) < 0 || compareSemver(v, high) >= 0];
      case '>': return [(v) => compareSemver(v, high) >= 0];
      case '>=': return [(v) => compareSemver(v, low) >= 0];
      case '<': return [(v) => compareSemver(v, low) < 0];
      case '<=': return [(v) => compareSemver(v, high) < 0];
    }
  }
  const target = parseSemver(raw);
  if (!target) throw new Error(`Could not parse Range "${term}"`);
  switch (op) {
    case '': case '=': case '==': return [(v) => compareSemver(v, target) === 0];
    case '!': case '!=': return [(v) => compareSemver(v, target) !== 0];
    case '>': return [(v) => compareSemver(v, target) > 0];
    case '>=': return [(v) => compareSemver(v, target) >= 0];
    case '<': return [(v) => compareSemver(v, target) < 0];
    default: return [(v) => compareSemver(v, target) <= 0];
  }
}

const rangeCache = new Map<string, Comparator[][]>();

function parseRange(range: string): Comparator[][] {
  const hit = rangeCache.get(range);
  if (hit) return hit;
  const alternatives = range.split('||').map((alt) => {
    // "> 1.0.0" is written with a space after the operator; glue it back
    const terms = alt.trim().replace(/(>=|<=|!=|==|=|>|<|!)\s+/g, '$1').split(/\s+/).filter(Boolean);
    if (terms.length === 0) throw new Error(`Could not parse Range "${range}"`);
    return terms.flatMap(parseComparator);
  });
  if (rangeCache.size < 1000) rangeCache.set(range, alternatives);
  return alternatives;
}

/** semver_compare(version, range); an unparsable version counts as 0.0.0, like Kyverno. */
export function semverCompare(args: JsonValue[]): JsonValue {
  const version = parseSemver(args[0] as string) ?? { major: 0, minor: 0, patch: 0, pre: [] };
  return parseRange(args[1] as string).some((all) => all.every((c) => c(version)));
}

// ---- random(pattern): a string matching a small regex subset, like goregen ----

const MAX_REPEAT = 10;

export function random(args: JsonValue[]): JsonValue {
  const pattern = args[0] as string;
  if (pattern === '') throw new Error('no pattern provided');
  if (pattern.length > 1024) throw functionError('random', 'pattern too long');
  const g = new RegexGenerator(pattern);
  return g.generate();
}

class RegexGenerator {
  private pos = 0;
  private readonly p: string;
  constructor(p: string) { this.p = p; }

  generate(): string {
    const out = this.alternation();
    if (this.pos < this.p.length) throw new Error(`error parsing regexp: unexpected ): \`${this.p}\``);
    return out;
  }

  private alternation(): string {
    // every branch is parsed (to consume it); one is kept at random
    const results: string[] = [this.sequence()];
    while (this.p[this.pos] === '|') {
      this.pos++;
      results.push(this.sequence());
    }
    return results[randomInt(results.length)]!;
  }

  private sequence(): string {
    let out = '';
    while (this.pos < this.p.length && this.p[this.pos] !== '|' && this.p[this.pos] !== ')') {
      const atom = this.atom();
      const [min, max] = this.quantifier();
      const count = min + randomInt(max - min + 1);
      for (let i = 0; i < count; i++) out += atom();
    }
    return out;
  }

  private quantifier(): [number, number] {
    const c = this.p[this.pos];
    if (c === '*') { this.pos++; this.lazy(); return [0, MAX_REPEAT]; }
    if (c === '+') { this.pos++; this.lazy(); return [1, MAX_REPEAT]; }
    if (c === '?') { this.pos++; this.lazy(); return [0, 1]; }
    if (c === '{') {
      const m = /^\{([0-9]+)(,([0-9]*))?\}/.exec(this.p.slice(this.pos));
      if (m) {
        this.pos += m[0].length;
        this.lazy();
        const min = Number(m[1]);
        const max = m[2] === undefined ? min : m[3] === '' ? min + MAX_REPEAT : Number(m[3]);
        if (max < min || max > 1000) throw new Error(`error parsing regexp: invalid repeat count: \`${m[0]}\``);
        return [min, max];
      }
    }
    return [1, 1];
  }

  private lazy(): void {
    if (this.p[this.pos] === '?') this.pos++;
  }

  /** Parses one atom and returns a generator for it. */
  private atom(): () => string {
    const c = this.p[this.pos]!;
    if (c === '(') {
      this.pos++;
      if (this.p.startsWith('?:', this.pos)) this.pos += 2;
      else if (this.p.startsWith('?P<', this.pos) || this.p.startsWith('?<', this.pos)) this.pos = this.p.indexOf('>', this.pos) + 1;
      const start = this.pos;
      this.alternation();
      if (this.p[this.pos] !== ')') throw new Error(`error parsing regexp: missing closing ): \`${this.p}\``);
      const end = this.pos;
      this.pos++;
      const sub = this.p.slice(start, end);
      return () => new RegexGenerator(sub).generate();
    }
    if (c === '[') return this.charClass();
    if (c === '.') { this.pos++; return () => String.fromCharCode(32 + randomInt(95)); }
    if (c === '^' || c === '$') { this.pos++; return () => ''; }
    if (c === '\\') {
      const n = this.p[this.pos + 1] ?? '';
      this.pos += 2;
      const set = escapeSet(n);
      if (set) return () => set[randomInt(set.length)]!;
      return () => n;
    }
    this.pos++;
    return () => c;
  }

  private charClass(): () => string {
    this.pos++;
    let negate = false;
    if (this.p[this.pos] === '^') { negate = true; this.pos++; }
    const chars = new Set<string>();
    let first = true;
    while (this.pos < this.p.length && (this.p[this.pos] !== ']' || first)) {
      first = false;
      let ch = this.p[this.pos]!;
      if (ch === '\\') {
        const n = this.p[this.pos + 1] ?? '';
        this.pos += 2;
        const set = escapeSet(n);
        if (set) { for (const s of set) chars.add(s); continue; }
        ch = n;
      } else {
        this.pos++;
      }
      if (this.p[this.pos] === '-' && this.p[this.pos + 1] !== ']' && this.pos + 1 < this.p.length) {
        const to = this.p[this.pos + 1]!;
        this.pos += 2;
        const a = ch.charCodeAt(0), b = to.charCodeAt(0);
        if (b < a) throw new Error(`error parsing regexp: invalid character class range: \`${ch}-${to}\``);
        for (let x = a; x <= b && x - a < 65536; x++) chars.add(String.fromCharCode(x));
      } else {
        chars.add(ch);
      }
    }
    if (this.p[this.pos] !== ']') throw new Error(`error parsing regexp: missing closing ]: \`${this.p}\``);
    this.pos++;
    let pool = [...chars];
    if (negate) {
      pool = [];
      for (let x = 32; x < 127; x++) if (!chars.has(String.fromCharCode(x))) pool.push(String.fromCharCode(x));
    }
    if (pool.length === 0) return () => '';
    return () => pool[randomInt(pool.length)]!;
  }
}

function escapeSet(n: string): string[] | undefined {
  const range = (a: string, b: string) => Array.from({ length: b.charCodeAt(0) - a.charCodeAt(0) + 1 }, (_, i) => String.fromCharCode(a.charCodeAt(0) + i));
  switch (n) {
    case 'd': return range('0', '9');
    case 'w': return [...range('a', 'z'), ...range('A', 'Z'), ...range('0', '9'), '_'];
    case 's': return [' ', '\t'];
    default: return undefined;
  }
}
