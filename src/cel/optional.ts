/**
 * CEL optional types (`a.?b`, `m[?k]`, optional.of/none, orValue, hasValue…).
 * The parser of @bufbuild/cel has no optional syntax, so compile rewrites the
 * source first: `x.?f` becomes `x._pcOptSel("f")`, `x[?k]` becomes
 * `x._pcOptIdx(k)`, and plain selections/indexes that follow in the same chain
 * stay optional (as cel-go does once a chain is optional). The rewrite keeps
 * offset anchors so parse errors still point into the user's text.
 */
import { CelScalar, celFunc, celMethod, isCelList, isCelMap, type CelFunc, type CelValue } from '@bufbuild/cel';
import { opaqueType, unwrap, wrap } from './opaque.ts';

export interface OptionalPayload {
  present: boolean;
  value?: CelValue;
}

const OPT = opaqueType('Optional');
export const NONE = wrap('Optional', { present: false } satisfies OptionalPayload, '');
export function some(value: CelValue) {
  return wrap('Optional', { present: true, value } satisfies OptionalPayload, '+');
}
function payload(v: unknown): OptionalPayload | undefined {
  return unwrap<OptionalPayload>('Optional', v);
}

function isZero(v: CelValue): boolean {
  if (v === null || v === false || v === '' || v === 0 || v === 0n) return true;
  if (isCelList(v) || isCelMap(v)) return v.size === 0;
  if (v instanceof Uint8Array) return v.length === 0;
  return false;
}

/**
 * `explicit`: a `.?`/`[?]` step (null operand → none); otherwise a plain step
 * later in an optional chain (a present null operand is an error, per spec).
 */
function select(target: CelValue, key: CelValue, explicit: boolean): CelValue {
  const p = payload(target);
  if (p) {
    if (!p.present) return NONE;
    target = p.value!;
  }
  if (target === null) {
    if (explicit) return NONE;
    throw new Error(`no such key: ${String(key)}`);
  }
  if (isCelMap(target)) {
    const k = typeof key === 'number' && Number.isInteger(key) ? BigInt(key) : key;
    const v = target.get(k as string);
    return v === undefined ? NONE : some(v);
  }
  if (isCelList(target)) {
    const i = typeof key === 'bigint' ? Number(key) : typeof key === 'number' ? key : NaN;
    if (!Number.isInteger(i) || i < 0 || i >= target.size) return NONE;
    return some(target.get(i)!);
  }
  throw new Error(`no such key: ${String(key)}`);
}

export const optionalFuncs: CelFunc[] = [
  celFunc('optional.of', [CelScalar.DYN], OPT, (v) => some(v)),
  celFunc('optional.none', [], OPT, () => NONE),
  celFunc('optional.ofNonZeroValue', [CelScalar.DYN], OPT, (v) => (isZero(v) ? NONE : some(v))),
  celMethod('hasValue', OPT, [], CelScalar.BOOL, function () {
    return payload(this)!.present;
  }),
  celMethod('value', OPT, [], CelScalar.DYN, function () {
    const p = payload(this)!;
    if (!p.present) throw new Error('optional.none() dereference');
    return p.value!;
  }),
  celMethod('orValue', OPT, [CelScalar.DYN], CelScalar.DYN, function (d) {
    const p = payload(this)!;
    return p.present ? p.value! : d;
  }),
  celMethod('or', OPT, [OPT], OPT, function (o) {
    return payload(this)!.present ? this : o;
  }),
  // Lenient forms some library policies rely on: a plain (non-optional) value is treated as present.
  celMethod('orValue', CelScalar.DYN, [CelScalar.DYN], CelScalar.DYN, function () {
    return this;
  }),
  celMethod('hasValue', CelScalar.DYN, [], CelScalar.BOOL, function () {
    return true;
  }),
  celMethod('_pcOptSel', CelScalar.DYN, [CelScalar.STRING], CelScalar.DYN, function (k) {
    return select(this, k, true);
  }),
  celMethod('_pcOptIdx', CelScalar.DYN, [CelScalar.DYN], CelScalar.DYN, function (k) {
    return select(this, k, true);
  }),
  celMethod('_pcChainSel', CelScalar.DYN, [CelScalar.STRING], CelScalar.DYN, function (k) {
    return select(this, k, false);
  }),
  celMethod('_pcChainIdx', CelScalar.DYN, [CelScalar.DYN], CelScalar.DYN, function (k) {
    return select(this, k, false);
  }),
];

export interface Rewritten {
  text: string;
  /** Map an offset in `text` back to the user's source. */
  toSource(offset: number): number;
}

const identStart = /[A-Za-z_]/;
const identChar = /[A-Za-z0-9_]/;

/** Rewrite optional syntax into method calls the parser accepts. */
export function rewriteOptionalSyntax(src: string): Rewritten {
  if (!src.includes('.?') && !src.includes('[?')) return { text: src, toSource: (o) => o };
  let out = '';
  const anchors: [number, number][] = [[0, 0]];
  const stack: boolean[] = []; // true = optional index bracket
  let chainOpt = false;
  let i = 0;
  const emit = (s: string, nextIn: number) => {
    out += s;
    anchors.push([out.length, nextIn]);
  };
  const lastSignificant = () => {
    for (let j = out.length - 1; j >= 0; j--) if (!/\s/.test(out[j]!)) return out[j]!;
    return '';
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === '"' || c === "'") {
      const raw = /[rR]/.test(src[i - 1] ?? '') && !identChar.test(src[i - 2] ?? '') || /[rR]/.test(src[i - 1] ?? '') && /[bB]/.test(src[i - 2] ?? '');
      const triple = src.startsWith(c.repeat(3), i);
      const q = triple ? c.repeat(3) : c;
      let j = i + q.length;
      while (j < src.length && !src.startsWith(q, j)) j += !raw && src[j] === '\\' ? 2 : 1;
      j = Math.min(src.length, j + q.length);
      out += src.slice(i, j);
      i = j;
      chainOpt = false;
      continue;
    }
    if (/\s/.test(c)) {
      out += c;
      i++;
      continue;
    }
    if (c === '.') {
      let j = i + 1;
      const optional = src[j] === '?';
      if (optional) j++;
      while (j < src.length && /\s/.test(src[j]!)) j++;
      if (identStart.test(src[j] ?? '')) {
        let k = j;
        while (k < src.length && identChar.test(src[k]!)) k++;
        let after = k;
        while (after < src.length && /\s/.test(src[after]!)) after++;
        const isCall = src[after] === '(';
        if (!isCall && (optional || chainOpt)) {
          emit(`.${optional ? '_pcOptSel' : '_pcChainSel'}(${JSON.stringify(src.slice(j, k))})`, k);
          i = k;
          chainOpt = true;
          continue;
        }
        out += src.slice(i, k);
        i = k;
        chainOpt = false;
        continue;
      }
      out += c;
      i++;
      chainOpt = false;
      continue;
    }
    if (c === '[') {
      const prev = lastSignificant();
      const indexing = prev !== '' && (identChar.test(prev) || prev === ')' || prev === ']' || prev === '"' || prev === "'");
      const optional = src[i + 1] === '?';
      if (indexing && (optional || chainOpt)) {
        stack.push(true);
        emit(optional ? '._pcOptIdx(' : '._pcChainIdx(', i + (optional ? 2 : 1));
        i += optional ? 2 : 1;
      } else {
        stack.push(false);
        out += c;
        i++;
      }
      chainOpt = false;
      continue;
    }
    if (c === ']') {
      const opt = stack.pop() ?? false;
      emit(opt ? ')' : ']', i + 1);
      i++;
      chainOpt = opt;
      continue;
    }
    out += c;
    i++;
    chainOpt = false;
  }
  return {
    text: out,
    toSource(offset) {
      let best: [number, number] = [0, 0];
      for (const a of anchors) if (a[0] <= offset) best = a;
      return Math.min(src.length, best[1] + (offset - best[0]));
    },
  };
}
