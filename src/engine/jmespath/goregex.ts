/**
 * User regexes written for Go's RE2 (regex_match, regex_replace_all…).
 * They are translated to JavaScript syntax once, compiled once (bounded
 * cache) and — where V8 allows — run on V8's linear-time engine (the `l`
 * flag), which has the same restrictions as RE2 (no backreferences, no
 * lookaround) and cannot backtrack catastrophically. Patterns the linear
 * engine rejects are compiled normally but only below a length cap.
 */
import v8 from 'node:v8';

const MAX_PATTERN_LENGTH = 4096;
const MAX_BACKTRACKING_PATTERN_LENGTH = 256;
const CACHE_LIMIT = 2000;

let linearFlag = '';
try {
  // Process-wide V8 switch that only makes the opt-in `l` flag available.
  v8.setFlagsFromString('--enable-experimental-regexp-engine');
  new RegExp('a', 'l');
  linearFlag = 'l';
} catch {
  linearFlag = '';
}

export class GoRegexError extends Error {}

const posixClasses: Record<string, string> = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9', graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ', upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};

/** Rewrite the RE2-only syntax that JavaScript spells differently. */
export function translateGoRegex(pattern: string): { source: string; flags: string } {
  let src = pattern;
  let flags = '';
  // leading flag group such as (?i) or (?is)
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === 'U') throw new GoRegexError('error parsing regexp: ungreedy flag (?U) is not supported');
      if (!flags.includes(f)) flags += f;
    }
    src = src.slice(lead[0].length);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const n = src[i + 1];
      if (n === undefined) throw new GoRegexError('error parsing regexp: trailing backslash at end of expression: ``');
      if (/[1-9k]/.test(n) && !inClass) throw new GoRegexError(`error parsing regexp: invalid escape sequence: \`\\${n}\``);
      if ((n === 'p' || n === 'P') && src[i + 2] !== '{' && src[i + 2] !== undefined) {
        // Go's one-letter class \pL is \p{L} in JavaScript
        out += `\\${n}{${src[i + 2]}}`;
        i += 2;
        continue;
      }
      // without the m flag JavaScript's ^ and $ already mean start and end of text
      if (n === 'z' && !inClass) { out += flags.includes('m') ? '(?![\\s\\S])' : '$'; i++; continue; }
      if (n === 'A' && !inClass) { out += flags.includes('m') ? '(?<![\\s\\S])' : '^'; i++; continue; }
      if (n === 'Q') {
        const end = src.indexOf('\\E', i + 2);
        const lit = end === -1 ? src.slice(i + 2) : src.slice(i + 2, end);
        out += lit.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
        i = end === -1 ? src.length : end + 1;
        continue;
      }
      out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === '[' && src[i + 1] === ':') {
        const end = src.indexOf(':]', i + 2);
        const name = end === -1 ? '' : src.slice(i + 2, end);
        const negated = name.startsWith('^');
        const cls = posixClasses[negated ? name.slice(1) : name];
        if (cls && !negated) { out += cls; i = end + 1; continue; }
      }
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // a leading ']' (or '^]') is a literal in RE2
      if (src[i + 1] === '^') { out += '^'; i++; }
      if (src[i + 1] === ']') { out += '\\]'; i++; }
      continue;
    }
    if (c === '(' && src.startsWith('(?P<', i)) { out += '(?<'; i += 3; continue; }
    if (c === '(' && /^\(\?(?:=|!|<=|<!)/.test(src.slice(i, i + 4))) {
      throw new GoRegexError(`error parsing regexp: invalid or unsupported Perl syntax: \`${src.slice(i, src[i + 2] === '<' ? i + 4 : i + 3)}\``);
    }
    out += c;
  }
  return { source: out, flags };
}

const cache = new Map<string, RegExp>();

/** Compile (once) a Go regex; the returned RegExp is global — reset lastIndex before use. */
export function compileGoRegex(pattern: string): RegExp {
  const hit = cache.get(pattern);
  if (hit) return hit;
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new GoRegexError(`error parsing regexp: expression too large (limit ${MAX_PATTERN_LENGTH} characters)`);
  }
  const { source, flags } = translateGoRegex(pattern);
  const unicode = /\\[pP]/.test(source) ? 'u' : '';
  let re: RegExp | undefined;
  if (linearFlag) {
    try { re = new RegExp(source, flags + unicode + 'g' + linearFlag); } catch { re = undefined; }
  }
  if (!re) {
    if (linearFlag && pattern.length > MAX_BACKTRACKING_PATTERN_LENGTH) {
      throw new GoRegexError(`error parsing regexp: expression cannot be run in linear time: \`${pattern}\``);
    }
    try { re = new RegExp(source, flags + unicode + 'g'); } catch (e) {
      throw new GoRegexError(`error parsing regexp: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`);
    }
  }
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(pattern, re);
  return re;
}

export function goRegexTest(pattern: string, input: string): boolean {
  const re = compileGoRegex(pattern);
  re.lastIndex = 0;
  const ok = re.test(input);
  re.lastIndex = 0;
  return ok;
}

/**
 * Regexp.ReplaceAllString template expansion: `$1`, `${1}`, `$name`, `${name}`,
 * `$$`. A name is the longest run of letters, digits and underscores, so `$1x`
 * refers to the (missing) group "1x" and expands to nothing, as in Go.
 */
function expandTemplate(template: string, match: RegExpExecArray): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '$') { out += c; continue; }
    const next = template[i + 1];
    if (next === '$') { out += '$'; i++; continue; }
    let name: string | undefined;
    let end = i;
    if (next === '{') {
      const close = template.indexOf('}', i + 2);
      const candidate = close === -1 ? '' : template.slice(i + 2, close);
      if (/^[A-Za-z0-9_]+$/.test(candidate)) { name = candidate; end = close; }
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
      if (m) { name = m[0]; end = i + m[0].length; }
    }
    if (name === undefined) { out += '$'; continue; }
    i = end;
    if (/^[0-9]+$/.test(name)) out += match[Number(name)] ?? '';
    else out += match.groups?.[name] ?? '';
  }
  return out;
}

export function goRegexReplaceAll(pattern: string, src: string, repl: string, literal: boolean): string {
  const re = compileGoRegex(pattern);
  re.lastIndex = 0;
  let out = '';
  let last = 0;
  let prevEnd = -1;
  let m: RegExpExecArray | null;
  while ((m = re.exec(src)) !== null) {
    // Go ignores an empty match abutting the previous match
    const skip = m[0].length === 0 && m.index === prevEnd;
    if (!skip) out += src.slice(last, m.index) + (literal ? repl : expandTemplate(repl, m));
    else out += src.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[0].length > 0) prevEnd = last;
    if (m[0].length === 0) {
      // Go advances one character past an empty match
      if (re.lastIndex >= src.length) break;
      out += src[re.lastIndex]!;
      last = ++re.lastIndex;
    }
  }
  re.lastIndex = 0;
  return out + src.slice(last);
}
