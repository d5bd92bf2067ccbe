/**
 * Kyverno preconditions and deny conditions (pkg/engine/variables/operator):
 * `{any: […], all: […]}` blocks, a list of such blocks, or the legacy plain
 * list of conditions (= all). Keys and values are substituted lazily, so a
 * condition `any` never reaches is never resolved — as in Kyverno.
 *
 * Evaluation result: `{ passed, message }`; like Kyverno, `message` joins the
 * non-empty `message` fields of the conditions that failed the block (when
 * not passed) or of the conditions that were true (when passed).
 * An unknown operator fails evaluation with an Error (Kyverno: rule error).
 * Substitution failures throw VariableError worded like Kyverno
 * ("failed to substitute variables in condition key: failed to resolve …");
 * Kyverno reports those as rule status `error` (preconditions: "failed to
 * evaluate preconditions: …", deny: "failed to check deny conditions: …").
 */
import type { JsonObject, JsonValue } from './types.ts';
import { compileTemplate, VariableError, type ContextData, type Template } from './variables.ts';
import { matchWildcard } from './wildcard.ts';
import { goSprint } from './jmespath/gofmt.ts';
import { parseGoDuration } from './jmespath/goduration.ts';
import { compareQuantities, parseGoQuantity } from './jmespath/goquantity.ts';
import { compareSemver, parseSemver } from './semver.ts';

export interface Condition {
  key?: JsonValue;
  operator: string;
  value?: JsonValue;
  message?: string;
}

export interface AnyAllConditions {
  any?: Condition[];
  all?: Condition[];
}

export type ConditionBlock = AnyAllConditions | Condition[] | AnyAllConditions[];

export interface ConditionResult {
  passed: boolean;
  /** Condition messages: of the failing conditions, or of the true ones when passed. */
  message?: string;
}

export type CompiledConditions = (data: ContextData) => ConditionResult;

// ---- operators ----------------------------------------------------------------

type OperatorFn = (key: JsonValue, value: JsonValue) => boolean;

const isObject = (v: JsonValue): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function deepEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]!));
  }
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  return ak.every((k) => Object.hasOwn(b, k) && deepEqual(a[k]!, b[k]!));
}

const goFloatRe = /^[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)$/i;

/** strconv.ParseFloat (decimal forms). */
function parseGoFloat(s: string): number | undefined {
  if (!goFloatRe.test(s)) return undefined;
  const lower = s.toLowerCase().replace(/^\+/, '');
  if (lower === 'nan') return NaN;
  if (/^-?inf/.test(lower)) return lower.startsWith('-') ? -Infinity : Infinity;
  return Number(s);
}

/** Go: time.Duration(float64) × time.Second — the float is truncated to whole seconds. */
const secondsToNs = (n: number): bigint => BigInt(Math.trunc(n)) * 1_000_000_000n;

/**
 * Kyverno's parseDuration(key, value): at least one side must be a duration
 * string (other than "0"); the other may be a number of seconds.
 */
function durationPair(key: JsonValue, value: JsonValue): [bigint, bigint] | undefined {
  const asDuration = (v: JsonValue) => (typeof v === 'string' && v !== '0' ? parseGoDuration(v) : undefined);
  let k = asDuration(key);
  let v = asDuration(value);
  if (k === undefined && v === undefined) return undefined;
  if (k === undefined) {
    if (typeof key !== 'number' || !Number.isFinite(key)) return undefined;
    k = secondsToNs(key);
  }
  if (v === undefined) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
    v = secondsToNs(value);
  }
  return [k, v];
}

function equalString(key: string, value: JsonValue): boolean {
  const d = durationPair(key, value);
  if (d) return d[0] === d[1];
  const kq = parseGoQuantity(key);
  if (kq && typeof value === 'string') {
    const vq = parseGoQuantity(value);
    return vq ? compareQuantities(kq, vq) === 0 : false;
  }
  return typeof value === 'string' ? matchWildcard(value, key) : false;
}

function equals(key: JsonValue, value: JsonValue): boolean {
  if (typeof key === 'boolean') return typeof value === 'boolean' && key === value;
  if (typeof key === 'number') {
    if (typeof value === 'number') return key === value;
    if (typeof value === 'string') {
      const f = parseGoFloat(value);
      return f !== undefined && f === key;
    }
    return false;
  }
  if (typeof key === 'string') return equalString(key, value);
  if (Array.isArray(key)) return Array.isArray(value) && deepEqual(key, value);
  if (isObject(key)) return isObject(value) && deepEqual(key, value);
  return false;
}

type Cmp = (c: number) => boolean;

function numericFromNumber(key: number, value: JsonValue, cmp: Cmp): boolean {
  if (typeof value === 'number') return cmp(Math.sign(key - value));
  if (typeof value === 'string') {
    const d = durationPair(key, value);
    if (d) return cmp(d[0] === d[1] ? 0 : d[0] < d[1] ? -1 : 1);
    const f = parseGoFloat(value);
    return f !== undefined ? cmp(Math.sign(key - f)) : false;
  }
  return false;
}

/**
 * GreaterThan & co on a string key, in Kyverno's order: durations, then resource
 * quantities (both sides strings: "1025" > "1Ki"), then numbers, then semantic
 * versions ("1.5.5" > "1.5.0").
 */
function numeric(cmp: Cmp): OperatorFn {
  return (key, value) => {
    if (typeof key === 'number') return numericFromNumber(key, value, cmp);
    if (typeof key !== 'string') return false;
    const d = durationPair(key, value);
    if (d) return cmp(d[0] === d[1] ? 0 : d[0] < d[1] ? -1 : 1);
    if (typeof value === 'string') {
      const kq = parseGoQuantity(key);
      const vq = kq ? parseGoQuantity(value) : undefined;
      if (kq && vq) return cmp(compareQuantities(kq, vq));
    }
    const f = parseGoFloat(key);
    if (f !== undefined) return numericFromNumber(f, value, cmp);
    const kv = parseSemver(key);
    const vv = kv && typeof value === 'string' ? parseSemver(value) : undefined;
    return kv && vv ? cmp(Math.sign(compareSemver(kv, vv))) : false;
  };
}

/** Deprecated Duration* operators: numbers are whole seconds, strings Go durations. */
function durationOp(cmp: Cmp): OperatorFn {
  const toNs = (v: JsonValue): bigint | undefined =>
    typeof v === 'number' ? secondsToNs(v) : typeof v === 'string' ? parseGoDuration(v) : undefined;
  return (key, value) => {
    if (typeof key !== 'number' && typeof key !== 'string') return false;
    const k = toNs(key), v = toNs(value);
    if (k === undefined || v === undefined) return false;
    return cmp(k === v ? 0 : k < v ? -1 : 1);
  };
}

// -- In family --

const rangeRe = /^([-|+]?\d+(?:\.\d+)?[A-Za-z]*)(!?)-([-|+]?\d+(?:\.\d+)?[A-Za-z]*)$/;

/** A value such as "1-10" or "100Mi-1Gi" (operator InRange), or "1!-10" (NotInRange). */
function parseRange(s: string): { lo: string; hi: string; not: boolean } | undefined {
  if (s.length < 2 || /^[<>!]/.test(s)) return undefined;
  const m = rangeRe.exec(s);
  return m ? { lo: m[1]!.replace('|', ''), hi: m[3]!.replace('|', ''), not: m[2] === '!' } : undefined;
}

/** Kyverno's pattern check of a key against a (Not)InRange pattern, bounds inclusive. */
function inRange(key: string, range: { lo: string; hi: string; not: boolean }): boolean {
  const k = parseGoQuantity(key), lo = parseGoQuantity(range.lo), hi = parseGoQuantity(range.hi);
  if (!k || !lo || !hi) return false;
  const inside = compareQuantities(k, lo) >= 0 && compareQuantities(k, hi) <= 0;
  return range.not ? !inside : inside;
}

const wildMatch = (a: string, b: string): boolean => matchWildcard(a, b) || matchWildcard(b, a);

/** A string value is an exact match, a range, a JSON array of strings, or a single item. */
type StringValue = { kind: 'range'; range: { lo: string; hi: string; not: boolean } } | { kind: 'list'; items: string[] } | { kind: 'invalid' };

function stringValue(value: string): StringValue {
  const range = parseRange(value);
  if (range && !range.not) return { kind: 'range', range };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return { kind: 'list', items: [value] };
  }
  if (parsed === null) return { kind: 'list', items: [] };
  if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return { kind: 'list', items: parsed };
  return { kind: 'invalid' };
}

type Quantifier = 'any' | 'all';

/**
 * AnyIn / AllIn / AnyNotIn / AllNotIn. Scalars are compared as Go's fmt.Sprint
 * text, wildcards match in either direction.
 */
function setOperator(mode: Quantifier, negate: boolean): OperatorFn {
  return (key, value) => {
    let keys: string[];
    let single = false;
    if (typeof key === 'string' || typeof key === 'number' || typeof key === 'boolean') {
      keys = [goSprint(key)];
      single = true;
    } else if (Array.isArray(key)) {
      keys = key.map(goSprint);
    } else {
      return false;
    }
    let matches: (k: string) => boolean;
    if (Array.isArray(value)) {
      const items = value.map(goSprint);
      matches = (k) => items.some((v) => wildMatch(k, v));
    } else if (typeof value === 'string') {
      if (keys.length === 1 && (single ? matchWildcard(value, keys[0]!) : keys[0] === value)) return !negate;
      const sv = stringValue(value);
      if (sv.kind === 'invalid') return false;
      if (sv.kind === 'range') {
        const r = sv.range;
        matches = (k) => inRange(k, r);
      } else {
        const items = sv.items;
        // a single key is compared exactly with the items of a string value
        matches = single ? (k) => items.includes(k) : (k) => items.some((v) => wildMatch(k, v));
      }
    } else {
      return false;
    }
    if (!negate) return mode === 'any' ? keys.some(matches) : keys.every(matches);
    // AnyNotIn: some key matches nothing; AllNotIn: no key matches anything
    return mode === 'any' ? keys.some((k) => !matches(k)) : !keys.some(matches);
  };
}

/** Deprecated In / NotIn: the key is the wildcard pattern; arrays need an exact subset. */
function legacyIn(negate: boolean): OperatorFn {
  return (key, value) => {
    if (Array.isArray(key)) {
      if (!key.every((k) => typeof k === 'string')) return false;
      const keys = key as string[];
      let set: string[];
      if (Array.isArray(value)) {
        if (!value.every((v) => typeof v === 'string')) return false;
        set = value as string[];
      } else if (typeof value === 'string') {
        if (keys.length === 1 && keys[0] === value) return !negate;
        const sv = stringValue(value);
        if (sv.kind === 'invalid') return false;
        if (sv.kind === 'range') {
          const r = sv.range;
          return negate ? keys.some((k) => !inRange(k, r)) : keys.every((k) => inRange(k, r));
        }
        set = sv.items;
      } else {
        return false;
      }
      return negate ? keys.some((k) => !set.includes(k)) : keys.every((k) => set.includes(k));
    }
    if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean') return false;
    const k = goSprint(key);
    let found: boolean;
    if (Array.isArray(value)) {
      found = value.some((v) => matchWildcard(k, goSprint(v)));
    } else if (typeof value === 'string') {
      if (matchWildcard(value, k)) {
        found = true;
      } else {
        const sv = stringValue(value);
        if (sv.kind === 'invalid') return false;
        found = sv.kind === 'range' ? inRange(k, sv.range) : sv.items.includes(k);
      }
    } else {
      return false;
    }
    return negate ? !found : found;
  };
}

const operators: Record<string, OperatorFn> = {
  equal: equals,
  equals,
  notequal: (k, v) => !equals(k, v),
  notequals: (k, v) => !equals(k, v),
  in: legacyIn(false),
  notin: legacyIn(true),
  anyin: setOperator('any', false),
  allin: setOperator('all', false),
  anynotin: setOperator('any', true),
  allnotin: setOperator('all', true),
  greaterthan: numeric((c) => c > 0),
  greaterthanorequals: numeric((c) => c >= 0),
  lessthan: numeric((c) => c < 0),
  lessthanorequals: numeric((c) => c <= 0),
  durationgreaterthan: durationOp((c) => c > 0),
  durationgreaterthanorequals: durationOp((c) => c >= 0),
  durationlessthan: durationOp((c) => c < 0),
  durationlessthanorequals: durationOp((c) => c <= 0),
};

/** The operator by name (case-insensitive, as Kyverno); undefined when unknown. */
export function getOperator(name: string): OperatorFn | undefined {
  return operators[name.toLowerCase()];
}

/** Evaluate one operator on already-substituted key and value. */
export function evaluateOperator(operator: string, key: JsonValue, value: JsonValue): boolean {
  const op = getOperator(operator);
  if (!op) throw new Error(`unknown condition operator ${JSON.stringify(operator)}`);
  return op(key, value);
}

// ---- compilation --------------------------------------------------------------

interface CompiledCondition {
  key: Template;
  value: Template;
  /** undefined for an unknown operator: Kyverno fails such a condition with an error. */
  op: OperatorFn | undefined;
  message: string;
}

function compileCondition(c: Condition): CompiledCondition {
  if (!isObject(c as unknown as JsonValue)) throw new Error('condition must be an object with key, operator and value');
  return {
    key: compileTemplate(c.key ?? null),
    value: compileTemplate(c.value ?? null),
    op: getOperator(String(c.operator ?? '')),
    message: typeof c.message === 'string' ? c.message : '',
  };
}

function evaluateCondition(c: CompiledCondition, data: ContextData): boolean {
  let key: JsonValue;
  let value: JsonValue;
  try {
    key = c.key(data);
  } catch (e) {
    throw wrap('key', e);
  }
  try {
    value = c.value(data);
  } catch (e) {
    throw wrap('value', e);
  }
  if (!c.op) throw new Error('failed to create handler for condition operator');
  return c.op(key, value);
}

function wrap(part: 'key' | 'value', e: unknown): unknown {
  if (e instanceof VariableError) {
    return new VariableError(`failed to substitute variables in condition ${part}: ${e.message}`, e.variable, e.path);
  }
  return e;
}

type BlockFn = (data: ContextData) => ConditionResult;

function compileAnyAll(block: AnyAllConditions): BlockFn {
  const anyList = Array.isArray(block.any) ? block.any.map(compileCondition) : undefined;
  const allList = Array.isArray(block.all) ? block.all.map(compileCondition) : [];
  return (data) => {
    const passedMsgs: string[] = [];
    const failedMsgs: string[] = [];
    let anyOk = true;
    if (anyList) {
      // an `any` list that is present but empty can never pass, as in Kyverno
      anyOk = false;
      for (const c of anyList) {
        if (evaluateCondition(c, data)) {
          anyOk = true;
          passedMsgs.push(c.message);
          break;
        }
        failedMsgs.push(c.message);
      }
    }
    let allOk = true;
    for (const c of allList) {
      if (evaluateCondition(c, data)) {
        passedMsgs.push(c.message);
      } else {
        allOk = false;
        failedMsgs.push(c.message);
        break;
      }
    }
    const passed = anyOk && allOk;
    return result(passed, passed ? passedMsgs : failedMsgs, '; ');
  };
}

function compileLegacy(list: Condition[]): BlockFn {
  const conds = list.map(compileCondition);
  return (data) => {
    const passedMsgs: string[] = [];
    for (const c of conds) {
      if (!evaluateCondition(c, data)) return result(false, [c.message], ';');
      passedMsgs.push(c.message);
    }
    return result(true, passedMsgs, ';');
  };
}

/** Kyverno joins the non-empty messages ("; " inside a block, ";" across blocks and legacy lists). */
function result(passed: boolean, messages: string[], sep: string): ConditionResult {
  const message = messages.filter((m) => m !== '').join(sep);
  return message ? { passed, message } : { passed };
}

const isAnyAll = (v: JsonValue): boolean => isObject(v) && ('any' in v || 'all' in v) && !('operator' in v);

/**
 * Compile a condition block once. Absent/null blocks always pass. Throws at
 * compile time for malformed blocks; use getOperator() to validate operators
 * when loading policies.
 */
export function compileConditions(block: ConditionBlock | JsonValue | undefined): CompiledConditions {
  if (block === undefined || block === null) return () => ({ passed: true });
  const b = block as JsonValue;
  if (Array.isArray(b)) {
    if (b.length > 0 && b.every(isAnyAll)) {
      const blocks = b.map((x) => compileAnyAll(x as AnyAllConditions));
      return (data) => {
        const passedMsgs: string[] = [];
        for (const f of blocks) {
          const r = f(data);
          if (!r.passed) return r;
          if (r.message) passedMsgs.push(r.message);
        }
        return result(true, passedMsgs, ';');
      };
    }
    return compileLegacy(b as unknown as Condition[]);
  }
  // Keys other than any/all are ignored: `{conditions: {all: …}}` is an empty block that passes.
  if (isObject(b)) return compileAnyAll(b as AnyAllConditions);
  throw new Error('conditions must be a list or an object with any/all');
}
