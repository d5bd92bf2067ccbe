/**
 * JSON ⇄ CEL value conversion. Kubernetes objects reach CEL with integers as
 * CEL `int` (bigint) and other numbers as `double`, objects as maps, so
 * `object.spec.replicas > 1` compares ints as in Kubernetes' CEL.
 */
import { celList, isCelList, isCelMap, isCelUint, isCelType, type CelInput, type CelMap, type CelValue } from '@bufbuild/cel';
import type { JsonValue } from '../engine/types.ts';
import { opaqueNameOf, unwrap } from './opaque.ts';
import type { OptionalPayload } from './optional.ts';

export function toCelInput(v: JsonValue | undefined): CelInput {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) ? BigInt(v) : v;
    case 'string':
    case 'boolean':
      return v;
  }
  if (Array.isArray(v)) return v.map(toCelInput);
  return new JsonCelMap(v) as unknown as CelMap;
}

// @bufbuild/cel recognises its maps by this registered symbol.
const CEL_MAP = Symbol.for('@bufbuild/cel/map');

/**
 * A JSON object as a CEL map. Converts (and memoises) only the entries an
 * expression reads, since policies touch a few fields of large objects; and
 * unlike a converted native map, a key holding `null` is present, so
 * `has(x.k)` and `'k' in x` answer as in cel-go.
 */
class JsonCelMap {
  readonly [CEL_MAP] = {};
  private readonly src: { [k: string]: JsonValue };
  private memo: Map<string, CelValue> | undefined;
  constructor(src: { [k: string]: JsonValue }) {
    this.src = src;
  }
  get size(): number {
    let n = 0;
    for (const k in this.src) if (this.src[k] !== undefined) n++;
    return n;
  }
  has(key: unknown): boolean {
    return typeof key === 'string' && Object.prototype.hasOwnProperty.call(this.src, key) && this.src[key] !== undefined;
  }
  get(key: unknown): CelValue | undefined {
    if (!this.has(key)) return undefined;
    const k = key as string;
    this.memo ??= new Map();
    let v = this.memo.get(k);
    if (v === undefined) {
      const x = toCelInput(this.src[k]);
      v = (Array.isArray(x) ? celList(x) : x) as CelValue;
      this.memo.set(k, v);
    }
    return v;
  }
  *keys(): IterableIterator<string> {
    for (const k in this.src) if (this.src[k] !== undefined) yield k;
  }
  *entries(): IterableIterator<[string, CelValue]> {
    for (const k of this.keys()) yield [k, this.get(k)!];
  }
  *values(): IterableIterator<CelValue> {
    for (const k of this.keys()) yield this.get(k)!;
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  forEach(cb: (v: CelValue, k: string, m: unknown) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) cb.call(thisArg, v, k, this);
  }
}

/** A CEL result as JSON (opaque values become their canonical string). */
export function toJson(v: CelValue | unknown): JsonValue {
  switch (typeof v) {
    case 'bigint':
      return Number(v);
    case 'number':
    case 'string':
    case 'boolean':
      return v;
    case 'undefined':
      return null;
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (isCelUint(v)) return Number(v.value);
  if (isCelList(v)) return [...v].map(toJson);
  if (isCelMap(v)) {
    const o: { [k: string]: JsonValue } = {};
    for (const [k, x] of v) o[String(isCelUint(k) ? k.value : k)] = toJson(x);
    return o;
  }
  if (isCelType(v)) return String(v);
  const opaque = opaqueNameOf(v);
  if (opaque === 'Optional') {
    const p = unwrap<OptionalPayload>('Optional', v);
    return p && p.present ? toJson(p.value) : null;
  }
  if (opaque) {
    const p = unwrap<{ toString(): string }>(opaque, v);
    return p === undefined ? null : String(p);
  }
  if (v instanceof Map) {
    const o: { [k: string]: JsonValue } = {};
    for (const [k, x] of v) o[String(k)] = toJson(x);
    return o;
  }
  if (Array.isArray(v)) return v.map(toJson);
  return String(v);
}

/** Render a value the way Go's `%v`-ish CEL string conversion users see in messages. */
export function celToString(v: CelValue): string {
  const j = toJson(v);
  return typeof j === 'string' ? j : JSON.stringify(j);
}

/** Whether `f` runs without throwing (the `isIP` / `isSemver` style predicates). */
export function succeeds(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch {
    return false;
  }
}
